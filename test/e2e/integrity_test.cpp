// batch<T>()'s guarantees under attack (the invariants of README "What aibatch
// guarantees"): own values only, every created batch read, canceled or named, nothing
// paid twice silently, transient failures never abandon a batch, exact cancel,
// crash-proof journal. Each observation of the integrity issue is a regression test
// here; `integrity_property` checks the invariants after seeded random fault schedules
// (AIBATCH_SCHEDULES, AIBATCH_SEED pick how many and which; a failure prints the seed).
#include "spam_types.hpp"

#include <aibatch/batch/batch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include "../support/emulator_fixture.hpp"
#include "../support/expect_throw.hpp"
#include "../support/run_task.hpp"
#include "journal_child_launcher.hpp"

#include <boost/asio/bind_cancellation_slot.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <random>
#include <set>
#include <spawn.h>
#include <sys/wait.h>
#include <thread>

namespace asio = boost::asio;
using namespace std::chrono_literals;
using aibatch::test::run_task;
using e2e::SpamResult;

extern char** environ;

namespace {

const std::string model = "claude-haiku-4-5";

aibatch::emulator::fault fault(std::string_view spec) {
    return aibatch::emulator::parse_fault(spec);
}

aibatch::client_config config(const std::string& url) {
    aibatch::client_config c;
    c.base_url = url;
    c.api_key = "sk-ant-integrity";
    c.retry.initial_backoff = 5ms;
    c.retry.max_backoff = 20ms;
    c.transport.timeouts.request = 2s;
    return c;
}

aibatch::emulator::options emu_options(std::chrono::milliseconds processing = 100ms) {
    return aibatch::test::emulator_fixture::options(processing, 5);
}

aibatch::batch_options fast() {
    aibatch::batch_options o;
    o.poll_interval = 10ms;
    o.poll_interval_max = 40ms;
    o.repair_rounds = 0;
    return o;
}

// Input i answers "<tag> item i": a value tells exactly which input it belongs to.
std::vector<aibatch::conversation> tagged(int n, const std::string& tag) {
    std::vector<aibatch::conversation> v;
    for (int i = 0; i < n; ++i)
        v.push_back({aibatch::user("Is this spam?\nEMULATOR_OUTPUT: {\"is_spam\":false,"
                                   "\"confidence\":0.5,\"reason\":\"" +
                                   tag + " item " + std::to_string(i) + "\"}")});
    return v;
}

std::string reason(const std::string& tag, std::size_t i) {
    return tag + " item " + std::to_string(i);
}

template <class T>
bool contains(const std::vector<T>& v, const T& x) {
    return std::find(v.begin(), v.end(), x) != v.end();
}

// "0-2,5" -> {0, 1, 2, 5} (unread_batch::items).
std::vector<std::size_t> indices_of(const std::string& ranges) {
    std::vector<std::size_t> out;
    std::size_t pos = 0;
    while (pos < ranges.size()) {
        auto comma = ranges.find(',', pos);
        if (comma == std::string::npos)
            comma = ranges.size();
        const std::string part = ranges.substr(pos, comma - pos);
        const auto dash = part.find('-');
        const std::size_t lo = std::stoul(part.substr(0, dash));
        const std::size_t hi = dash == std::string::npos ? lo : std::stoul(part.substr(dash + 1));
        for (std::size_t i = lo; i <= hi; ++i)
            out.push_back(i);
        pos = comma + 1;
    }
    return out;
}

// The invariants, checked from the outcome and the emulator's own record. `others`
// are run ids of other runs on the same emulator (their batches are not ours).
struct invariant_report {
    std::vector<std::string> problems;
    void add(std::string p) { problems.push_back(std::move(p)); }
    bool ok() const { return problems.empty(); }
    std::string text() const {
        std::string s;
        for (const auto& p : problems)
            s += "\n  - " + p;
        return s;
    }
};

invariant_report check_invariants(const aibatch::batch_run<SpamResult>& run, const std::string& tag,
                                  aibatch::emulator::server& emu) {
    invariant_report rep;
    // Own values only.
    for (const auto& it : run.items) {
        if (it.value.has_value() != (it.status == aibatch::item_status::succeeded))
            rep.add("item " + std::to_string(it.index) + ": value present " +
                    std::to_string(it.value.has_value()) + " but status " +
                    std::string(aibatch::to_string(it.status)));
        if (it.value && it.value->reason != reason(tag, it.index))
            rep.add("item " + std::to_string(it.index) + " got \"" + it.value->reason +
                    "\", not its own answer");
    }
    // Every batch carrying this run's ids: read, canceled or named.
    const std::string marker = "item-" + run.run_id;
    std::set<std::string> read, canceled;
    for (const auto& e : emu.log()) {
        if (e.endpoint == "results" && e.status == 200)
            read.insert(e.batch_id);
        if (e.endpoint == "cancel" && e.status == 200)
            canceled.insert(e.batch_id);
    }
    std::set<std::string> named;
    // An entry without an id names a batch that may still appear (a create whose answer
    // was lost): it covers one batch carrying its items.
    std::map<std::string, std::size_t> possible; // custom_id -> entries without an id
    for (const auto& u : run.unread_batches) {
        if (!u.id.empty()) {
            named.insert(u.id);
            continue;
        }
        if (u.why.empty())
            rep.add("an unread entry without an id says nothing");
        for (std::size_t i : indices_of(u.items))
            ++possible[marker + "-" + std::to_string(i)];
    }
    auto covered = [&](const aibatch::emulator::batch_summary& b) {
        return std::all_of(b.custom_ids.begin(), b.custom_ids.end(),
                           [&](const std::string& id) { return possible.count(id) > 0; });
    };
    std::map<std::string, std::vector<std::string>> batches_of_item;
    for (const auto& b : emu.batches()) {
        if (b.custom_ids.empty() || b.custom_ids[0].rfind(marker, 0) != 0)
            continue;
        for (const auto& id : b.custom_ids)
            batches_of_item[id].push_back(b.id);
        if (!read.count(b.id) && !canceled.count(b.id) && !named.count(b.id) && !covered(b))
            rep.add("batch " + b.id + " of this run was neither read, canceled nor named");
    }
    // Nothing paid twice silently: an item in several batches has all but one named (by
    // id, or as a batch that may appear).
    for (const auto& [id, bs] : batches_of_item) {
        std::size_t unnamed = 0;
        for (const auto& b : bs)
            unnamed += !named.count(b);
        const std::size_t may = possible.count(id) ? possible.at(id) : 0;
        if (bs.size() > 1 && unnamed > 1 + may)
            rep.add(id + " was sent in " + std::to_string(bs.size()) +
                    " batches, more than one of them not named");
    }
    return rep;
}

// The emulator fixture with this file's client (config()) and its run_batch<SpamResult>.
struct env : aibatch::test::emulator_fixture {
    explicit env(aibatch::emulator::options o = emu_options())
        : emulator_fixture(std::move(o), config({})) {}
    aibatch::batch_run<SpamResult> run(const std::vector<aibatch::conversation>& m,
                                       const aibatch::batch_options& o) {
        return emulator_fixture::run(aibatch::run_batch<SpamResult>(client(), m, model, o));
    }
};

std::filesystem::path temp_path(const std::string& name) {
    auto p = std::filesystem::temp_directory_path() /
             ("aibatch-integrity-" + std::to_string(::getpid()) + "-" + name);
    std::filesystem::remove_all(p);
    return p;
}

// The unread entries of a run, in the test log (to read a failure by).
void print_unread(const aibatch::batch_run<SpamResult>& run) {
    for (const auto& u : run.unread_batches)
        BOOST_TEST_MESSAGE("unread " << u.id << " (" << u.items << "): " << u.why);
}

// A run whose first create is carried out and its answer lost, while every listing of
// the run fails, so its batch is not found: the items are created again, and the lost
// create is named (an unread entry without an id).
void run_with_a_lost_create_named(env& e, const std::vector<aibatch::conversation>& msgs,
                                  const aibatch::batch_options& o) {
    e.emu().add_fault(fault("drop-after:1:create"));
    e.emu().add_fault(fault("status:400:3:list"));
    auto first = e.run(msgs, o);
    BOOST_TEST(first.all_succeeded(), first.stop_message);
    BOOST_REQUIRE(e.emu().batches_created() == 2u);
    BOOST_REQUIRE(first.unread_batches.size() == 1u);
    BOOST_TEST(first.unread_batches[0].id.empty());
}

// Moves every "at" time of a journal back by `by` (time passing between two runs).
void age_journal(const std::filesystem::path& path, std::chrono::seconds by) {
    std::string text;
    {
        std::ifstream f(path);
        text.assign(std::istreambuf_iterator<char>(f), {});
    }
    const std::time_t then = std::time(nullptr) - static_cast<std::time_t>(by.count());
    char at[32];
    std::strftime(at, sizeof at, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&then));
    for (auto p = text.find("\"at\":\""); p != std::string::npos;
         p = text.find("\"at\":\"", p + 1)) {
        const auto from = p + 6;
        text.replace(from, text.find('"', from) - from, at);
    }
    std::ofstream f(path, std::ios::trunc);
    f << text;
}

} // namespace

