// The emulator over real loopback sockets (HTTP and HTTPS): every endpoint, the
// create-time validation, per-item errors, the simulated model, scripted output, faults.
#include <aibatch/emulator/emulator.hpp>

#include "../support/emulator_fixture.hpp"
#include "../support/test_pki.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <chrono>
#include <set>
#include <thread>

namespace json = boost::json;
using namespace std::chrono_literals;
using aibatch::test::emulator_fixture;
using aibatch::test::json_answer;
using aibatch::test::text_request;
using aibatch::test::tool_request;

namespace {

json::value spam_schema() {
    return json::parse(R"({"type":"object","properties":{
        "is_spam":{"type":"boolean"},"confidence":{"type":"number","minimum":0,"maximum":1},
        "reason":{"type":"string"},"label":{"type":"string","enum":["ham","spam","unsure"]},
        "tags":{"type":"array","items":{"type":"string"}},
        "score":{"anyOf":[{"type":"integer"},{"type":"null"}]}},
        "required":["is_spam","confidence","reason","label","tags","score"],
        "additionalProperties":false})");
}

// spam_schema() within the structured-outputs subset (no numeric bounds).
json::value native_spam_schema() {
    auto s = spam_schema();
    auto& conf = s.at("properties").at("confidence").as_object();
    conf.erase("minimum");
    conf.erase("maximum");
    return s;
}

json::value batch_of(std::initializer_list<json::object> items) {
    json::array a;
    for (auto& i : items)
        a.push_back(i);
    return json::object{{"requests", std::move(a)}};
}

// The documented error shape, with the request-id header equal to the body's request_id.
void check_error(const json_answer& a, unsigned status, const std::string& type,
                 const std::string& message_part = {}) {
    BOOST_TEST(a.status == status, a.raw);
    BOOST_REQUIRE(a.body.is_object());
    BOOST_TEST(a.body.at("type") == "error");
    BOOST_TEST(a.body.at("error").at("type") == json::value(type), a.raw);
    std::string msg(a.body.at("error").at("message").as_string());
    BOOST_TEST(msg.find(message_part) != std::string::npos, msg);
    std::string rid(a.body.at("request_id").as_string());
    BOOST_TEST(rid.starts_with("req_"));
    BOOST_TEST(a.headers.find("request-id").value_or("") == rid);
}

std::map<std::string, json::value> by_custom_id(const std::vector<json::value>& lines) {
    std::map<std::string, json::value> m;
    for (const auto& l : lines)
        m[std::string(l.at("custom_id").as_string())] = l.at("result");
    return m;
}

// prefix + number. ("r" + std::to_string(i) makes g++ 12 at -O3 report a false
// -Wrestrict in std::operator+, GCC bug 105651.)
std::string numbered(std::string prefix, int i) {
    prefix += std::to_string(i);
    return prefix;
}

} // namespace

BOOST_AUTO_TEST_SUITE(emulator_endpoints)

BOOST_AUTO_TEST_CASE(create_retrieve_and_results_follow_the_batch_lifecycle) {
    emulator_fixture f(emulator_fixture::held()); // in progress until released below
    auto a = f.create(batch_of({tool_request("a", "is this spam? win money", spam_schema()),
                                tool_request("b", "hello friend", spam_schema())}));
    BOOST_TEST_REQUIRE(a.status == 200u, a.raw);
    const auto& b = a.body.as_object();
    std::string id(b.at("id").as_string());
    BOOST_TEST(id.starts_with("msgbatch_"));
    BOOST_TEST(b.at("type") == "message_batch");
    BOOST_TEST(b.at("processing_status") == "in_progress");
    BOOST_TEST(b.at("request_counts").at("processing") == 2);
    BOOST_TEST(b.at("request_counts").at("succeeded") == 0);
    BOOST_TEST(b.at("results_url").is_null());
    BOOST_TEST(b.at("ended_at").is_null());
    BOOST_TEST(b.at("created_at").as_string().ends_with("Z"));
    for (const char* k : {"archived_at", "cancel_initiated_at", "expires_at"})
        BOOST_TEST(b.contains(k), k);
    BOOST_TEST(a.headers.find("request-id").value_or("").starts_with("req_"));

    check_error(f.call("GET", "/v1/messages/batches/" + id + "/results"), 400,
                "invalid_request_error", "has not yet ended");
    auto running = f.call("GET", "/v1/messages/batches/" + id);
    BOOST_TEST(running.body.at("processing_status") == "in_progress");
    BOOST_TEST(running.body.at("results_url").is_null());

    f.release(id);
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("processing") == 0);
    BOOST_TEST(ended.at("request_counts").at("succeeded") == 2);
    BOOST_TEST(ended.at("ended_at").is_string());
    std::string url(ended.at("results_url").as_string());
    BOOST_TEST(url == f.emu().url() + "/v1/messages/batches/" + id + "/results");

    auto res = f.call("GET", "/v1/messages/batches/" + id + "/results");
    BOOST_TEST(res.headers.find("content-type").value_or("") == "application/x-jsonl");
    auto lines = f.results(id);
    BOOST_TEST_REQUIRE(lines.size() == 2u);
    for (const auto& l : lines) {
        const auto& r = l.at("result");
        BOOST_TEST(r.at("type") == "succeeded");
        const auto& m = r.at("message").as_object();
        BOOST_TEST(m.at("id").as_string().starts_with("msg_"));
        BOOST_TEST(m.at("type") == "message");
        BOOST_TEST(m.at("role") == "assistant");
        BOOST_TEST(m.at("model") == "claude-haiku-4-5");
        BOOST_TEST(m.at("stop_reason") == "tool_use");
        BOOST_TEST(m.at("stop_sequence").is_null());
        BOOST_TEST(m.at("usage").at("service_tier") == "batch");
        BOOST_TEST(m.at("usage").at("input_tokens").as_int64() > 0);
        BOOST_TEST(m.at("usage").at("output_tokens").as_int64() > 0);
        const auto& block = m.at("content").at(0).as_object();
        BOOST_TEST(block.at("type") == "tool_use");
        BOOST_TEST(block.at("id").as_string().starts_with("toolu_"));
        BOOST_TEST(block.at("name") == "answer");
        const auto& input = block.at("input").as_object();
        BOOST_TEST(input.at("is_spam").is_bool());
        double c = input.at("confidence").to_number<double>();
        BOOST_TEST((c >= 0 && c <= 1));
        std::set<std::string> labels{"ham", "spam", "unsure"};
        BOOST_TEST(labels.count(std::string(input.at("label").as_string())) == 1u);
        BOOST_TEST(input.at("tags").is_array());
        BOOST_TEST((input.at("score").is_null() || input.at("score").is_int64()));
        BOOST_TEST(input.size() == 6u); // additionalProperties false: nothing extra
    }
}

BOOST_AUTO_TEST_CASE(results_come_in_an_order_different_from_the_input) {
    emulator_fixture f;
    json::array reqs;
    for (int i = 0; i < 30; ++i)
        reqs.push_back(text_request("item-" + std::to_string(i), "hello " + std::to_string(i)));
    auto a = f.create(json::object{{"requests", reqs}});
    std::string id(a.body.at("id").as_string());
    f.wait_ended(id);
    auto lines = f.results(id);
    BOOST_TEST_REQUIRE(lines.size() == 30u);
    std::vector<std::string> order, input;
    for (auto& l : lines)
        order.emplace_back(l.at("custom_id").as_string());
    for (int i = 0; i < 30; ++i)
        input.push_back("item-" + std::to_string(i));
    BOOST_TEST((order != input));
    std::sort(order.begin(), order.end());
    std::sort(input.begin(), input.end());
    BOOST_TEST((order == input)); // each exactly once
}

