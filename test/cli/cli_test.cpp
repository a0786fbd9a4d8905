// The aibatch binary against the emulator over loopback: every command, its output and exit
// status, faults, a non-terminal and a pseudo-terminal wait, Ctrl-C, and `run` compared
// with batch<T>().
#include "cli_types.hpp"
#include "program.hpp"

#include "../support/emulator_fixture.hpp"

#include <aibatch/emulator/emulator.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <atomic>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <unistd.h>

namespace json = boost::json;
namespace fs = std::filesystem;
using namespace cli_test;

namespace {

const std::string key = "sk-ant-api03-SECRETSECRETSECRET-wxyz";

using aibatch::test::emulator_fixture;

// The emulator of these tests: seed 0, the day of model end-of-life dates fixed.
aibatch::emulator::options
emu_options(std::chrono::milliseconds processing = std::chrono::milliseconds(300),
            std::vector<aibatch::emulator::fault> faults = {}) {
    auto o = emulator_fixture::options(processing, 0);
    o.faults = std::move(faults);
    o.today = std::chrono::sys_days(std::chrono::year(2026) / 1 / 1);
    return o;
}

// emu_options() with batches held in progress until the test releases them.
aibatch::emulator::options held() {
    auto o = emu_options();
    o.hold_batches = true;
    return o;
}

// A fresh directory (the child's working directory: no .env unless a test writes one).
struct workdir {
    fs::path path;
    workdir() {
        static std::atomic<int> n{0};
        path = fs::temp_directory_path() /
               ("aibatch-cli-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
        fs::remove_all(path);
        fs::create_directories(path);
    }
    ~workdir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string file(const std::string& name, const std::string& text) const {
        std::ofstream(path / name, std::ios::binary) << text;
        return (path / name).string();
    }
    std::string read(const std::string& name) const {
        std::ifstream in(path / name, std::ios::binary);
        std::ostringstream s;
        s << in.rdbuf();
        return s.str();
    }
};

// `aibatch run` on w's prompts.jsonl with this schema file, out to w/out, then `extra`.
std::vector<std::string> run_argv(const std::string& schema, const workdir& w,
                                  const std::string& out = "out.jsonl",
                                  std::initializer_list<std::string> extra = {}) {
    std::vector<std::string> args = {"run",
                                     "--model",
                                     "claude-haiku-4-5",
                                     "--schema",
                                     schema,
                                     "--prompts",
                                     (w.path / "prompts.jsonl").string(),
                                     "--out",
                                     (w.path / out).string()};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
}

program aibatch_at(const std::string& url, const workdir& w) {
    program p;
    p.path = AIBATCH_CLI;
    p.env = {{"ANTHROPIC_BASE_URL", url},
             {"ANTHROPIC_API_KEY", key},
             {"AIBATCH_RETRY_INITIAL_BACKOFF", "0.01"},
             {"AIBATCH_RETRY_MAX_BACKOFF", "0.05"}};
    p.cwd = w.path.string();
    return p;
}

std::vector<std::string> lines_of(const std::string& text) {
    std::vector<std::string> out;
    std::istringstream in(text);
    std::string l;
    while (std::getline(in, l))
        if (!l.empty())
            out.push_back(l);
    return out;
}

bool has(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

std::string request_line(const std::string& id, const std::string& prompt) {
    json::object params{
        {"model", "claude-haiku-4-5"},
        {"max_tokens", 64},
        {"messages", json::array{json::object{{"role", "user"}, {"content", prompt}}}}};
    return json::serialize(json::object{{"custom_id", id}, {"params", std::move(params)}}) + "\n";
}

// Five requests, the fourth errored.
std::string five_requests() {
    std::string s;
    for (int i = 0; i < 5; ++i)
        s += request_line("r" + std::to_string(i),
                          i == 3 ? "EMULATOR_RESULT: errored" : "hello " + std::to_string(i));
    return s;
}

std::string output_line_context(const outcome& o) {
    return "status " + std::to_string(o.status) + "\nstdout: " + o.out + "\nstderr: " + o.err;
}

// `aibatch create` of five_requests(): the id of the one batch it made.
std::string create_five(const program& p, const workdir& w) {
    outcome c = run(p, {"create", w.file("r.jsonl", five_requests())});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    return lines_of(c.out).at(0);
}

} // namespace

BOOST_AUTO_TEST_SUITE(cli_commands)

BOOST_AUTO_TEST_CASE(config_shows_each_source_and_never_the_key) {
    workdir w;
    w.file(".env", "AIBATCH_MAX_RETRIES=5\nANTHROPIC_API_KEY=sk-ant-from-dotenv-ignored\n");
    program p = aibatch_at("http://127.0.0.1:1", w);
    outcome o = run(p, {"config"});
    BOOST_TEST_INFO(output_line_context(o));
    BOOST_TEST(o.status == 0);
    BOOST_TEST(!has(o.out + o.err, "SECRETSECRET"));
    BOOST_TEST(!has(o.out + o.err, "from-dotenv"));
    BOOST_TEST(has(o.out, "sk-ant-...wxyz"));
    for (const auto& l : lines_of(o.out)) {
        if (l.starts_with("ANTHROPIC_API_KEY"))
            BOOST_TEST(has(l, "(environment)"), l);
        if (l.starts_with("AIBATCH_MAX_RETRIES"))
            BOOST_TEST((has(l, " 5 ") && has(l, "(.env")), l);
        if (l.starts_with("AIBATCH_ANTHROPIC_VERSION"))
            BOOST_TEST((has(l, "2023-06-01") && has(l, "(default)")), l);
    }
    outcome j = run(p, {"--json", "config"});
    BOOST_TEST(j.status == 0);
    json::object s = json::parse(j.out).at("settings").as_object();
    BOOST_TEST(s.at("ANTHROPIC_BASE_URL").at("source").as_string() == "environment");
    BOOST_TEST(s.at("AIBATCH_MAX_RETRIES").at("value").as_string() == "5");
    BOOST_TEST(s.at("AIBATCH_MAX_RETRIES").at("source").as_string().starts_with(".env"));
    BOOST_TEST(s.at("AIBATCH_IDLE_TIMEOUT").at("source").as_string() == "default");
    BOOST_TEST(!has(j.out, "SECRETSECRET"));
}

// Found by the hostile review: a 12-character key was shown as 11 of its characters.
BOOST_AUTO_TEST_CASE(config_and_verbose_never_show_a_short_key) {
    workdir w;
    for (std::string short_key : {"QZKXW", "QZKXWVJYPLMB"}) {
        program p = aibatch_at("http://127.0.0.1:1", w);
        p.env["ANTHROPIC_API_KEY"] = short_key;
        p.env["AIBATCH_MAX_RETRIES"] = "0";
        outcome c = run(p, {"config"});
        BOOST_TEST_INFO(output_line_context(c));
        BOOST_TEST(c.status == 0);
        BOOST_TEST(has(c.out, "(set, " + std::to_string(short_key.size()) + " characters)"));
        outcome j = run(p, {"--json", "config"});
        outcome v = run(p, {"-v", "list"}); // nothing listens: the notes, then an error
        for (const outcome* o : {&c, &j, &v})
            BOOST_TEST(!has(o->out + o->err, short_key.substr(0, 3)), o->out + o->err);
    }
}

BOOST_AUTO_TEST_CASE(usage_and_configuration_errors_exit_2_and_say_what_to_do) {
    workdir w;
    program p = aibatch_at("http://127.0.0.1:1", w);
    BOOST_TEST(run(p, {}).status == 2);
    BOOST_TEST(run(p, {"status"}).status == 2);
    BOOST_TEST(run(p, {"frobnicate"}).status == 2);
    outcome poll = run(p, {"wait", "msgbatch_x", "--poll", "0"});
    BOOST_TEST(poll.status == 2);
    BOOST_TEST(has(poll.err, "--poll must be"));
    // Found by the hostile review: parse errors ignored --json and a typo was "A
    // subcommand is required".
    outcome typo = run(p, {"--json", "lsit"});
    BOOST_TEST(typo.status == 2, output_line_context(typo));
    BOOST_TEST(has(typo.err, "unknown command \"lsit\""), typo.err);
    BOOST_TEST(has(typo.out, "\"error\""), typo.out);
    BOOST_TEST(has(typo.out, "unknown command"), typo.out);
    outcome bad_number = run(p, {"--json", "list", "--limit", "abc"});
    BOOST_TEST(bad_number.status == 2, output_line_context(bad_number));
    BOOST_TEST(has(bad_number.out, "\"error\""), bad_number.out);
    // Found by the hostile review: a malformed id exited 1 for cancel but 2 for status.
    for (const char* verb : {"cancel", "delete", "status"}) {
        outcome empty_id = run(p, {verb, ""});
        BOOST_TEST(empty_id.status == 2, verb << ": " << output_line_context(empty_id));
        // Found in session 6's review: status "" said the id is empty, not what to do.
        BOOST_TEST(has(empty_id.err, "aibatch list"), verb << ": " << empty_id.err);
    }
    outcome slash = run(p, {"cancel", "a/b"});
    BOOST_TEST(slash.status == 2, output_line_context(slash));
    BOOST_TEST(has(slash.err, "aibatch list"), slash.err);
    // Found by the hostile review: 0.0001 s rounded to 0 ms, a busy loop on the API.
    outcome tiny = run(p, {"wait", "msgbatch_x", "--poll", "0.0001"});
    BOOST_TEST(tiny.status == 2, output_line_context(tiny));
    // Found by the hostile review: create --out without --wait wrote nothing, silently.
    outcome out_no_wait =
        run(p, {"create", w.file("r.jsonl", five_requests()), "--out", "never.jsonl"});
    BOOST_TEST(out_no_wait.status == 2, output_line_context(out_no_wait));
    BOOST_TEST(has(out_no_wait.err, "add --wait"), out_no_wait.err);
    // Found by review s13: create --wait --out naming the requests file replaced it with
    // the results; and a flag out of range did not say what was given.
    const std::string requests = w.file("same.jsonl", five_requests());
    outcome same = run(p, {"create", requests, "--wait", "--out", requests});
    BOOST_TEST(same.status == 2, output_line_context(same));
    BOOST_TEST(has(same.err, "requests file"), same.err);
    BOOST_TEST(w.read("same.jsonl") == five_requests());
    outcome zero_requests = run(p, {"create", requests, "--batch-requests", "0"});
    BOOST_TEST(zero_requests.status == 2, output_line_context(zero_requests));
    BOOST_TEST(has(zero_requests.err, "(given 0)"), zero_requests.err);
    outcome missing = run(p, {"create", (w.path / "nope.jsonl").string()});
    BOOST_TEST(missing.status == 2);
    BOOST_TEST(has(missing.err, "cannot read"));
    std::string bad = w.file("bad.jsonl", request_line("a", "x") + "{\"custom_id\":\"b\"}\n");
    outcome line = run(p, {"create", bad});
    BOOST_TEST(line.status == 2);
    BOOST_TEST(has(line.err, "bad.jsonl:2: \"params\" is missing"), line.err);

    program nokey = p;
    nokey.env.erase("ANTHROPIC_API_KEY");
    outcome k = run(nokey, {"list"});
    BOOST_TEST(k.status == 2);
    BOOST_TEST(has(k.err, "ANTHROPIC_API_KEY is not set"), k.err);
    outcome kj = run(nokey, {"--json", "list"});
    BOOST_TEST(kj.status == 2);
    BOOST_TEST(json::parse(kj.out).at("error").at("status").as_int64() == 2);

    program insecure = p;
    insecure.env["ANTHROPIC_BASE_URL"] = "http://example.com";
    outcome i = run(insecure, {"list"});
    BOOST_TEST(i.status == 2);
    BOOST_TEST(!has(i.err + i.out, "SECRETSECRET"));
}

// Found by the hostile review: "code" was the error_code's sentence ("resource not
// found"); it is a token now, the name of aibatch::errc, and the sentence stays in
// "message".
BOOST_AUTO_TEST_CASE(json_errors_carry_a_machine_token_as_code) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    auto error_of = [](const outcome& o) {
        BOOST_TEST_INFO(output_line_context(o));
        return json::parse(o.out).at("error").as_object();
    };
    json::object gone = error_of(run(p, {"--json", "status", "msgbatch_0123456789abcdef"}));
    BOOST_TEST(gone.at("code").as_string() == "not_found");
    BOOST_TEST(has(std::string(gone.at("message").as_string()), "not found"));
    BOOST_TEST(gone.at("status").as_int64() == 1);
    BOOST_TEST(error_of(run(p, {"--json", "status", ""})).at("code").as_string() ==
               "invalid_argument");
    program nokey = p;
    nokey.env.erase("ANTHROPIC_API_KEY");
    BOOST_TEST(error_of(run(nokey, {"--json", "list"})).at("code").as_string() ==
               "missing_api_key");
    BOOST_TEST(error_of(run(p, {"--json", "lsit"})).at("code").as_string() == "usage");
    // cancel and delete: each failed id carries the token beside its message.
    outcome d = run(p, {"--json", "delete", "msgbatch_0123456789abcdef"});
    BOOST_TEST_INFO(output_line_context(d));
    json::object item = json::parse(d.out).as_array().at(0).as_object();
    BOOST_TEST(item.at("code").as_string() == "not_found");
    BOOST_TEST(has(std::string(item.at("error").as_string()), "not found"));
}

// Found by the hostile review: a base URL ending in /v1 (the client adds /v1/... itself,
// so requests went to /v1/v1/messages/batches) got "check the batch id" for its 404.
BOOST_AUTO_TEST_CASE(a_404_under_a_base_url_ending_in_v1_says_to_drop_the_v1) {
    emulator_fixture emu(emu_options());
    workdir w;
    for (std::string suffix : {"/v1", "/v1/"}) {
        program p = aibatch_at(emu.url() + suffix, w);
        const std::string fix = "set ANTHROPIC_BASE_URL to " + emu.url();
        for (const std::vector<std::string>& args : {std::vector<std::string>{"list"},
                                                     {"status", "msgbatch_0123456789abcdef"},
                                                     {"delete", "msgbatch_0123456789abcdef"}}) {
            outcome o = run(p, args);
            BOOST_TEST_INFO(args[0] << ": " << output_line_context(o));
            BOOST_TEST(o.status == 1);
            BOOST_TEST(has(o.err, emu.url() + "/v1 ends with /v1"));
            BOOST_TEST(has(o.err, fix));
        }
    }
    // Not with a base URL without /v1: the id is what to check.
    program plain = aibatch_at(emu.url(), w);
    outcome o = run(plain, {"status", "msgbatch_0123456789abcdef"});
    BOOST_TEST(o.status == 1);
    BOOST_TEST(!has(o.err, "/v1"), o.err);
    BOOST_TEST(has(o.err, "check the batch id"), o.err);
}

// Found by the hostile review: that a page did not show every batch was said only with -v.
BOOST_AUTO_TEST_CASE(list_says_when_more_batches_exist_than_shown) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    outcome c = run(p, {"create", w.file("r.jsonl", five_requests()), "--batch-requests", "2"});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    outcome some = run(p, {"list", "--limit", "2"});
    BOOST_TEST_INFO(output_line_context(some));
    BOOST_TEST(some.status == 0);
    BOOST_TEST(lines_of(some.out).size() == 3u); // the header and two batches
    BOOST_TEST(has(some.err, "more batches exist than the 2 shown"));
    BOOST_TEST(has(some.err, "--all"));
    outcome j = run(p, {"--json", "list", "--limit", "2"});
    BOOST_TEST(json::parse(j.out).as_array().size() == 2u); // stdout stays the array
    BOOST_TEST(has(j.err, "more batches exist"), j.err);
    for (const std::vector<std::string>& args : {std::vector<std::string>{"list"},
                                                 {"list", "--limit", "3"},
                                                 {"list", "--all", "--limit", "1"}}) {
        outcome every = run(p, args);
        BOOST_TEST(every.status == 0);
        BOOST_TEST(!has(every.err, "more batches"), every.err);
    }
}

