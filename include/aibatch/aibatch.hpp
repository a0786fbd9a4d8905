// The umbrella header of aibatch: everything a user needs.
#pragma once

// core
#include <aibatch/config.hpp>
#include <aibatch/dotenv.hpp>
#include <aibatch/error.hpp>
#include <aibatch/observer.hpp>
#include <aibatch/task.hpp>
#include <aibatch/version.hpp>
// transport
#include <aibatch/transport/endpoint.hpp>
#include <aibatch/transport/http_client.hpp>
// api
#include <aibatch/api/batches.hpp>
#include <aibatch/api/client.hpp>
#include <aibatch/api/messages.hpp>
#include <aibatch/api/models.hpp>
#include <aibatch/api/pricing.hpp>
// typed
#include <aibatch/typed/json_decode.hpp>
#include <aibatch/typed/json_validator.hpp>
#include <aibatch/typed/result_decoder.hpp>
#include <aibatch/typed/schema.hpp>
#include <aibatch/typed/structured_output.hpp>
// batch
#include <aibatch/batch/batch.hpp>
#include <aibatch/batch/batch_json.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/batch/estimate.hpp>
#include <aibatch/batch/typed_results.hpp>

// What every program that runs a batch needs next to it.
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
