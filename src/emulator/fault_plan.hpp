// The emulator's fault plan: the scripted faults still to come (emulator.hpp: fault) and
// which of them the next request, results stream or batch takes. Not thread-safe: the
// service holds it under its lock.
#pragma once

#include "rng.hpp"

#include <aibatch/emulator/emulator.hpp>

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::emulator {

/// What the request-level faults do to one request.
struct fault_decision {
    std::optional<unsigned> status; ///< answer this status instead
    bool drop = false;              ///< close the connection before answering
    bool drop_after = false;        ///< carry the request out, then close without answering
    std::chrono::milliseconds delay{0};
};

class fault_plan {
public:
    explicit fault_plan(std::vector<fault> faults) : faults_(std::move(faults)) {}

    void add(fault f) { faults_.push_back(std::move(f)); }

    /// The request-level faults (status, drop, drop-after, delay) the next request to
    /// `endpoint` takes: at most one of each kind, each counted once; a fractional status
    /// fault draws from `draw`.
    fault_decision take_for_request(const std::string& endpoint, rng& draw);

    /// The bytes after which the next request with a body to `endpoint` is cut
    /// (cut-request), counted once; nullopt when none is planned.
    std::optional<std::uint64_t> take_cut(const std::string& endpoint);

    /// The next fault of kind `k` (a results stream's or a new batch's), counted once.
    std::optional<fault> take(fault::kind k);

private:
    void forget_used();
    std::vector<fault> faults_;
};

/// The error type of a status as the API names it ("rate_limit_error" for 429, ...).
const char* status_error_type(unsigned status);
/// The message of an injected status: the API's own wording where the emulator knows it.
const char* status_error_message(unsigned status);

} // namespace aibatch::emulator