// Found by the hostile review: `wait ID ID` counted the batch twice ("2/2 batches").
BOOST_AUTO_TEST_CASE(wait_counts_an_id_given_twice_once) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    const std::string id = create_five(p, w);
    outcome wt = run(p, {"wait", id, id, "--poll", "0.05"});
    BOOST_TEST_INFO(output_line_context(wt));
    BOOST_TEST(wt.status == 0);
    BOOST_TEST(has(wt.err, "1/1 batches ended, 5/5 requests done"));
    BOOST_TEST(has(wt.err, id + " is given twice"));
    BOOST_TEST(lines_of(wt.out).size() == 2u); // the header and the batch
    outcome j = run(p, {"--json", "wait", id, id, id, "--poll", "0.05"});
    BOOST_TEST(json::parse(j.out).at("batches").as_array().size() == 1u, j.out);
}

BOOST_AUTO_TEST_CASE(cancel_and_delete_send_one_call_for_an_id_given_twice) {
    // Found by session 7's CLI review: `cancel ID ID` sent two cancels and `delete ID ID`
    // failed its second delete with a 404 (exit 1), unlike `wait ID ID`.
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    const std::string id = create_five(p, w);
    outcome x = run(p, {"cancel", id, id});
    BOOST_TEST_INFO(output_line_context(x));
    BOOST_TEST(x.status == 0);
    BOOST_TEST(emu.count("cancel") == 1u);
    BOOST_TEST(has(x.err, id + " is given twice"));
    BOOST_TEST(lines_of(x.out).size() == 1u);
    BOOST_TEST_REQUIRE(run(p, {"wait", id, "--poll", "0.05"}).status == 0);
    outcome d = run(p, {"--json", "delete", id, id, id});
    BOOST_TEST_INFO(output_line_context(d));
    BOOST_TEST(d.status == 0);
    BOOST_TEST(emu.count("delete") == 1u);
    BOOST_TEST(has(d.err, id + " is given 3 times"));
    BOOST_TEST(json::parse(d.out).as_array().size() == 1u, d.out);
}

