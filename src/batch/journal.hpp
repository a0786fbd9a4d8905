// Private: the journal of batch<T>(): which batches were submitted for which items, so a
// restarted program re-attaches instead of paying again. One JSON object per line:
//   {"journal":"aibatch","version":1,"model":"...","items":N}
//   {"event":"creating","round":0,"items":"0-499","count":500,"hash":"...","at":"RFC 3339"}
//   {"event":"created","round":0,"items":"0-499","hash":"...","batch_id":"msgbatch_..."}
// Each line is written with one write() and fsync'ed before the call goes on.
#pragma once

#include <aibatch/api/batches.hpp>

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::detail {

/// "0-499,502,510-511" for sorted indices.
std::string format_ranges(const std::vector<std::size_t>& sorted_indices);

/// FNV-1a 64 of bytes.
std::uint64_t fnv1a(std::string_view bytes) noexcept;

class journal {
public:
    journal() = default;
    journal(journal&&) noexcept;
    journal& operator=(journal&&) noexcept;
    ~journal();

    /// Opens or creates the journal. Throws aibatch::error (errc::journal) when it
    /// cannot be read or written, or was written for another model or input size.
    static journal open(const std::filesystem::path& path, const std::string& model,
                        std::size_t items);

    bool enabled() const noexcept { return fd_ >= 0; }

    struct entry {
        std::uint64_t hash = 0;
        std::uint64_t count = 0;
        std::optional<timestamp> creating_at;
        std::string batch_id; ///< empty while only "creating" was recorded
    };
    /// What the journal knows about the batch of these items in this round.
    const entry* find(unsigned round, const std::string& items) const;

    void creating(unsigned round, const std::string& items, std::uint64_t count,
                  std::uint64_t hash);
    void created(unsigned round, const std::string& items, std::uint64_t hash,
                 const std::string& batch_id);

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void append(const std::string& line);
    std::filesystem::path path_;
    int fd_ = -1;
    std::map<std::pair<unsigned, std::string>, entry> entries_;
};

} // namespace aibatch::detail
