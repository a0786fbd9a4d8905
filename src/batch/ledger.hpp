// The outcome ledger of one batch<T>() run: what happened to every item, apart from I/O.
// It decides what a result line means for its item (whose it is, a duplicate, two
// different answers, a bad line), which items are repaired and with what feedback, what
// an item that got no line becomes, the progress the caller sees and the cost account.
// The engine (engine.hpp) does the I/O and asks the ledger; test/unit/ledger_test.cpp
// checks the ledger without sockets.
#pragma once

#include "job.hpp"
#include "rules.hpp"

#include <aibatch/api/pricing.hpp>
#include <aibatch/detail/batch_engine.hpp>

#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <vector>

namespace aibatch::detail {

/// What one result line says, however it was decoded.
struct line_facts {
    std::string_view custom_id;
    result_type type = result_type::succeeded;
    std::uint64_t identity = 0;            ///< result_identity: tells two answers apart
    const usage* tokens = nullptr;         ///< succeeded: the message's usage, when it has one
    const api_error_info* error = nullptr; ///< errored
    const decode_report* output = nullptr; ///< succeeded: what decoding the output gave
};

/// What the engine does with a line after the ledger took it.
struct line_use {
    /// False: the line is one more sign that a tentative candidate batch is not the
    /// job's; the engine stops reading it.
    bool keep_reading = true;
    /// The first line of the job's own items in a tentative candidate: the batch is the
    /// job's (the engine claims it and journals it).
    bool confirmed = false;
    /// The line is the item's result and its output decoded: the engine keeps the value.
    std::optional<std::size_t> value_for;
};

class outcome_ledger {
public:
    /// `items` holds the reports (the caller's list of outcomes); it must outlive the
    /// ledger.
    outcome_ledger(item_store& items, std::size_t count, std::optional<model_price> price,
                   unsigned repair_rounds, std::int64_t max_tokens);

    // ------------------------------------------------------------- identity
    /// The custom-id codec (the run id may change when a journal is opened).
    void set_ids(custom_ids ids) { ids_ = std::move(ids); }
    const custom_ids& ids() const noexcept { return ids_; }

    /// Item i's report and bookkeeping (the engine adds them in slices that yield to the
    /// loop: zeroing fresh memory for 300,000 items at once held it for ~5 ms).
    void add_item(std::size_t i);

    // ------------------------------------------------------------- rounds and jobs
    /// Starts round `round`: no item has a line yet, no item belongs to a job.
    void begin_round(unsigned round);
    unsigned round() const noexcept { return round_; }
    /// The items of job `number` this round.
    void assign(const job& j);
    /// Items to send in the next repair round (their output did not decode and the
    /// feedback is ready), in input order.
    std::vector<std::size_t> repair_todo() const;
    /// The answer that failed and why, for item i's repair request (nullptr: none).
    const conversation* feedback(std::size_t i) const;

    // ------------------------------------------------------------- result lines
    /// A hint before a result line is decoded: when its bytes start as the API writes them
    /// (`{"custom_id":"...`) and name one of this run's items, that item's bookkeeping is
    /// fetched into the cache while the line is decoded. Changes nothing.
    void prefetch(std::string_view line) const;
    /// One result line of job j's batch (j's tentative flags are updated).
    line_use take_line(job& j, const line_facts& line);
    /// A line that is not a result; `custom_id` when its bytes show one. Its item fails
    /// unless a valid line for it follows.
    void take_bad_line(const job& j, const std::optional<std::string>& custom_id,
                       std::string_view why);
    /// Starts one download of results (a repeated download delivers lines again).
    void begin_download() { ++download_; }
    /// The job of a candidate batch as its lines showed it, if any.
    std::optional<std::uint32_t> hint(const std::string& batch_id) const;
    // j's batch id as item reports hold it: one string shared by its items, not a copy each.
    static const shared_string& report_id(const job& j);
    void forget_hint(const std::string& batch_id) { hint_.erase(batch_id); }

    // ------------------------------------------------------------- outcomes
    void set(std::size_t i, item_status st, std::string type, std::string msg,
             std::string raw = {});
    /// Gives item i this outcome unless it already has its result this round; false when
    /// left alone.
    bool mark(std::size_t i, item_status st, const std::string& type, const std::string& msg);
    /// After job j's batch was read to its end: item i got no line.
    void missing_result(const job& j, std::size_t i);
    /// Item i was never submitted in this stopped run.
    void not_submitted_at_stop(std::size_t i, bool cost_stopped);
    /// Item i's index, custom id and message for the caller (at the end of the run).
    void fill_in(std::size_t i);
    item_report& item(std::size_t i) { return items_->at(i); }
    const item_report& item(std::size_t i) const { return items_->at(i); }
    std::size_t size() const { return items_->size(); }

    // ------------------------------------------------------------- run-level record
    /// The first reason the run stopped is kept.
    void stop(boost::system::error_code ec, std::string msg);
    bool stopped() const noexcept { return static_cast<bool>(res_.stop_code); }
    const std::string& stop_message() const noexcept { return res_.stop_message; }
    void anomaly(std::string what);
    /// Names job j's batch as not read to the end, once.
    void unread(const job& j, std::string why);
    void unread(unread_batch u) { res_.unread_batches.push_back(std::move(u)); }
    bool is_unread(const std::string& batch_id) const;
    void record_batch(const std::string& id);
    void set_run_id(std::string id) { res_.run_id = std::move(id); }

    // ------------------------------------------------------------- progress
    /// The progress to report after polling job j, or nullopt when nothing changed since
    /// the last report.
    std::optional<batch_progress> progress(const job& j,
                                           std::span<const std::unique_ptr<job>> jobs);

    // ------------------------------------------------------------- cost
    /// Job j's estimated cost: its input, and per item the mean output seen so far (the
    /// max_tokens bound before any result).
    double estimate(const job& j) const;
    double spent() const;
    /// Reserves j's estimate while it is in flight, or says why it would pass the limit.
    std::optional<std::string> reserve(job& j, std::optional<double> cost_limit);
    /// j is done: its reservation is released (once).
    void release(job& j);
    double committed() const noexcept { return committed_; }

    /// The run's record; the ledger is empty after.
    engine_result finish();

private:
    item_store* items_;
    engine_result res_;
    custom_ids ids_;
    std::optional<model_price> price_;
    unsigned repair_rounds_ = 0;
    std::int64_t max_tokens_ = 0;
    unsigned round_ = 0;
    double committed_ = 0;
    std::uint64_t results_seen_ = 0;
    std::uint64_t anomaly_count_ = 0;
    std::uint32_t download_ = 0; // numbers each results download (0 = none)
    // By item, side by side: result lines come in no order, and one slot is one cache
    // line (and one page) to touch per line, where three arrays were three.
    struct slot {
        std::uint32_t done_in_round = 0; // the download its result came in
        std::uint32_t job_of = 0;        // 1 + its job this round, 0 = none
        std::uint64_t identity = 0;      // result_identity of its result
    };
    std::vector<slot> slots_;
    std::set<std::size_t> repairable_;
    std::set<std::size_t> bad_lines_; // items whose only line so far was not a result
    std::map<std::size_t, conversation> feedback_;
    std::map<std::string, std::uint32_t> hint_; // candidate -> the job its lines belong to
    std::optional<std::tuple<unsigned, std::uint64_t, std::uint64_t, std::uint64_t, std::uint64_t,
                             std::uint64_t, std::size_t, std::size_t, std::size_t, std::size_t>>
        last_progress_;
};

} // namespace aibatch::detail
