// One batch of a run (a "job"): the items it carries and where its batch stands. Built
// by the planner (planner.hpp), accounted by the ledger (ledger.hpp), driven through its
// lifecycle by the engine (engine.hpp).
#pragma once

#include <aibatch/api/batches.hpp>
#include <aibatch/shared_string.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::detail {

struct job {
    std::uint32_t number = 0; // index in the engine's list of jobs
    unsigned round = 0;
    std::vector<std::size_t> indices;
    std::string ranges;                      // indices as "0-499,600" (journal key)
    std::shared_ptr<const std::string> body; // only while the job holds the body turn
    bool has_turn = false;                   // the engine's one-body-at-a-time turn
    std::uint64_t hash = 0;                  // of the body, with a journal only
    std::uint64_t input_bytes = 0;
    std::string batch_id;
    // batch_id as the item reports hold it: one copy shared by the job's items
    // (outcome_ledger::report_id), made again when batch_id changes.
    mutable shared_string report_id;
    bool tentative = false; // a candidate of an ambiguous create, not yet confirmed
    bool verified_line = false;
    std::size_t unmatched_lines = 0; // lines of a tentative batch that are not j's
    bool foreign_run_seen = false;   // a line whose custom_id is not this run's
    request_counts counts;
    bool ended = false;
    bool read_done = false;
    double committed = 0; // estimated cost reserved while in flight
    std::optional<timestamp> expires_at;
    std::chrono::steady_clock::time_point known_since{};
    std::optional<timestamp> ambiguous_since; // a create may have made a batch not yet found
    std::vector<std::string> rejected;        // candidates proven not to be this job's
    bool journal_read = false;                // its journal record was looked at
    enum class phase { planned, creating, waiting, reading, done } ph = phase::planned;
};

} // namespace aibatch::detail
