// Kept so that `#include <aibatch/endpoint.hpp>` goes on working: this header moved to
// <aibatch/transport/endpoint.hpp> when the headers were laid out by layer (see README
// "Architecture").
#pragma once
#include <aibatch/transport/endpoint.hpp>
