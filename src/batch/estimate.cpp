#include <aibatch/batch/estimate.hpp>

#include "planner.hpp"
#include "rules.hpp"

#include <aibatch/api/models.hpp>
#include <aibatch/error.hpp>

#include <boost/json/serialize.hpp>

namespace aibatch {

cost_estimate estimate(std::span<const conversation> messages, std::string_view model,
                       const batch_options& options, const output_spec& spec) {
    // Everything batch<T>() refuses before any network call is refused here too, with the
    // same words: an estimate never approves a run that would not start.
    detail::validate_inputs(messages, std::string(model), options);
    for (std::size_t i = 0; i < messages.size(); ++i)
        detail::validate_conversation(i, messages[i], options);
    cost_estimate e;
    const message_params proto = detail::request_prototype(std::string(model), options, spec);
    if (!messages.empty()) {
        message_params first = proto;
        first.messages = messages[0];
        if (options.customize)
            options.customize(first, 0);
        check_model_rules(first.to_json(), "estimate");
    }
    const std::string run_id = options.run_id.empty() ? std::string(12, 'x') : options.run_id;
    std::optional<params_template> tmpl;
    if (!options.customize)
        tmpl.emplace(proto);

    // The engine's planner (planner.hpp), measuring only: one rule for where batches split.
    const detail::custom_ids ids(options.custom_id_prefix, run_id, messages.size());
    detail::chunk_builder chunk(options.max_requests_per_batch, options.max_bytes_per_batch,
                                messages.size(), /*streamed=*/true);
    auto close_batch = [&] {
        if (chunk.empty())
            return;
        const detail::job j = chunk.finish(0);
        e.batch_sizes.push_back(j.indices.size());
        e.batch_bytes.push_back(j.input_bytes);
        e.body_bytes += j.input_bytes;
    };
    for (std::size_t i = 0; i < messages.size(); ++i) {
        // With customize each request is written; without, its size alone is counted
        // (as the engine plans a body it streams).
        auto write = [&](std::string& r) {
            r += R"({"custom_id":)";
            append_json_string(ids.make(0, i), r);
            r += R"(,"params":)";
            message_params p = proto;
            p.messages = messages[i];
            options.customize(p, i);
            r += boost::json::serialize(p.to_json());
            r += '}';
        };
        const std::size_t size =
            tmpl ? detail::batch_request_size(ids.make(0, i), *tmpl, messages[i]) : 0;
        auto add = [&] { return tmpl ? chunk.add_sized(i, size) : chunk.add(i, write); };
        auto v = add();
        if (v == detail::chunk_builder::verdict::full) {
            close_batch();
            v = add();
        }
        if (v == detail::chunk_builder::verdict::too_large) {
            ++e.too_large; // alone in a batch it is still too large: never sent
            continue;
        }
        ++e.requests;
    }
    close_batch();

    e.input_tokens = e.body_bytes / 4;
    e.max_output_tokens =
        static_cast<std::uint64_t>(e.requests) * static_cast<std::uint64_t>(options.max_tokens);
    e.price = options.price ? options.price : find_price(model);
    if (e.price) {
        usage low;
        low.input_tokens = e.input_tokens;
        usage high = low;
        high.output_tokens = e.max_output_tokens;
        e.cost_min_usd = batch_cost(low, *e.price);
        e.cost_max_usd = batch_cost(high, *e.price);
    }
    return e;
}

} // namespace aibatch
