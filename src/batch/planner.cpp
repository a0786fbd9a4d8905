#include "planner.hpp"

#include "journal.hpp"

#include <boost/assert.hpp>

#include <algorithm>

namespace aibatch::detail {

chunk_builder::chunk_builder(std::size_t max_requests, std::size_t max_bytes, std::size_t expected,
                             bool streamed, bool hash)
    : max_requests_(max_requests), max_bytes_(max_bytes), expected_(expected), streamed_(streamed),
      hash_(hash) {
    body_ = head;
    size_ = head.size();
    if (streamed_ && hash_)
        running_hash_ = fnv1a(head);
}

chunk_builder::verdict chunk_builder::add_sized(std::size_t i, std::size_t size) {
    BOOST_ASSERT_MSG(sizes_only(), "a kept or hashed body needs the requests' bytes");
    if (indices_.size() >= max_requests_)
        return verdict::full;
    return settle_measured(i, size);
}

chunk_builder::verdict chunk_builder::settle_measured(std::size_t i, std::size_t size) {
    last_size_ = size;
    // As settle(): the request, a separator and the closing "]}" must fit.
    if (size_ + last_size_ + 3 > max_bytes_) {
        if (!indices_.empty())
            return verdict::full;
        scratch_.clear();
        scratch_.shrink_to_fit(); // a too-large request's room is not kept
        return verdict::too_large;
    }
    if (!indices_.empty()) {
        ++size_;
        if (hash_)
            running_hash_ = fnv1a(",", running_hash_);
    }
    size_ += last_size_;
    if (hash_)
        running_hash_ = fnv1a(scratch_, running_hash_);
    indices_.push_back(i);
    return verdict::added;
}

chunk_builder::verdict chunk_builder::settle(std::size_t i, std::size_t mark, std::size_t start) {
    last_size_ = body_.size() - start;
    // The request, a separator and the closing "]}" must fit.
    if (mark + last_size_ + 3 > max_bytes_) {
        // Undo it. A too-large first request has grown the body past its room: give the
        // memory back rather than carry it into the batch.
        body_.resize(mark);
        if (!indices_.empty())
            return verdict::full;
        body_.shrink_to_fit();
        return verdict::too_large;
    }
    if (indices_.empty()) {
        // Room for the whole batch at once, guessed from its first request: growing by
        // doubling would peak at 1.5-2x the body.
        const std::size_t n = std::min(std::max<std::size_t>(expected_, 1), max_requests_);
        body_.reserve(std::min(max_bytes_, (last_size_ + 1) * n * 21 / 20 + 64));
    }
    indices_.push_back(i);
    return verdict::added;
}

job chunk_builder::finish(unsigned round, bool hash) {
    job j;
    j.round = round;
    if (streamed_) {
        j.input_bytes = size_ + tail.size();
        if (hash_)
            j.hash = fnv1a(tail, running_hash_);
        BOOST_ASSERT_MSG(!hash || hash_, "a streamed body is hashed as it is measured");
        size_ = head.size();
        running_hash_ = hash_ ? fnv1a(head) : 0;
    } else {
        body_ += tail;
        j.input_bytes = body_.size();
        if (hash || hash_)
            j.hash = fnv1a(body_);
        j.body = std::make_shared<const std::string>(std::move(body_));
    }
    j.indices = std::move(indices_);
    if (std::is_sorted(j.indices.begin(), j.indices.end())) {
        j.ranges = format_ranges(j.indices);
    } else {
        std::vector<std::size_t> sorted = j.indices;
        std::sort(sorted.begin(), sorted.end());
        j.ranges = format_ranges(sorted);
    }
    body_ = head;
    indices_.clear();
    return j;
}

} // namespace aibatch::detail
