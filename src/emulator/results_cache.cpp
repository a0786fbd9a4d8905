#include "results_cache.hpp"

namespace aibatch::emulator {

std::shared_ptr<const std::string> results_cache::find(const std::string& batch_id) {
    auto it = index_.find(batch_id);
    if (it == index_.end())
        return nullptr;
    lru_.splice(lru_.begin(), lru_, it->second);
    return it->second->text;
}

bool results_cache::keep(const std::string& batch_id, std::shared_ptr<const std::string> text) {
    erase(batch_id);
    const std::size_t size = text->size();
    if (size > budget_)
        return false;
    while (bytes_ + size > budget_) {
        drop(std::prev(lru_.end()));
        ++evictions_;
    }
    lru_.push_front(entry{batch_id, std::move(text)});
    index_.emplace(batch_id, lru_.begin());
    bytes_ += size;
    return true;
}

void results_cache::erase(const std::string& batch_id) {
    if (auto it = index_.find(batch_id); it != index_.end())
        drop(it->second);
}

void results_cache::drop(std::list<entry>::iterator it) {
    bytes_ -= it->text->size();
    index_.erase(it->batch_id);
    lru_.erase(it);
}

results_cache_stats results_cache::stats() const {
    return results_cache_stats{budget_, bytes_, lru_.size(), evictions_};
}

} // namespace aibatch::emulator
