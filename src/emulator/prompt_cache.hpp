// The emulator's prompt caching: the cache_control breakpoints of a request (on tools,
// system blocks, message content blocks, and the top-level one of automatic caching), the
// API's rules on them, and a cache of prefixes that makes the usage of each request what
// the API reports: cache_creation_input_tokens (split by TTL in cache_creation),
// cache_read_input_tokens, and input_tokens for what follows the last cached prefix.
// Counts use the simulated model's estimate (about 4 characters a token).
#pragma once

#include "request_rules.hpp"

#include <boost/json/object.hpp>

#include <chrono>
#include <cstdint>
#include <optional>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace aibatch::emulator {

/// One cache_control breakpoint: the prefix of the request up to and including its block,
/// in the API's order (tools, system, messages).
struct breakpoint {
    std::uint64_t tokens = 0; ///< estimated tokens of the prefix
    std::uint64_t key = 0;    ///< hash of the model and the prefix (markers left out)
    bool one_hour = false;    ///< ttl "1h" (else "5m", the default)
};

/// Whether params carry a cache_control anywhere the API reads one (a quick look).
bool has_cache_control(const boost::json::object& params);

/// The breakpoints of valid params, in order; the top-level cache_control (automatic
/// caching) is a breakpoint on the last block of the last message. Empty when none.
std::vector<breakpoint> read_breakpoints(const boost::json::object& params);

/// What the API refuses about cache_control, with its message: a marker that is not
/// {"type":"ephemeral"} with an optional ttl "5m" or "1h", more than 4 breakpoints (the
/// top-level one included), a 1h breakpoint after a 5m one. std::nullopt when fine.
std::optional<item_error> cache_control_problem(const boost::json::object& params);

/// The shortest prefix `model` caches, in tokens (a shorter one is neither written nor
/// read).
std::uint64_t min_cacheable_tokens(std::string_view model);

/// What one request read from and wrote to the cache, in tokens.
struct cache_usage {
    std::uint64_t read = 0;
    std::uint64_t write_5m = 0;
    std::uint64_t write_1h = 0;
    std::uint64_t written() const { return write_5m + write_1h; }
};

/// The prefixes cached so far, by model and content, each until its TTL runs out (5
/// minutes or 1 hour after its last write or read). Not thread-safe: the service's mutex
/// guards it.
class prompt_cache {
public:
    using clock = std::chrono::system_clock;

    /// The cache usage of valid params processed at `now`, as the API counts it: A = the
    /// longest breakpoint prefix found, B = the longest 1-hour one past A (else A), C = the
    /// last one (else A): A tokens read, B - A written for an hour, C - B for 5 minutes.
    /// Breakpoints below the model's minimum count for nothing. Writes what it wrote and
    /// refreshes what it read.
    cache_usage use(const boost::json::object& params, clock::time_point now);

    std::size_t size() const { return entries_.size(); }

private:
    struct entry {
        clock::time_point created, expires;
    };
    std::unordered_map<std::uint64_t, entry> entries_;
};

} // namespace aibatch::emulator