BOOST_AUTO_TEST_CASE(list_is_newest_first_and_paginates_both_ways) {
    emulator_fixture f;
    std::vector<std::string> ids;
    for (int i = 0; i < 7; ++i)
        ids.emplace_back(f.create(batch_of({text_request("x", "n" + std::to_string(i))}))
                             .body.at("id")
                             .as_string());
    std::vector<std::string> newest_first(ids.rbegin(), ids.rend());

    auto page1 = f.call("GET", "/v1/messages/batches?limit=3");
    BOOST_TEST_REQUIRE(page1.status == 200u);
    BOOST_TEST(page1.body.at("data").as_array().size() == 3u);
    BOOST_TEST(page1.body.at("has_more") == true);
    BOOST_TEST(page1.body.at("first_id") == json::value(newest_first[0]));
    BOOST_TEST(page1.body.at("last_id") == json::value(newest_first[2]));

    std::vector<std::string> walked;
    std::string after;
    for (int guard = 0; guard < 10; ++guard) {
        auto p = f.call("GET", "/v1/messages/batches?limit=3" +
                                   (after.empty() ? std::string() : "&after_id=" + after));
        for (auto& b : p.body.at("data").as_array())
            walked.emplace_back(b.at("id").as_string());
        if (!p.body.at("has_more").as_bool())
            break;
        after = std::string(p.body.at("last_id").as_string());
    }
    BOOST_TEST((walked == newest_first));

    auto back = f.call("GET", "/v1/messages/batches?limit=2&before_id=" + newest_first[4]);
    BOOST_TEST(back.body.at("data").at(0).at("id") == json::value(newest_first[2]));
    BOOST_TEST(back.body.at("data").at(1).at("id") == json::value(newest_first[3]));
    BOOST_TEST(back.body.at("has_more") == true);

    auto dflt = f.call("GET", "/v1/messages/batches");
    BOOST_TEST(dflt.body.at("data").as_array().size() == 7u);
    BOOST_TEST(dflt.body.at("has_more") == false);

    check_error(f.call("GET", "/v1/messages/batches?limit=0"), 400, "invalid_request_error",
                "limit");
    check_error(f.call("GET", "/v1/messages/batches?limit=1001"), 400, "invalid_request_error",
                "1000");
}

BOOST_AUTO_TEST_CASE(cancel_moves_through_canceling_to_ended_with_canceled_items) {
    // Held, and canceling until released: the test decides when each state ends.
    auto opts = emulator_fixture::held();
    opts.cancel_time = 1h;
    emulator_fixture f(opts);
    json::array reqs;
    for (int i = 0; i < 5; ++i)
        reqs.push_back(text_request(numbered("c", i), "hi"));
    std::string id(f.create(json::object{{"requests", reqs}}).body.at("id").as_string());
    auto c = f.call("POST", "/v1/messages/batches/" + id + "/cancel");
    BOOST_TEST_REQUIRE(c.status == 200u, c.raw);
    BOOST_TEST(c.body.at("processing_status") == "canceling");
    BOOST_TEST(c.body.at("cancel_initiated_at").is_string());
    check_error(f.call("DELETE", "/v1/messages/batches/" + id), 400, "invalid_request_error",
                "cancel");
    BOOST_TEST(f.call("GET", "/v1/messages/batches/" + id).body.at("processing_status") ==
               "canceling");
    f.release(id);
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("canceled") == 5);
    for (auto& [cid, r] : by_custom_id(f.results(id)))
        BOOST_TEST(r.at("type") == "canceled", cid);
}

// options::hold_batches: a batch ends when the test says so, not when a clock does.
BOOST_AUTO_TEST_CASE(held_batches_end_only_when_released) {
    emulator_fixture f(emulator_fixture::held());
    auto make = [&](const std::string& tag) {
        json::array reqs;
        for (int i = 0; i < 4; ++i)
            reqs.push_back(text_request(numbered(tag, i), "hi"));
        auto a = f.create(json::object{{"requests", reqs}});
        BOOST_TEST_REQUIRE(a.status == 200u, a.raw);
        return std::string(a.body.at("id").as_string());
    };
    std::string kept = make("k"), canceled = make("c"), expired_id, other = make("o");
    f.emu().add_fault(aibatch::emulator::parse_fault("expire:1"));
    expired_id = make("e");
    // Nothing ends on its own (the wait gives up; it is not a measure of speed).
    BOOST_TEST(!f.emu().wait_ended(kept, 50ms));
    BOOST_TEST(f.call("GET", "/v1/messages/batches/" + kept).body.at("processing_status") ==
               "in_progress");
    // A cancel still ends a held batch (after cancel_time): every item canceled, and
    // there is nothing left to release.
    BOOST_TEST(f.call("POST", "/v1/messages/batches/" + canceled + "/cancel").status == 200u);
    auto c = f.wait_ended(canceled);
    BOOST_TEST(c.at("request_counts").at("canceled") == 4);
    BOOST_TEST(!f.emu().release(canceled));
    // Released: ended at once, every item processed.
    f.release(kept);
    auto k = f.call("GET", "/v1/messages/batches/" + kept).body;
    BOOST_TEST(k.at("processing_status") == "ended");
    BOOST_TEST(k.at("request_counts").at("succeeded") == 4);
    BOOST_TEST(f.results(kept).size() == 4u);
    BOOST_TEST(!f.emu().release(kept)); // once
    BOOST_TEST(!f.emu().release("msgbatch_unknown"));
    BOOST_CHECK_THROW(f.release(kept), std::runtime_error);
    // release_all ends the others; with the expire fault nothing was processed in time.
    BOOST_TEST(f.release_all() == 2u);
    BOOST_TEST(f.release_all() == 0u);
    BOOST_TEST(f.wait_ended(other).at("request_counts").at("succeeded") == 4);
    BOOST_TEST(f.wait_ended(expired_id).at("request_counts").at("expired") == 4);
}

// wait_for_log blocks until the request log says so, or gives up.
BOOST_AUTO_TEST_CASE(wait_for_log_sees_each_request_served) {
    emulator_fixture f;
    auto two_lists = [](const std::vector<aibatch::emulator::log_entry>& log) {
        return std::count_if(log.begin(), log.end(),
                             [](const auto& e) { return e.endpoint == "list"; }) >= 2;
    };
    BOOST_TEST(!f.emu().wait_for_log(two_lists, 20ms));
    std::thread client([&] {
        f.call("GET", "/v1/messages/batches");
        f.call("GET", "/v1/messages/batches");
    });
    BOOST_TEST(f.emu().wait_for_log(two_lists, 20s));
    client.join();
    BOOST_TEST(f.count("list") == 2u);
    // wait_received counts requests as they are read, before a delay fault holds them.
    BOOST_TEST(f.emu().wait_received("list", 2, 0ms));
    BOOST_TEST(!f.emu().wait_received("cancel", 1, 0ms));
    f.emu().add_fault(aibatch::emulator::parse_fault("delay:200:1:list"));
    std::thread held_back([&] { f.call("GET", "/v1/messages/batches"); });
    BOOST_TEST(f.emu().wait_received("list", 3, 20s));
    held_back.join();
    BOOST_TEST(f.count("list") == 3u);
    std::string id(f.create(batch_of({text_request("a", "hi")})).body.at("id").as_string());
    BOOST_TEST(f.emu().wait_ended(id, 20s));                  // its 150 ms of processing
    BOOST_TEST(!f.emu().wait_ended("msgbatch_unknown", 20s)); // at once: no such batch
}

BOOST_AUTO_TEST_CASE(delete_only_after_the_batch_has_ended) {
    emulator_fixture f(emulator_fixture::held());
    std::string id(f.create(batch_of({text_request("a", "hi")})).body.at("id").as_string());
    check_error(f.call("DELETE", "/v1/messages/batches/" + id), 400, "invalid_request_error",
                "still processing");
    f.release(id);
    f.wait_ended(id);
    auto d = f.call("DELETE", "/v1/messages/batches/" + id);
    BOOST_TEST_REQUIRE(d.status == 200u, d.raw);
    BOOST_TEST(d.body.at("id") == json::value(id));
    BOOST_TEST(d.body.at("type") == "message_batch_deleted");
    check_error(f.call("GET", "/v1/messages/batches/" + id), 404, "not_found_error", id);
    BOOST_TEST(f.emu().batch_count() == 0u);
}

