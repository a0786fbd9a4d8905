// One pass over one JSONL line of a batch's results, straight into T.
//
//   aibatch::result_decoder<SpamResult> dec(aibatch::output_spec::for_type<SpamResult>());
//   aibatch::decoded_line<SpamResult> line;
//   dec.decode(bytes_of_one_line, line);   // throws aibatch::error on a line that is no result
//   if (line.output.value) use(*line.output.value);
//
// One strict pass over the line's text reads the envelope (custom_id, result type,
// stop_reason, usage, error) and hands the tool_use input to the typed streaming decoder
// (decode_json's), so a succeeded line builds no JSON tree. The pass is a reader for
// whole texts in memory that calls the same handler boost::json::basic_parser would,
// with the same events (a fuzz target holds it to that); a text it does not read is left
// to Boost.JSON, which names the error of a line that is not JSON. Whatever is not that plain
// success (an answer that does not decode, a refusal, a missing tool_use block, a line
// that is not a valid result, an object with a repeated key, keys in an order the single
// pass cannot resolve) is decoded again through the tree: result_line::from_json and
// read_output<T>, so messages, failures and the raw output for repair feedback are
// exactly theirs.
//
// In tool mode a decoder keeps the shape of a plain success (the bytes between its values)
// and reads a later line with the same bytes between its values by comparing them and
// reading the values alone, with the same reader (line_scanner::scan); every other line
// takes the pass above.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/api/messages.hpp>
#include <aibatch/error.hpp>
#include <aibatch/typed/json_decode.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <boost/json/object.hpp>
#include <boost/json/parse.hpp>

#include <memory>
#include <optional>
#include <string>
#include <string_view>

namespace aibatch {

/// What a result line says besides its output.
struct line_head {
    std::string custom_id;
    result_type type = result_type::succeeded;
    std::string message_id;           ///< succeeded: message.id ("" if none)
    std::string stop_reason;          ///< succeeded: message.stop_reason ("" if none)
    std::optional<usage> token_usage; ///< succeeded: message.usage, when the message has one
    api_error_info error;             ///< errored only
};

/// One result line, decoded.
template <class T>
struct decoded_line : line_head {
    output_result<T> output; ///< succeeded only: the value, or why not
};

namespace detail {

/// What the single pass found in a line's envelope.
struct line_envelope {
    std::string custom_id;
    result_type type = result_type::succeeded;
    std::string message_id;
    std::string stop_reason;
    bool has_usage = false;
    usage tokens;
    api_error_info error;
    bool tool_found = false;    ///< tool mode: the first tool_use block named as the spec says
    bool input_decoded = false; ///< ... and its input went through the typed decoder
    bool text_found = false;    ///< text modes: the first text block
    std::string text;
};

enum class scan_status {
    ok,         ///< the envelope is a valid result line; see line_envelope
    needs_tree, ///< decode the line through the tree (rare shapes, failures, not JSON)
    /// The line left the learned shape after its input was decoded into the target: reset
    /// the target and the decode_state, and scan again without the shape.
    retry,
};

/// The single pass (src/typed/result_decoder.cpp). Reusable: keeps its buffers.
class line_scanner {
public:
    line_scanner(output_mode mode, std::string tool_name);
    line_scanner(line_scanner&&) noexcept;
    line_scanner& operator=(line_scanner&&) noexcept;
    ~line_scanner();

    /// Reads `line`; in tool mode decodes the tool input into `input` with `st`. On ok,
    /// `out`'s custom_id, message_id, stop_reason and error are the line's (written as
    /// read, no copy); its type and token_usage are envelope()'s to set. On any other
    /// status `out` is partly written.
    ///
    /// In tool mode the line is first matched against the shape learned from an earlier
    /// line (see plain_success): the bytes between the values compared whole, the values
    /// read as the general pass reads them. A line that leaves the shape is read by the
    /// general pass; `with_shape` false goes there at once.
    scan_status scan(std::string_view line, target input, decode_state& st, line_head& out,
                     bool with_shape = true);
    const line_envelope& envelope() const noexcept;
    /// The last scan() answered ok and the caller found the line a plain success (the
    /// input decoded, nothing for the tree path): a line to learn the shape from, when
    /// it was read by the general pass and the shape is missing or stale.
    void plain_success(std::string_view line);
    /// On by default; off: every line takes the general pass (tests, benchmarks).
    void learn_shapes(bool on) noexcept;
    /// Lines read through the learned shape so far (tests, benchmarks).
    std::size_t shape_hits() const noexcept;
    /// Tool inputs of a flat struct read in one loop so far (tests, benchmarks).
    std::size_t flat_hits() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

/// The tree path: reads a parsed line with result_line::from_json (throwing what it
/// throws), fills `env`'s envelope fields and hands back the message object.
void envelope_from_tree(boost::json::value line, line_envelope& env, boost::json::object& message);

/// Copies the envelope fields into a decoded line's.
void copy_envelope(const line_envelope& env, line_head& out);

/// What tells two answers for one custom_id apart: the message id (succeeded), the
/// error's request id (errored), else nothing.
inline std::string_view answer_of(const line_head& h) noexcept {
    if (h.type == result_type::succeeded)
        return h.message_id;
    if (h.type == result_type::errored)
        return h.error.request_id;
    return {};
}

} // namespace detail

/// Decodes result lines for one output spec. Not thread-safe; one per stream.
template <class T>
class result_decoder {
public:
    explicit result_decoder(output_spec spec, const decode_options& opts = {})
        : spec_(std::move(spec)), opts_(opts), state_(opts_), scanner_(spec_.mode, spec_.name) {}

