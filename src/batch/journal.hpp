// Private: the journal of batch<T>(): which batches were submitted for which items, so a
// restarted program re-attaches instead of paying again. One JSON object per line:
//   {"journal":"aibatch","version":2,"model":"...","items":N,"run_id":"..."}
//   {"event":"creating","round":0,"items":"0-499","count":500,"hash":"...","at":"RFC 3339"}
//   {"event":"created","round":0,"items":"0-499","hash":"...","batch_id":"msgbatch_..."}
//   {"event":"refused","round":0,"items":"0-499","hash":"..."}   (the create made nothing)
// Each line is written with one write() and fsync'ed before the call goes on; a new
// file's directory is fsync'ed too. The records of a run are written away from the event
// loop (blocking_io.hpp): the coroutine that records waits, the loop serves the rest. A torn last
// line (a crash mid-write) is cut off when the journal is opened again; any other malformed line is
// an errc::journal error naming the file and the line.
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/task.hpp>

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::detail {

/// "0-499,502,510-511" for sorted indices.
std::string format_ranges(const std::vector<std::size_t>& sorted_indices);

inline constexpr std::uint64_t fnv1a_basis = 1469598103934665603ull;
/// FNV-1a 64 of `bytes`; `h`: the hash of what came before (fnv1a(a + b) == fnv1a(b, fnv1a(a))).
std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h = fnv1a_basis) noexcept;

class journal {
public:
    journal() = default;
    journal(journal&&) noexcept;
    journal& operator=(journal&&) noexcept;
    ~journal();

    /// Opens or creates the journal. Throws aibatch::error (errc::journal) when it
    /// cannot be read or written, is malformed, or was written for another model, input
    /// size or run id. `run_id` is recorded in a new journal; an existing journal's run
    /// id wins (see run_id()) unless run_id_required, when they must be the same.
    static journal open(const std::filesystem::path& path, const std::string& model,
                        std::size_t items, const std::string& run_id, bool run_id_required);

    /// The run id of the journal (the one recorded, or the one given to open()).
    const std::string& run_id() const noexcept { return run_id_; }

    bool enabled() const noexcept { return fd_ >= 0; }

    struct entry {
        std::uint64_t hash = 0;
        std::uint64_t count = 0;
        std::optional<timestamp> creating_at;       ///< the last "creating" record's time
        std::optional<timestamp> first_creating_at; ///< the first one's
        unsigned creates = 0;                       ///< "creating" records
        unsigned answers = 0;                       ///< "created" and "refused" records
        std::string batch_id;                       ///< empty while only "creating" was recorded
        /// Creates whose answer never came (a crash, or a lost answer whose batch was
        /// not found): each may have made a batch.
        unsigned unanswered() const { return creates > answers ? creates - answers : 0; }
    };
    /// What the journal knows about the batch of these items in this round.
    const entry* find(unsigned round, const std::string& items) const;
    /// Every record, by (round, items).
    const std::map<std::pair<unsigned, std::string>, entry>& entries() const noexcept {
        return entries_;
    }

    // The records: each is durable when its task completes, and only then counted in
    // entries() (a failed write throws aibatch::error, errc::journal, and counts nothing).
    // Written off the event loop; the journal must stay put until the task completes.
    task<void> creating(unsigned round, std::string items, std::uint64_t count, std::uint64_t hash);
    task<void> created(unsigned round, std::string items, std::uint64_t hash, std::string batch_id);
    /// The create answered that it made no batch (an API error, a body never sent).
    task<void> refused(unsigned round, std::string items, std::uint64_t hash);

    const std::filesystem::path& path() const noexcept { return path_; }

private:
    void append(const std::string& line);
    task<void> append_off_loop(std::string line);
    std::filesystem::path path_;
    int fd_ = -1;
    std::map<std::pair<unsigned, std::string>, entry> entries_;
    std::string run_id_;
    std::vector<std::string> all_created_;

public:
    /// Every batch id recorded as created (also one a later record for the same items
    /// replaced), each once.
    std::vector<std::string> batch_ids() const {
        std::vector<std::string> out;
        for (const auto& id : all_created_)
            if (std::find(out.begin(), out.end(), id) == out.end())
                out.push_back(id);
        return out;
    }
};

/// For tests: every journal line's write waits this long first (on the thread that
/// writes it), as a slow disk would.
inline std::atomic<int> journal_write_delay_ms_for_tests{0};

} // namespace aibatch::detail