BOOST_AUTO_TEST_CASE(messages_and_count_tokens_use_the_same_model) {
    emulator_fixture f;
    auto req = tool_request("unused", "classify this", spam_schema());
    auto m = f.call("POST", "/v1/messages", json::serialize(req.at("params")));
    BOOST_TEST_REQUIRE(m.status == 200u, m.raw);
    BOOST_TEST(m.body.at("content").at(0).at("type") == "tool_use");
    BOOST_TEST(m.body.at("usage").at("service_tier") == "standard");
    auto params = req.at("params").as_object();
    params.erase("max_tokens");
    auto t = f.call("POST", "/v1/messages/count_tokens", json::serialize(params));
    BOOST_TEST_REQUIRE(t.status == 200u, t.raw);
    BOOST_TEST(t.body.at("input_tokens") == m.body.at("usage").at("input_tokens"));
    check_error(f.call("POST", "/v1/messages", R"({"model":"claude-haiku-4-5","messages":[]})"),
                400, "invalid_request_error", "max_tokens");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(emulator_validation)

BOOST_AUTO_TEST_CASE(create_rejects_malformed_batches_naming_the_field) {
    auto opts = emulator_fixture::default_options();
    opts.max_batch_requests = 3;
    emulator_fixture f(opts);
    check_error(f.call("POST", "/v1/messages/batches", "{not json"), 400, "invalid_request_error",
                "parsing");
    check_error(f.create(json::object{}), 400, "invalid_request_error", "requests: Field required");
    check_error(f.create(json::object{{"requests", json::array{}}}), 400, "invalid_request_error",
                "at least 1 item");
    check_error(f.create(batch_of({text_request("ok", "a"), text_request("bad id!", "b")})), 400,
                "invalid_request_error", "requests.1.custom_id");
    check_error(f.create(batch_of({text_request(std::string(65, 'x'), "a")})), 400,
                "invalid_request_error", "requests.0.custom_id");
    check_error(f.create(batch_of({text_request("same", "a"), text_request("same", "b")})), 400,
                "invalid_request_error", "Duplicate custom_id 'same'");
    check_error(f.create(batch_of({json::object{{"custom_id", "a"}, {"params", "text"}}})), 400,
                "invalid_request_error", "requests.0.params");
    check_error(f.create(batch_of({json::object{{"custom_id", "a"}}})), 400,
                "invalid_request_error", "requests.0.params: Field required");
    check_error(f.create(batch_of({text_request("a", "1"), text_request("b", "2"),
                                   text_request("c", "3"), text_request("d", "4")})),
                400, "invalid_request_error", "at most 3 items");
    BOOST_TEST(f.emu().batches_created() == 0u);
}

BOOST_AUTO_TEST_CASE(a_body_over_the_byte_limit_gets_413_request_too_large) {
    auto opts = emulator_fixture::default_options();
    opts.max_batch_bytes = 4000;
    emulator_fixture f(opts);
    check_error(f.create(batch_of({text_request("big", std::string(5000, 'x'))})), 413,
                "request_too_large");
    BOOST_TEST(f.emu().batches_created() == 0u);
}

BOOST_AUTO_TEST_CASE(bad_params_come_back_as_errored_items) {
    emulator_fixture f;
    auto with = [](const std::string& id, auto mutate) {
        auto r = text_request(id, "hello");
        mutate(r.at("params").as_object());
        return r;
    };
    auto body = batch_of({
        with("no_max_tokens", [](json::object& p) { p.erase("max_tokens"); }),
        with("unknown_model", [](json::object& p) { p["model"] = "claude-nonexistent-9"; }),
        with("empty_messages", [](json::object& p) { p["messages"] = json::array{}; }),
        with("assistant_first",
             [](json::object& p) {
                 p["messages"] = json::parse(R"([{"role":"assistant","content":"hi"}])");
             }),
        // Accepted: the API combines consecutive turns of one role (issue 14, item 4).
        with("same_role_turns",
             [](json::object& p) {
                 p["messages"] = json::parse(
                     R"([{"role":"user","content":"a"},{"role":"user","content":"b"}])");
             }),
        with("empty_content",
             [](json::object& p) {
                 p["messages"] = json::parse(R"([{"role":"user","content":""}])");
             }),
        with("bad_tool_choice",
             [](json::object& p) {
                 p["tool_choice"] = json::parse(R"({"type":"tool","name":"x"})");
             }),
        with("zero_max_tokens", [](json::object& p) { p["max_tokens"] = 0; }),
        text_request("fine", "hello"),
    });
    auto a = f.create(body);
    BOOST_TEST_REQUIRE(a.status == 200u, a.raw); // per-item problems do not fail the create
    std::string id(a.body.at("id").as_string());
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("errored") == 7);
    BOOST_TEST(ended.at("request_counts").at("succeeded") == 2);
    auto r = by_custom_id(f.results(id));
    auto expect = [&](const std::string& cid, const std::string& type, const std::string& part) {
        const auto& res = r.at(cid);
        BOOST_TEST(res.at("type") == "errored", cid);
        const auto& err = res.at("error");
        BOOST_TEST(err.at("type") == "error");
        BOOST_TEST(err.at("request_id").as_string().starts_with("req_"));
        BOOST_TEST(err.at("error").at("type") == json::value(type), cid);
        std::string msg(err.at("error").at("message").as_string());
        BOOST_TEST(msg.find(part) != std::string::npos, cid << ": " << msg);
    };
    expect("no_max_tokens", "invalid_request_error", "max_tokens: Field required");
    expect("unknown_model", "not_found_error", "claude-nonexistent-9");
    expect("empty_messages", "invalid_request_error", "at least one message");
    expect("assistant_first", "invalid_request_error", "first message");
    BOOST_TEST(r.at("same_role_turns").at("type") == "succeeded");
    expect("empty_content", "invalid_request_error", "non-empty");
    expect("bad_tool_choice", "invalid_request_error", "tool_choice");
    expect("zero_max_tokens", "invalid_request_error", "greater than or equal to 1");
    BOOST_TEST(r.at("fine").at("type") == "succeeded");
}

BOOST_AUTO_TEST_CASE(schemas_past_the_emulator_limits_get_400_or_errored_items) {
    emulator_fixture f;
    const std::pair<const char*, const char*> cases[] = {
        {"ref_cycle", R"({"type":"object","$ref":"#"})"},
        {"huge_min_length",
         R"({"type":"object","properties":{"s":{"type":"string","minLength":42949672961}},"required":["s"]})"},
        {"huge_min_items",
         R"({"type":"object","properties":{"a":{"type":"array","minItems":1e9}},"required":["a"]})"},
        {"nested_min_items",
         R"({"type":"object","properties":{"a":{"type":"array","minItems":5000,"items":{"type":"array","minItems":5000}}},"required":["a"]})"},
        {"huge_minimum",
         R"({"type":"object","properties":{"n":{"type":"integer","minimum":1e300}},"required":["n"]})"},
    };
    const char* expected[] = {"$ref cycle", "minLength: 42949672961 is above the emulator's limit",
                              "minItems: 1000000000 is above the emulator's limit",
                              "could be larger than the emulator's limit", "minimum: "};
    json::array items;
    for (const auto& [id, schema] : cases) {
        auto r = tool_request(id, "go", json::parse(schema));
        // The same params as a Messages request: 400 naming the keyword.
        auto direct = f.call("POST", "/v1/messages", json::serialize(r.at("params")));
        check_error(direct, 400, "invalid_request_error", "input_schema: ");
        items.push_back(std::move(r));
    }
    items.push_back(text_request("fine", "hello"));
    auto a = f.create(json::object{{"requests", items}});
    BOOST_TEST_REQUIRE(a.status == 200u, a.raw);
    std::string id(a.body.at("id").as_string());
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("errored") == 5);
    auto r = by_custom_id(f.results(id));
    for (std::size_t i = 0; i < std::size(cases); ++i) {
        const auto& res = r.at(cases[i].first);
        BOOST_TEST(res.at("type") == "errored", cases[i].first);
        std::string msg(res.at("error").at("error").at("message").as_string());
        BOOST_TEST(msg.find(expected[i]) != std::string::npos, cases[i].first << ": " << msg);
    }
    BOOST_TEST(r.at("fine").at("type") == "succeeded");
}

BOOST_AUTO_TEST_CASE(headers_paths_and_methods_are_checked_like_the_api) {
    auto opts = emulator_fixture::default_options();
    opts.api_key = "sk-ant-test-key";
    emulator_fixture f(opts);
    check_error(f.call("GET", "/v1/messages/batches"), 401, "authentication_error", "x-api-key");
    f.api_key = "sk-ant-wrong";
    check_error(f.call("GET", "/v1/messages/batches"), 401, "authentication_error");
    f.api_key = "sk-ant-test-key";
    BOOST_TEST(f.call("GET", "/v1/messages/batches").status == 200u);
    {
        // The official SDKs send the key as a bearer token; the API accepts that too.
        aibatch::http_request req;
        req.target = "/v1/messages/batches";
        req.headers.add("anthropic-version", "2023-06-01");
        req.headers.add("authorization", "Bearer sk-ant-test-key");
        BOOST_TEST(aibatch::test::run_task(f.ioc(), f.http().request(req)).status == 200u);
        aibatch::http_request wrong = req;
        wrong.headers = {};
        wrong.headers.add("anthropic-version", "2023-06-01");
        wrong.headers.add("authorization", "Bearer sk-ant-other");
        BOOST_TEST(aibatch::test::run_task(f.ioc(), f.http().request(wrong)).status == 401u);
    }
    check_error(f.call("GET", "/v1/messages/batches", "", false), 400, "invalid_request_error",
                "anthropic-version");
    check_error(f.call("GET", "/v1/nothing/here"), 404, "not_found_error");
    auto put = f.call("PUT", "/v1/messages/batches");
    check_error(put, 405, "invalid_request_error", "PUT");
    BOOST_TEST(put.headers.find("allow").has_value());
    check_error(f.call("GET", "/v1/messages/batches/msgbatch_missing"), 404, "not_found_error",
                "msgbatch_missing");
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(emulator_model)

BOOST_AUTO_TEST_CASE(scripted_output_and_results_are_exact) {
    emulator_fixture f;
    auto body = batch_of({
        tool_request("exact", "x\nEMULATOR_OUTPUT: {\"is_spam\":true,\"confidence\":0.25}",
                     spam_schema()),
        text_request("err", "x\nEMULATOR_RESULT: errored"),
        text_request("exp", "x\nEMULATOR_RESULT: expired"),
        text_request("can", "x\nEMULATOR_RESULT: canceled"),
        text_request("txt", "EMULATOR_OUTPUT: {\"free\": \"text\"}"),
    });
    std::string id(f.create(body).body.at("id").as_string());
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("succeeded") == 2);
    BOOST_TEST(ended.at("request_counts").at("errored") == 1);
    BOOST_TEST(ended.at("request_counts").at("expired") == 1);
    BOOST_TEST(ended.at("request_counts").at("canceled") == 1);
    auto r = by_custom_id(f.results(id));
    BOOST_TEST(r.at("exact").at("message").at("content").at(0).at("input") ==
               json::parse(R"({"is_spam":true,"confidence":0.25})"));
    BOOST_TEST(r.at("err").at("error").at("error").at("type") == "api_error");
    BOOST_TEST(r.at("exp").at("type") == "expired");
    BOOST_TEST(r.at("can").at("type") == "canceled");
    BOOST_TEST(r.at("txt").at("message").at("content").at(0).at("text") == "{\"free\": \"text\"}");
}

