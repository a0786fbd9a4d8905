// Wire types of the Messages API as the Message Batches API carries them: the request
// params of one item, and the Message that comes back. JSON conversion lives in
// src/api/messages.cpp; no other layer builds these JSON shapes by hand.
#pragma once

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch {

enum class role { user, assistant };

/// One turn of a conversation: text, or content blocks (images, documents, ...) as JSON.
struct turn {
    aibatch::role role = role::user;
    std::string text;          ///< used when blocks is empty
    boost::json::array blocks; ///< content blocks, when not plain text
};

/// A user turn with plain text.
turn user(std::string text);
/// An assistant turn with plain text (e.g. a prefill, or an earlier answer).
turn assistant(std::string text);

/// The turns of one request, oldest first. Must start with a user turn and alternate.
using conversation = std::vector<turn>;

/// Prompt caching of the start that requests share (message_params::system_cache,
/// batch_options::cache_system): off, or a cache breakpoint that lives 5 minutes or 1 hour
/// after its last use.
enum class prompt_cache { off, five_minutes, one_hour };

/// A tool the model may call (client tool with a JSON Schema input).
struct tool_definition {
    std::string name;
    std::string description;
    boost::json::object input_schema;
};

/// How the model picks tools: "auto", "any", "tool" (with name) or "none".
struct tool_choice {
    std::string type = "auto";
    std::string name;
    std::optional<bool> disable_parallel_tool_use;
};

/// The params of one Messages request (CreateMessageParams).
struct message_params {
    std::string model;
    std::int64_t max_tokens = 1024;
    conversation messages;
    std::optional<std::string> system;
    /// off: `system` is sent as a string. Otherwise as one text block carrying a cache
    /// breakpoint (`cache_control` {"type":"ephemeral"}, plus "ttl":"1h" for one_hour):
    /// the API caches the prompt up to it (the tools, then the system prompt). Ignored
    /// without `system`.
    prompt_cache system_cache = prompt_cache::off;
    std::vector<tool_definition> tools;
    std::optional<aibatch::tool_choice> tool_choice;
    std::optional<double> temperature;
    std::optional<double> top_p;
    std::optional<std::int64_t> top_k;
    std::vector<std::string> stop_sequences;
    std::optional<std::string> metadata_user_id;
    /// Native structured output: output_config.format = {type: json_schema, schema}.
    std::optional<boost::json::object> output_schema;
    /// Fields not modelled here, merged into the JSON last (they win).
    boost::json::object extra;

    boost::json::object to_json() const;
};

/// Appends `s` as a JSON string (quotes and escapes; UTF-8 passes through).
void append_json_string(std::string_view s, std::string& out);
/// How many bytes append_json_string(s, out) appends, without writing them.
std::size_t json_string_size(std::string_view s) noexcept;

/// Appends the JSON "messages" array of a conversation.
void append_messages_json(const conversation& c, std::string& out);
/// How many bytes append_messages_json(c, out) appends.
std::size_t messages_json_size(const conversation& c);

/// Serialises many requests that differ only in their messages, fast: everything else
/// (model, system, tools with their schema, ...) is serialised once. The output is
/// byte for byte what message_params::to_json() gives.
class params_template {
public:
    /// `proto`: the shared params; its `messages` are ignored.
    explicit params_template(const message_params& proto);
    /// Appends the params JSON of `proto` with these messages.
    void append(const conversation& messages, std::string& out) const;
    /// How many bytes append(messages, out) appends, without writing them.
    std::size_t size(const conversation& messages) const;

private:
    std::string prefix_; ///< up to and including "messages":
    std::string suffix_; ///< after the messages array, to the closing brace
};

/// One content block of an answer. `input` is set for tool_use, `text` for text.
struct content_block {
    std::string type; ///< "text", "tool_use", "thinking", ...
    std::string text;
    std::string id;
    std::string name;
    boost::json::value input;
};

struct usage {
    std::uint64_t input_tokens = 0;
    std::uint64_t output_tokens = 0;
    std::uint64_t cache_creation_input_tokens = 0;
    /// Of cache_creation_input_tokens, those written to the 1-hour cache
    /// (usage.cache_creation.ephemeral_1h_input_tokens), priced higher than 5-minute ones.
    std::uint64_t cache_creation_1h_input_tokens = 0;
    std::uint64_t cache_read_input_tokens = 0;
    std::string service_tier;

    usage& operator+=(const usage& o);
};

/// A Message as the API returns it.
struct message {
    std::string id;
    std::string model;
    std::string stop_reason; ///< end_turn, max_tokens, stop_sequence, tool_use, pause_turn, refusal
    std::optional<std::string> stop_sequence;
    std::vector<content_block> content;
    aibatch::usage usage;

    /// Throws aibatch::error (errc::bad_response) naming the missing field.
    static message from_json(const boost::json::value& v);
};

/// The usage object of a Message (missing fields are 0).
usage usage_from_json(const boost::json::value& v);

} // namespace aibatch
