// batch<T>()'s rules, apart from I/O, unit-tested without sockets
// (test/unit/batch_rules_test.cpp): input checks, this run's custom ids, which failures
// leave a batch worth waiting for or a create that may have happened, the cost estimate.
// The engine (engine.hpp) drives the I/O with them.
#pragma once

#include <aibatch/api/messages.hpp>
#include <aibatch/api/pricing.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/error.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <boost/system/system_error.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>

namespace aibatch::detail {

/// Throws aibatch::error (errc::invalid_argument) naming the option or the problem.
/// The params every request of batch<T>() shares (its messages empty): model,
/// max_tokens, system (and its cache breakpoint), temperature, and the output spec.
/// The engine and estimate() build requests from it.
message_params request_prototype(const std::string& model, const batch_options& o,
                                 const output_spec& spec);

/// One request of a batch body, {"custom_id":...,"params":...}, its params written by
/// `tmpl` with these messages. batch_request_size counts the same bytes without writing
/// them (a body without a journal is planned from sizes).
void append_batch_request(std::string_view custom_id, const params_template& tmpl,
                          const conversation& messages, std::string& out);
std::size_t batch_request_size(std::string_view custom_id, const params_template& tmpl,
                               const conversation& messages);

void validate_inputs(std::span<const conversation> messages, const std::string& model,
                     const batch_options& o);
/// One input conversation (the engine checks them in slices that yield to the loop).
void validate_conversation(std::size_t i, const conversation& conv, const batch_options& o);

/// 12 random letters and digits.
std::string random_run_id();

/// Any exception of the Asio/aibatch family as an aibatch::error (a cancellation seen by
/// co_await throws a plain system_error).
error as_error(const boost::system::system_error& e);

/// Whether a create that failed this way may still have made the batch.
bool may_have_created(const error& e);

/// Whether a poll or download failure leaves the batch worth waiting for (a 404 only in
/// the first minute after the create: the API answers 404 for a new batch for a while).
bool transient(const error& e, std::chrono::steady_clock::duration since_create);

/// This run's custom ids: prefix + run id + ("r" round, for repair rounds) + "-" + index.
/// parse() accepts exactly what make() writes (no leading zeros, no sign), for an index
/// below `count`.
class custom_ids {
public:
    custom_ids() = default;
    custom_ids(std::string prefix, std::string run_id, std::size_t count)
        : prefix_(std::move(prefix)), run_id_(std::move(run_id)), count_(count) {}
    std::string make(unsigned round, std::size_t i) const;
    std::optional<std::pair<unsigned, std::size_t>> parse(std::string_view id) const;

private:
    std::string prefix_, run_id_;
    std::size_t count_ = 0;
};

/// The estimated cost of a batch of `items` whose requests weigh `input_bytes` (about 4
/// bytes a token), each answer `output_tokens_per_item` long; 0 without a price.
double estimated_cost(const std::optional<model_price>& price, std::uint64_t input_bytes,
                      std::size_t items, double output_tokens_per_item);

} // namespace aibatch::detail
