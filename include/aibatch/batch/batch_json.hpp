// batch<T>() for a schema known only at run time: the same engine (validation before any
// network call, splitting, polling, repair round, journal, cost, cancellation), with a
// json_validator in place of a described type.
//
//   aibatch::json_validator v(schema_from_file);
//   aibatch::output_spec spec = aibatch::output_spec_for_schema(v, aibatch::output_mode::tool,
//                                                               "Verdict");
//   aibatch::batch_run<boost::json::value> run =
//       co_await aibatch::run_batch_json(client, std::move(messages), model, v, spec, options);
//
// The `aibatch run` command is built on it.
#pragma once

#include <aibatch/api/client.hpp>
#include <aibatch/batch/batch.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/typed/json_validator.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace aibatch {

/// What output_spec::for_type<T>() is for a described type: the tool (name, description,
/// input_schema = the schema) in output_mode::tool, the output_config format in
/// output_mode::json_schema, the instructions in output_mode::json_text. `name` must be
/// a tool name (1-64 of [A-Za-z0-9_-]); an empty `description` becomes "Record the
/// answer as a NAME object." as for a type. In json_schema mode the numeric bounds and
/// string/array lengths (minimum, maximum, minLength, maxLength, maxItems, minItems
/// above 1) are left out of the schema sent, as for_type<T>() leaves them out, and checked
/// by the validator only. Throws aibatch::error (errc::invalid_argument) for a bad name, or
/// in json_schema mode for a schema outside the structured-outputs subset (naming where,
/// suggesting output_mode::tool).
output_spec output_spec_for_schema(const json_validator& validator, output_mode mode,
                                   std::string name, std::string description = {});

/// run_batch<T>() with the validator in place of T: an outcome per item in input order,
/// each succeeded item's value the validated JSON. Throws aibatch::error for bad input
/// before any network call (as run_batch<T>()); never for item failures. Cancellation
/// through the caller's cancellation slot, as for run_batch<T>() (remote batches still
/// running are canceled, ended ones read). `spec` is normally output_spec_for_schema(v, ...).
task<batch_run<boost::json::value>> run_batch_json(const client& c,
                                                   std::vector<conversation> messages,
                                                   std::string model, json_validator validator,
                                                   output_spec spec, batch_options opts);

} // namespace aibatch
