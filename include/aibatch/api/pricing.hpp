// Token prices per model, for the cost estimates of batch<T>() and its cost_limit.
//
// These are list prices in US dollars per million tokens at the time of writing, for
// the standard (non-batch) API; the Message Batches API bills 50% of them. They are an
// ESTIMATE: prices change, and your account may have other terms. Override with
// batch_options::price when you know better.
#pragma once

#include <aibatch/api/messages.hpp>

#include <optional>
#include <string_view>

namespace aibatch {

struct model_price {
    double input_per_mtok = 0;  ///< USD per million input tokens (standard API)
    double output_per_mtok = 0; ///< USD per million output tokens (standard API)
    /// Cache writes cost 1.25x input (5-minute cache) or 2x input (1-hour cache), cache
    /// reads 0.1x input.
    double cache_write_factor = 1.25;
    double cache_write_1h_factor = 2.0;
    double cache_read_factor = 0.1;
};

/// The batch discount: batches are billed at this share of the standard price.
inline constexpr double batch_price_factor = 0.5;

/// The list price of a model id or alias of the model table (models.hpp), exactly; nullopt
/// for any other id (no guess from a prefix: a new model has a price of its own).
std::optional<model_price> find_price(std::string_view model);

/// Estimated cost in USD of `u` at `p`, with the batch discount.
double batch_cost(const usage& u, const model_price& p);

} // namespace aibatch