BOOST_AUTO_TEST_CASE(json_schema_output_is_one_text_block_of_conforming_json) {
    emulator_fixture f;
    auto req = text_request("js", "classify");
    req.at("params").as_object()["output_config"] = json::object{
        {"format", json::object{{"type", "json_schema"}, {"schema", native_spam_schema()}}}};
    std::string id(f.create(batch_of({req})).body.at("id").as_string());
    f.wait_ended(id);
    auto lines = f.results(id);
    const auto& m = lines.at(0).at("result").at("message");
    BOOST_TEST(m.at("stop_reason") == "end_turn");
    BOOST_TEST(m.at("content").as_array().size() == 1u);
    auto v = json::parse(m.at("content").at(0).at("text").as_string());
    BOOST_TEST(v.at("is_spam").is_bool());
    BOOST_TEST(v.as_object().size() == 6u);
}

BOOST_AUTO_TEST_CASE(small_max_tokens_stops_with_max_tokens) {
    emulator_fixture f;
    auto req = tool_request("short", "x", spam_schema());
    req.at("params").as_object()["max_tokens"] = 2;
    std::string id(f.create(batch_of({req})).body.at("id").as_string());
    f.wait_ended(id);
    auto lines = f.results(id);
    const auto& m = lines.at(0).at("result").at("message");
    BOOST_TEST(m.at("stop_reason") == "max_tokens");
}

BOOST_AUTO_TEST_CASE(same_seed_and_requests_give_identical_results) {
    std::string first, second;
    for (std::string* out : {&first, &second}) {
        emulator_fixture f;
        json::array reqs;
        for (int i = 0; i < 10; ++i)
            reqs.push_back(tool_request(numbered("r", i), numbered("p", i), spam_schema()));
        std::string id(f.create(json::object{{"requests", reqs}}).body.at("id").as_string());
        f.wait_ended(id);
        *out = f.call("GET", "/v1/messages/batches/" + id + "/results").raw;
    }
    BOOST_TEST(first.size() > 1000u);
    BOOST_TEST((first == second));
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(emulator_faults)

BOOST_AUTO_TEST_CASE(status_fault_answers_the_next_n_requests_with_the_error) {
    emulator_fixture f;
    f.emu().add_fault(aibatch::emulator::parse_fault("status:429:2"));
    auto a = f.call("GET", "/v1/messages/batches");
    check_error(a, 429, "rate_limit_error");
    BOOST_TEST(a.headers.find("retry-after").value_or("") == "1");
    check_error(f.call("GET", "/v1/messages/batches"), 429, "rate_limit_error");
    BOOST_TEST(f.call("GET", "/v1/messages/batches").status == 200u);
    f.emu().add_fault(aibatch::emulator::parse_fault("status:529:1:create"));
    BOOST_TEST(f.call("GET", "/v1/messages/batches").status == 200u); // other endpoint
    check_error(f.create(batch_of({text_request("a", "b")})), 529, "overloaded_error");
    f.emu().add_fault(aibatch::emulator::parse_fault("status:500:1"));
    check_error(f.call("GET", "/v1/messages/batches"), 500, "api_error");
}

BOOST_AUTO_TEST_CASE(drop_closes_the_connection_before_any_response) {
    emulator_fixture f;
    f.emu().add_fault(aibatch::emulator::parse_fault("drop:1"));
    BOOST_CHECK_THROW(f.create(batch_of({text_request("a", "b")})), aibatch::error);
    BOOST_TEST(f.emu().batches_created() == 0u);
    BOOST_TEST(f.call("GET", "/v1/messages/batches").status == 200u);
}

BOOST_AUTO_TEST_CASE(drop_after_creates_the_batch_then_closes_the_connection) {
    emulator_fixture f;
    f.emu().add_fault(aibatch::emulator::parse_fault("drop-after:1:create"));
    try {
        f.create(batch_of({text_request("a", "b")}));
        BOOST_FAIL("no error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::connection_closed, e.what());
    }
    BOOST_TEST(f.emu().batches_created() == 1u);
}

BOOST_AUTO_TEST_CASE(cut_results_stops_the_stream_after_the_given_bytes) {
    emulator_fixture f;
    json::array reqs;
    for (int i = 0; i < 20; ++i)
        reqs.push_back(text_request(numbered("r", i), "hello"));
    std::string id(f.create(json::object{{"requests", reqs}}).body.at("id").as_string());
    f.wait_ended(id);
    f.emu().add_fault(aibatch::emulator::parse_fault("cut-results:1000"));
    std::string got;
    auto read = [&]() -> aibatch::task<void> {
        aibatch::http_request req;
        req.target = "/v1/messages/batches/" + id + "/results";
        req.headers.add("anthropic-version", "2023-06-01");
        req.headers.add("x-api-key", f.api_key);
        auto s = co_await f.http().open(req);
        for (;;) {
            auto piece = co_await s.read_some();
            if (piece.empty())
                break;
            got += piece;
        }
    };
    try {
        aibatch::test::run_task(f.ioc(), read());
        BOOST_FAIL("the stream was not cut");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::connection_closed, e.what());
    }
    BOOST_TEST(got.size() == 1000u);
    BOOST_TEST(f.results(id).size() == 20u); // the next download is whole
}

BOOST_AUTO_TEST_CASE(delay_holds_the_response_back) {
    emulator_fixture f;
    f.emu().add_fault(aibatch::emulator::parse_fault("delay:300:1"));
    auto t0 = std::chrono::steady_clock::now();
    BOOST_TEST(f.call("GET", "/v1/messages/batches").status == 200u);
    BOOST_TEST((std::chrono::steady_clock::now() - t0) >= 300ms);
    t0 = std::chrono::steady_clock::now();
    f.call("GET", "/v1/messages/batches");
    BOOST_TEST((std::chrono::steady_clock::now() - t0) < 300ms);
}

BOOST_AUTO_TEST_CASE(expire_fault_returns_unprocessed_items_as_expired) {
    emulator_fixture f;
    f.emu().add_fault(aibatch::emulator::parse_fault("expire:1"));
    json::array reqs;
    for (int i = 0; i < 10; ++i)
        reqs.push_back(text_request(numbered("r", i), "hello"));
    std::string id(f.create(json::object{{"requests", reqs}}).body.at("id").as_string());
    auto ended = f.wait_ended(id);
    auto expired = ended.at("request_counts").at("expired").as_int64();
    auto succeeded = ended.at("request_counts").at("succeeded").as_int64();
    BOOST_TEST(expired > 0);
    BOOST_TEST(succeeded > 0);
    BOOST_TEST(expired + succeeded == 10);
}

BOOST_AUTO_TEST_CASE(fault_specs_are_parsed_or_rejected_with_the_forms) {
    using aibatch::emulator::fault;
    using aibatch::emulator::parse_fault;
    auto s = parse_fault("status:429:3:results");
    BOOST_TEST((s.what == fault::kind::status));
    BOOST_TEST(s.status == 429u);
    BOOST_TEST(s.count == 3u);
    BOOST_TEST(s.endpoint == "results");
    BOOST_TEST(parse_fault("status:500:0.5").fraction == 0.5);
    BOOST_TEST(parse_fault("cut-results:4096").bytes == 4096u);
    BOOST_TEST(parse_fault("delay:250:2").delay.count() == 250);
    for (const char* bad : {"status:200:1", "drop", "cut-results:x", "bogus:1", "drop:1:nowhere",
                            "status:500:1.e999", "status:500:0.5x", "status:500:."}) {
        try {
            parse_fault(bad);
            BOOST_FAIL(std::string("accepted ") + bad);
        } catch (const std::invalid_argument& e) {
            BOOST_TEST(std::string(e.what()).find("forms:") != std::string::npos);
        }
    }
}

BOOST_AUTO_TEST_SUITE_END()

BOOST_AUTO_TEST_SUITE(emulator_tls)

BOOST_AUTO_TEST_CASE(serves_https_with_a_given_certificate) {
    const auto& pki = aibatch::test::test_pki::get();
    auto opts = emulator_fixture::default_options();
    opts.tls_cert = pki.server_cert;
    opts.tls_key = pki.server_key;
    aibatch::transport_options t;
    t.ca_file = pki.ca_cert.string();
    emulator_fixture f(opts, emulator_fixture::default_client_config(), t);
    BOOST_TEST(f.emu().url().starts_with("https://localhost:"));
    auto a = f.create(batch_of({text_request("a", "hello")}));
    BOOST_TEST_REQUIRE(a.status == 200u, a.raw);
    std::string id(a.body.at("id").as_string());
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("results_url").as_string().starts_with("https://localhost:"));
    BOOST_TEST(f.results(id).size() == 1u);
}

