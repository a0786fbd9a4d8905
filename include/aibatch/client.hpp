// Kept so that `#include <aibatch/client.hpp>` goes on working: this header moved to
// <aibatch/api/client.hpp> when the headers were laid out by layer (see README "Architecture").
#pragma once
#include <aibatch/api/client.hpp>
