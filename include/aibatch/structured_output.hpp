// Kept so that `#include <aibatch/structured_output.hpp>` goes on working: this header moved to
// <aibatch/typed/structured_output.hpp> when the headers were laid out by layer (see README
// "Architecture").
#pragma once
#include <aibatch/typed/structured_output.hpp>