BOOST_AUTO_TEST_SUITE_END()

// Issue 14: the emulator refuses what the real API refuses, with the API's words where they
// are known (README, "What the emulator checks").
BOOST_AUTO_TEST_SUITE(emulator_rules)

namespace {

// params of a plain request on `model`, changed by `mutate`.
template <class Mutate>
json::object request_with(const std::string& id, const std::string& model, Mutate mutate) {
    auto r = text_request(id, "hello");
    auto& p = r.at("params").as_object();
    p["model"] = model;
    mutate(p);
    return r;
}

void native_format(json::object& p, json::value schema) {
    p["output_config"] =
        json::object{{"format", json::object{{"type", "json_schema"}, {"schema", schema}}}};
}

void forced_tool(json::object& p) {
    p["tools"] = json::parse(R"([{"name":"answer","input_schema":{"type":"object"}}])");
    p["tool_choice"] = json::parse(R"({"type":"tool","name":"answer"})");
}

struct refused {
    json::object request;
    const char* type;
    const char* message; ///< a part of the message
};

// A day on which claude-3-haiku-20240307 (end of life 2026-04-20) is retired and
// claude-sonnet-4-0 (2026-06-15) is not.
aibatch::emulator::options on_2026_05_01() {
    auto o = emulator_fixture::default_options();
    o.today = std::chrono::sys_days(std::chrono::year(2026) / 5 / 1);
    return o;
}

} // namespace

BOOST_AUTO_TEST_CASE(refused_requests_are_errored_lines_and_400s_with_the_api_message) {
    emulator_fixture f(on_2026_05_01());
    const std::string haiku = "claude-haiku-4-5";
    std::vector<refused> cases = {
        {request_with("so_no_additional", haiku,
                      [](json::object& p) {
                          native_format(p, json::parse(R"({"type":"object",
                              "properties":{"a":{"type":"string"}},"required":["a"]})"));
                      }),
         "invalid_request_error",
         "output_config.format.schema: For 'object' type, 'additionalProperties' must be "
         "explicitly set to false"},
        {request_with("so_map", haiku,
                      [](json::object& p) {
                          native_format(p, json::parse(R"({"type":"object","properties":{
                              "m":{"type":"object","additionalProperties":{"type":"integer"}}},
                              "required":["m"],"additionalProperties":false})"));
                      }),
         "invalid_request_error", "properties.m: For 'object' type, 'additionalProperties' must"},
        {request_with("so_recursive", haiku,
                      [](json::object& p) {
                          native_format(p, json::parse(R"({"type":"object","properties":{
                              "next":{"anyOf":[{"$ref":"#"},{"type":"null"}]}},
                              "required":["next"],"additionalProperties":false})"));
                      }),
         "invalid_request_error", "recursive schemas are not supported"},
        {request_with("so_minimum", haiku,
                      [](json::object& p) { native_format(p, spam_schema()); }),
         "invalid_request_error",
         "properties.confidence: For 'number' type, properties maximum, minimum are not "
         "supported"},
        {request_with("so_min_length", haiku,
                      [](json::object& p) {
                          native_format(p, json::parse(R"({"type":"object","properties":{
                              "s":{"type":"string","minLength":3}},
                              "required":["s"],"additionalProperties":false})"));
                      }),
         "invalid_request_error", "For 'string' type, property minLength is not supported"},
        {request_with("so_min_items", haiku,
                      [](json::object& p) {
                          native_format(p, json::parse(R"({"type":"object","properties":{
                              "a":{"type":"array","items":{"type":"string"},"minItems":2}},
                              "required":["a"],"additionalProperties":false})"));
                      }),
         "invalid_request_error", "'minItems' values other than 0 or 1 are not supported"},
        {request_with("so_old_model", "claude-opus-4-1",
                      [](json::object& p) { native_format(p, native_spam_schema()); }),
         "invalid_request_error", "claude-opus-4-1-20250805 does not support structured outputs"},
        {request_with("so_prefill", haiku,
                      [](json::object& p) {
                          native_format(p, native_spam_schema());
                          p["messages"].as_array().push_back(
                              json::object{{"role", "assistant"}, {"content", "{"}});
                      }),
         "invalid_request_error", "prefilled final assistant turn"},
        {request_with("max_tokens_cap", haiku, [](json::object& p) { p["max_tokens"] = 999999; }),
         "invalid_request_error",
         "max_tokens: 999999 > 64000, which is the maximum allowed number of output tokens for "
         "claude-haiku-4-5-20251001"},
        {request_with("temperature", "claude-opus-4-7",
                      [](json::object& p) { p["temperature"] = 0.5; }),
         "invalid_request_error", "temperature: claude-opus-4-7 does not support setting"},
        {request_with("top_p", "claude-opus-4-7", [](json::object& p) { p["top_p"] = 0.5; }),
         "invalid_request_error", "top_p: claude-opus-4-7"},
        {request_with("top_k", "claude-mythos-preview", [](json::object& p) { p["top_k"] = 5; }),
         "invalid_request_error", "top_k: claude-mythos-preview does not accept top_k"},
        {request_with("thinking_forced_tool", "claude-sonnet-4-5",
                      [](json::object& p) {
                          forced_tool(p);
                          p["max_tokens"] = 4096;
                          p["thinking"] = json::parse(R"({"type":"enabled","budget_tokens":2048})");
                      }),
         "invalid_request_error", "Thinking may not be enabled when tool_choice forces tool use."},
        {request_with("thinking_small_budget", "claude-sonnet-4-5",
                      [](json::object& p) {
                          p["thinking"] = json::parse(R"({"type":"enabled","budget_tokens":100})");
                      }),
         "invalid_request_error", "budget_tokens: Input should be greater than or equal to 1024"},
        {request_with("thinking_budget_over_max", "claude-sonnet-4-5",
                      [](json::object& p) {
                          p["max_tokens"] = 2048;
                          p["thinking"] = json::parse(R"({"type":"enabled","budget_tokens":2048})");
                      }),
         "invalid_request_error", "max_tokens must be greater than thinking.budget_tokens"},
        {request_with("bad_tool_name", haiku,
                      [](json::object& p) {
                          p["tools"] = json::parse(
                              R"([{"name":"my tool!","input_schema":{"type":"object"}}])");
                      }),
         "invalid_request_error", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'"},
        // Review s13: the API refuses top-level property keys of a tool's input_schema
        // outside ^[a-zA-Z0-9_.-]{1,64}$ (a space, "filter[x]", past 64 characters), in
        // these words (quoted in many users' reports, e.g. n8n-io/n8n#30590); the
        // emulator accepted them, so aibatch run with such a schema passed every test.
        {request_with("bad_property_key", haiku,
                      [](json::object& p) {
                          p["tools"] = json::parse(R"([{"name":"answer","input_schema":{
                              "type":"object","properties":{"Account Number":{"type":"string"}}}}])");
                      }),
         "invalid_request_error",
         "tools.0.custom.input_schema.properties: Property keys should match pattern "
         "'^[a-zA-Z0-9_.-]{1,64}$'"},
        {request_with("retired", "claude-3-haiku-20240307", [](json::object&) {}),
         "not_found_error", "claude-3-haiku-20240307 reached its end of life on 2026-04-20"},
    };
    json::array items;
    for (const auto& c : cases) {
        // The same params as a Messages request: the status and message of the API.
        auto direct = f.call("POST", "/v1/messages", json::serialize(c.request.at("params")));
        check_error(direct, std::string(c.type) == "not_found_error" ? 404 : 400, c.type,
                    c.message);
        items.push_back(c.request);
    }
    items.push_back(request_with("stream", haiku, [](json::object& p) { p["stream"] = true; }));
    auto a = f.create(json::object{{"requests", items}});
    BOOST_TEST_REQUIRE(a.status == 200u, a.raw); // per-item problems do not fail the create
    std::string id(a.body.at("id").as_string());
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("errored") == cases.size() + 1);
    auto r = by_custom_id(f.results(id));
    for (const auto& c : cases) {
        std::string cid(c.request.at("custom_id").as_string());
        const auto& res = r.at(cid);
        BOOST_TEST_REQUIRE(res.at("type") == "errored", cid);
        BOOST_TEST(res.at("error").at("error").at("type") == json::value(c.type), cid);
        std::string msg(res.at("error").at("error").at("message").as_string());
        BOOST_TEST(msg.find(c.message) != std::string::npos, cid << ": " << msg);
    }
    std::string stream_msg(r.at("stream").at("error").at("error").at("message").as_string());
    BOOST_TEST(stream_msg.find("stream: streaming is not supported") != std::string::npos,
               stream_msg);
}

