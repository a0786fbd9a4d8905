#include <aibatch/pricing.hpp>

#include <array>
#include <utility>

namespace aibatch {

namespace {

struct entry {
    std::string_view prefix;
    model_price price;
};

// Longest prefixes first where one model's id starts with another's.
constexpr std::array<entry, 14> table{{
    {"claude-opus-4-5", {5.0, 25.0}},
    {"claude-opus-4-1", {15.0, 75.0}},
    {"claude-opus-4", {15.0, 75.0}},
    {"claude-3-opus", {15.0, 75.0}},
    {"claude-sonnet-4-5", {3.0, 15.0}},
    {"claude-sonnet-4", {3.0, 15.0}},
    {"claude-3-7-sonnet", {3.0, 15.0}},
    {"claude-3-5-sonnet", {3.0, 15.0}},
    {"claude-3-sonnet", {3.0, 15.0}},
    {"claude-haiku-4-5", {1.0, 5.0}},
    {"claude-3-5-haiku", {0.8, 4.0}},
    {"claude-3-haiku", {0.25, 1.25}},
    {"claude-opus", {5.0, 25.0}},
    {"claude-sonnet", {3.0, 15.0}},
}};

} // namespace

std::optional<model_price> find_price(std::string_view model) {
    for (const auto& e : table)
        if (model.substr(0, e.prefix.size()) == e.prefix)
            return e.price;
    if (model.substr(0, 12) == "claude-haiku")
        return model_price{1.0, 5.0};
    return std::nullopt;
}

double batch_cost(const usage& u, const model_price& p) {
    double in = static_cast<double>(u.input_tokens) +
                static_cast<double>(u.cache_creation_input_tokens) * p.cache_write_factor +
                static_cast<double>(u.cache_read_input_tokens) * p.cache_read_factor;
    double standard =
        (in * p.input_per_mtok + static_cast<double>(u.output_tokens) * p.output_per_mtok) / 1e6;
    return standard * batch_price_factor;
}

} // namespace aibatch
