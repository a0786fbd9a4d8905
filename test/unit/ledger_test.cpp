// batch<T>()'s outcome ledger and chunk planner without sockets (src/batch/ledger.hpp,
// src/batch/planner.hpp): what each result line means for its item, and which items go
// in which batch.
#include "batch/journal.hpp"
#include "batch/ledger.hpp"
#include "batch/planner.hpp"

#include <aibatch/api/pricing.hpp>

#include <boost/json/parse.hpp>
#include <boost/test/unit_test.hpp>

#include <memory>
#include <ostream>
#include <random>
#include <string>
#include <utility>
#include <vector>

using aibatch::item_status;
using aibatch::result_type;
using aibatch::detail::chunk_builder;
using aibatch::detail::custom_ids;
using aibatch::detail::decode_report;
using aibatch::detail::job;
using aibatch::detail::line_facts;
using aibatch::detail::outcome_ledger;

namespace {

// The reports in a plain vector (batch_run<V> keeps them in its items).
struct report_store final : aibatch::detail::item_store {
    std::vector<aibatch::item_report> items;
    void reserve(std::size_t n) override { items.reserve(n); }
    void add(std::size_t i) override { items.emplace_back().index = i; }
    aibatch::item_report& at(std::size_t i) override { return items.at(i); }
    std::size_t size() const override { return items.size(); }
    void prefetch(std::size_t i) const noexcept override { prefetched.push_back(i); }
    mutable std::vector<std::size_t> prefetched;
};

// A ledger of n items in round 0 with one job (number 0) carrying `items`.
struct fixture {
    explicit fixture(std::size_t n = 4, std::vector<std::size_t> items = {0, 1, 2, 3},
                     unsigned repair_rounds = 1)
        : ledger(store, n, aibatch::find_price("claude-haiku-4-5"), repair_rounds, 1000),
          ids("t-", "run1", n) {
        ledger.set_ids(ids);
        for (std::size_t i = 0; i < n; ++i)
            ledger.add_item(i);
        ledger.begin_round(0);
        j.number = 0;
        j.indices = std::move(items);
        j.batch_id = "msgbatch_A";
        j.ranges = "0-3";
        ledger.assign(j);
        ledger.begin_download();
    }

    // A succeeded line for item i (its identity = the message id).
    aibatch::detail::line_use succeeded(std::size_t i, std::uint64_t identity = 1, bool ok = true,
                                        unsigned round = 0) {
        id = ids.make(round, i);
        report = ok ? decode_report{true, aibatch::output_failure::none, {}, {}}
                    : decode_report{false, aibatch::output_failure::validation,
                                    "$.score: must be at most 10", R"({"score":11})"};
        tokens.input_tokens = 100;
        tokens.output_tokens = 20;
        line_facts f;
        f.custom_id = id;
        f.type = result_type::succeeded;
        f.identity = identity;
        f.tokens = &tokens;
        f.output = &report;
        return ledger.take_line(j, f);
    }

    report_store store;
    outcome_ledger ledger;
    custom_ids ids;
    job j;
    std::string id;
    decode_report report;
    aibatch::usage tokens;
};

} // namespace

namespace aibatch {
// For BOOST_TEST's messages.
inline std::ostream& operator<<(std::ostream& os, item_status s) {
    return os << to_string(s);
}
} // namespace aibatch

BOOST_AUTO_TEST_SUITE(outcome_ledger_rules)

BOOST_AUTO_TEST_CASE(a_decoded_line_of_the_jobs_own_item_gives_it_its_value) {
    fixture f;
    auto use = f.succeeded(2);
    BOOST_TEST(use.keep_reading);
    BOOST_TEST(!use.confirmed);
    BOOST_REQUIRE(use.value_for.has_value());
    BOOST_TEST(*use.value_for == 2u);
    BOOST_TEST(f.ledger.item(2).status == item_status::succeeded);
    BOOST_TEST(f.ledger.item(2).batch_id == "msgbatch_A");
    BOOST_TEST(f.ledger.item(1).status == item_status::not_submitted);
    auto r = f.ledger.finish();
    BOOST_TEST(r.usage.input_tokens == 100);
    BOOST_TEST(r.usage.output_tokens == 20);
    BOOST_TEST(r.anomalies.empty());
}

