// The results cache of the emulator: the whole JSONL of ended batches, kept once rendered
// so later downloads are served at memory speed. One budget in bytes across every batch
// (options::results_cache_bytes); the least recently used rendering goes first.
#pragma once

#include <aibatch/emulator/emulator.hpp>

#include <cstddef>
#include <cstdint>
#include <list>
#include <memory>
#include <string>
#include <unordered_map>

namespace aibatch::emulator {

/// Not thread-safe: the service's mutex guards it. A rendering handed out by find() stays
/// valid for its holder after it is evicted (it is shared).
class results_cache {
public:
    explicit results_cache(std::size_t budget) : budget_(budget) {}

    /// The rendering kept for `batch_id` (now the most recently used), or null.
    std::shared_ptr<const std::string> find(const std::string& batch_id);
    /// Keeps `text` as `batch_id`'s rendering, evicting the least recently used ones until
    /// the total fits the budget. A rendering larger than the whole budget is not kept
    /// (and evicts nothing). Returns whether it was kept.
    bool keep(const std::string& batch_id, std::shared_ptr<const std::string> text);
    /// Drops `batch_id`'s rendering, if kept.
    void erase(const std::string& batch_id);

    std::size_t budget() const { return budget_; }
    results_cache_stats stats() const;

private:
    struct entry {
        std::string batch_id;
        std::shared_ptr<const std::string> text;
    };
    void drop(std::list<entry>::iterator it);

    std::size_t budget_;
    std::size_t bytes_ = 0;
    std::uint64_t evictions_ = 0;
    std::list<entry> lru_; ///< most recently used first
    std::unordered_map<std::string, std::list<entry>::iterator> index_;
};

} // namespace aibatch::emulator