BOOST_AUTO_TEST_CASE(create_list_status_wait_results_delete) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string file = w.file("requests.jsonl", five_requests());

    outcome c = run(p, {"create", file, "--batch-requests", "2"});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    std::vector<std::string> ids = lines_of(c.out);
    BOOST_TEST_REQUIRE(ids.size() == 3u); // 5 requests split 2 + 2 + 1
    auto batches = emu.emu().batches();
    BOOST_TEST_REQUIRE(batches.size() == 3u);
    BOOST_TEST(batches[0].custom_ids == (std::vector<std::string>{"r0", "r1"}));
    BOOST_TEST(batches[2].custom_ids == (std::vector<std::string>{"r4"}));
    for (std::size_t i = 0; i < 3; ++i)
        BOOST_TEST(batches[i].id == ids[i]);

    outcome l = run(p, {"list"});
    BOOST_TEST(l.status == 0);
    BOOST_TEST(has(l.out, "ID"));
    BOOST_TEST(has(l.out, "SUCCEEDED"));
    for (const auto& id : ids)
        BOOST_TEST(has(l.out, id));
    outcome lj = run(p, {"--json", "list", "--limit", "2"});
    BOOST_TEST(lj.status == 0);
    BOOST_TEST(json::parse(lj.out).as_array().size() == 2u);
    outcome la = run(p, {"--json", "list", "--all", "--limit", "1"}); // pages of one
    BOOST_TEST(json::parse(la.out).as_array().size() == 3u);
    BOOST_TEST(run(p, {"list", "--limit", "0"}).status == 2);

    outcome s = run(p, {"--json", "status", ids[1]});
    BOOST_TEST(s.status == 0);
    json::value sj = json::parse(s.out);
    BOOST_TEST(sj.at("id").as_string() == ids[1]);
    BOOST_TEST(sj.at("request_counts").at("processing").as_int64() +
                   sj.at("request_counts").at("succeeded").as_int64() +
                   sj.at("request_counts").at("errored").as_int64() ==
               2);

    // wait, not on a terminal: plain progress lines on stderr, no escape sequences.
    outcome wt = run(p, {"wait", ids[0], ids[1], ids[2], "--poll", "0.05"});
    BOOST_TEST_REQUIRE(wt.status == 0, output_line_context(wt));
    BOOST_TEST(has(wt.err, "progress: "));
    BOOST_TEST(has(wt.err, "3/3 batches ended, 5/5 requests done"));
    BOOST_TEST(!has(wt.err, "\r"));
    BOOST_TEST(!has(wt.err, "\033["));
    BOOST_TEST(lines_of(wt.out).size() == 4u); // header and three batches
    for (const auto& l2 : lines_of(wt.out))
        BOOST_TEST((l2.starts_with("ID") || has(l2, " ended ")), l2);

    outcome st = run(p, {"status", ids[1]});
    BOOST_TEST(has(st.out, "status:              ended"), st.out);
    BOOST_TEST(has(st.out, "errored 1"), st.out);

    // results: the batch holding r2 and r3 (r3 errored).
    outcome r = run(p, {"results", ids[1]});
    BOOST_TEST(r.status == 1); // an item failed
    auto rl = lines_of(r.out);
    BOOST_TEST_REQUIRE(rl.size() == 2u);
    std::set<std::string> seen;
    for (const auto& x : rl) {
        json::value v = json::parse(x);
        std::string id(v.at("custom_id").as_string());
        seen.insert(id);
        BOOST_TEST(v.at("result").at("type").as_string() == (id == "r3" ? "errored" : "succeeded"));
        if (id == "r2")
            BOOST_TEST(v.at("result").at("message").at("role").as_string() == "assistant");
    }
    BOOST_TEST(seen == (std::set<std::string>{"r2", "r3"}));
    BOOST_TEST(has(r.err, "1 succeeded, 1 errored"));
    outcome e = run(p, {"results", ids[1], "--errors-only"});
    BOOST_TEST(lines_of(e.out).size() == 1u);
    BOOST_TEST(has(e.out, "\"r3\""));
    outcome so = run(p, {"--json", "results", ids[1], "--succeeded-only", "--out",
                         (w.path / "ok.jsonl").string()});
    BOOST_TEST(lines_of(w.read("ok.jsonl")).size() == 1u);
    BOOST_TEST(has(w.read("ok.jsonl"), "\"r2\""));
    BOOST_TEST(json::parse(so.out).at("results").at("errored").as_int64() == 1);
    BOOST_TEST(run(p, {"results", ids[0]}).status == 0); // r0, r1 succeeded
    BOOST_TEST(run(p, {"results", ids[0], "--errors-only", "--succeeded-only"}).status == 2);

    outcome d = run(p, {"delete", ids[0], ids[1]});
    BOOST_TEST(d.status == 0, output_line_context(d));
    BOOST_TEST(emu.emu().batch_count() == 1u);
    outcome gone = run(p, {"status", ids[0]});
    BOOST_TEST(gone.status == 1);
    BOOST_TEST(has(gone.err, "aibatch list"), gone.err);
    BOOST_TEST(!has(gone.err + gone.out, "SECRETSECRET"));
    outcome dj = run(p, {"--json", "delete", ids[0], ids[2]}); // the first is gone
    BOOST_TEST(dj.status == 1);
    json::array da = json::parse(dj.out).as_array();
    BOOST_TEST(da.size() == 2u);
    BOOST_TEST(da[0].as_object().contains("error"));
    BOOST_TEST(da[1].at("type").as_string() == "message_batch_deleted");
}

