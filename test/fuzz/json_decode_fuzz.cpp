// The streaming decoders against the tree path. The first byte picks a type of the schema
// tests (its low four bits) and whether the rest is a JSON document for decode_json<T> or a
// result line for result_decoder<T> (bit 7). Promises: decode_json<T>(text) equals
// decode<T>(boost::json::parse(text)) in value and in every message (text that is not
// JSON: one issue at "$"), and result_decoder<T> reads a line exactly as
// result_line::from_json + read_output<T> do (same fields, same failure and raw output,
// the same exception message), whether alone or after the other lines of the data (each
// '\n' starts a line; a decoder reads later lines through the shape an earlier one
// taught).
#include "fuzz_targets.hpp"

#include "../unit/decoded_value.hpp"
#include "../unit/schema_test_types.hpp"

#include <aibatch/typed/json_decode.hpp>
#include <aibatch/typed/result_decoder.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>

namespace schema_test {
// decoded_value() of the schema_traits type of the schema tests.
inline boost::json::value encode_custom(const date& d) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02d", d.y, d.m, d.d);
    return boost::json::value(buf);
}
} // namespace schema_test

namespace aibatch::fuzz {
namespace {

namespace json = boost::json;

template <class R>
std::string shown(const R& r) {
    return r ? "value " + json::serialize(aibatch_test::decoded_value(r.value()))
             : "error " + r.error().to_string();
}

template <class T>
void documents(std::string_view text) {
    for (int variant = 0; variant < 3; ++variant) {
        decode_options o;
        o.allow_unknown_fields = variant == 1;
        o.max_issues = variant == 2 ? 2 : 20;
        auto streamed = decode_json<T>(text, o);
        boost::system::error_code ec;
        json::value tree = json::parse(text, ec);
        if (ec) {
            require(!streamed && streamed.error().issues.size() == 1 &&
                        streamed.error().issues[0].path == "$" &&
                        streamed.error().issues[0].message == "not valid JSON: " + ec.message(),
                    "decode_json on text that is not JSON: " + shown(streamed));
            return;
        }
        auto walked = decode<T>(tree, o);
        require(shown(streamed) == shown(walked),
                "decode_json and decode disagree: " + shown(streamed) + " vs " + shown(walked));
    }
}

template <class T>
std::string line_outcome(const output_result<T>& r) {
    return (r.value ? "value " + json::serialize(aibatch_test::decoded_value(*r.value)) : "-") +
           "|" + std::string(to_string(r.failure)) + "|" + r.message + "|" + r.raw;
}

template <class T>
std::string streamed_line(result_decoder<T>& dec, std::string_view line) {
    try {
        decoded_line<T> d = dec.decode(line);
        return d.custom_id + "|" + std::string(to_string(d.type)) + "|" + d.message_id + "|" +
               d.stop_reason + "|" +
               (d.token_usage ? std::to_string(d.token_usage->input_tokens) + "," +
                                    std::to_string(d.token_usage->output_tokens) + "," +
                                    std::to_string(d.token_usage->cache_creation_1h_input_tokens) +
                                    "," + d.token_usage->service_tier
                              : "-") +
               "|" + d.error.type + "|" + d.error.message + "|" + d.error.request_id + "|" +
               line_outcome(d.output);
    } catch (const error& e) {
        return std::string("threw ") + e.what();
    }
}

template <class T>
std::string walked_line(const output_spec& spec, std::string_view line) {
    try {
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (ec)
            throw error(errc::bad_response, "not JSON (" + ec.message() + ")");
        result_line r = result_line::from_json(std::move(v));
        std::string stop, id;
        std::string tokens = "-";
        output_result<T> out;
        if (r.type == result_type::succeeded) {
            if (const auto* m = r.message.if_contains("id"); m && m->is_string())
                id = std::string(m->get_string());
            if (const auto* s = r.message.if_contains("stop_reason"); s && s->is_string())
                stop = std::string(s->get_string());
            if (const auto* u = r.message.if_contains("usage")) {
                usage t = usage_from_json(*u);
                tokens = std::to_string(t.input_tokens) + "," + std::to_string(t.output_tokens) +
                         "," + std::to_string(t.cache_creation_1h_input_tokens) + "," +
                         t.service_tier;
            }
            out = read_output<T>(r.message, spec);
        }
        return r.custom_id + "|" + std::string(to_string(r.type)) + "|" + id + "|" + stop + "|" +
               tokens + "|" + r.error.type + "|" + r.error.message + "|" + r.error.request_id +
               "|" + line_outcome(out);
    } catch (const error& e) {
        return std::string("threw ") + e.what();
    }
}

// Each line of the data in turn through one decoder per mode (so that a later line is
// read through the shape an earlier one taught), and each through a fresh decoder: both
// read it as the tree path does.
template <class T>
void lines(std::string_view data) {
    for (auto mode : {output_mode::tool, output_mode::json_text}) {
        output_spec spec = output_spec::for_type<T>(mode);
        result_decoder<T> stream(spec);
        for (std::size_t at = 0, line = 0; at <= data.size() && line < 64; ++line) {
            std::size_t nl = data.find('\n', at);
            if (nl == std::string_view::npos)
                nl = data.size();
            const std::string_view one = data.substr(at, nl - at);
            at = nl + 1;
            const std::string walked = walked_line<T>(spec, one);
            const std::string streamed = streamed_line(stream, one);
            require(streamed == walked,
                    "result_decoder (line " + std::to_string(line) +
                        " of a stream) and the tree path disagree: " + streamed + " vs " + walked);
            if (line > 0) {
                result_decoder<T> fresh(spec);
                const std::string alone = streamed_line(fresh, one);
                require(alone == walked,
                        "result_decoder and the tree path disagree: " + alone + " vs " + walked);
            }
        }
    }
}

template <class T>
void run(bool as_line, std::string_view data) {
    if (as_line)
        lines<T>(data);
    else
        documents<T>(data);
}

} // namespace

void json_decode(std::string_view data) {
    if (data.empty())
        return;
    unsigned char which = static_cast<unsigned char>(data[0]);
    data.remove_prefix(1);
    bool as_line = (which & 0x80) != 0;
    using namespace schema_test;
    // Bits 0-3 pick the type (8: the flat struct; 9-15 as 1-7).
    switch (which % 16 == 8 ? 8 : which % 8) {
    case 8:
        return run<flat_record>(as_line, data);
    case 0:
        return run<spam_result>(as_line, data);
    case 1:
        return run<order>(as_line, data);
    case 2:
        return run<tree_node>(as_line, data);
    case 3:
        return run<rated>(as_line, data);
    case 4:
        return run<dated>(as_line, data);
    case 5:
        return run<wide_numbers>(as_line, data);
    case 6:
        return run<derived_part>(as_line, data);
    default:
        return run<forest>(as_line, data);
    }
}

} // namespace aibatch::fuzz
