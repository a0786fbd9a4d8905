// The engine of one batch<T>() run: the I/O driver around the pure planner
// (planner.hpp) and ledger (ledger.hpp). One class, its definitions by concern:
//   engine.cpp            the run: validation, rounds, the worker pool
//   engine_job.cpp        one job's lifecycle, and recovery when it fails
//   engine_create.cpp     the body turn, building requests, planning a batch, creating it
//   engine_read.cpp       polling a batch, reading its results, cancelling it
//   engine_ambiguous.cpp  what an ambiguous create made: candidates, the final sweep
// It runs on the client's strand; everything below is touched from that strand only,
// except journal_ while run() opens it on the journal thread (blocking_io.hpp), before
// any worker starts and while run() waits for it.
#pragma once

#include "journal.hpp"
#include "ledger.hpp"
#include "planner.hpp"
#include "rules.hpp"

#include "../api/client_impl.hpp"

#include <aibatch/batch/batch.hpp>
#include <aibatch/detail/batch_engine.hpp>

#include <boost/asio/experimental/channel.hpp>

#include <chrono>
#include <cstdint>
#include <exception>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aibatch::detail {

enum class track_result { done, foreign, stopped, abandoned };

class engine {
public:
    engine(std::shared_ptr<client_state> c, std::span<const conversation> messages,
           std::string model, batch_options opts, output_spec spec, item_store& items,
           line_decoder& decode)
        : state_(std::move(c)), messages_(messages), model_(std::move(model)),
          opts_(std::move(opts)), spec_(std::move(spec)), decode_(decode),
          ledger_(items, messages.size(), opts_.price ? opts_.price : find_price(model_),
                  opts_.repair_rounds, opts_.max_tokens) {}

    /// The whole run: checks, rounds, the sweep of ambiguous creates, every item's outcome.
    task<engine_result> run();

private:
    // ------------------------------------------------------------- the run (engine.cpp)
    task<void> breathe();
    task<void> run_round(unsigned round);
    task<void> worker(job*& current);
    task<void> mark(const job& j, item_status st, std::string type, std::string msg);
    void progress(const job& j);
    task<void> fill_in();
    engine_result finish() { return ledger_.finish(); }
    void stop(boost::system::error_code ec, std::string msg) { ledger_.stop(ec, std::move(msg)); }
    void anomaly(std::string what) { ledger_.anomaly(std::move(what)); }
    void unread(const job& j, std::string why) { ledger_.unread(j, std::move(why)); }

    // ------------------------------------------------------------- one job (engine_job.cpp)
    task<void> run_job(job& j);
    task<void> recover_planning(std::exception_ptr failure);
    task<void> recover(job& j, std::exception_ptr failure);

    // ------------------------------------------------------------- creating (engine_create.cpp)
    task<void> take_turn(job* j);
    void end_turn();
    void release_body(job& j);
    task<void> body_for_create(job& j);
    // Bodies are streamed (never whole in memory) unless customize is set: customize is
    // the caller's code, called once per request (the body is then built and kept).
    bool streams_bodies() const { return !opts_.customize; }
    streamed_body body_pieces(const job& j);
    conversation conversation_for(std::size_t i) const;
    message_params prototype() const;
    void check_request_rules() const;
    void append_request(std::size_t i, std::string& body);
    // The size append_request(i, body) appends, when it is known without writing the
    // request (no customize), else nullopt.
    std::optional<std::size_t> request_size(std::size_t i);
    task<std::optional<job>> next_job();
    task<bool> obtain_batch(job& j);

    // ------------------------------------------------------------- reading (engine_read.cpp)
    task<track_result> track(job& j);
    task<batch_info> do_retrieve(const std::string& id);
    task<track_result> read(job& j, batch_info b);
    task<result_stream> open_results_on_strand(batch_info b);
    bool decode_line(job& j, result_stream& rs, std::string_view text, decode_report& output,
                     const line_head*& head, std::uint64_t& identity);
    line_use on_line(job& j, const line_head& head, const decode_report& output,
                     std::uint64_t identity);
    task<void> confirm(job& j);
    task<void> abandon(job& j, const std::string& why);
    task<void> stop_batch(job& j);

    // ------------------------------------------------------------- ambiguous creates
    // (engine_ambiguous.cpp)
    std::chrono::milliseconds settle_time() const;
    task<std::optional<batch_info>> candidate_for(job& j);
    task<void> sweep_ambiguous();
    // The journal's records of items this run never planned again (it stopped first):
    // their recorded batches and unanswered creates, named.
    void name_unreached_journal_records();
    // What an ended batch's result lines say: not known (read false), another run's (16
    // lines, or all, none of this run's), or this run's (round, item of its first such).
    struct first_line {
        bool read = false;
        std::optional<std::pair<unsigned, std::size_t>> ours;
    };
    task<first_line> first_line_of(const batch_info& b);
    // One more create of j whose answer was lost (it may have made a batch).
    // `since`/`latest`: when the first and the last of these `creates` were sent.
    void note_ambiguous(const job& j, timestamp since, timestamp latest, unsigned creates = 1);
    // The job of this run's item (round, index) among those with ambiguous creates.
    job* ambiguous_job_of(unsigned round, std::size_t index);

    std::shared_ptr<client_state> state_;
    std::span<const conversation> messages_;
    std::string model_;
    batch_options opts_;
    output_spec spec_;
    line_decoder& decode_;
    outcome_ledger ledger_; // every item's outcome, the run's record and its cost
    std::optional<params_template> template_;
    journal journal_;
    std::string run_id_;
    std::optional<std::chrono::steady_clock::time_point> deadline_;
    std::vector<std::size_t> pending_; // this round's items, in order
    std::size_t cursor_ = 0;           // the next pending item to plan
    bool stopping_ = false;
    bool cost_stopped_ = false;
    bool progress_failed_ = false;
    // The body turn: one token, taken by a receive and handed back by a send (end_turn).
    std::optional<boost::asio::experimental::channel<void(boost::system::error_code)>> turn_;
    bool aborting_ = false; // canceled or timed out: running batches are canceled
    std::vector<std::unique_ptr<job>> jobs_;
    loop_breath breath_;                   // one clock for every coroutine of the run
    std::string not_json_;                 // why the last line read was not JSON
    std::set<std::string> known_ids_;      // batches this run (or its journal) created
    std::set<std::string> tracking_;       // candidates being checked
    std::set<std::string> known_not_ours_; // candidates proven to be another run's
    // (round, items) of every batch this run planned (its journal record looked at).
    std::set<std::pair<unsigned, std::string>> journal_reached_;
    // Per job: creates whose answer was lost, and how many of the batches they may have
    // made were found (confirmed as the job's, or proven this run's by the final sweep).
    // The sweep names the rest as batches that may still appear.
    struct ambiguity {
        timestamp since;  // the first lost create was sent then
        timestamp latest; // and the last one then
        unsigned creates = 0;
        unsigned found = 0;
    };
    // Whether its lost creates are past batch_options::lost_create_horizon (the final
    // sweep may settle them as having made nothing).
    bool may_settle(const ambiguity& amb) const;
    std::map<std::uint32_t, ambiguity> ambiguous_;
    std::chrono::steady_clock::time_point last_ambiguous_{};
};

} // namespace aibatch::detail
