// Which items go in which batch, apart from I/O: a batch holds at most
// max_requests_per_batch requests and max_bytes_per_batch bytes of body; a request that
// alone passes the byte limit is never sent. Requests are written straight into the
// body (no copy per request), or, for a body streamed when it is sent, measured (and
// hashed for a journal) and dropped. test/unit/ledger_test.cpp checks it without sockets.
#pragma once

#include "job.hpp"

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch::detail {

/// Builds one batch's body, request by request.
class chunk_builder {
public:
    /// How a body begins and ends: {"requests":[ ... ]}.
    static constexpr std::string_view head = R"({"requests":[)";
    static constexpr std::string_view tail = "]}";

    /// `expected` is how many requests may still come (a hint for the body's room).
    /// `streamed`: the body is not kept (the job's body stays empty; it is written again
    /// when it is sent), only its size and, with `hash`, its hash (a journal's). Either way
    /// the batches are the same, and so are their sizes and hashes.
    chunk_builder(std::size_t max_requests, std::size_t max_bytes, std::size_t expected,
                  bool streamed = false, bool hash = false);

    enum class verdict {
        added,     ///< the request is in the batch
        full,      ///< the batch is full: the request goes in the next one
        too_large, ///< the request alone passes max_bytes: it is never sent
    };

    /// Appends item i's request, written by `write(std::string& body)` (which appends
    /// exactly the request's JSON). On `full` and `too_large` the body is as before;
    /// last_size() is then the request's size.
    template <class Write>
    verdict add(std::size_t i, Write&& write) {
        if (indices_.size() >= max_requests_)
            return verdict::full;
        if (streamed_) {
            scratch_.clear();
            write(scratch_); // nothing to undo when it throws
            return settle_measured(i, scratch_.size());
        }
        const std::size_t mark = body_.size();
        if (!indices_.empty())
            body_ += ',';
        const std::size_t start = body_.size();
        try {
            write(body_);
        } catch (...) {
            body_.resize(mark); // nothing of a request that could not be written
            throw;
        }
        return settle(i, mark, start);
    }

    /// Whether add_sized() may be used: a streamed body that is not hashed needs only the
    /// requests' sizes.
    bool sizes_only() const noexcept { return streamed_ && !hash_; }
    /// As add(), for a request of `size` bytes that is not written (sizes_only() only).
    /// The size must be what the writer will write when the body is sent: the transport
    /// refuses to complete a body that does not come to the planned size.
    verdict add_sized(std::size_t i, std::size_t size);

    bool full() const noexcept { return indices_.size() >= max_requests_; }
    bool empty() const noexcept { return indices_.empty(); }
    std::size_t last_size() const noexcept { return last_size_; }

    /// The job: body closed (or its size and hash), indices and their ranges. The
    /// builder is empty after. The body is hashed with `hash` (given here or at
    /// construction).
    job finish(unsigned round, bool hash = false);

private:
    verdict settle(std::size_t i, std::size_t mark, std::size_t start);
    verdict settle_measured(std::size_t i, std::size_t size);

    std::size_t max_requests_, max_bytes_, expected_;
    bool streamed_, hash_;
    std::string body_;               // the body so far, or (streamed) only its head
    std::string scratch_;            // streamed: the request being measured
    std::size_t size_ = 0;           // streamed: the body's size so far
    std::uint64_t running_hash_ = 0; // streamed with hash: of the body so far
    std::vector<std::size_t> indices_;
    std::size_t last_size_ = 0;
};

} // namespace aibatch::detail