BOOST_AUTO_TEST_CASE(what_the_api_accepts_succeeds) {
    emulator_fixture f(on_2026_05_01());
    json::array items = {
        request_with("so_subset", "claude-haiku-4-5",
                     [](json::object& p) {
                         native_format(p, json::parse(R"({"type":"object","properties":{
                             "when":{"type":"string","format":"date-time"},
                             "code":{"type":"string","pattern":"^[A-Z]{3}$"},
                             "tags":{"type":"array","items":{"type":"string"},"minItems":1},
                             "kind":{"anyOf":[{"type":"string","enum":["a","b"]},{"type":"null"}]},
                             "n":{"type":["integer","null"],"description":"a count"}},
                             "required":["when","code","tags","kind","n"],
                             "additionalProperties":false})"));
                     }),
        request_with("so_opus_4_6", "claude-opus-4-6",
                     [](json::object& p) { native_format(p, native_spam_schema()); }),
        request_with("sampling_defaults", "claude-opus-4-7",
                     [](json::object& p) {
                         p["temperature"] = 1.0;
                         p["top_p"] = 0.99;
                     }),
        request_with("sampling_4_6", "claude-sonnet-4-6",
                     [](json::object& p) {
                         p["temperature"] = 0.2;
                         p["top_k"] = 5;
                     }),
        request_with("thinking_auto_tools", "claude-sonnet-4-5",
                     [](json::object& p) {
                         forced_tool(p);
                         p["tool_choice"] = json::parse(R"({"type":"auto"})");
                         p["max_tokens"] = 4096;
                         p["thinking"] = json::parse(R"({"type":"enabled","budget_tokens":2048})");
                     }),
        request_with("max_tokens_at_cap", "claude-opus-4-6",
                     [](json::object& p) { p["max_tokens"] = 128000; }),
        request_with("before_end_of_life", "claude-sonnet-4-0", [](json::object&) {}),
        request_with("same_role_turns", "claude-haiku-4-5",
                     [](json::object& p) {
                         p["messages"] = json::parse(R"([{"role":"user","content":"a"},
                             {"role":"user","content":"b"},{"role":"assistant","content":"c"},
                             {"role":"assistant","content":"d"}])");
                     }),
    };
    for (const auto& item : items) {
        auto direct = f.call("POST", "/v1/messages", json::serialize(item.at("params")));
        BOOST_TEST(direct.status == 200u, item.at("custom_id") << ": " << direct.raw);
    }
    std::string id(f.create(json::object{{"requests", items}}).body.at("id").as_string());
    auto ended = f.wait_ended(id);
    BOOST_TEST(ended.at("request_counts").at("succeeded") == items.size(), ended);
    auto r = by_custom_id(f.results(id));
    auto text = r.at("so_subset").at("message").at("content").at(0).at("text").as_string();
    auto v = json::parse(text);
    BOOST_TEST(v.at("tags").as_array().size() >= 1u);
}

BOOST_AUTO_TEST_CASE(a_request_without_a_key_gets_401_and_any_key_passes_without_api_key) {
    emulator_fixture f; // no options::api_key
    f.api_key = "";
    check_error(f.call("GET", "/v1/messages/batches"), 401, "authentication_error", "x-api-key");
    f.api_key = "anything-at-all";
    BOOST_TEST(f.call("GET", "/v1/messages/batches").status == 200u);
}

BOOST_AUTO_TEST_CASE(count_tokens_with_thinking_is_not_judged_by_a_missing_max_tokens) {
    emulator_fixture f;
    auto params = text_request("unused", "hello").at("params").as_object();
    params.erase("max_tokens");
    params["model"] = "claude-sonnet-4-5";
    params["thinking"] = json::parse(R"({"type":"enabled","budget_tokens":2048})");
    auto t = f.call("POST", "/v1/messages/count_tokens", json::serialize(params));
    BOOST_TEST(t.status == 200u, t.raw);
}

BOOST_AUTO_TEST_CASE(transient_404_hides_the_next_batches_for_their_first_milliseconds) {
    // Item 6 of issue 14 is the transient-404 fault: the next N batches created answer
    // 404 to retrieve and results for their first MS milliseconds.
    emulator_fixture f;
    f.emu().add_fault(aibatch::emulator::parse_fault("transient-404:600000:1"));
    std::string hidden(f.create(batch_of({text_request("a", "hi")})).body.at("id").as_string());
    std::string seen(f.create(batch_of({text_request("b", "hi")})).body.at("id").as_string());
    check_error(f.call("GET", "/v1/messages/batches/" + hidden), 404, "not_found_error", hidden);
    check_error(f.call("GET", "/v1/messages/batches/" + hidden + "/results"), 404,
                "not_found_error");
    BOOST_TEST(f.call("GET", "/v1/messages/batches/" + seen).status == 200u); // N = 1
    BOOST_TEST(f.call("POST", "/v1/messages/batches/" + hidden + "/cancel").status == 200u);
}

// cut-request: the connection is reset after BYTES of a request's body; the request is
// logged (status 0) and never carried out; the next request is served as usual.
BOOST_AUTO_TEST_CASE(cut_request_resets_the_connection_mid_body_and_carries_nothing_out) {
    using aibatch::emulator::parse_fault;
    auto f0 = parse_fault("cut-request:1000:2:create");
    BOOST_TEST((f0.what == aibatch::emulator::fault::kind::cut_request));
    BOOST_TEST(f0.bytes == 1000u);
    BOOST_TEST(f0.count == 2u);
    BOOST_TEST(f0.endpoint == "create");
    for (const char* bad : {"cut-request:1000", "cut-request:x:1", "cut-request:10:1:nowhere"})
        BOOST_CHECK_THROW(parse_fault(bad), std::invalid_argument);
    emulator_fixture f;
    f.emu().add_fault(parse_fault("cut-request:100:1:create"));
    auto body = batch_of({text_request("a", std::string(5000, 'x'))});
    // No answer: the connection is reset (the small body was all in the socket already).
    BOOST_CHECK_THROW(f.create(body), aibatch::error);
    BOOST_TEST(f.emu().batches_created() == 0u);
    BOOST_TEST(f.create(body).status == 200u);
    BOOST_TEST(f.emu().batches_created() == 1u);
    std::size_t cut = 0;
    for (const auto& le : f.emu().log())
        cut += le.endpoint == "create" && le.status == 0;
    BOOST_TEST(cut == 1u);
}

// Found by the hostile review: transient-404 took no :ENDPOINT, unlike the other faults.
BOOST_AUTO_TEST_CASE(transient_404_with_an_endpoint_hides_the_batch_from_that_endpoint_only) {
    using aibatch::emulator::parse_fault;
    BOOST_TEST(parse_fault("transient-404:100:2:results").endpoint == "results");
    for (const char* bad : {"transient-404:100:1:list", "transient-404:100:1:create",
                            "transient-404:100:1:nowhere", "transient-404:100:1:results:x"})
        BOOST_CHECK_THROW(parse_fault(bad), std::invalid_argument);
    emulator_fixture f;
    f.emu().add_fault(parse_fault("transient-404:600000:1:results"));
    f.emu().add_fault(parse_fault("transient-404:600000:1:cancel"));
    std::string a(f.create(batch_of({text_request("a", "hi")})).body.at("id").as_string());
    std::string b(f.create(batch_of({text_request("b", "hi")})).body.at("id").as_string());
    BOOST_TEST(f.call("GET", "/v1/messages/batches/" + a).status == 200u);
    check_error(f.call("GET", "/v1/messages/batches/" + a + "/results"), 404, "not_found_error");
    BOOST_TEST(f.call("POST", "/v1/messages/batches/" + a + "/cancel").status == 200u);
    BOOST_TEST(f.call("GET", "/v1/messages/batches/" + b).status == 200u);
    check_error(f.call("POST", "/v1/messages/batches/" + b + "/cancel"), 404, "not_found_error", b);
}