BOOST_AUTO_TEST_CASE(cancel_a_running_batch_and_delete_only_after_it_ended) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    outcome c = run(p, {"--json", "create", w.file("r.jsonl", five_requests())});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    std::string id(json::parse(c.out).at("batches").at(0).at("id").as_string());
    outcome no_results = run(p, {"results", id});
    BOOST_TEST(no_results.status == 2);
    BOOST_TEST(has(no_results.err, "aibatch wait " + id), no_results.err);
    outcome early = run(p, {"delete", id});
    BOOST_TEST(early.status == 1);
    BOOST_TEST(has(early.err, "aibatch cancel " + id), early.err);
    outcome x = run(p, {"cancel", id});
    BOOST_TEST(x.status == 0, output_line_context(x));
    BOOST_TEST(has(x.out, "canceling " + id));
    BOOST_TEST(emu.emu().batches().at(0).cancel_requested);
    // The cancel ends the batch soon: wait sees it, then delete works.
    outcome wt = run(p, {"wait", id, "--poll", "0.05"});
    BOOST_TEST(wt.status == 0, output_line_context(wt));
    outcome r = run(p, {"results", id});
    BOOST_TEST(r.status == 1);
    BOOST_TEST(has(r.err, "5 canceled"), r.err);
    BOOST_TEST(run(p, {"delete", id}).status == 0);
}

BOOST_AUTO_TEST_CASE(faults_are_retried_or_reported_with_exit_1) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string id = create_five(p, w);

    // Two 529s: retried (AIBATCH_MAX_RETRIES default 2), the command succeeds.
    emu.emu().add_fault(aibatch::emulator::parse_fault("status:529:2:retrieve"));
    outcome ok = run(p, {"status", id});
    BOOST_TEST(ok.status == 0, output_line_context(ok));
    // More 500s than retries: exit 1, the API's story and what to do.
    emu.emu().add_fault(aibatch::emulator::parse_fault("status:500:3:retrieve"));
    outcome bad = run(p, {"status", id});
    BOOST_TEST(bad.status == 1);
    BOOST_TEST(has(bad.err, "500"), bad.err);
    BOOST_TEST(has(bad.err, "try again"), bad.err);
    // A dropped results download is resumed: every line arrives once.
    BOOST_TEST(run(p, {"wait", id, "--poll", "0.05"}).status == 0);
    emu.emu().add_fault(aibatch::emulator::parse_fault("cut-results:300"));
    outcome r = run(p, {"results", id});
    BOOST_TEST(lines_of(r.out).size() == 5u, output_line_context(r));
    // Nothing listening: a connection error names what to check.
    program dead = aibatch_at("http://127.0.0.1:1", w);
    dead.env["AIBATCH_MAX_RETRIES"] = "0";
    outcome d = run(dead, {"list"});
    BOOST_TEST(d.status == 1);
    BOOST_TEST(has(d.err, "ANTHROPIC_BASE_URL"), d.err);
    // A wrong key: the API's 401, with the fix.
    aibatch::emulator::options o;
    o.api_key = "sk-ant-the-right-one";
    emulator_fixture strict(o);
    outcome a = run(aibatch_at(strict.url(), w), {"list"});
    BOOST_TEST(a.status == 1);
    BOOST_TEST(has(a.err, "check ANTHROPIC_API_KEY"), a.err);
    BOOST_TEST(!has(a.err, "SECRETSECRET"));
}

// -v prints the library's observer events (client_config::observer): each request, its
// answer with the request-id, each retry with its delay; never the key.
BOOST_AUTO_TEST_CASE(verbose_prints_requests_answers_and_retries_never_the_key) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string id = create_five(p, w);
    emu.emu().add_fault(aibatch::emulator::parse_fault("status:529:1:retrieve"));
    outcome v = run(p, {"-v", "status", id});
    BOOST_TEST(v.status == 0, output_line_context(v));
    BOOST_TEST(has(v.err, "aibatch: request GET /v1/messages/batches/" + id), v.err);
    BOOST_TEST(has(v.err, "aibatch: response 529 GET /v1/messages/batches/" + id), v.err);
    BOOST_TEST(has(v.err, "aibatch: retry 1 in "), v.err);
    BOOST_TEST(has(v.err, "aibatch: response 200 GET"), v.err);
    BOOST_TEST(has(v.err, "request-id "), v.err);
    BOOST_TEST(!has(v.out + v.err, "SECRETSECRET"));
    // Without -v: none of it.
    outcome quiet = run(p, {"status", id});
    BOOST_TEST(!has(quiet.err, "aibatch: request"), quiet.err);
}

// Found by the hostile review: `results --out FILE` emptied an existing FILE before it
// knew the batch could be read.
BOOST_AUTO_TEST_CASE(results_out_keeps_an_existing_file_when_the_batch_cannot_be_read) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string keep = w.file("keep.jsonl", "precious\n");
    outcome missing = run(p, {"results", "msgbatch_doesnotexist", "--out", keep});
    BOOST_TEST(missing.status == 1, output_line_context(missing));
    outcome c = run(p, {"create", w.file("r.jsonl", five_requests())});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    outcome running_batch = run(p, {"results", lines_of(c.out).at(0), "--out", keep});
    BOOST_TEST(running_batch.status == 2, output_line_context(running_batch));
    std::ifstream in(keep);
    std::string content((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    BOOST_TEST(content == "precious\n");
}

// Found by the hostile review: a full stdout lost the ids of paid batches with exit 0.
BOOST_AUTO_TEST_CASE(a_failed_write_to_stdout_fails_the_command_and_names_the_batches) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    p.stdout_path = "/dev/full";
    outcome c = run(p, {"create", w.file("r.jsonl", five_requests())});
    BOOST_TEST(c.status == 1, output_line_context(c));
    BOOST_TEST_REQUIRE(emu.emu().batches_created() == 1u);
    BOOST_TEST(has(c.err, emu.emu().batches().at(0).id), c.err);
    outcome l = run(p, {"--json", "list"});
    BOOST_TEST(l.status == 1, output_line_context(l));
}

// Found by the hostile review: wait gave up on a 529 burst and create --wait on the 404
// the API gives a new batch for a few seconds.
BOOST_AUTO_TEST_CASE(wait_rides_out_a_busy_api_and_the_404_of_a_new_batch) {
    emulator_fixture emu(emu_options(std::chrono::milliseconds(300)));
    workdir w;
    program p = aibatch_at(emu.url(), w);
    outcome c = run(p, {"create", w.file("r.jsonl", five_requests())});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    emu.emu().add_fault(aibatch::emulator::parse_fault("status:529:12:retrieve"));
    outcome busy = run(p, {"wait", lines_of(c.out).at(0), "--poll", "0.05"});
    BOOST_TEST(busy.status == 0, output_line_context(busy));
    BOOST_TEST(has(busy.err, "polling again"), busy.err);
    emulator_fixture lagging(emu_options(std::chrono::milliseconds(300),
                                         {aibatch::emulator::parse_fault("transient-404:500:4")}));
    program q = aibatch_at(lagging.url(), w);
    outcome cw = run(q, {"create", w.file("r2.jsonl", five_requests()), "--wait", "--poll", "0.05",
                         "--out", (w.path / "o.jsonl").string()});
    // Waited through the 404s and downloaded every line (one request errors on purpose:
    // exit 1 says some items failed).
    BOOST_TEST(has(cw.out, "5 lines written"), output_line_context(cw));
    BOOST_TEST(has(cw.err, "polling again"), cw.err);
    // A batch that does not exist is still an error at once.
    outcome missing = run(p, {"wait", "msgbatch_doesnotexist", "--poll", "0.05"});
    BOOST_TEST(missing.status == 1, output_line_context(missing));
}

BOOST_AUTO_TEST_CASE(a_create_refused_midway_names_the_batches_already_created) {
    aibatch::emulator::options o;
    o.max_batch_bytes = 2000; // the second batch below is larger
    emulator_fixture emu(o);
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string reqs = request_line("s0", "short") + request_line("s1", "short") +
                       request_line("l0", std::string(1500, 'x')) +
                       request_line("l1", std::string(1500, 'y'));
    outcome c = run(p, {"create", w.file("r.jsonl", reqs), "--batch-requests", "2"});
    BOOST_TEST(c.status == 1, output_line_context(c));
    BOOST_TEST_REQUIRE(emu.emu().batches_created() == 1u);
    const std::string first = emu.emu().batches().at(0).id;
    BOOST_TEST(lines_of(c.out) == std::vector<std::string>{first});
    BOOST_TEST(has(c.err, "creating batch 2 of 2 failed"), c.err);
    BOOST_TEST(has(c.err, "created before it: " + first), c.err);
    BOOST_TEST(has(c.err, "--batch-bytes"), c.err);
}