BOOST_AUTO_TEST_CASE(the_prefetch_hint_names_only_items_the_ledger_holds_and_changes_nothing) {
    // 8 ids are valid for the codec, but only items 0-3 were added (the engine adds them
    // in slices): a hint may name only those, whatever the line's bytes say.
    report_store store;
    outcome_ledger ledger(store, 8, std::nullopt, 0, 1000);
    custom_ids ids("t-", "run1", 8);
    ledger.set_ids(ids);
    for (std::size_t i = 0; i < 4; ++i)
        ledger.add_item(i);
    const std::string lines[] = {
        R"({"custom_id":"t-run1-2","result":{"type":"succeeded"}})", // item 2
        R"({"custom_id":"t-run1r1-3","result":{}})",                 // item 3, round 1
        R"({"custom_id":"t-run1-5","result":{}})",                   // valid id, not added
        R"({"custom_id":"t-run1-9","result":{}})",                   // past the count
        R"({"custom_id":"t-run2-1","result":{}})",                   // another run
        R"({"custom_id":"t-run1-01","result":{}})",                  // not canonical
        R"({"custom_id":"t-run1-\u0031","result":{}})",              // an escape: no hint
        R"({"custom_id":"t-run1-1)",                                 // cut short
        R"({"custom_id":")",
        R"( {"custom_id":"t-run1-1"})", // not as the API writes it: no hint
        R"({"result":{},"custom_id":"t-run1-1"})",
        "",
        "{",
    };
    for (const auto& l : lines)
        ledger.prefetch(l);
    BOOST_TEST(store.prefetched == (std::vector<std::size_t>{2, 3}),
               boost::test_tools::per_element());
    for (const auto& it : store.items)
        BOOST_TEST(it.status == item_status::not_submitted);
    BOOST_TEST(ledger.finish().anomalies.empty());
}

BOOST_AUTO_TEST_CASE(a_line_for_an_item_of_another_job_or_run_is_never_used) {
    fixture f(4, {0, 1});
    job other;
    other.number = 1;
    other.indices = {2, 3};
    f.ledger.assign(other);
    auto use = f.succeeded(3); // item 3 is the other job's
    BOOST_TEST(use.keep_reading);
    BOOST_TEST(!use.value_for.has_value());
    // Another run's id (same prefix, other run id) and a repair round's id.
    const std::string foreign = custom_ids("t-", "run2", 4).make(0, 0);
    line_facts lf;
    lf.custom_id = foreign;
    lf.output = &f.report;
    BOOST_TEST(!f.ledger.take_line(f.j, lf).value_for.has_value());
    BOOST_TEST(!f.succeeded(0, 1, true, 1).value_for.has_value());
    for (std::size_t i = 0; i < 4; ++i)
        BOOST_TEST(f.ledger.item(i).status == item_status::not_submitted);
    BOOST_TEST(f.ledger.finish().anomalies.size() == 3u);
}