// ------------------------------------------------------------------ regressions
BOOST_AUTO_TEST_SUITE(integrity_regressions)

// Observation 1: B's create times out (the API creates it later); A's same-size batch
// exists. B must never return A's answers, and B's own late batch is found by its ids.
BOOST_AUTO_TEST_CASE(a_timed_out_create_never_adopts_another_programs_batch) {
    env e(emu_options(300ms));
    asio::io_context ioc_b;
    auto cfg_b = config(e.emu().url());
    cfg_b.transport.timeouts.request = 250ms;
    cfg_b.retry.max_retries = 0;
    aibatch::client b(ioc_b.get_executor(), cfg_b);
    auto o = fast();
    // A's batch: 10 items, created first.
    auto a_msgs = tagged(10, "A");
    aibatch::batch_run<SpamResult> a_run;
    asio::co_spawn(e.ioc(), aibatch::run_batch<SpamResult>(e.client(), a_msgs, model, o),
                   [&](std::exception_ptr, aibatch::batch_run<SpamResult> r) { a_run = r; });
    for (int i = 0; i < 2000 && e.emu().batches_created() < 1; ++i) // bounded: 20 s
        e.ioc().run_one_for(10ms);
    BOOST_REQUIRE(e.emu().batches_created() == 1u);
    // B's create is carried out only after B has given up waiting for it.
    e.emu().add_fault(fault("delay:600:1:create"));
    auto b_msgs = tagged(10, "B");
    auto b_run = run_task(ioc_b, aibatch::run_batch<SpamResult>(b, b_msgs, model, o));
    e.ioc().run();
    for (const auto& a : b_run.anomalies)
        BOOST_TEST_MESSAGE("B anomaly: " << a);
    for (const auto& u : b_run.unread_batches)
        BOOST_TEST_MESSAGE("B unread: " << u.id << " " << u.why);
    for (const auto& l : e.emu().log())
        BOOST_TEST_MESSAGE("log: " << l.endpoint << " " << l.batch_id << " " << l.status);
    auto rep_b = check_invariants(b_run, "B", e.emu());
    BOOST_TEST(rep_b.ok(), rep_b.text());
    auto rep_a = check_invariants(a_run, "A", e.emu());
    BOOST_TEST(rep_a.ok(), rep_a.text());
    BOOST_TEST(b_run.all_succeeded(), b_run.stop_message);
    BOOST_TEST(a_run.all_succeeded(), a_run.stop_message);
    // Two batches in all: B's late batch was recognised by its custom_ids, A's left alone.
    BOOST_TEST(e.emu().batches_created() == 2u);
    for (const auto& s : e.emu().batches())
        BOOST_TEST(!s.cancel_requested);
    BOOST_TEST(!b.owns_batch(a_run.batch_ids.at(0)));
}

