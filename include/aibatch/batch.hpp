// Kept so that `#include <aibatch/batch.hpp>` goes on working: this header moved to
// <aibatch/batch/batch.hpp> when the headers were laid out by layer (see README "Architecture").
#pragma once
#include <aibatch/batch/batch.hpp>