BOOST_AUTO_TEST_SUITE_END()

// ------------------------------------------------------------------ prompt caching
// cache_control breakpoints as the API reports them (usage.cache_creation_input_tokens,
// cache_read_input_tokens, cache_creation.ephemeral_5m/1h_input_tokens) and refuses them.
BOOST_AUTO_TEST_SUITE(emulator_prompt_cache)

namespace {

// A text block of `chars` characters (about chars / 4 tokens), with a cache_control
// breakpoint of `ttl` ("" for the default, "none" for no breakpoint).
json::object text_block(std::size_t chars, const std::string& ttl, char fill = 'x') {
    json::object b{{"type", "text"}, {"text", std::string(chars, fill)}};
    if (ttl != "none") {
        json::object cc{{"type", "ephemeral"}};
        if (!ttl.empty())
            cc["ttl"] = ttl;
        b["cache_control"] = std::move(cc);
    }
    return b;
}

// Params with a system prompt of these blocks and a short user turn.
json::object cached_params(const std::string& model, json::array system,
                           const std::string& question = "What is in the text?") {
    return json::object{
        {"model", model},
        {"max_tokens", 64},
        {"system", std::move(system)},
        {"messages", json::array{json::object{{"role", "user"}, {"content", question}}}}};
}

struct cache_tokens {
    std::uint64_t input = 0, created = 0, read = 0, five_minutes = 0, one_hour = 0;
};

cache_tokens usage_of(const json::value& message) {
    const auto& u = message.at("usage");
    cache_tokens t;
    t.input = u.at("input_tokens").to_number<std::uint64_t>();
    t.created = u.at("cache_creation_input_tokens").to_number<std::uint64_t>();
    t.read = u.at("cache_read_input_tokens").to_number<std::uint64_t>();
    t.five_minutes =
        u.at("cache_creation").at("ephemeral_5m_input_tokens").to_number<std::uint64_t>();
    t.one_hour = u.at("cache_creation").at("ephemeral_1h_input_tokens").to_number<std::uint64_t>();
    return t;
}

cache_tokens message_usage(emulator_fixture& f, const json::object& params) {
    auto a = f.call("POST", "/v1/messages", json::serialize(params));
    BOOST_REQUIRE_MESSAGE(a.status == 200u, a.raw);
    return usage_of(a.body);
}

std::uint64_t counted(emulator_fixture& f, json::object params) {
    params.erase("max_tokens");
    auto a = f.call("POST", "/v1/messages/count_tokens", json::serialize(params));
    BOOST_REQUIRE_MESSAGE(a.status == 200u, a.raw);
    return a.body.at("input_tokens").to_number<std::uint64_t>();
}

} // namespace

BOOST_AUTO_TEST_CASE(the_first_request_writes_the_prefix_and_the_next_reads_it) {
    emulator_fixture f;
    // 24,000 characters: about 6,000 tokens, past Haiku 4.5's minimum of 4,096.
    auto params = cached_params("claude-haiku-4-5", json::array{text_block(24000, "")});
    const std::uint64_t total = counted(f, params);
    auto first = message_usage(f, params);
    BOOST_TEST(first.created > 4096u);
    BOOST_TEST(first.read == 0u);
    BOOST_TEST(first.five_minutes == first.created);
    BOOST_TEST(first.one_hour == 0u);
    BOOST_TEST(first.input + first.created == total); // input counts only what follows
    BOOST_TEST(first.input < 100u);

    auto second = message_usage(f, params);
    BOOST_TEST(second.created == 0u);
    BOOST_TEST(second.read == first.created);
    BOOST_TEST(second.input == first.input);

    // Another question after the same prefix reads it too; another model does not.
    auto other_question = params;
    other_question["messages"] = json::array{
        json::object{{"role", "user"}, {"content", "A different question, longer than the first"}}};
    auto third = message_usage(f, other_question);
    BOOST_TEST(third.read == first.created);
    BOOST_TEST(third.input > first.input);
    auto sonnet = params;
    sonnet["model"] = "claude-sonnet-4-5";
    auto fourth = message_usage(f, sonnet);
    BOOST_TEST(fourth.read == 0u);
    BOOST_TEST(fourth.created == first.created);
}

BOOST_AUTO_TEST_CASE(a_prefix_below_the_model_minimum_is_not_cached) {
    emulator_fixture f;
    // 8,000 characters: about 2,000 tokens, below Haiku 4.5's 4,096, above Sonnet 4.5's
    // 1,024.
    auto haiku = cached_params("claude-haiku-4-5", json::array{text_block(8000, "")});
    for (int i = 0; i < 2; ++i) {
        auto u = message_usage(f, haiku);
        BOOST_TEST(u.created == 0u);
        BOOST_TEST(u.read == 0u);
        BOOST_TEST(u.input == counted(f, haiku));
    }
    auto sonnet = haiku;
    sonnet["model"] = "claude-sonnet-4-5";
    BOOST_TEST(message_usage(f, sonnet).created > 1024u);
    BOOST_TEST(message_usage(f, sonnet).read > 1024u);
}

BOOST_AUTO_TEST_CASE(one_hour_and_five_minute_writes_are_reported_apart) {
    emulator_fixture f;
    // A 1-hour breakpoint on the tools, a 5-minute one at the end of the system prompt.
    auto params = cached_params("claude-sonnet-4-5", json::array{text_block(8000, "5m")});
    json::object tool{{"name", "lookup"},
                      {"description", std::string(8000, 'd')},
                      {"input_schema", json::object{{"type", "object"}}},
                      {"cache_control", json::object{{"type", "ephemeral"}, {"ttl", "1h"}}}};
    params["tools"] = json::array{tool};
    auto first = message_usage(f, params);
    BOOST_TEST(first.one_hour > 2000u);     // the tools
    BOOST_TEST(first.five_minutes > 2000u); // the system prompt after them
    BOOST_TEST(first.created == first.one_hour + first.five_minutes);
    BOOST_TEST(first.input + first.created == counted(f, params));
    // Another system prompt after the same tools: the tools are read, the rest written.
    params["system"] = json::array{text_block(8000, "5m", 'y')};
    auto second = message_usage(f, params);
    BOOST_TEST(second.read == first.one_hour);
    BOOST_TEST(second.one_hour == 0u);
    BOOST_TEST(second.five_minutes == first.five_minutes);
}

BOOST_AUTO_TEST_CASE(items_of_a_batch_sharing_a_prefix_write_it_once_and_read_it_after) {
    emulator_fixture f;
    json::array requests;
    for (int i = 0; i < 6; ++i) {
        auto p = cached_params("claude-haiku-4-5", json::array{text_block(24000, "1h")},
                               "Question " + std::to_string(i));
        requests.push_back(json::object{{"custom_id", numbered("q", i)}, {"params", p}});
    }
    auto c = f.create(json::object{{"requests", requests}});
    BOOST_REQUIRE_MESSAGE(c.status == 200u, c.raw);
    std::string id(c.body.at("id").as_string());
    f.wait_ended(id);
    std::size_t writes = 0, reads = 0;
    std::uint64_t written = 0;
    for (const auto& line : f.results(id)) {
        BOOST_REQUIRE(line.at("result").at("type") == "succeeded");
        auto u = usage_of(line.at("result").at("message"));
        if (u.created > 0) {
            ++writes;
            written = u.created;
            BOOST_TEST(u.one_hour == u.created);
        } else if (u.read > 0) {
            ++reads;
        }
    }
    BOOST_TEST(writes == 1u);
    BOOST_TEST(reads == 5u);
    BOOST_TEST(written > 4096u);
    // The same prefix through POST /v1/messages, within the hour: read.
    BOOST_TEST(message_usage(f, requests[0].at("params").as_object()).read == written);
}