    /// Decodes one line (without its newline) into `out`, reusing its storage. The
    /// result equals what result_line::from_json(boost::json::parse(line)) and
    /// read_output<T>(message, spec, opts) give. Throws aibatch::error
    /// (errc::bad_response): "not JSON (<why>)" for a line that is not JSON, and
    /// result_line::from_json's message for JSON that is no result line.
    void decode(std::string_view line, decoded_line<T>& out) {
        not_json_.clear();
        detail::decode_state& st = state_;
        st.reset();
        // Decoded in place: the value's storage (and its strings) is reused line to line.
        T& value = out.output.value ? *out.output.value : out.output.value.emplace();
        value = T{};
        out.output.failure = output_failure::none;
        out.output.message.clear();
        out.output.raw.clear();
        const detail::target input{&value, &detail::ops_of<T>()};
        detail::scan_status s = scanner_.scan(line, input, st, out);
        if (s == detail::scan_status::retry) {
            value = T{};
            st.reset();
            s = scanner_.scan(line, input, st, out, false);
        }
        if (s == detail::scan_status::ok) {
            const detail::line_envelope& env = scanner_.envelope();
            out.type = env.type;
            if (env.type != result_type::succeeded) {
                out.token_usage.reset();
                out.output.value.reset();
                return;
            }
            if (env.has_usage)
                out.token_usage = env.tokens;
            else
                out.token_usage.reset();
            if (fast_output(env, out.stop_reason, st, out.output)) {
                scanner_.plain_success(line);
                return;
            }
        }
        out.output = output_result<T>{};
        detail::line_envelope env;
        boost::json::object message;
        boost::system::error_code ec;
        boost::json::value tree = boost::json::parse(line, ec);
        if (ec) {
            not_json_ = ec.message();
            throw error(errc::bad_response, "not JSON (" + not_json_ + ")");
        }
        detail::envelope_from_tree(std::move(tree), env, message);
        detail::copy_envelope(env, out);
        if (env.type == result_type::succeeded)
            out.output = read_output<T>(message, spec_, opts_);
    }

    decoded_line<T> decode(std::string_view line) {
        decoded_line<T> out;
        decode(line, out);
        return out;
    }

    const output_spec& spec() const noexcept { return spec_; }
    /// Tool mode reads most lines through the shape learned from an earlier line of the
    /// same stream (the same results, a third of the work). On by default; off: every
    /// line takes the general pass (for comparisons).
    void learn_line_shapes(bool on) noexcept { scanner_.learn_shapes(on); }
    /// How many lines were read through a learned shape.
    std::size_t line_shape_hits() const noexcept { return scanner_.shape_hits(); }
    /// How many of those lines' tool inputs were read in one loop: T is a described
    /// struct of scalar members (bool, numbers, std::string, described enums), and the
    /// input had exactly its members' keys, in declaration order, no whitespace. Any
    /// other input, or one with a problem, is decoded as before (the same values and
    /// messages either way).
    std::size_t flat_input_hits() const noexcept { return scanner_.flat_hits(); }
    /// After decode() threw: why the line is not JSON, or "" when it is JSON but not a
    /// result line.
    const std::string& not_json_why() const noexcept { return not_json_; }

private:
    // The plain success, decided without the tree; false sends the line to the tree.
    // r.value holds what the tool input decoded to (tool mode).
    bool fast_output(const detail::line_envelope& env, std::string_view stop,
                     detail::decode_state& st, output_result<T>& r) {
        if (stop == "refusal" || stop == "max_tokens")
            return false;
        if (spec_.mode == output_mode::tool)
            return env.tool_found && env.input_decoded && !st.failed();
        if (!env.text_found || env.text.empty())
            return false;
        if (spec_.mode == output_mode::json_schema) {
            // The whole text as JSON, as extract_output tries first.
            auto first = env.text.find_first_not_of(" \t\n\r");
            if (first == std::string::npos || (env.text[first] != '{' && env.text[first] != '['))
                return false;
            auto d = decode_json<T>(env.text, opts_);
            if (!d)
                return false;
            *r.value = std::move(*d);
            return true;
        }
        auto v = find_json_in_text(env.text);
        if (!v)
            return false;
        auto d = aibatch::decode<T>(*v, opts_);
        if (!d)
            return false;
        *r.value = std::move(*d);
        return true;
    }

    output_spec spec_;
    decode_options opts_;
    detail::decode_state state_;
    detail::line_scanner scanner_;
    std::string not_json_;
};

} // namespace aibatch
