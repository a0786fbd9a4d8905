// The emulator's batches: the clock that moves them from in_progress to ended,
// cancellation, the outcome of each item and its line of results.
#pragma once

#include <boost/json/value.hpp>

#include "batch_requests.hpp"
#include "simulated_model.hpp"

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::emulator {

using sys_clock = std::chrono::system_clock;

/// RFC 3339 with microseconds, UTC: "2024-08-20T18:37:24.100435Z".
std::string rfc3339(sys_clock::time_point t);

enum class item_outcome : std::uint8_t { succeeded, errored, canceled, expired };

/// What a batch is besides its requests: id, seed, times, faults.
struct batch_facts {
    std::string id;
    std::uint64_t seed = 0;
    sys_clock::time_point created_at, expires_at, processing_ends_at;
    std::optional<sys_clock::time_point> cancel_initiated_at;
    std::optional<sys_clock::time_point> cancel_done_at; ///< canceling -> ended
    bool expire = false; ///< the expire fault: unprocessed items come back expired
    /// Created under options::hold_batches: processing_ends_at is the far future until
    /// server::release(); every item is processed at that moment (none before).
    bool held = false;
    /// The transient-404 fault: retrieve and results (or only not_found_endpoint, when
    /// set) answer 404 until then.
    std::optional<sys_clock::time_point> not_found_until;
    std::string not_found_endpoint;
    bool deleted = false;
    /// The day end-of-life dates are compared with (options::today, else created_at's).
    std::chrono::sys_days validation_day{};
    /// The service's prompt cache: items with cache_control use it when processed (at
    /// the time each completes), under the service's lock, once.
    prompt_cache* cache = nullptr;
};

struct batch_record : batch_facts {
    /// The requests as posted (their text; params parsed when needed).
    batch_requests requests;
    std::vector<std::uint32_t> completion_order; ///< item indices in processing order

    std::size_t size() const { return requests.size(); }
    std::string_view custom_id(std::size_t i) const { return requests.custom_id(i); }
    /// What a deleted batch leaves: its facts and custom ids, marked deleted (the memory
    /// of its requests and outcomes goes with the last reference to this record).
    std::shared_ptr<batch_record> deleted_copy() const;

    /// When processing ended (or will end), cancellation and expiry included.
    sys_clock::time_point ends_at() const;
    bool ended(sys_clock::time_point now) const { return now >= ends_at(); }
    /// Still held (created under hold_batches and not released).
    bool waiting_for_release() const {
        return held && processing_ends_at == sys_clock::time_point::max();
    }
    /// in_progress, canceling or ended.
    const char* status(sys_clock::time_point now) const;
    /// The per-item validation of this batch's requests (validate_params).
    std::optional<item_error> validate(const boost::json::value& params) const;
    /// Outcome of item i (valid once ended). Computed once, then cached.
    item_outcome outcome(std::size_t i) const;

    /// Line i of the results (item i's result, with its newline) as the API writes it
    /// (valid once ended).
    std::string result_line(std::size_t i) const;

    /// The MessageBatch object as the API returns it (its times shifted by `clock_offset`,
    /// options::clock_offset).
    boost::json::object to_json(sys_clock::time_point now, const std::string& origin,
                                sys_clock::duration clock_offset = {}) const;

private:
    void compute_outcomes() const;
    mutable std::vector<item_outcome> outcomes_;
    /// Of each item, when any item used the cache (else empty).
    mutable std::vector<cache_usage> cache_usage_;
};

} // namespace aibatch::emulator