BOOST_AUTO_TEST_CASE(breakpoints_the_api_refuses_are_400s_and_errored_items) {
    emulator_fixture f;
    const std::string haiku = "claude-haiku-4-5";
    json::array five;
    for (int i = 0; i < 5; ++i)
        five.push_back(text_block(10, ""));
    json::array four;
    for (int i = 0; i < 4; ++i)
        four.push_back(text_block(10, "1h"));
    auto automatic = cached_params(haiku, four);
    automatic["cache_control"] = json::object{{"type", "ephemeral"}, {"ttl", "1h"}};
    auto late_hour = cached_params(haiku, json::array{text_block(10, "5m")});
    late_hour["messages"] = json::array{json::object{
        {"role", "user"}, {"content", json::array{text_block(10, "none"), text_block(10, "1h")}}}};
    auto default_then_hour = cached_params(haiku, json::array{text_block(10, "")});
    default_then_hour["tools"] =
        json::array{json::object{{"name", "t"},
                                 {"input_schema", json::object{{"type", "object"}}},
                                 {"cache_control", json::object{{"type", "ephemeral"}}}}};
    default_then_hour["system"] = json::array{text_block(10, "1h")};
    auto bad_ttl = cached_params(haiku, json::array{text_block(10, "10m")});
    auto bad_type = cached_params(haiku, json::array{text_block(10, "")});
    bad_type["system"].as_array()[0].as_object()["cache_control"] =
        json::object{{"type", "persistent"}};

    const std::vector<std::pair<json::object, std::string>> cases = {
        {cached_params(haiku, five), "A maximum of 4 blocks with cache_control may be provided. "
                                     "Found 5."},
        {automatic, "A maximum of 4 blocks with cache_control may be provided. Found 5."},
        {late_hour, "messages.0.content.1.cache_control.ttl: a ttl='1h' cache_control block "
                    "must not come after a ttl='5m' cache_control block. Note that blocks are "
                    "processed in the following order: `tools`, `system`, `messages`."},
        {default_then_hour, "system.0.cache_control.ttl: a ttl='1h' cache_control block must "
                            "not come after a ttl='5m' cache_control block."},
        {bad_ttl, "system.0.cache_control.ttl: Input should be '5m' or '1h'"},
        {bad_type, "system.0.cache_control"},
    };
    json::array requests;
    for (std::size_t i = 0; i < cases.size(); ++i) {
        BOOST_TEST_CONTEXT("case " << i) {
            check_error(f.call("POST", "/v1/messages", json::serialize(cases[i].first)), 400,
                        "invalid_request_error", cases[i].second);
        }
        requests.push_back(json::object{{"custom_id", numbered("c", static_cast<int>(i))},
                                        {"params", cases[i].first}});
    }
    // Four breakpoints, and 1h before 5m, are fine.
    auto ok = cached_params(haiku, json::array{text_block(10, "1h"), text_block(10, "1h"),
                                               text_block(10, "5m"), text_block(10, "")});
    BOOST_TEST(f.call("POST", "/v1/messages", json::serialize(ok)).status == 200u);
    requests.push_back(json::object{{"custom_id", "ok"}, {"params", ok}});

    auto c = f.create(json::object{{"requests", requests}});
    BOOST_REQUIRE_MESSAGE(c.status == 200u, c.raw);
    std::string id(c.body.at("id").as_string());
    f.wait_ended(id);
    auto results = by_custom_id(f.results(id));
    for (std::size_t i = 0; i < cases.size(); ++i) {
        const auto& r = results.at(numbered("c", static_cast<int>(i)));
        BOOST_TEST_CONTEXT("case " << i) {
            BOOST_TEST(r.at("type") == "errored");
            std::string msg(r.at("error").at("error").at("message").as_string());
            BOOST_TEST(msg.find(cases[i].second) != std::string::npos, msg);
        }
    }
    BOOST_TEST(results.at("ok").at("type") == "succeeded");
}

BOOST_AUTO_TEST_SUITE_END()

// options::results_cache_bytes is one budget across all batches: what is kept never
// exceeds it, the least recently downloaded rendering goes first, and a batch whose
// rendering went is generated again, byte for byte.
BOOST_AUTO_TEST_SUITE(emulator_results_cache)

namespace {

// An ended batch of `n` text requests ("<prefix>0", ...), its results downloaded once:
// its id and the raw JSONL.
std::pair<std::string, std::string> downloaded_batch(emulator_fixture& f, const std::string& prefix,
                                                     int n) {
    json::array reqs;
    for (int i = 0; i < n; ++i)
        reqs.push_back(text_request(numbered(prefix, i), numbered("prompt ", i)));
    auto c = f.create(json::object{{"requests", std::move(reqs)}});
    BOOST_REQUIRE_MESSAGE(c.status == 200u, c.raw);
    std::string id(c.body.at("id").as_string());
    f.wait_ended(id);
    auto r = f.call("GET", "/v1/messages/batches/" + id + "/results");
    BOOST_REQUIRE_MESSAGE(r.status == 200u, r.raw);
    return {id, r.raw};
}

std::string results_raw(emulator_fixture& f, const std::string& id) {
    return f.call("GET", "/v1/messages/batches/" + id + "/results").raw;
}

} // namespace

BOOST_AUTO_TEST_CASE(kept_renderings_never_exceed_one_budget_across_batches) {
    auto opts = emulator_fixture::default_options();
    opts.results_cache_bytes = std::size_t{64} << 10;
    emulator_fixture f(opts);
    std::size_t kept_most = 0;
    for (int b = 0; b < 8; ++b) {
        auto [id, raw] = downloaded_batch(f, numbered("b", b) + "-", 40);
        BOOST_TEST_REQUIRE(raw.size() > opts.results_cache_bytes / 4); // 8 cannot all fit
        BOOST_TEST_REQUIRE(raw.size() < opts.results_cache_bytes / 2); // 2 always fit
        auto s = f.emu().results_cache();
        BOOST_TEST(s.budget == opts.results_cache_bytes);
        BOOST_TEST(s.bytes <= opts.results_cache_bytes, "batch " << b << ": " << s.bytes);
        BOOST_TEST(s.batches >= 1u); // the newest is always kept
        kept_most = std::max(kept_most, s.batches);
    }
    auto s = f.emu().results_cache();
    BOOST_TEST(s.evictions >= 4u);
    BOOST_TEST(kept_most <= 3u);
}

BOOST_AUTO_TEST_CASE(results_of_a_batch_whose_rendering_was_evicted_are_the_same_bytes) {
    auto opts = emulator_fixture::default_options();
    opts.results_cache_bytes = std::size_t{40} << 10; // one rendering of 40 requests, not two
    emulator_fixture f(opts);
    auto [a, a_raw] = downloaded_batch(f, "a", 40);
    BOOST_TEST_REQUIRE(a_raw.size() > opts.results_cache_bytes / 2);
    BOOST_TEST_REQUIRE(a_raw.size() <= opts.results_cache_bytes);
    BOOST_TEST(f.emu().results_cache().bytes == a_raw.size()); // a kept
    auto [b, b_raw] = downloaded_batch(f, "b", 40);
    auto s = f.emu().results_cache();
    BOOST_TEST(s.evictions == 1u); // a went to make room for b
    BOOST_TEST(s.batches == 1u);
    BOOST_TEST(s.bytes == b_raw.size());
    BOOST_TEST((results_raw(f, a) == a_raw)); // generated again, kept: b goes
    BOOST_TEST(f.emu().results_cache().evictions == 2u);
    BOOST_TEST((results_raw(f, a) == a_raw)); // from the cache
    BOOST_TEST(f.emu().results_cache().evictions == 2u);
    BOOST_TEST((results_raw(f, b) == b_raw)); // generated again
    BOOST_TEST(f.emu().results_cache().evictions == 3u);
}

BOOST_AUTO_TEST_CASE(a_rendering_larger_than_the_budget_is_not_kept_and_evicts_nothing) {
    auto opts = emulator_fixture::default_options();
    opts.results_cache_bytes = std::size_t{16} << 10;
    emulator_fixture f(opts);
    auto [small, small_raw] = downloaded_batch(f, "s", 2);
    BOOST_TEST(f.emu().results_cache().bytes == small_raw.size());
    auto [big, big_raw] = downloaded_batch(f, "g", 60);
    BOOST_TEST_REQUIRE(big_raw.size() > opts.results_cache_bytes);
    auto s = f.emu().results_cache();
    BOOST_TEST(s.batches == 1u); // only the small one
    BOOST_TEST(s.bytes == small_raw.size());
    BOOST_TEST(s.evictions == 0u);
    BOOST_TEST((results_raw(f, big) == big_raw));
}

BOOST_AUTO_TEST_CASE(deleting_a_batch_drops_its_kept_rendering) {
    emulator_fixture f;
    auto [id, raw] = downloaded_batch(f, "d", 5);
    BOOST_TEST(f.emu().results_cache().bytes == raw.size());
    BOOST_TEST_REQUIRE(f.call("DELETE", "/v1/messages/batches/" + id).status == 200u);
    auto s = f.emu().results_cache();
    BOOST_TEST(s.bytes == 0u);
    BOOST_TEST(s.batches == 0u);
    // What batches() reports of it stays.
    auto all = f.emu().batches();
    BOOST_TEST_REQUIRE(all.size() == 1u);
    BOOST_TEST(all[0].deleted);
    BOOST_TEST(all[0].custom_ids == (std::vector<std::string>{"d0", "d1", "d2", "d3", "d4"}));
}

BOOST_AUTO_TEST_SUITE_END()