BOOST_AUTO_TEST_CASE(create_wait_downloads_every_result) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string reqs;
    for (int i = 0; i < 7; ++i)
        reqs += request_line("q" + std::to_string(i), "question " + std::to_string(i));
    outcome c =
        run(p, {"create", w.file("r.jsonl", reqs), "--wait", "--out",
                (w.path / "results.jsonl").string(), "--poll", "0.05", "--batch-requests", "3"});
    BOOST_TEST_REQUIRE(c.status == 0, output_line_context(c));
    auto lines = lines_of(w.read("results.jsonl"));
    BOOST_TEST(lines.size() == 7u);
    std::set<std::string> ids;
    for (const auto& l : lines)
        ids.insert(std::string(json::parse(l).at("custom_id").as_string()));
    BOOST_TEST(ids.size() == 7u);
    BOOST_TEST(emu.emu().batches_created() == 3u);
    BOOST_TEST(has(c.out, "7 lines written"));
}

BOOST_AUTO_TEST_SUITE_END()

// ---------------------------------------------------------------------------------- run
namespace {

std::string schema_text(const aibatch::schema_options& so = {}) {
    return json::serialize(aibatch::json_schema<Scored>(so));
}

std::vector<json::value> out_lines(const workdir& w, const std::string& name) {
    std::vector<json::value> v;
    for (const auto& l : lines_of(w.read(name)))
        v.push_back(json::parse(l));
    return v;
}

} // namespace

BOOST_AUTO_TEST_SUITE(cli_run)

// A dropped create (its answer lost) is named by `aibatch run` without an id, and the run
// exits 1 though every prompt succeeded; --lost-create-horizon 0 settles it at once when
// the listing shows no batch of its size but the one sent again (exit 0).
BOOST_AUTO_TEST_CASE(run_names_a_lost_create_and_lost_create_horizon_settles_it) {
    emulator_fixture emu(emu_options(std::chrono::milliseconds(100)));
    workdir w;
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl", "\"one\"\n\"two\"\n\"three\"\n");
    program p = aibatch_at(emu.url(), w);
    auto args = [&](const std::string& out) {
        return run_argv(schema, w, out, {"--poll", "0.05"});
    };
    emu.emu().add_fault(aibatch::emulator::parse_fault("drop:1:create"));
    outcome named = run(p, args("a.jsonl"));
    BOOST_TEST(named.status == 1, output_line_context(named));
    BOOST_TEST(has(named.out, "3 of 3 succeeded"), named.out);
    BOOST_TEST(has(named.out + named.err, "(no id: not found)"), named.out << named.err);
    BOOST_TEST(has(named.out + named.err, "may still appear"), named.out << named.err);

    emu.emu().add_fault(aibatch::emulator::parse_fault("drop:1:create"));
    auto settled_args = args("b.jsonl");
    settled_args.insert(settled_args.end(), {"--lost-create-horizon", "0"});
    outcome settled = run(p, settled_args);
    BOOST_TEST(settled.status == 0, output_line_context(settled));
    BOOST_TEST(!has(settled.out + settled.err, "no id"), settled.out << settled.err);
    BOOST_TEST(emu.emu().batches_created() == 2u); // one per run: the dropped ones made none
}

BOOST_AUTO_TEST_CASE(run_on_1000_prompts_gives_the_values_of_batch_of_t) {
    emulator_fixture emu(emu_options(std::chrono::milliseconds(200)));
    workdir w;
    // The file is named after the type: the tool name is the schema file's stem, as
    // output_spec::for_type<Scored>() names its tool.
    std::string schema = w.file("Scored.json", schema_text());
    std::string prompts;
    std::vector<aibatch::conversation> messages;
    for (int i = 0; i < 1000; ++i) {
        std::string text = "Score item number " + std::to_string(i);
        json::value line;
        if (i % 3 == 0)
            line = json::value(text);
        else if (i % 3 == 1)
            line = json::object{{"id", "p" + std::to_string(i)}, {"text", text}};
        else
            line = json::object{
                {"id", i},
                {"messages", json::array{json::object{{"role", "user"}, {"content", text}}}}};
        prompts += json::serialize(line) + "\n";
        messages.push_back({aibatch::user(text)});
    }
    w.file("prompts.jsonl", prompts);
    program p = aibatch_at(emu.url(), w);
    outcome o = run(p, {"run", "--model", "claude-haiku-4-5", "--schema", schema, "--prompts",
                        (w.path / "prompts.jsonl").string(), "--out",
                        (w.path / "out.jsonl").string(), "--run-id", "same1", "--poll", "0.05"});
    BOOST_TEST_REQUIRE(o.status == 0, output_line_context(o));
    BOOST_TEST(has(o.out, "1000 of 1000 succeeded"));

    BOOST_TEST(emu.emu().batches_created() == 1u);

    // The same prompts through batch<T>() in C++, with the same run id, on a second
    // emulator with the same seed: the emulator's answer is a function of the request,
    // its custom_id and its batch's id, and a fresh emulator's first create gets the same
    // batch id.
    emulator_fixture twin(emu_options(std::chrono::milliseconds(200)));
    auto& ioc = twin.ioc();
    aibatch::client_config cfg;
    cfg.api_key = key;
    aibatch::client client = twin.make_client(cfg);
    aibatch::batch_options opts;
    opts.run_id = "same1";
    opts.poll_interval = std::chrono::milliseconds(50);
    std::vector<Scored> expected;
    boost::asio::co_spawn(ioc, aibatch::batch<Scored>(client, messages, "claude-haiku-4-5", opts),
                          [&](std::exception_ptr e, std::vector<Scored> v) {
                              BOOST_TEST_REQUIRE(!e);
                              expected = std::move(v);
                          });
    ioc.run();
    BOOST_TEST_REQUIRE(expected.size() == 1000u);
    BOOST_TEST_REQUIRE(twin.emu().batches_created() == 1u);
    BOOST_TEST(twin.emu().batches().at(0).id == emu.emu().batches().at(0).id);

    auto out = out_lines(w, "out.jsonl");
    BOOST_TEST_REQUIRE(out.size() == 1000u);
    std::size_t differing = 0, distinct_labels = 0;
    std::set<std::string> labels;
    for (std::size_t i = 0; i < out.size(); ++i) {
        const auto& line = out[i].as_object();
        BOOST_TEST(line.at("index").as_int64() == static_cast<std::int64_t>(i));
        BOOST_TEST(line.at("status").as_string() == "succeeded");
        if (i % 3 == 0)
            BOOST_TEST(line.at("id").is_null());
        else if (i % 3 == 1)
            BOOST_TEST(line.at("id").as_string() == "p" + std::to_string(i));
        else
            BOOST_TEST(line.at("id").as_int64() == static_cast<std::int64_t>(i));
        auto v = aibatch::decode<Scored>(line.at("value"));
        BOOST_TEST_REQUIRE(v.has_value());
        differing += !(*v == expected[i]);
        labels.insert(v->label);
    }
    distinct_labels = labels.size();
    BOOST_TEST(differing == 0u);
    BOOST_TEST(distinct_labels > 100u); // the values differ from item to item
}

// Seen in session 7's CLI review: `run` under a base URL ending in /v1 (its create 404s at
// /v1/v1/messages/batches) did not get the hint the other commands give.
BOOST_AUTO_TEST_CASE(run_under_a_base_url_ending_in_v1_says_to_drop_the_v1) {
    emulator_fixture emu(emu_options());
    workdir w;
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl", "\"fine\"\n");
    program p = aibatch_at(emu.url() + "/v1", w);
    for (bool json_output : {false, true}) {
        std::vector<std::string> args = run_argv(schema, w);
        if (json_output)
            args.insert(args.begin(), "--json");
        outcome o = run(p, args);
        BOOST_TEST_INFO("json=" << json_output << ": " << output_line_context(o));
        BOOST_TEST(o.status == 1);
        BOOST_TEST(has(o.out + o.err, "set ANTHROPIC_BASE_URL to " + emu.url()));
    }
    BOOST_TEST(emu.emu().batches_created() == 0u);
}

