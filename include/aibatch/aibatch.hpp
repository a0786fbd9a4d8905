// The umbrella header of aibatch: everything a user needs.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/api/messages.hpp>
#include <aibatch/batch.hpp>
#include <aibatch/client.hpp>
#include <aibatch/config.hpp>
#include <aibatch/dotenv.hpp>
#include <aibatch/endpoint.hpp>
#include <aibatch/error.hpp>
#include <aibatch/http_client.hpp>
#include <aibatch/models.hpp>
#include <aibatch/pricing.hpp>
#include <aibatch/schema.hpp>
#include <aibatch/structured_output.hpp>
#include <aibatch/task.hpp>
#include <aibatch/version.hpp>

// What every program that runs a batch needs next to it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
