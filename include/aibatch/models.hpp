// Kept so that `#include <aibatch/models.hpp>` goes on working: this header moved to
// <aibatch/api/models.hpp> when the headers were laid out by layer (see README "Architecture").
#pragma once
#include <aibatch/api/models.hpp>