BOOST_AUTO_TEST_CASE(run_reports_each_failure_in_input_order_and_exits_1) {
    emulator_fixture emu(emu_options(std::chrono::milliseconds(100)));
    workdir w;
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl",
           "\"fine\"\n"
           "{\"id\":\"bad\",\"text\":\"EMULATOR_RESULT: errored\"}\n"
           "{\"id\":\"invalid\",\"text\":\"EMULATOR_OUTPUT: {\\\"label\\\":5}\"}\n");
    program p = aibatch_at(emu.url(), w);
    outcome o = run(p, {"--json", "run", "--model", "claude-haiku-4-5", "--schema", schema,
                        "--prompts", (w.path / "prompts.jsonl").string(), "--out",
                        (w.path / "out.jsonl").string(), "--poll", "0.05", "--repair-rounds", "0"});
    BOOST_TEST(o.status == 1, output_line_context(o));
    auto out = out_lines(w, "out.jsonl");
    BOOST_TEST_REQUIRE(out.size() == 3u);
    BOOST_TEST(out[0].at("status").as_string() == "succeeded");
    BOOST_TEST(out[1].at("status").as_string() == "errored");
    BOOST_TEST(out[1].at("id").as_string() == "bad");
    BOOST_TEST(out[1].at("batch_id").as_string().starts_with("msgbatch_"));
    BOOST_TEST(!out[1].at("error_type").as_string().empty());
    BOOST_TEST(out[2].at("status").as_string() == "invalid_output");
    BOOST_TEST(out[2].at("error_type").as_string() == "validation");
    // The decoder's path-precise message for the same output.
    std::string expected =
        aibatch::decode<Scored>(json::parse(R"({"label":5})")).error().to_string();
    BOOST_TEST(out[2].at("message").as_string() == expected);
    json::value summary = json::parse(o.out);
    BOOST_TEST(summary.at("succeeded").as_int64() == 1);
    BOOST_TEST(summary.at("failed").as_int64() == 2);
    BOOST_TEST(emu.emu().batches_created() == 1u); // no repair round asked for
}

BOOST_AUTO_TEST_CASE(run_cache_system_caches_the_system_prompt_and_reports_the_cache) {
    emulator_fixture emu(emu_options(std::chrono::milliseconds(100)));
    workdir w;
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl", "\"one\"\n\"two\"\n\"three\"\n");
    program p = aibatch_at(emu.url(), w);
    const std::string system(24000, 's'); // about 6,000 tokens: past Haiku 4.5's 4,096
    outcome o =
        run(p, {"--json", "run", "--model", "claude-haiku-4-5", "--schema", schema, "--prompts",
                (w.path / "prompts.jsonl").string(), "--out", (w.path / "out.jsonl").string(),
                "--poll", "0.05", "--system", system, "--cache-system", "1h"});
    BOOST_TEST_REQUIRE(o.status == 0, output_line_context(o));
    json::value summary = json::parse(o.out);
    const auto written = summary.at("cache_creation_input_tokens").as_int64();
    BOOST_TEST(written > 4096);
    BOOST_TEST(summary.at("cache_read_input_tokens").as_int64() == 2 * written);
    // Without a system prompt there is nothing to cache: refused, naming the flags.
    outcome bad = run(p, {"run", "--model", "claude-haiku-4-5", "--schema", schema, "--prompts",
                          (w.path / "prompts.jsonl").string(), "--out",
                          (w.path / "out2.jsonl").string(), "--cache-system", "5m"});
    BOOST_TEST(bad.status != 0);
    BOOST_TEST(has(bad.err + bad.out, "--cache-system"), bad.err);
    BOOST_TEST(has(bad.err + bad.out, "--system"), bad.err);
    outcome typo =
        run(p, {"run", "--model", "claude-haiku-4-5", "--schema", schema, "--prompts",
                (w.path / "prompts.jsonl").string(), "--out", (w.path / "out3.jsonl").string(),
                "--system", "x", "--cache-system", "10m"});
    BOOST_TEST(typo.status != 0);
    BOOST_TEST(emu.emu().batches_created() == 1u);
}

BOOST_AUTO_TEST_CASE(dry_run_sends_nothing_even_with_an_unreachable_base_url) {
    workdir w;
    std::string schema = w.file("Scored.json", schema_text());
    std::string prompts;
    for (int i = 0; i < 30; ++i)
        prompts += "\"prompt " + std::to_string(i) + "\"\n";
    w.file("prompts.jsonl", prompts);
    program p = aibatch_at("http://127.0.0.1:1", w);
    p.env.erase("ANTHROPIC_API_KEY"); // not even needed
    std::vector<std::string> args =
        run_argv(schema, w, "out.jsonl", {"--dry-run", "--batch-requests", "12"});
    outcome o = run(p, args);
    BOOST_TEST_REQUIRE(o.status == 0, output_line_context(o));
    BOOST_TEST(has(o.out, "nothing was sent"));
    BOOST_TEST(has(o.out, "requests:       30"));
    BOOST_TEST(has(o.out, "batches:        3"));
    BOOST_TEST(has(o.out, "estimated cost: $"));
    BOOST_TEST(!fs::exists(w.path / "out.jsonl"));
    args.insert(args.begin(), "--json");
    outcome j = run(p, args);
    BOOST_TEST_REQUIRE(j.status == 0);
    json::value e = json::parse(j.out);
    BOOST_TEST(e.at("requests").as_int64() == 30);
    BOOST_TEST(e.at("batches").as_array().size() == 3u);
    BOOST_TEST(e.at("cost_min_usd").as_double() < e.at("cost_max_usd").as_double());
    BOOST_TEST(e.at("max_output_tokens").as_int64() == 30 * 1024);

    // Against a live emulator: its request log stays empty.
    emulator_fixture emu(emu_options());
    program live = aibatch_at(emu.url(), w);
    BOOST_TEST(run(live, args).status == 0);
    BOOST_TEST(emu.emu().log().empty());
}

