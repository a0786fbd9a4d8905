// Kept so that `#include <aibatch/http_client.hpp>` goes on working: this header moved to
// <aibatch/transport/http_client.hpp> when the headers were laid out by layer (see README
// "Architecture").
#pragma once
#include <aibatch/transport/http_client.hpp>
