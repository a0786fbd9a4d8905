// What the aibatch command prints: batch objects as JSON and as tables, durations, and
// the progress of a wait (a live bar on a terminal, plain lines otherwise).
#pragma once

#include <aibatch/api/batches.hpp>
#include <stdexcept>

#include <boost/json/array.hpp>
#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

namespace aibatch::cli {

/// The batch as the API shows it (MessageBatch field names).
boost::json::object batch_json(const batch_info& b);
/// The batches as a JSON array of batch_json().
boost::json::array batches_json(const std::vector<batch_info>& v);
/// "2026-11-25 23:50:01" (UTC), or "-" for an unset time.
std::string format_time(timestamp t);
/// "1:05:09", "2:03", "0:07".
std::string format_duration(std::chrono::steady_clock::duration d);
/// One table of batches: id, status, counts, created, ends.
std::string batch_table(const std::vector<batch_info>& batches);
/// One batch, a field a line.
std::string batch_details(const batch_info& b);
/// JSON text and a newline.
std::string json_line(const boost::json::value& v);

/// Writes text to a stdio stream completely (stdout, stderr or a file), flushed.
/// A write to standard output (or a file) that failed (a full disk, a closed pipe).
class output_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// The ids in their first order, each once; an id given more than once gets a line on
/// stderr ("aibatch: ID is given twice; <doing> it once"), for wait, cancel and delete.
std::vector<std::string> each_id_once(const std::vector<std::string>& ids, std::string_view doing);

/// Whether two paths name one file: the same file when both exist (links, "..", another
/// spelling), else the same absolute path once normalised (a file not yet created).
bool same_file(const std::string& a, const std::string& b);

/// Writes and flushes; throws output_error when f is not stderr and the write failed (a
/// failed write to stderr has nowhere to be reported).
void write_all(std::FILE* f, std::string_view text);

/// Progress of batches being waited for, on stderr: on a terminal one line redrawn in
/// place ("[#####-----] 1/2 ended ... ETA 0:12"), otherwise a plain line whenever
/// something changed or a minute passed.
class progress_display {
public:
    progress_display(std::FILE* out, bool terminal);
    /// Shows where the batches stand (called after each poll).
    void update(const std::vector<batch_info>& batches);
    /// Shows the run's progress from totals (for `run`, which sees counts, not batches).
    void update_counts(std::size_t done, std::size_t total, std::size_t batches_ended,
                       std::size_t batches_submitted);
    /// Ends the live line (a newline on a terminal).
    void finish();
    bool terminal() const noexcept { return terminal_; }

private:
    void show(std::size_t done, std::size_t total, std::size_t ended, std::size_t batches);

    std::FILE* out_;
    bool terminal_;
    std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
    std::chrono::steady_clock::time_point last_line_{};
    std::string last_state_;
    bool drawn_ = false;
};

} // namespace aibatch::cli