BOOST_AUTO_TEST_CASE(bad_schemas_and_prompts_are_refused_before_any_network_call) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string prompts = w.file("prompts.jsonl", "\"a\"\n");
    auto run_with = [&](const std::string& schema, const std::string& prompt_file,
                        std::vector<std::string> extra = {}) {
        std::vector<std::string> args = {"run",       "--model", "claude-haiku-4-5",
                                         "--schema",  schema,    "--prompts",
                                         prompt_file, "--out",   (w.path / "out.jsonl").string()};
        if (std::find(extra.begin(), extra.end(), "--model") != extra.end())
            args.erase(args.begin() + 1, args.begin() + 3); // the test's own model
        args.insert(args.end(), extra.begin(), extra.end());
        return run(p, args);
    };
    outcome one_of = run_with(
        w.file("s1.json", R"({"type":"object","properties":{"a":{"oneOf":[{"type":"string"}]}}})"),
        prompts);
    BOOST_TEST(one_of.status == 2);
    BOOST_TEST(has(one_of.err, "\"oneOf\" is not supported"), one_of.err);
    BOOST_TEST(has(one_of.err, "$.properties.a"), one_of.err);
    outcome not_json = run_with(w.file("s2.json", "{nope"), prompts);
    BOOST_TEST(not_json.status == 2);
    BOOST_TEST(has(not_json.err, "is not JSON"));
    std::string good = w.file("Scored.json", schema_text());
    outcome bad_line = run_with(good, w.file("p2.jsonl", "\"a\"\n{\"id\":1}\n"));
    BOOST_TEST(bad_line.status == 2);
    BOOST_TEST(has(bad_line.err, "p2.jsonl:2: give either \"text\" or \"messages\""), bad_line.err);
    outcome mode = run_with(good, prompts, {"--mode", "xml"});
    BOOST_TEST(mode.status == 2);
    // json_schema mode: what the structured-outputs subset cannot say is refused up front.
    outcome native = run_with(
        w.file("s3.json", R"({"type":"object","properties":{"m":{"type":"object",)"
                          R"("additionalProperties":{"type":"integer"}}},"required":["m"],)"
                          R"("additionalProperties":false})"),
        prompts, {"--mode", "json_schema"});
    BOOST_TEST(native.status == 2);
    BOOST_TEST(has(native.err, "use --mode tool"), native.err);
    // The model table's rules, from the library, before anything is sent.
    outcome too_many = run_with(good, prompts, {"--max-tokens", "10000000"});
    BOOST_TEST(too_many.status == 2, output_line_context(too_many));
    outcome old_model =
        run_with(good, prompts, {"--mode", "json_schema", "--model", "claude-3-haiku-20240307"});
    BOOST_TEST(old_model.status == 2);
    BOOST_TEST(has(old_model.err, "does not support structured outputs"), old_model.err);
    BOOST_TEST(has(old_model.err, "--mode tool"), old_model.err);
    // Found by the hostile review: a schema whose top level is not an object was sent and
    // every item came back errored (a tool's input and a structured output are objects).
    for (const char* top :
         {R"({"type":"array","items":{"type":"string"}})", R"({"type":"string"})",
          R"({"$defs":{"N":{"type":"object","properties":{}}},"$ref":"#/$defs/N"})"})
        for (const char* m : {"tool", "json_schema"}) {
            outcome o = run_with(w.file("top.json", top), prompts, {"--mode", m});
            BOOST_TEST(o.status == 2, top << " " << m << ": " << output_line_context(o));
            BOOST_TEST(has(o.err, "top level"), o.err);
            outcome dry = run_with(w.file("top.json", top), prompts, {"--mode", m, "--dry-run"});
            BOOST_TEST(dry.status == 2,
                       top << " " << m << " dry run: " << output_line_context(dry));
        }
    // Found by review s13: a top-level property key outside ^[a-zA-Z0-9_.-]{1,64}$ (here
    // with a space) makes the API refuse every item of a tool-mode run; refused up front,
    // naming the key.
    const char* spaced = R"({"type":"object","properties":{"Account Number":{"type":"string"}},)"
                         R"("required":["Account Number"],"additionalProperties":false})";
    for (const char* dry_run : {"--dry-run", ""}) {
        std::vector<std::string> flags{"--mode", "tool"};
        if (*dry_run)
            flags.push_back(dry_run);
        outcome o = run_with(w.file("spaced.json", spaced), prompts, flags);
        BOOST_TEST(o.status == 2, dry_run << ": " << output_line_context(o));
        BOOST_TEST(has(o.err, "\"Account Number\""), o.err);
        BOOST_TEST(has(o.err, "^[a-zA-Z0-9_.-]{1,64}$"), o.err);
    }
    // Found by the hostile review: --dry-run approved what the real run refuses.
    for (std::vector<std::string> bad : {std::vector<std::string>{"--max-tokens", "0"},
                                         std::vector<std::string>{"--run-id", "a_b"}}) {
        bad.push_back("--dry-run");
        outcome dry = run_with(good, prompts, bad);
        BOOST_TEST(dry.status == 2, bad[0] << ": " << output_line_context(dry));
    }
    outcome assistant_first =
        run_with(good,
                 w.file("p3.jsonl", "\"ok\"\n{\"id\":\"q\",\"messages\":[{\"role\":\"assistant\","
                                    "\"content\":\"x\"}]}\n"),
                 {"--dry-run"});
    BOOST_TEST(assistant_first.status == 2, output_line_context(assistant_first));
    BOOST_TEST(has(assistant_first.err, "prompt [1]"), assistant_first.err);
    // Found by the hostile review: a UTF-8 byte order mark made line 1 "not JSON".
    outcome bom = run_with(good, w.file("pbom.jsonl", "\xEF\xBB\xBF\"hi\"\n"), {"--dry-run"});
    BOOST_TEST(bom.status == 0, output_line_context(bom));
    // Flags, not the library's C++ names (found by the hostile review).
    outcome zero = run_with(good, prompts, {"--max-tokens", "0", "--dry-run"});
    BOOST_TEST(has(zero.err, "--max-tokens"), zero.err);
    BOOST_TEST(!has(zero.err, "batch_options"), zero.err);
    outcome no_price =
        run_with(good, prompts, {"--model", "my-model", "--cost-limit", "0.01", "--dry-run"});
    BOOST_TEST(no_price.status == 2, output_line_context(no_price));
    BOOST_TEST(has(no_price.err, "drop --cost-limit"), no_price.err);
    BOOST_TEST(!has(no_price.err, "batch_options"), no_price.err);
    BOOST_TEST(emu.emu().log().empty());
}

// Found by review s13: --out was opened (and emptied) before the run, whatever it named:
// the prompts, the schema or the journal were lost.
BOOST_AUTO_TEST_CASE(out_naming_an_input_or_the_journal_is_refused_and_changes_nothing) {
    emulator_fixture emu(emu_options());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    const std::string prompts_text = "\"a\"\n\"b\"\n";
    const std::string prompts = w.file("prompts.jsonl", prompts_text);
    const std::string schema = w.file("Scored.json", schema_text());
    const std::string journal_text = "an earlier run's journal\n";
    const std::string journal = w.file("run.journal", journal_text);
    fs::create_directories(w.path / "sub");
    fs::create_symlink(w.path / "prompts.jsonl", w.path / "link.jsonl");
    auto run_out = [&](const std::string& out, const std::string& journal_path) {
        return run(p, {"run", "--model", "claude-haiku-4-5", "--schema", schema, "--prompts",
                       prompts, "--journal", journal_path, "--out", out});
    };
    struct clash {
        std::string out, journal, named;
    };
    const std::string fresh_journal = (w.path / "fresh.journal").string();
    for (const clash& c : std::vector<clash>{
             {prompts, journal, "--prompts"},
             {(w.path / "sub" / ".." / "prompts.jsonl").string(), journal, "--prompts"},
             {(w.path / "link.jsonl").string(), journal, "--prompts"},
             {schema, journal, "--schema"},
             {journal, journal, "--journal"},
             {fresh_journal, fresh_journal, "--journal"}}) {
        outcome o = run_out(c.out, c.journal);
        BOOST_TEST(o.status == 2, c.out << ": " << output_line_context(o));
        BOOST_TEST(has(o.err, c.named), o.err);
        BOOST_TEST(has(o.err, "--out"), o.err);
    }
    BOOST_TEST(w.read("prompts.jsonl") == prompts_text);
    BOOST_TEST(w.read("Scored.json") == schema_text());
    BOOST_TEST(w.read("run.journal") == journal_text);
    BOOST_TEST(!fs::exists(fresh_journal));
    BOOST_TEST(emu.emu().log().empty());
}

// Ids and names are ASCII whatever the bytes: a custom_id with a byte above 0x7F is
// refused before anything is sent, and a schema file named in Latin-1 ("r\xE9sum\xE9")
// gives a tool name the API accepts (include/aibatch/detail/ascii.hpp).
BOOST_AUTO_TEST_CASE(custom_ids_and_tool_names_are_ascii) {
    emulator_fixture emu(emu_options(std::chrono::milliseconds(50)));
    workdir w;
    program p = aibatch_at(emu.url(), w);
    // UTF-8 (the file must be JSON): bytes 0xC3 0xA9 and 0xE2 0x82 0xAC.
    for (const char* id : {"r\xC3\xA9", "\xE2\x82\xAC"}) {
        outcome c = run(p, {"create", w.file("r.jsonl", request_line(id, "hi"))});
        BOOST_TEST(c.status == 2, output_line_context(c));
        BOOST_TEST(has(c.err, "may only hold letters, digits"), c.err);
    }
    BOOST_TEST(emu.emu().batches_created() == 0u);

    std::string schema = w.file("r\xE9sum\xE9.json", schema_text());
    w.file("prompts.jsonl", "\"one\"\n");
    outcome r = run(p, run_argv(schema, w, "out.jsonl", {"--poll", "0.05"}));
    BOOST_TEST(r.status == 0, output_line_context(r));
    BOOST_TEST(has(r.out, "1 of 1 succeeded"), r.out);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ terminal and Ctrl-C
BOOST_AUTO_TEST_SUITE(cli_terminal)

BOOST_AUTO_TEST_CASE(wait_in_a_pseudo_terminal_draws_a_live_progress_bar) {
    emulator_fixture emu(held()); // running until released below
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string id = create_five(p, w);
    // util-linux script(1) runs the command in a pseudo-terminal; its output is the
    // terminal's (read here as the child's merged output).
    program script = p;
    script.path = "/usr/bin/script";
    std::string command = std::string(AIBATCH_CLI) + " wait " + id + " --poll 0.05";
    running r(script, {"-qfec", command, "/dev/null"}, true);
    // The bar is drawn while the batch runs, then again when it has ended.
    BOOST_TEST_REQUIRE(r.wait_for_stderr("0/1 batches ended"));
    emu.release(id);
    outcome o = r.finish();
    BOOST_TEST_REQUIRE(o.status == 0, output_line_context(o));
    // Redrawn in place: each update starts with a carriage return and a line erase.
    BOOST_TEST(has(o.err, "\r\033[K["), o.err);
    BOOST_TEST(has(o.err, "[##############################] 1/1 batches ended, 5/5 requests done"),
               o.err);
    BOOST_TEST(has(o.err, "ETA"));
    BOOST_TEST(!has(o.err, "progress: ")); // not the plain lines
}

BOOST_AUTO_TEST_CASE(ctrl_c_during_wait_with_cancel_cancels_the_remote_batch) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string id = create_five(p, w);
    running r(p, {"--on-interrupt", "cancel", "wait", id, "--poll", "0.05"});
    BOOST_TEST_REQUIRE(r.wait_for_stderr("progress: "));
    r.signal(SIGINT);
    outcome o = r.finish();
    BOOST_TEST(o.status == 1, output_line_context(o));
    BOOST_TEST(has(o.err, "canceled " + id), o.err);
    BOOST_TEST(emu.emu().batches().at(0).cancel_requested);
}

BOOST_AUTO_TEST_CASE(ctrl_c_on_a_terminal_asks_and_yes_cancels) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string id = create_five(p, w);
    // In a pseudo-terminal (script), Ctrl-C is the terminal's ^C character and the answer
    // is typed on the same terminal.
    program script = p;
    script.path = "/usr/bin/script";
    running r(
        script,
        {"-qfec", "exec " + std::string(AIBATCH_CLI) + " wait " + id + " --poll 0.05", "/dev/null"},
        true, true);
    BOOST_TEST_REQUIRE(r.wait_for_stderr("batches ended"));
    r.write_stdin("\x03");
    BOOST_TEST_REQUIRE(r.wait_for_stderr("[y/N]"));
    BOOST_TEST(!emu.emu().batches().at(0).cancel_requested); // nothing before the answer
    // Polling goes on while the question waits: let two more polls happen first.
    const std::size_t before = emu.emu().log().size();
    BOOST_TEST_REQUIRE(emu.emu().wait_for_log(
        [before](const std::vector<aibatch::emulator::log_entry>& log) {
            return log.size() >= before + 2;
        },
        std::chrono::seconds(20)));
    r.write_stdin("y\n");
    outcome o = r.finish();
    // While the question was up, no progress was drawn over it.
    auto asked = o.err.find("[y/N]");
    BOOST_TEST((asked != std::string::npos && o.err.find("\r\033[K", asked) == std::string::npos),
               o.err);
    BOOST_TEST(o.status == 1, output_line_context(o));
    BOOST_TEST(has(o.err, "canceled " + id), o.err);
    BOOST_TEST(emu.emu().batches().at(0).cancel_requested);
}

