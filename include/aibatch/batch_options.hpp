// Kept so that `#include <aibatch/batch_options.hpp>` goes on working: this header moved to
// <aibatch/batch/batch_options.hpp> when the headers were laid out by layer (see README
// "Architecture").
#pragma once
#include <aibatch/batch/batch_options.hpp>
