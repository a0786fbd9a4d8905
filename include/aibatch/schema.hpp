// Kept so that `#include <aibatch/schema.hpp>` goes on working: this header moved to
// <aibatch/typed/schema.hpp> when the headers were laid out by layer (see README "Architecture").
#pragma once
#include <aibatch/typed/schema.hpp>