BOOST_AUTO_TEST_CASE(the_same_answer_twice_is_used_once_and_two_answers_are_both_refused) {
    fixture f;
    BOOST_TEST(f.succeeded(0, 7).value_for.has_value());
    // The same answer again in the same download: an anomaly, used once.
    BOOST_TEST(!f.succeeded(0, 7).value_for.has_value());
    BOOST_TEST(f.ledger.item(0).status == item_status::succeeded);
    // Delivered again by a repeated download: silently the same.
    f.ledger.begin_download();
    BOOST_TEST(!f.succeeded(0, 7).value_for.has_value());
    BOOST_TEST(f.ledger.item(0).status == item_status::succeeded);
    // A different answer for the same input: neither can be trusted.
    BOOST_TEST(!f.succeeded(0, 8).value_for.has_value());
    BOOST_TEST(f.ledger.item(0).status == item_status::failed);
    BOOST_TEST(f.ledger.item(0).error_type == "duplicate_result");
    BOOST_TEST(f.ledger.repair_todo().empty());
    auto r = f.ledger.finish();
    BOOST_TEST(r.anomalies.size() == 2u);
    BOOST_TEST(r.anomalies[0].find("came twice") != std::string::npos);
    BOOST_TEST(r.anomalies[1].find("two different result lines") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(a_tentative_candidate_is_confirmed_by_its_items_or_given_up) {
    fixture f;
    f.j.tentative = true;
    const custom_ids other_run("t-", "run2", 4);
    // Lines of another run: not proof at once; given up after 16 of them.
    for (int k = 0; k < 15; ++k) {
        std::string id = other_run.make(0, 1);
        line_facts lf;
        lf.custom_id = id;
        lf.output = &f.report;
        BOOST_TEST(f.ledger.take_line(f.j, lf).keep_reading);
    }
    BOOST_TEST(f.j.foreign_run_seen);
    BOOST_TEST(f.j.tentative);
    BOOST_TEST(!f.succeeded(0, 1, true, 1).keep_reading); // the 16th: a repair round's id
    BOOST_TEST(f.ledger.item(0).status == item_status::not_submitted);

    fixture g;
    g.j.tentative = true;
    job second;
    second.number = 1;
    second.indices = {};
    auto use = g.succeeded(1);
    BOOST_TEST(use.confirmed);
    BOOST_TEST(!g.j.tentative);
    BOOST_TEST(g.j.verified_line);
    BOOST_TEST(use.value_for.has_value());
}

BOOST_AUTO_TEST_CASE(a_candidates_lines_hint_at_the_job_they_belong_to) {
    fixture f(4, {0, 1});
    job other;
    other.number = 1;
    other.indices = {2, 3};
    f.ledger.assign(other);
    f.j.tentative = true;
    f.j.batch_id = "msgbatch_B";
    BOOST_TEST(f.succeeded(3).keep_reading);
    auto h = f.ledger.hint("msgbatch_B");
    BOOST_REQUIRE(h.has_value());
    BOOST_TEST(*h == 1u);
    BOOST_TEST(!f.ledger.hint("msgbatch_A").has_value());
}

BOOST_AUTO_TEST_CASE(an_answer_that_does_not_decode_is_repaired_with_feedback) {
    fixture f;
    BOOST_TEST(!f.succeeded(1, 1, false).value_for.has_value());
    BOOST_TEST(f.ledger.item(1).status == item_status::invalid_output);
    BOOST_TEST(f.ledger.item(1).error_type == "validation");
    BOOST_TEST(f.ledger.item(1).raw_output == R"({"score":11})");
    BOOST_TEST(f.ledger.repair_todo() == std::vector<std::size_t>{1});
    const aibatch::conversation* fb = f.ledger.feedback(1);
    BOOST_REQUIRE(fb != nullptr);
    BOOST_REQUIRE(fb->size() == 2u);
    BOOST_TEST(!f.ledger.feedback(0));
    // Progress counts it as being repaired while a repair round is left.
    auto p = f.ledger.progress(f.j, {});
    BOOST_REQUIRE(p.has_value());
    BOOST_TEST(p->items_repairing == 1u);
    // Round 1: the repair succeeds.
    f.ledger.begin_round(1);
    f.ledger.assign(f.j);
    f.j.round = 1;
    BOOST_TEST(f.succeeded(1, 2, true, 1).value_for.has_value());
    BOOST_TEST(f.ledger.repair_todo().empty());
    BOOST_TEST(f.ledger.finish().repaired == 1u);
}

BOOST_AUTO_TEST_CASE(an_errored_expired_or_canceled_line_says_so_and_is_not_repaired) {
    fixture f;
    aibatch::api_error_info e{"overloaded_error", "", "req_1"};
    std::string id = f.ids.make(0, 0);
    line_facts lf;
    lf.custom_id = id;
    lf.type = result_type::errored;
    lf.error = &e;
    BOOST_TEST(!f.ledger.take_line(f.j, lf).value_for.has_value());
    BOOST_TEST(f.ledger.item(0).status == item_status::errored);
    BOOST_TEST(f.ledger.item(0).error_type == "overloaded_error");
    BOOST_TEST(f.ledger.item(0).message == "errored");
    std::string id1 = f.ids.make(0, 1);
    lf.custom_id = id1;
    lf.type = result_type::expired;
    f.ledger.take_line(f.j, lf);
    BOOST_TEST(f.ledger.item(1).status == item_status::expired);
    BOOST_TEST(f.ledger.repair_todo().empty());
}

BOOST_AUTO_TEST_CASE(a_bad_line_fails_its_item_unless_a_valid_line_follows) {
    fixture f;
    f.ledger.take_bad_line(f.j, f.ids.make(0, 2), "line 3 is not JSON");
    f.ledger.take_bad_line(f.j, f.ids.make(0, 3), "line 4 is not JSON");
    f.ledger.take_bad_line(f.j, std::nullopt, "line 5 is not JSON");
    BOOST_TEST(f.ledger.item(2).status == item_status::failed);
    BOOST_TEST(f.ledger.item(2).error_type == "invalid_result_line");
    BOOST_TEST(f.succeeded(3).value_for.has_value()); // a valid line for item 3 follows
    BOOST_TEST(f.ledger.item(3).status == item_status::succeeded);
    // The batch ended: items 0 and 1 got no line at all; item 2 keeps its reason.
    for (std::size_t i : f.j.indices)
        f.ledger.missing_result(f.j, i);
    BOOST_TEST(f.ledger.item(0).error_type == "missing_result");
    BOOST_TEST(f.ledger.item(1).error_type == "missing_result");
    BOOST_TEST(f.ledger.item(2).error_type == "invalid_result_line");
    BOOST_TEST(f.ledger.item(3).status == item_status::succeeded);
    BOOST_TEST(f.ledger.finish().anomalies.size() == 3u);
}

BOOST_AUTO_TEST_CASE(marking_a_job_leaves_items_that_have_their_result) {
    fixture f;
    f.succeeded(0);
    f.succeeded(1, 1, false); // invalid output this round: has its result
    for (std::size_t i : f.j.indices)
        f.ledger.mark(i, item_status::canceled, "canceled", "stopped");
    BOOST_TEST(f.ledger.item(0).status == item_status::succeeded);
    BOOST_TEST(f.ledger.item(1).status == item_status::invalid_output);
    BOOST_TEST(f.ledger.item(2).status == item_status::canceled);
    BOOST_TEST(f.ledger.item(3).status == item_status::canceled);
}

BOOST_AUTO_TEST_CASE(progress_is_reported_only_when_it_changed) {
    fixture f;
    f.j.counts.processing = 4;
    std::vector<std::unique_ptr<job>> jobs;
    jobs.push_back(std::make_unique<job>(f.j));
    auto first = f.ledger.progress(f.j, jobs);
    BOOST_REQUIRE(first.has_value());
    BOOST_TEST(first->batches_submitted == 1u);
    BOOST_TEST(first->items_total == 4u);
    BOOST_TEST(!f.ledger.progress(f.j, jobs).has_value());
    f.succeeded(0);
    auto second = f.ledger.progress(f.j, jobs);
    BOOST_REQUIRE(second.has_value());
    BOOST_TEST(second->items_done == 1u);
}

BOOST_AUTO_TEST_CASE(the_cost_limit_refuses_a_batch_that_would_pass_it) {
    fixture f;
    f.j.input_bytes = 4000;
    const double est = f.ledger.estimate(f.j);
    BOOST_TEST(est > 0.0);
    BOOST_TEST(!f.ledger.reserve(f.j, std::nullopt).has_value());
    BOOST_TEST(f.ledger.committed() == est);
    job next = f.j;
    auto over = f.ledger.reserve(next, est * 1.5);
    BOOST_REQUIRE(over.has_value());
    BOOST_TEST(over->find("cost limit $") == 0u);
    BOOST_TEST(over->find("(4 items)") != std::string::npos);
    f.ledger.release(f.j);
    f.ledger.release(f.j); // released once
    BOOST_TEST(f.ledger.committed() == 0.0);
    BOOST_TEST(!f.ledger.reserve(next, est * 1.5).has_value());
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(chunk_planner)

namespace {

// Plans items [0, n) whose requests are `size` bytes each; returns the jobs.
std::vector<job> plan(std::size_t n, std::size_t size, std::size_t max_requests,
                      std::size_t max_bytes, std::vector<std::size_t>* refused = nullptr) {
    std::vector<job> jobs;
    std::size_t i = 0;
    while (i < n) {
        chunk_builder c(max_requests, max_bytes, n - i);
        while (i < n) {
            auto v = c.add(i, [&](std::string& body) {
                std::string r = R"({"custom_id":")" + std::to_string(i) + R"(","p":")";
                r.append(size > r.size() + 2 ? size - r.size() - 2 : 0, 'x');
                body += r + "\"}";
            });
            if (v == chunk_builder::verdict::full)
                break;
            if (v == chunk_builder::verdict::too_large && refused)
                refused->push_back(i);
            ++i;
        }
        if (!c.empty())
            jobs.push_back(c.finish(0, false));
    }
    return jobs;
}

} // namespace

BOOST_AUTO_TEST_CASE(batches_hold_at_most_max_requests_in_input_order) {
    auto jobs = plan(5, 40, 2, 1 << 20);
    BOOST_REQUIRE(jobs.size() == 3u);
    BOOST_TEST(jobs[0].indices == (std::vector<std::size_t>{0, 1}));
    BOOST_TEST(jobs[2].indices == (std::vector<std::size_t>{4}));
    BOOST_TEST(jobs[1].ranges == "2-3");
    for (const auto& j : jobs) {
        auto v = boost::json::parse(*j.body);
        BOOST_TEST(v.at("requests").as_array().size() == j.indices.size());
        BOOST_TEST(j.input_bytes == j.body->size());
        BOOST_TEST(j.hash == 0u); // hashed only for a journal
    }
}

BOOST_AUTO_TEST_CASE(batches_stay_within_max_bytes_and_a_request_too_large_alone_is_refused) {
    std::vector<std::size_t> refused;
    auto jobs = plan(10, 100, 1000, 350, &refused);
    std::size_t carried = 0;
    for (const auto& j : jobs) {
        BOOST_TEST(j.body->size() <= 350u);
        BOOST_TEST(boost::json::parse(*j.body).at("requests").as_array().size() ==
                   j.indices.size());
        carried += j.indices.size();
    }
    BOOST_TEST(carried == 10u);
    BOOST_TEST(jobs.size() == 4u); // 3 requests of 100 bytes (+ separators) fit in 350
    BOOST_TEST(refused.empty());
    auto none = plan(3, 400, 1000, 350, &refused);
    BOOST_TEST(none.empty());
    BOOST_TEST(refused == (std::vector<std::size_t>{0, 1, 2}));
}

BOOST_AUTO_TEST_CASE(a_streamed_plan_makes_the_same_batches_sizes_and_hashes_as_a_kept_body) {
    // batch<T>() without customize plans bodies it does not keep (they are written again
    // as they are sent): the batches, their sizes and their journal hashes must be the
    // ones a kept body gives, or a journal written by one resumes wrongly with the other.
    std::mt19937 rng(20261126);
    for (int trial = 0; trial < 200; ++trial) {
        const std::size_t n = 1 + rng() % 60;
        const std::size_t max_requests = 1 + rng() % 12;
        const std::size_t max_bytes = 40 + rng() % 600;
        std::vector<std::string> requests(n);
        for (std::size_t i = 0; i < n; ++i)
            requests[i] = R"({"custom_id":")" + std::to_string(i) + R"(","p":")" +
                          std::string(rng() % 200, static_cast<char>('a' + i % 26)) + "\"}";
        // sized: streamed without a hash, planned from the requests' sizes alone
        auto plan_all = [&](bool streamed, bool sized = false) {
            std::vector<job> jobs;
            std::vector<std::size_t> refused;
            std::size_t i = 0;
            while (i < n) {
                chunk_builder c(max_requests, max_bytes, n - i, streamed, !sized);
                BOOST_TEST(c.sizes_only() == sized);
                while (i < n) {
                    auto v = sized ? c.add_sized(i, requests[i].size())
                                   : c.add(i, [&](std::string& body) { body += requests[i]; });
                    if (v == chunk_builder::verdict::full)
                        break;
                    if (v == chunk_builder::verdict::too_large)
                        refused.push_back(i);
                    ++i;
                }
                if (!c.empty())
                    jobs.push_back(c.finish(0));
            }
            return std::pair(std::move(jobs), std::move(refused));
        };
        auto [kept, kept_refused] = plan_all(false);
        auto [streamed, streamed_refused] = plan_all(true);
        auto [sized, sized_refused] = plan_all(true, true);
        BOOST_TEST(kept_refused == streamed_refused);
        BOOST_TEST(kept_refused == sized_refused);
        BOOST_REQUIRE_EQUAL(kept.size(), sized.size());
        for (std::size_t k = 0; k < kept.size(); ++k) {
            BOOST_TEST(!sized[k].body);
            BOOST_TEST(kept[k].indices == sized[k].indices);
            BOOST_TEST(kept[k].ranges == sized[k].ranges);
            BOOST_TEST(kept[k].input_bytes == sized[k].input_bytes);
        }
        BOOST_REQUIRE_EQUAL(kept.size(), streamed.size());
        for (std::size_t k = 0; k < kept.size(); ++k) {
            BOOST_TEST(!streamed[k].body);
            BOOST_TEST(kept[k].indices == streamed[k].indices);
            BOOST_TEST(kept[k].ranges == streamed[k].ranges);
            BOOST_TEST(kept[k].input_bytes == streamed[k].input_bytes);
            BOOST_TEST(kept[k].input_bytes == kept[k].body->size());
            BOOST_TEST(kept[k].hash == streamed[k].hash, "trial " << trial << " batch " << k);
            BOOST_TEST(kept[k].hash == aibatch::detail::fnv1a(*kept[k].body));
        }
    }
}

BOOST_AUTO_TEST_CASE(a_request_that_cannot_be_written_leaves_the_body_as_it_was) {
    chunk_builder c(10, 1 << 20, 3);
    BOOST_TEST(
        (c.add(0, [](std::string& b) { b += R"({"a":0})"; }) == chunk_builder::verdict::added));
    BOOST_CHECK_THROW(c.add(1,
                            [](std::string& b) {
                                b += R"({"a":)";
                                throw std::runtime_error("customize threw");
                            }),
                      std::runtime_error);
    BOOST_TEST(
        (c.add(2, [](std::string& b) { b += R"({"a":2})"; }) == chunk_builder::verdict::added));
    job j = c.finish(1, true);
    BOOST_TEST(*j.body == R"({"requests":[{"a":0},{"a":2}]})");
    BOOST_TEST(j.indices == (std::vector<std::size_t>{0, 2}));
    BOOST_TEST(j.round == 1u);
    BOOST_TEST(j.hash != 0u);
    BOOST_TEST(j.ranges == "0,2");
}

BOOST_AUTO_TEST_SUITE_END()