// Soak seed 680900862 made plain: a create the server carries out only after the run has
// ended (its answer lost to the request timeout) is named as a batch that may still
// appear: an unread entry without an id, with its items and what to look for.
BOOST_AUTO_TEST_CASE(a_create_carried_out_after_the_run_ended_is_named_as_a_batch_that_may_appear) {
    env e;
    asio::io_context ioc;
    auto cfg = config(e.emu().url());
    cfg.transport.timeouts.request = 250ms;
    aibatch::client c(ioc.get_executor(), cfg);
    e.emu().add_fault(fault("delay:1500:1:create"));
    auto o = fast();
    o.timeout = 400ms; // ends while it waits to look for the lost create's batch
    auto run = run_task(ioc, aibatch::run_batch<SpamResult>(c, tagged(5, "Z"), model, o));
    BOOST_TEST(run.stop_code == aibatch::errc::timed_out);
    BOOST_TEST(e.emu().batches_created() == 0u); // not yet: the run could not have seen it
    BOOST_REQUIRE(run.unread_batches.size() == 1u);
    const auto& u = run.unread_batches[0];
    BOOST_TEST(u.id.empty());
    BOOST_TEST(u.items == "0-4");
    BOOST_TEST(u.why.find("may still appear") != std::string::npos, u.why);
    BOOST_TEST(u.why.find("item-" + run.run_id + "-") != std::string::npos, u.why);
    // The batch appears after the run: named all the same.
    for (int i = 0; i < 300 && e.emu().batches_created() < 1; ++i) // bounded: 3 s
        std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE(e.emu().batches_created() == 1u);
    auto rep = check_invariants(run, "Z", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
}

// The same after a dropped create answer whose items were then answered by a second
// create: every value is there, and batch<T>() says a paid batch may exist (it throws
// errc::unread_batches holding every value) instead of staying silent.
BOOST_AUTO_TEST_CASE(a_lost_create_answer_is_named_even_when_every_item_succeeds) {
    env e;
    e.emu().add_fault(fault("drop:1:create"));
    auto msgs = tagged(4, "D");
    try {
        auto values =
            e.emulator_fixture::run(aibatch::batch<SpamResult>(e.client(), msgs, model, fast()));
        BOOST_ERROR("batch<T>() returned " << values.size()
                                           << " values without naming the lost create");
    } catch (const aibatch::batch_error& be) {
        BOOST_TEST(be.code() == aibatch::errc::unread_batches);
        BOOST_TEST(be.failures().empty());
        const auto& values = be.results<SpamResult>();
        BOOST_REQUIRE(values.size() == 4u);
        for (std::size_t i = 0; i < 4; ++i)
            BOOST_TEST((values[i] && values[i]->reason == reason("D", i)));
        BOOST_REQUIRE(be.unread_batches().size() == 1u);
        BOOST_TEST(be.unread_batches()[0].id.empty());
        BOOST_TEST(std::string(be.what()).find("may still appear") != std::string::npos, be.what());
    }
    BOOST_TEST(e.emu().batches_created() == 1u);
}

// A resume re-attaches the batch a second create made, and still looks for the batch of
// the first create whose answer was lost before the crash (the journal holds two
// "creating" records and one "created"): it appeared late and is named, not forgotten.
BOOST_AUTO_TEST_CASE(a_resume_names_the_late_batch_of_a_create_sent_again_before_the_crash) {
    env e;
    auto path = temp_path("late-before-crash.journal");
    auto cfg = config(e.emu().url());
    cfg.transport.timeouts.request = 250ms;
    auto o = fast();
    o.journal = path;
    auto msgs = tagged(6, "K");
    e.emu().add_fault(fault("delay:1200:1:create"));
    {
        asio::io_context ioc;
        {
            aibatch::client c(ioc.get_executor(), cfg);
            asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(c, msgs, model, o),
                           [](std::exception_ptr, aibatch::batch_run<SpamResult>) {});
        }
        // The second create's batch is recorded: the process "dies" before the first
        // create's batch exists.
        auto recorded = [&] {
            std::ifstream f(path);
            std::string text((std::istreambuf_iterator<char>(f)), {});
            return text.find("\"created\"") != std::string::npos;
        };
        for (int i = 0; i < 1000 && !recorded(); ++i) // bounded: 10 s
            ioc.run_one_for(10ms);
        BOOST_REQUIRE(recorded());
        BOOST_REQUIRE(e.emu().batches_created() == 1u);
    }
    for (int i = 0; i < 500 && e.emu().batches_created() < 2; ++i) // bounded: 5 s
        std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE(e.emu().batches_created() == 2u);
    asio::io_context ioc;
    aibatch::client c(ioc.get_executor(), cfg);
    auto run = run_task(ioc, aibatch::run_batch<SpamResult>(c, msgs, model, o));
    BOOST_TEST(run.succeeded() == 6u, run.stop_message);
    auto rep = check_invariants(run, "K", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    const auto made = e.emu().batches();
    BOOST_REQUIRE(made.size() == 2u);
    bool late_named = false;
    for (const auto& u : run.unread_batches) {
        BOOST_TEST_MESSAGE("unread " << u.id << " (" << u.items << "): " << u.why);
        late_named = late_named || u.id == made[1].id;
    }
    for (const auto& id : run.batch_ids)
        BOOST_TEST_MESSAGE("read " << id);
    BOOST_TEST(late_named, "the late batch " << made[1].id << " is not in unread_batches");
    BOOST_TEST(run.batch_ids == std::vector<std::string>{made[0].id}); // re-attached
    std::filesystem::remove(path);
}

// The other side of naming lost creates: a create reset while its body was still being
// sent never reached the server whole, so nothing is named (batch<T>() returns).
BOOST_AUTO_TEST_CASE(a_create_cut_mid_body_is_sent_again_and_nothing_is_named) {
    env e;
    e.emu().add_fault(fault("cut-request:65536:1:create"));
    auto msgs = tagged(6, "V");
    for (auto& m : msgs)
        m.front().text = std::string(3'000'000, 'v') + "\n" + m.front().text;
    auto values =
        e.emulator_fixture::run(aibatch::batch<SpamResult>(e.client(), msgs, model, fast()));
    BOOST_REQUIRE(values.size() == 6u);
    for (std::size_t i = 0; i < 6; ++i)
        BOOST_TEST(values[i].reason == reason("V", i));
    BOOST_TEST(e.emu().batches_created() == 1u);
}

// Observation 2: chunk 0's create fails for good, chunk 1's succeeds; the rerun with
// the same journal must not attach chunk 0 to chunk 1's batch.
BOOST_AUTO_TEST_CASE(a_journal_resume_attaches_each_chunk_to_its_own_batch) {
    env e;
    auto path = temp_path("resume.journal");
    auto o = fast();
    o.journal = path;
    o.max_requests_per_batch = 10;
    o.max_batches_in_flight = 1;
    auto msgs = tagged(20, "J");
    e.emu().add_fault(fault("status:529:3:create")); // past the retry budget (2 retries)
    auto first = e.run(msgs, o);
    BOOST_TEST(!first.all_succeeded());
    BOOST_TEST(first.succeeded() == 10u);
    auto second = e.run(msgs, o);
    BOOST_TEST(second.all_succeeded(), second.stop_message);
    // The refused create (529: made nothing) is not taken for a lost one.
    BOOST_TEST(second.unread_batches.empty());
    print_unread(second);
    auto rep = check_invariants(second, "J", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    BOOST_TEST(second.run_id == first.run_id);
    BOOST_TEST(e.emu().batches_created() == 2u);
    // The re-attached batch counts as the client's own.
    for (const auto& id : second.batch_ids)
        BOOST_TEST(e.client().owns_batch(id));
    std::filesystem::remove(path);
}

// Observation 3: duplicated, foreign, non-canonical and unknown lines are reported,
// never used.
BOOST_AUTO_TEST_CASE(result_lines_are_checked_against_their_batch) {
    env e;
    auto o = fast();
    o.run_id = "fix1";
    o.max_requests_per_batch = 10;
    o.max_batches_in_flight = 1; // chunk 0's results are read first
    auto forged = [](const std::string& id) {
        return "inject-line:1:{\"custom_id\":\"" + id +
               "\",\"result\":{\"type\":\"succeeded\",\"message\":{\"id\":\"msg_x\",\"type\":"
               "\"message\",\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[{"
               "\"type\":\"tool_use\",\"id\":\"toolu_x\",\"name\":\"SpamResult\",\"input\":{"
               "\"is_spam\":true,\"confidence\":1,\"reason\":\"forged\"}}],\"stop_reason\":\"tool_"
               "use\",\"stop_sequence\":null,\"usage\":{\"input_tokens\":1,\"output_tokens\":1}}}}";
    };
    e.emu().add_fault(fault(forged("item-fix1-15"))); // chunk 1's item, in chunk 0's stream
    e.emu().add_fault(fault("dup-line:1"));
    auto run = e.run(tagged(20, "L"), o);
    BOOST_TEST(run.all_succeeded(), run.stop_message);
    auto rep = check_invariants(run, "L", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    BOOST_TEST(run.anomalies.size() >= 2u);
    bool names_batch = false;
    for (const auto& a : run.anomalies)
        names_batch = names_batch || a.find(run.batch_ids.at(0)) != std::string::npos;
    BOOST_TEST(names_batch);

    // Non-canonical and unknown ids in a one-batch run.
    env f;
    f.emu().add_fault(fault(forged("item-fix1-00")));
    auto run2 = f.run(tagged(3, "M"), o);
    auto rep2 = check_invariants(run2, "M", f.emu());
    BOOST_TEST(rep2.ok(), rep2.text());
    BOOST_TEST(run2.all_succeeded(), run2.stop_message);
    BOOST_TEST(run2.anomalies.size() == 1u);
    BOOST_TEST(run2.anomalies.at(0).find("item-fix1-00") != std::string::npos);
    for (const auto& a : run2.anomalies)
        BOOST_TEST_MESSAGE("anomaly: " << a);
}

// Observation 4: a 1.5 s outage of retrieve, and 404s right after create, only delay.
BOOST_AUTO_TEST_CASE(transient_poll_failures_do_not_abandon_the_batch) {
    env e;
    e.emu().add_fault(fault("status:503:8:retrieve"));
    auto run = e.run(tagged(5, "P"), fast());
    BOOST_TEST(run.all_succeeded(), run.stop_message);
    env f;
    f.emu().add_fault(fault("transient-404:800:1"));
    auto run2 = f.run(tagged(5, "Q"), fast());
    BOOST_TEST(run2.all_succeeded(), run2.stop_message);
    BOOST_TEST(f.emu().batches_created() == 1u);
}

// Observation 5: a cancel while the create is in flight: the batch, once created, is
// canceled (not left running and unknown).
BOOST_AUTO_TEST_CASE(cancel_during_a_create_cancels_the_batch_once_known) {
    env e(aibatch::test::emulator_fixture::held(5)); // in progress until canceled
    e.emu().add_fault(fault("delay:400:1:create"));
    asio::cancellation_signal sig;
    aibatch::batch_run<SpamResult> run;
    asio::co_spawn(e.ioc(),
                   aibatch::run_batch<SpamResult>(e.client(), tagged(4, "C"), model, fast()),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr ex, aibatch::batch_run<SpamResult> r) {
                           BOOST_TEST(!ex);
                           run = std::move(r);
                       }));
    // The cancel once the create is on the server (held back there 400 ms): emitted on the
    // io_context's thread. Should the answer win the race, the cancel finds the batch held
    // in progress all the same.
    std::thread canceler([&] {
        if (e.emu().wait_received("create", 1, 20s))
            asio::post(e.ioc(), [&] { sig.emit(asio::cancellation_type::terminal); });
    });
    e.ioc().run();
    canceler.join();
    BOOST_TEST(run.stop_code == asio::error::operation_aborted);
    auto made = e.emu().batches();
    BOOST_REQUIRE(made.size() == 1u);
    BOOST_TEST(made[0].cancel_requested);
    auto rep = check_invariants(run, "C", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    for (const auto& it : run.items)
        BOOST_TEST((it.status == aibatch::item_status::canceled));
}

// Observation 6: one bad line fails (at most) its own item; the download goes on.
BOOST_AUTO_TEST_CASE(a_bad_line_does_not_end_the_download) {
    env e;
    auto o = fast();
    o.run_id = "bad1";
    e.emu().add_fault(fault("inject-line:1:this is not json"));
    auto run = e.run(tagged(6, "B"), o);
    BOOST_TEST(run.all_succeeded(), run.stop_message);
    BOOST_TEST(run.anomalies.size() == 1u);
    // A line with a readable custom_id but no valid result, and no good line for that
    // item: that item alone fails.
    env f;
    f.emu().add_fault(
        fault("inject-line:1:{\"custom_id\":\"item-bad1-2\",\"result\":{\"type\":\"bogus\"}}"));
    auto run2 = f.run(tagged(6, "B"), o);
    auto rep = check_invariants(run2, "B", f.emu());
    BOOST_TEST(rep.ok(), rep.text());
    // The item's real line follows the bad one, so the real answer is kept.
    BOOST_TEST(run2.all_succeeded(), run2.stop_message);
}

// Observation 7: cancel while an ended batch's results are read: no cancel is sent, the
// results are read.
BOOST_AUTO_TEST_CASE(cancel_while_reading_results_reads_them_and_cancels_nothing) {
    env e;
    e.emu().add_fault(fault("trickle:200:1"));
    asio::cancellation_signal sig;
    aibatch::batch_run<SpamResult> run;
    asio::co_spawn(e.ioc(),
                   aibatch::run_batch<SpamResult>(e.client(), tagged(8, "R"), model, fast()),
                   asio::bind_cancellation_slot(
                       sig.slot(), [&](std::exception_ptr ex, aibatch::batch_run<SpamResult> r) {
                           BOOST_TEST(!ex);
                           run = std::move(r);
                       }));
    // Cancel once the results download has started (the emulator logs a results request
    // as it starts streaming): the signal is emitted on the io_context's thread.
    std::thread canceler([&] {
        if (e.emu().wait_for_log(
                [](const std::vector<aibatch::emulator::log_entry>& log) {
                    return std::any_of(log.begin(), log.end(),
                                       [](const auto& l) { return l.endpoint == "results"; });
                },
                20s))
            asio::post(e.ioc(), [&] { sig.emit(asio::cancellation_type::terminal); });
    });
    e.ioc().run();
    canceler.join();
    BOOST_TEST(e.count("cancel") == 0u);
    BOOST_TEST(run.succeeded() == 8u);
    auto rep = check_invariants(run, "R", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
}

// Observation 8: a trickling results stream is bounded by the minimum rate and retried;
// more lines than requests are not kept.
BOOST_AUTO_TEST_CASE(a_trickling_stream_is_bounded_and_retried) {
    auto cfg = config({});
    cfg.transport.timeouts.stream_grace = 200ms;
    cfg.transport.min_stream_rate = 20'000;
    aibatch::test::emulator_fixture emu(emu_options(), cfg);
    emu.emu().add_fault(fault("trickle:1:1"));
    auto run = emu.run(aibatch::run_batch<SpamResult>(emu.client(), tagged(4, "T"), model, fast()));
    BOOST_TEST(run.all_succeeded(), run.stop_message);
    BOOST_TEST(emu.count("results") >= 2u);

    emu.emu().add_fault(fault("dup-line:1"));
    auto run2 =
        emu.run(aibatch::run_batch<SpamResult>(emu.client(), tagged(4, "U"), model, fast()));
    BOOST_TEST(run2.all_succeeded(), run2.stop_message);
    BOOST_TEST(run2.anomalies.size() == 1u);
}

// Observation 9: a torn last journal line is cut off; malformed records are
// aibatch::error naming file and line.
// Review of d298acf: the journal's unanswered creates are registered only when their job
// is planned again (obtain_batch). A rerun that stops before it reaches that job (its
// timeout passes while an earlier batch is still in progress) never looks for the late
// batch of the earlier process's lost create, and names nothing: the batch, paid, is
// neither read, canceled nor named, though the README says a rerun looks for it.
BOOST_AUTO_TEST_CASE(a_rerun_that_stops_early_still_names_the_lost_creates_of_its_journal) {
    env e(aibatch::test::emulator_fixture::held(11)); // batches stay in progress
    auto path = temp_path("stops-early.journal");
    auto cfg = config(e.emu().url());
    cfg.transport.timeouts.request = 250ms;
    auto o = fast();
    o.journal = path;
    o.max_requests_per_batch = 4;
    o.max_batches_in_flight = 2;
    auto msgs = tagged(8, "S");
    e.emu().add_fault(fault("delay:1:1:create"));    // chunk 0's: answered
    e.emu().add_fault(fault("delay:1200:1:create")); // chunk 1's: answered too late
    auto journal_text = [&] {
        std::ifstream f(path);
        return std::string((std::istreambuf_iterator<char>(f)), {});
    };
    auto count_of = [](const std::string& text, const std::string& what) {
        std::size_t n = 0;
        for (auto at = text.find(what); at != std::string::npos; at = text.find(what, at + 1))
            ++n;
        return n;
    };
    {
        asio::io_context ioc;
        {
            aibatch::client c(ioc.get_executor(), cfg);
            asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(c, msgs, model, o),
                           [](std::exception_ptr, aibatch::batch_run<SpamResult>) {});
        }
        // Chunk 0's create is answered; then chunk 1's is carried out only after its
        // answer was lost, and the process "dies" while it waits to look for it.
        for (int i = 0; i < 1000; ++i) { // bounded: 10 s
            const std::string text = journal_text();
            if (count_of(text, "\"creating\"") >= 2 && count_of(text, "\"created\"") == 1)
                break;
            ioc.run_one_for(10ms);
        }
        for (int i = 0; i < 15; ++i) // chunk 1's create sent (well within its 250 ms)
            ioc.run_one_for(10ms);
        BOOST_REQUIRE(e.emu().wait_received("create", 2, 2s));
        const std::string text = journal_text();
        BOOST_REQUIRE(count_of(text, "\"creating\"") == 2u);
        BOOST_REQUIRE(count_of(text, "\"created\"") == 1u);
    }
    for (int i = 0; i < 500 && e.emu().batches_created() < 2; ++i) // bounded: 5 s
        std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE(e.emu().batches_created() == 2u); // chunk 1's late batch
    // The rerun: one batch at a time, and a timeout that passes while chunk 0's batch
    // (held in progress) is waited for: chunk 1 is never planned again.
    o.max_batches_in_flight = 1;
    o.timeout = 400ms;
    asio::io_context ioc;
    aibatch::client c(ioc.get_executor(), cfg);
    auto run = run_task(ioc, aibatch::run_batch<SpamResult>(c, msgs, model, o));
    print_unread(run);
    BOOST_TEST(run.stop_code == aibatch::errc::timed_out, run.stop_message);
    auto rep = check_invariants(run, "S", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    e.release_all();
    std::filesystem::remove(path);
}

// Review of d298acf: a lost create that made nothing (the connection dropped before the
// server read it) is named by the run that lost it, which cannot tell. Every rerun with
// the journal named it again (and batch<T>() threw errc::unread_batches), however long ago
// it was sent. Past batch_options::lost_create_horizon (1 hour), a complete listing since
// it was sent that shows no batch of its size settles it: it made nothing, recorded in
// the journal ("refused"), never named again.
BOOST_AUTO_TEST_CASE(a_lost_create_that_made_nothing_is_not_named_by_every_rerun_forever) {
    env e;
    auto path = temp_path("phantom.journal");
    auto o = fast();
    o.journal = path;
    auto msgs = tagged(4, "F");
    e.emu().add_fault(fault("drop:1:create")); // closed before it was read: nothing made
    auto first = e.run(msgs, o);
    BOOST_TEST(first.succeeded() == 4u);
    BOOST_TEST(first.unread_batches.size() == 1u); // it cannot tell yet: named
    // Two hours pass: the journal's create times moved back.
    age_journal(path, std::chrono::hours(2));
    // A caller who never lets one go still sees it named.
    auto never = o;
    never.lost_create_horizon = std::chrono::seconds::max();
    auto second = e.run(msgs, never);
    BOOST_TEST(second.all_succeeded(), second.stop_message);
    BOOST_REQUIRE(second.unread_batches.size() == 1u);
    BOOST_TEST(second.unread_batches[0].id.empty());
    // Nor does a horizon too long for the clock's nanoseconds: 584 years, which as
    // nanoseconds wrapped to a third of a second and settled it.
    never.lost_create_horizon = std::chrono::seconds(18'446'744'074);
    auto long_horizon = e.run(msgs, never);
    BOOST_TEST(long_horizon.unread_batches.size() == 1u);
    // With the default horizon it is settled, and stays settled.
    for (int k = 0; k < 2; ++k) {
        auto again = e.run(msgs, o);
        BOOST_TEST(again.all_succeeded(), again.stop_message);
        print_unread(again);
        BOOST_TEST(again.unread_batches.empty(), "rerun " << k);
    }
    BOOST_TEST(e.emu().batches_created() == 1u);
    std::filesystem::remove(path);
}

// Review of b8fea57: the horizon settles a lost create when every batch of its size
// since is accounted for, and the final sweep takes a batch for another run's on the
// evidence of its FIRST result line alone (the tracker rejects a candidate only after
// many lines, as a stray line can come first). A stray line at the head of the lost
// create's own batch made it "another run's": the lost create was settled as having made
// nothing ("refused"), and its batch, paid, was neither read, canceled nor named.
BOOST_AUTO_TEST_CASE(
    a_stray_first_line_does_not_let_the_horizon_settle_a_lost_create_that_made_a_batch) {
    env e;
    auto path = temp_path("stray-first-line.journal");
    auto o = fast();
    o.journal = path;
    auto msgs = tagged(4, "G");
    run_with_a_lost_create_named(e, msgs, o);
    BOOST_TEST(e.count("list") == 3u);
    // Two hours pass: the journal's create times moved back.
    age_journal(path, std::chrono::hours(2));
    // A stray line at the head of the next two results streams: the re-attached batch's
    // (ignored there) and the lost create's batch's, read by the final sweep.
    e.emu().add_fault(fault("inject-line:2:{\"custom_id\":\"item-zz9-0\",\"result\":{\"type\":"
                            "\"canceled\"}}"));
    auto second = e.run(msgs, o);
    BOOST_TEST(second.all_succeeded(), second.stop_message);
    print_unread(second);
    auto rep = check_invariants(second, "G", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    BOOST_TEST(e.emu().batches_created() == 2u);
    std::filesystem::remove(path);
}

// Review of b8fea57: the listing that settles a lost create goes back to 2 minutes before
// the CLIENT's clock said it was sent, and compares that with created_at, the SERVER's
// clock. A client clock more than 2 minutes ahead leaves the lost create's batch out of
// the window (older, so the listing even looks complete): past the horizon, the lost
// create was settled as having made nothing, and its batch, paid, was never named again.
BOOST_AUTO_TEST_CASE(
    a_client_clock_ahead_does_not_let_the_horizon_settle_a_lost_create_that_made_a_batch) {
    // Two hours pass (the journal's times are moved back below), and the server's clock
    // is 10 minutes behind the client's.
    auto eo = emu_options();
    eo.clock_offset = -std::chrono::duration_cast<std::chrono::seconds>(2h + 10min);
    env e(eo);
    auto path = temp_path("skew.journal");
    auto o = fast();
    o.journal = path;
    auto msgs = tagged(4, "K");
    run_with_a_lost_create_named(e, msgs, o);
    age_journal(path, std::chrono::hours(2));
    auto second = e.run(msgs, o);
    BOOST_TEST(second.all_succeeded(), second.stop_message);
    print_unread(second);
    auto rep = check_invariants(second, "K", e.emu());
    BOOST_TEST(rep.ok(), rep.text());
    BOOST_TEST(!second.unread_batches.empty());
    BOOST_TEST(e.emu().batches_created() == 2u);
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_CASE(the_journal_survives_a_torn_tail_and_names_malformed_lines) {
    env e;
    auto path = temp_path("torn.journal");
    auto o = fast();
    o.journal = path;
    auto msgs = tagged(3, "W");
    auto first = e.run(msgs, o);
    BOOST_TEST(first.all_succeeded());
    {
        std::ofstream f(path, std::ios::app);
        f << R"({"event":"creating","round":0,"ite)"; // killed mid-write
    }
    auto second = e.run(msgs, o);
    BOOST_TEST(second.all_succeeded(), second.stop_message);
    auto third = e.run(msgs, o); // the repaired file reads cleanly again
    BOOST_TEST(third.all_succeeded(), third.stop_message);
    BOOST_TEST(e.emu().batches_created() == 1u);

    auto bad = [&](const std::string& line) {
        {
            std::ofstream f(path, std::ios::app);
            f << line << "\n";
        }
        auto err = aibatch::test::expect_throw<aibatch::error>([&] { e.run(msgs, o); });
        BOOST_TEST(err.code() == aibatch::errc::journal);
        BOOST_TEST(std::string(err.what()).find(path.string()) != std::string::npos);
        BOOST_TEST(std::string(err.what()).find("line ") != std::string::npos, err.what());
    };
    bad(R"({"round":0,"items":"0-2","hash":"00"})");
    std::filesystem::remove(path);
    e.run(msgs, o);
    bad(R"({"event":"created","round":0,"items":"0-2","hash":"","batch_id":"x"})");
    std::filesystem::remove(path);
    e.run(msgs, o);
    bad(R"({"event":"created","round":"x","items":"0-2","hash":"0a","batch_id":"x"})");
    std::filesystem::remove(path);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ kill -9
BOOST_AUTO_TEST_SUITE(integrity_kill)

// Observation 2, second half: kill -9 while a create is in flight and more batches are
// planned, then resume. Creates are sent one body at a time (engine_create.cpp, the body turn):
// when the first create is on the server, no other has been sent.
BOOST_AUTO_TEST_CASE(killed_with_creates_in_flight_resumes_with_every_batch_accounted_for) {
    aibatch::test::emulator_fixture emu(emu_options(500ms));
    auto dir = temp_path("kill");
    std::filesystem::create_directories(dir);
    std::string journal = (dir / "run.journal").string();
    std::string out1 = (dir / "out1.txt").string(), out2 = (dir / "out2.txt").string();
    emu.emu().add_fault(fault("delay:1200:4:create"));
    pid_t first = e2e::spawn_journal_child(emu.url(), journal, out1, "40", "10");
    // The child never outlives a failed check (it would hold the test's output open).
    struct reaper {
        pid_t pid;
        ~reaper() {
            if (pid > 0 && ::kill(pid, SIGKILL) == 0)
                ::waitpid(pid, nullptr, 0);
        }
    } reap{first};
    for (int i = 0; i < 400 && e2e::count_lines_with(journal, "\"creating\"") < 1; ++i)
        std::this_thread::sleep_for(10ms);
    BOOST_REQUIRE(e2e::count_lines_with(journal, "\"creating\"") == 1u);
    // The request is on the server (which holds it 1.2 s); no answer has come, and no
    // second body was sent meanwhile.
    BOOST_REQUIRE(emu.emu().wait_received("create", 1, 20s));
    BOOST_REQUIRE(e2e::count_lines_with(journal, "\"created\"") == 0u);
    BOOST_TEST(!emu.emu().wait_received("create", 2, 100ms)); // one body at a time
    ::kill(first, SIGKILL);
    int status = 0;
    ::waitpid(first, &status, 0);
    reap.pid = 0;
    BOOST_TEST(WIFSIGNALED(status));
    BOOST_TEST(e2e::count_lines_with(journal, "\"creating\"") == 1u);
    // The create lands on the server after the crash.
    BOOST_TEST(emu.wait_created(1));
    BOOST_TEST(emu.emu().batches_created() == 1u);

    pid_t second = e2e::spawn_journal_child(emu.url(), journal, out2, "40", "10");
    int waited = 0;
    while (::waitpid(second, &status, WNOHANG) == 0 && waited++ < 1200)
        std::this_thread::sleep_for(50ms);
    BOOST_REQUIRE(WIFEXITED(status));
    BOOST_TEST(WEXITSTATUS(status) == 0);
    std::ifstream f(out2);
    std::string line;
    int values = 0;
    std::set<std::string> unread;
    while (std::getline(f, line)) {
        if (line.rfind("unread\t", 0) == 0) {
            unread.insert(line.substr(7));
            continue;
        }
        BOOST_TEST(line == std::to_string(values) + "\titem " + std::to_string(values));
        ++values;
    }
    BOOST_TEST(values == 40);
    // Every batch made for the run was read or named; nothing paid twice silently.
    std::set<std::string> read;
    for (const auto& e : emu.emu().log())
        if (e.endpoint == "results" && e.status == 200)
            read.insert(e.batch_id);
    for (const auto& b : emu.emu().batches())
        BOOST_TEST((read.count(b.id) || unread.count(b.id)), b.id << " neither read nor named");
    BOOST_TEST_MESSAGE("batches created: " << emu.emu().batches_created()
                                           << ", named unread: " << unread.size());
    std::filesystem::remove_all(dir);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ property
BOOST_AUTO_TEST_SUITE(integrity_property)

namespace {

std::uint64_t env_number(const char* name, std::uint64_t fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::strtoull(v, nullptr, 10) : fallback;
}

// One random fault schedule, drawn from its seed alone.
struct schedule {
    std::uint64_t seed = 0;
    int items = 0;
    std::size_t chunk = 0;
    std::size_t in_flight = 0;
    std::chrono::milliseconds processing{};
    std::vector<std::string> faults;
    std::optional<std::chrono::milliseconds> timeout;
    std::optional<std::chrono::milliseconds> crash_after; // abandon, then resume
    bool rival = false; // a second client submits same-size batches meanwhile

    std::string describe() const {
        std::string s = "seed " + std::to_string(seed) + ": " + std::to_string(items) +
                        " items, chunks of " + std::to_string(chunk) + ", " +
                        std::to_string(in_flight) + " in flight, processing " +
                        std::to_string(processing.count()) + " ms";
        if (timeout)
            s += ", timeout " + std::to_string(timeout->count()) + " ms";
        if (crash_after)
            s += ", crash after " + std::to_string(crash_after->count()) + " ms";
        if (rival)
            s += ", rival client";
        for (const auto& f : faults)
            s += ", --fault " + f;
        return s;
    }
};

std::string forged_line(const std::string& custom_id, const std::string& reason) {
    return "{\"custom_id\":\"" + custom_id +
           "\",\"result\":{\"type\":\"succeeded\",\"message\":{\"id\":\"msg_f\",\"type\":"
           "\"message\","
           "\"role\":\"assistant\",\"model\":\"claude-haiku-4-5\",\"content\":[{\"type\":\"tool_"
           "use\",\"id\":\"toolu_f\",\"name\":\"SpamResult\",\"input\":{\"is_spam\":true,"
           "\"confidence\":1,\"reason\":\"" +
           reason +
           "\"}}],\"stop_reason\":\"tool_use\",\"stop_sequence\":null,\"usage\":{\"input_"
           "tokens\":1,\"output_tokens\":1}}}}";
}

// `generation` 1 is the draw the fixed seeds below were found with (kept so they replay
// the same schedule); 2 (the random schedules) adds faults the emulator learned since,
// from a second generator, so the rest of the schedule is the same as generation 1's.
schedule draw(std::uint64_t seed, int generation = 2) {
    std::mt19937_64 g(seed);
    auto pick = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(g); };
    auto chance = [&](int percent) { return pick(1, 100) <= percent; };
    schedule s;
    s.seed = seed;
    s.items = pick(1, 24);
    s.chunk = static_cast<std::size_t>(pick(2, 8));
    s.in_flight = static_cast<std::size_t>(pick(1, 4));
    s.processing = std::chrono::milliseconds(pick(30, 150));
    const std::string rid = "s" + std::to_string(seed);
    std::vector<std::string> pool = {
        "drop:1:create",
        "drop-after:1:create",
        "delay:" + std::to_string(pick(320, 700)) + ":1:create", // past the request timeout
        "status:500:1:create",
        "status:529:3:create",
        "status:404:1:retrieve",
        "status:503:" + std::to_string(pick(3, 8)) + ":retrieve",
        "drop:2:retrieve",
        "transient-404:" + std::to_string(pick(100, 400)) + ":1",
        "cut-results:" + std::to_string(pick(50, 2000)),
        "dup-line:1",
        "inject-line:1:" + forged_line("item-" + rid + "-" + std::to_string(pick(0, 30)), "forged"),
        "inject-line:1:" + forged_line("item-" + rid + "-0" + std::to_string(pick(0, 9)), "forged"),
        "inject-line:1:" + forged_line("someone-else-1", "forged"),
        "inject-line:1:{\"custom_id\":\"item-" + rid + "-" + std::to_string(pick(0, 30)) +
            "\",\"result\":{\"type\":\"bogus\"}}",
        "inject-line:1:not json at all",
        "trickle:40:1",
        "status:500:1:results",
        "drop:1:results",
        "expire:1",
    };
    int n = pick(0, 4);
    for (int k = 0; k < n; ++k)
        s.faults.push_back(
            pool[static_cast<std::size_t>(pick(0, static_cast<int>(pool.size()) - 1))]);
    if (chance(15))
        s.timeout = std::chrono::milliseconds(pick(150, 900));
    else if (chance(20))
        s.crash_after = std::chrono::milliseconds(pick(20, 600));
    s.rival = chance(25);
    if (generation >= 2) {
        std::mt19937_64 g2(seed ^ 0x9e3779b97f4a7c15ull);
        if (std::uniform_int_distribution<int>(1, 100)(g2) <= 10) // a create reset mid-body
            s.faults.push_back(
                "cut-request:" + std::to_string(std::uniform_int_distribution<int>(0, 3000)(g2)) +
                ":1:create");
    }
    return s;
}

// Runs one schedule; returns the problems found (empty = every invariant held).
std::string run_schedule(const schedule& s) {
    auto eo = emu_options(s.processing);
    eo.seed = s.seed;
    for (const auto& f : s.faults)
        eo.faults.push_back(fault(f));
    aibatch::test::emulator_fixture emu(eo);
    // The clients run on io_contexts of their own (a crash abandons one).
    auto cfg = emu.client_settings(config({}));
    cfg.transport.timeouts.request = 300ms;
    cfg.transport.timeouts.stream_grace = 150ms;
    cfg.transport.min_stream_rate = 4000;
    const std::string rid = "s" + std::to_string(s.seed);
    auto journal = temp_path("property-" + std::to_string(s.seed) + ".journal");
    auto o = fast();
    o.run_id = rid;
    o.max_requests_per_batch = s.chunk;
    o.max_batches_in_flight = s.in_flight;
    o.journal = journal;
    o.timeout = s.timeout;
    o.repair_rounds = 1;
    auto msgs = tagged(s.items, "P");
    std::string problems;
    auto fail = [&](const std::string& what) { problems += "\n  - " + what; };

    std::optional<aibatch::batch_run<SpamResult>> main_run, rival_run;
    const auto limit = 30s;
    if (s.crash_after) {
        asio::io_context ioc;
        {
            aibatch::client c(ioc.get_executor(), cfg);
            asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(c, msgs, model, o),
                           [&](std::exception_ptr, aibatch::batch_run<SpamResult> r) {
                               main_run = std::move(r);
                           });
        }
        ioc.run_for(*s.crash_after);
        if (main_run)
            main_run.reset(); // finished before the "crash": the resume must still agree
        // The process dies here: the io_context and everything on it are abandoned.
    }
    asio::io_context ioc;
    aibatch::client c(ioc.get_executor(), cfg);
    aibatch::client rival(ioc.get_executor(), cfg);
    asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(c, msgs, model, o),
                   [&](std::exception_ptr e, aibatch::batch_run<SpamResult> r) {
                       if (e) {
                           try {
                               std::rethrow_exception(e);
                           } catch (const std::exception& x) {
                               fail(std::string("run_batch threw: ") + x.what());
                           }
                       }
                       main_run = std::move(r);
                   });
    if (s.rival) {
        auto ro = fast();
        ro.run_id = "x" + std::to_string(s.seed);
        ro.max_requests_per_batch = s.chunk;
        asio::co_spawn(ioc, aibatch::run_batch<SpamResult>(rival, tagged(s.items, "X"), model, ro),
                       [&](std::exception_ptr e, aibatch::batch_run<SpamResult> r) {
                           if (e)
                               fail("the rival's run_batch threw");
                           rival_run = std::move(r);
                       });
    }
    ioc.run_for(limit);
    if (!main_run || (s.rival && !rival_run)) {
        fail("the run did not finish within " + std::to_string(limit.count()) + " s");
        return problems;
    }
    auto rep = check_invariants(*main_run, "P", emu.emu());
    for (const auto& p : rep.problems)
        fail(p);
    if (!rep.problems.empty()) {
        // What the run said and what the emulator saw, to replay a seed with.
        std::string said = "\n  run: stop \"" + main_run->stop_message + "\"; batch_ids:";
        for (const auto& id : main_run->batch_ids)
            said += " " + id;
        for (const auto& u : main_run->unread_batches)
            said += "\n  unread " + u.id + " (" + u.items + "): " + u.why;
        for (const auto& a : main_run->anomalies)
            said += "\n  anomaly: " + a;
        for (const auto& le : emu.emu().log())
            if (!le.endpoint.empty() && le.endpoint != "retrieve")
                said += "\n  emulator: " + le.method + " " + le.endpoint + " " + le.batch_id +
                        " -> " + std::to_string(le.status) +
                        (le.requests ? " (" + std::to_string(le.requests) + " requests)" : "");
        problems += said;
    }
    if (rival_run)
        for (const auto& p : check_invariants(*rival_run, "X", emu.emu()).problems)
            fail("rival: " + p);
    // Every item has an outcome; "not submitted" only when the run stopped early.
    for (const auto& it : main_run->items)
        if (it.status == aibatch::item_status::not_submitted && !main_run->stop_code)
            fail("item " + std::to_string(it.index) + " not submitted, yet no stop reason");
    // Without a timeout and with faults the retries absorb, every item succeeds unless
    // the schedule made it fail on purpose.
    std::filesystem::remove(journal);
    return problems;
}

void run_schedules(std::uint64_t first_seed, std::uint64_t count) {
    std::cout << "integrity_property: seeds " << first_seed << " to " << first_seed + count - 1
              << " (replay one: AIBATCH_SEED=N AIBATCH_SCHEDULES=1)" << std::endl;
    std::uint64_t failed = 0;
    for (std::uint64_t k = 0; k < count; ++k) {
        schedule s = draw(first_seed + k);
        std::string problems = run_schedule(s);
        if (!problems.empty()) {
            ++failed;
            BOOST_ERROR("invariants broken, " << s.describe() << problems);
        }
    }
    BOOST_TEST(failed == 0u);
}

} // namespace

// Schedules that once broke an invariant (each stays here as a fixed-seed regression).
BOOST_AUTO_TEST_CASE(fixed_seed_regressions) {
    // 1001: a forged line with a real id of the same batch came before the real one.
    // 1025: the client resent a timed-out create itself; the late batch went unnamed.
    // 1083: a resume listed before a crashed run's late create landed.
    // 1116: a stray first line made a tentative batch (our own) look foreign.
    // 4244655, 4245097, 4245115, 4245373, 4245534 (soak): a timeout during a poll's retry
    // backoff threw operation_aborted out of run_batch and lost the outcome.
    // 4243161 (soak): a crash between two late creates; the resume paid twice unnamed.
    // 1124 (asan run): a co_await in a worker threw the timeout's cancellation out of
    // run_batch (workers now handle cancellation only where they wait).
    for (std::uint64_t seed : std::vector<std::uint64_t>{
             1001, 1025, 1083, 1116, 4244655, 4245097, 4245115, 4245373, 4245534, 4243161, 1124}) {
        schedule s = draw(seed, 1);
        std::string problems = run_schedule(s);
        BOOST_TEST(problems.empty(), s.describe() << problems);
    }
}

// Found by session 8's soak (seeds 680900000-680900999), failing on session 7's code too:
// a create answered after the request timeout and carried out late by the server
// (emulator fault delay:602:1:create: the batch exists only after 602 ms) makes a batch
// after the run's final sweep has listed (the run ends at its 300 ms timeout, the sweep
// lists ~200 ms later): the paid batch was neither read, canceled nor named. 680900878:
// the same with a crash and a resume (an item then sat in two batches, one unnamed). A
// create whose batch has not shown up by the final sweep is now named as a batch that may
// still appear (an unread entry without an id, its items and what to look for).
BOOST_AUTO_TEST_CASE(late_creates_after_the_final_sweep) {
    for (std::uint64_t seed : std::vector<std::uint64_t>{680900862, 680900878}) {
        schedule s = draw(seed, 1);
        std::string problems = run_schedule(s);
        BOOST_TEST(problems.empty(), s.describe() << problems);
    }
}

BOOST_AUTO_TEST_CASE(random_fault_schedules_keep_every_invariant) {
    run_schedules(env_number("AIBATCH_SEED", 1000), env_number("AIBATCH_SCHEDULES", 100));
}

BOOST_AUTO_TEST_SUITE_END()
