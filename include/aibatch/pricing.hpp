// Kept so that `#include <aibatch/pricing.hpp>` goes on working: this header moved to
// <aibatch/api/pricing.hpp> when the headers were laid out by layer (see README "Architecture").
#pragma once
#include <aibatch/api/pricing.hpp>
