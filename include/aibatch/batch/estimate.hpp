// What a batch<T>() call would send and cost, without sending anything.
//
//   auto spec = aibatch::output_spec::for_type<SpamResult>(options.output_mode);
//   aibatch::cost_estimate e = aibatch::estimate(messages, "claude-haiku-4-5", options, spec);
//   if (e.cost_max_usd && *e.cost_max_usd > 5.0) ...   // before paying anything
//
// The requests are built exactly as batch<T>() builds them (params, output mode,
// customize, custom ids) and split over the same per-batch limits, so the request count,
// the batches and the body bytes are what batch<T>() would send in its first round
// (a repair round, when one happens, sends the failed items again and costs more). Tokens
// are estimated: input at 4 bytes of request body a token (what cost_limit assumes; the
// API's tokenizer counts differently), output between none and max_tokens per request.
// Prices are the model table's list prices (pricing.hpp) with the 50% batch discount, or
// options.price.
#pragma once

#include <aibatch/api/messages.hpp>
#include <aibatch/api/pricing.hpp>
#include <aibatch/batch/batch_options.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <cstdint>
#include <optional>
#include <span>
#include <string_view>
#include <vector>

namespace aibatch {

struct cost_estimate {
    std::size_t requests = 0;               ///< requests that would be sent
    std::size_t too_large = 0;              ///< items over max_bytes_per_batch: never sent
    std::vector<std::size_t> batch_sizes;   ///< requests of each batch, in order
    std::vector<std::uint64_t> batch_bytes; ///< create body bytes of each batch
    std::uint64_t body_bytes = 0;           ///< every create body together
    std::uint64_t input_tokens = 0;         ///< estimated from the body bytes (4 a token)
    std::uint64_t max_output_tokens = 0;    ///< requests * max_tokens
    std::optional<model_price> price;       ///< options.price, else the model table's
    std::optional<double> cost_min_usd;     ///< input only (every answer empty); no price: unset
    std::optional<double> cost_max_usd;     ///< input plus max_tokens for every answer
    std::size_t batches() const noexcept { return batch_sizes.size(); }
};

/// Builds every request as batch<T>() would (custom ids with options.run_id, or a
/// 12-character stand-in for the random one) and adds them up. No network, no client.
/// Throws aibatch::error (errc::invalid_argument) for what batch<T>() refuses before any
/// network call on the first item's params (the model table's rules: max_tokens above the
/// model's limit, ...) and for per-batch limits outside the API's.
cost_estimate estimate(std::span<const conversation> messages, std::string_view model,
                       const batch_options& options, const output_spec& spec);

} // namespace aibatch
