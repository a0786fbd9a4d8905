#include <aibatch/api/models.hpp>
#include <aibatch/api/pricing.hpp>

namespace aibatch {

std::optional<model_price> find_price(std::string_view model) {
    // Exact ids and aliases only: a prefix guess would price a new model as an older
    // generation (claude-opus-4-6 once cost as much as Opus 4.1 here).
    if (const model_info* m = find_model(model))
        return model_price{m->input_per_mtok, m->output_per_mtok};
    return std::nullopt;
}

double batch_cost(const usage& u, const model_price& p) {
    // cache_creation_input_tokens counts both durations; the 1-hour ones are also counted
    // apart. A malformed usage with more 1-hour tokens than writes in all is priced as it
    // says, the 1-hour tokens in full and no 5-minute part (never negative): the larger
    // figure, so that a cost limit errs high.
    const std::uint64_t hour = u.cache_creation_1h_input_tokens;
    const std::uint64_t five_minutes =
        u.cache_creation_input_tokens > hour ? u.cache_creation_input_tokens - hour : 0;
    double in = static_cast<double>(u.input_tokens) +
                static_cast<double>(five_minutes) * p.cache_write_factor +
                static_cast<double>(hour) * p.cache_write_1h_factor +
                static_cast<double>(u.cache_read_input_tokens) * p.cache_read_factor;
    double standard =
        (in * p.input_per_mtok + static_cast<double>(u.output_tokens) * p.output_per_mtok) / 1e6;
    return standard * batch_price_factor;
}

} // namespace aibatch