BOOST_AUTO_TEST_CASE(ctrl_c_without_a_terminal_leaves_the_batch_and_names_it) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string id = create_five(p, w);
    running r(p, {"wait", id, "--poll", "0.05"}); // stdin is /dev/null: no question
    BOOST_TEST_REQUIRE(r.wait_for_stderr("progress: "));
    r.signal(SIGINT);
    outcome o = r.finish();
    BOOST_TEST(o.status == 1, output_line_context(o));
    BOOST_TEST(has(o.err, "left running: " + id), o.err);
    BOOST_TEST(!emu.emu().batches().at(0).cancel_requested);
}

BOOST_AUTO_TEST_CASE(ctrl_c_during_run_with_cancel_cancels_and_still_writes_every_line) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl", "\"a\"\n\"b\"\n");
    running r(p, {"--on-interrupt", "cancel", "-v", "run", "--model", "claude-haiku-4-5",
                  "--schema", schema, "--prompts", (w.path / "prompts.jsonl").string(), "--out",
                  (w.path / "out.jsonl").string(), "--poll", "0.05"});
    BOOST_TEST_REQUIRE(r.wait_for_stderr("running 2 prompts"));
    // The first progress line comes after the first poll: the batch exists.
    BOOST_TEST_REQUIRE(r.wait_for_stderr("progress: "));
    BOOST_TEST_REQUIRE(emu.emu().batches_created() == 1u);
    r.signal(SIGINT);
    outcome o = r.finish();
    BOOST_TEST(o.status == 1, output_line_context(o));
    BOOST_TEST(emu.emu().batches().at(0).cancel_requested);
    auto out = out_lines(w, "out.jsonl");
    BOOST_TEST_REQUIRE(out.size() == 2u);
    BOOST_TEST(out[0].at("status").as_string() != "succeeded");
    // The canceled batch is named with the command that reads what it finished (a shell
    // user has no client.results()).
    const std::string id = emu.emu().batches().at(0).id;
    BOOST_TEST((o.out + o.err).find("aibatch results " + id) != std::string::npos, o.out);
}

BOOST_AUTO_TEST_CASE(ctrl_c_during_run_with_leave_names_the_batches_left_running) {
    emulator_fixture emu(held());
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl", "\"a\"\n\"b\"\n\"c\"\n");
    running r(p, {"--on-interrupt", "leave", "run", "--model", "claude-haiku-4-5", "--schema",
                  schema, "--prompts", (w.path / "prompts.jsonl").string(), "--out",
                  (w.path / "out.jsonl").string(), "--poll", "0.05", "--batch-requests", "2"});
    // Two batches: the progress line that counts both comes after both were created.
    BOOST_TEST_REQUIRE(r.wait_for_stderr("/2 batches ended"));
    BOOST_TEST_REQUIRE(emu.emu().batches_created() == 2u);
    r.signal(SIGINT);
    outcome o = r.finish();
    BOOST_TEST(o.status == 1, output_line_context(o));
    for (const auto& b : emu.emu().batches()) {
        BOOST_TEST(has(o.err, b.id), o.err);
        BOOST_TEST(!b.cancel_requested);
    }
    BOOST_TEST(has(o.err, "left running:"), o.err);
}

// Found by the hostile review: Ctrl-C (leave) during run named only batches still
// running, so a batch that had ended (paid for, not read) was never named.
BOOST_AUTO_TEST_CASE(ctrl_c_during_run_names_a_batch_that_ended_but_was_not_read) {
    emulator_fixture emu(
        emu_options(std::chrono::milliseconds(0))); // ends as soon as it is created
    workdir w;
    program p = aibatch_at(emu.url(), w);
    std::string schema = w.file("Scored.json", schema_text());
    w.file("prompts.jsonl", "\"a\"\n");
    running r(p, {"--on-interrupt", "leave", "-v", "run", "--model", "claude-haiku-4-5", "--schema",
                  schema, "--prompts", (w.path / "prompts.jsonl").string(), "--out",
                  (w.path / "out.jsonl").string(), "--poll", "60"});
    BOOST_TEST_REQUIRE(r.wait_for_stderr("response 200 POST /v1/messages/batches"));
    BOOST_TEST_REQUIRE(emu.emu().batches_created() == 1u);
    r.signal(SIGINT);
    outcome o = r.finish();
    BOOST_TEST(o.status == 1, output_line_context(o));
    const std::string id = emu.emu().batches().at(0).id;
    BOOST_TEST(has(o.err, id), o.err);
    BOOST_TEST(!emu.emu().batches().at(0).cancel_requested);
}

BOOST_AUTO_TEST_SUITE_END()
