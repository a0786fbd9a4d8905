// The emulator's endpoints as request -> reply functions (service.hpp), without sockets:
// the status, error type and message each answers, and what the request log records.
// The same answers over loopback are in integration/emulator_test.cpp.
#include "emulator/service.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

namespace json = boost::json;
namespace http = boost::beast::http;
namespace emu = aibatch::emulator;
using namespace std::chrono_literals;

namespace {

emu::http_request request(http::verb method, const std::string& target, std::string body = {}) {
    emu::http_request req{method, target, 11};
    req.set("x-api-key", "test-key");
    req.set("anthropic-version", "2023-06-01");
    req.body() = std::move(body);
    req.prepare_payload();
    return req;
}

emu::service make_service(std::chrono::milliseconds processing_time) {
    emu::options opts;
    opts.processing_time = processing_time;
    return emu::service(opts, "http://127.0.0.1:1");
}

json::object item(const std::string& custom_id) {
    json::object params{
        {"model", "claude-haiku-4-5"},
        {"max_tokens", 64},
        {"messages", json::array{json::object{{"role", "user"}, {"content", "hello"}}}}};
    return json::object{{"custom_id", custom_id}, {"params", std::move(params)}};
}

std::string batch_body(std::initializer_list<const char*> custom_ids) {
    json::array a;
    for (const char* id : custom_ids)
        a.push_back(item(id));
    return json::serialize(json::object{{"requests", std::move(a)}});
}

// The error body of a reply, checked against the API's shape; returns its message.
std::string error_message(const emu::reply& r, unsigned status, const std::string& type) {
    BOOST_TEST(r.status == status, r.body);
    auto body = json::parse(r.body);
    BOOST_TEST(body.at("type") == "error");
    BOOST_TEST(body.at("error").at("type") == json::value(type), r.body);
    std::string rid(body.at("request_id").as_string());
    BOOST_TEST(rid.starts_with("req_"));
    bool header_matches = false;
    for (const auto& [k, v] : r.headers)
        if (k == "request-id")
            header_matches = v == rid;
    BOOST_TEST(header_matches);
    return std::string(body.at("error").at("message").as_string());
}

std::string created_id(emu::service& svc, const std::string& body) {
    auto r = svc.answer(request(http::verb::post, "/v1/messages/batches", body));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    return std::string(json::parse(r.body).at("id").as_string());
}

} // namespace

BOOST_AUTO_TEST_SUITE(emulator_handlers)

BOOST_AUTO_TEST_CASE(create_with_a_bad_body_gets_400_naming_what_is_wrong) {
    auto svc = make_service(1h);
    auto answer = [&](const std::string& body) {
        return error_message(svc.answer(request(http::verb::post, "/v1/messages/batches", body)),
                             400, "invalid_request_error");
    };
    BOOST_TEST(answer("{").starts_with("There was an error parsing the body of your request"));
    BOOST_TEST(answer("[]") == "Input should be a valid dictionary");
    BOOST_TEST(answer("{}") == "requests: Field required");
    BOOST_TEST(answer(R"({"requests":[],"x":1})") == "x: Extra inputs are not permitted");
    BOOST_TEST(answer(R"({"requests":[]})") ==
               "requests: List should have at least 1 item after validation, not 0");
    BOOST_TEST(answer(batch_body({"a", "a"})) ==
               "requests.1.custom_id: Duplicate custom_id 'a'; each custom_id must be unique "
               "within a batch");
    BOOST_TEST(answer(batch_body({"not valid!"})) ==
               "requests.0.custom_id: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'");
    BOOST_TEST(svc.batches_created() == 0u);
    auto log = svc.log();
    BOOST_TEST_REQUIRE(log.size() == 7u);
    BOOST_TEST(log[0].endpoint == "create");
    BOOST_TEST(log[0].status == 400u);
    BOOST_TEST(log[0].batch_id.empty());
}

BOOST_AUTO_TEST_CASE(create_answers_an_in_progress_batch_and_logs_its_id_and_size) {
    auto svc = make_service(1h);
    auto r = svc.answer(request(http::verb::post, "/v1/messages/batches", batch_body({"a", "b"})));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto b = json::parse(r.body);
    std::string id(b.at("id").as_string());
    BOOST_TEST(id.starts_with("msgbatch_"));
    BOOST_TEST(b.at("processing_status") == "in_progress");
    BOOST_TEST(b.at("request_counts").at("processing") == 2);
    BOOST_TEST(b.at("results_url").is_null());
    auto log = svc.log();
    BOOST_TEST_REQUIRE(log.size() == 1u);
    BOOST_TEST(log[0].method == "POST");
    BOOST_TEST(log[0].path == "/v1/messages/batches");
    BOOST_TEST(log[0].batch_id == id);
    BOOST_TEST(log[0].requests == 2u);
    BOOST_TEST(svc.batch_count() == 1u);
}

BOOST_AUTO_TEST_CASE(retrieve_cancel_delete_and_results_of_an_unknown_id_get_404) {
    auto svc = make_service(1h);
    for (auto [method, suffix] :
         {std::pair{http::verb::get, ""}, std::pair{http::verb::post, "/cancel"},
          std::pair{http::verb::delete_, ""}, std::pair{http::verb::get, "/results"}}) {
        auto r =
            svc.answer(request(method, std::string("/v1/messages/batches/msgbatch_nope") + suffix));
        BOOST_TEST(error_message(r, 404, "not_found_error") ==
                   "Message Batch with id msgbatch_nope not found");
    }
    auto log = svc.log();
    BOOST_TEST_REQUIRE(log.size() == 4u);
    BOOST_TEST(log[0].endpoint == "retrieve");
    BOOST_TEST(log[1].endpoint == "cancel");
    BOOST_TEST(log[2].endpoint == "delete");
    BOOST_TEST(log[3].endpoint == "results");
    for (const auto& e : log)
        BOOST_TEST(e.batch_id == "msgbatch_nope");
}

BOOST_AUTO_TEST_CASE(cancel_of_an_ended_batch_leaves_it_ended_without_a_cancel) {
    auto svc = make_service(0ms); // processing ends as soon as it starts
    std::string id = created_id(svc, batch_body({"a"}));
    auto r = svc.answer(request(http::verb::post, "/v1/messages/batches/" + id + "/cancel"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto b = json::parse(r.body);
    BOOST_TEST(b.at("processing_status") == "ended");
    BOOST_TEST(b.at("cancel_initiated_at").is_null());
    BOOST_TEST(b.at("request_counts").at("succeeded") == 1);
    BOOST_TEST(!svc.batches().at(0).cancel_requested);
}

BOOST_AUTO_TEST_CASE(cancel_of_a_running_batch_starts_canceling) {
    auto svc = make_service(1h);
    std::string id = created_id(svc, batch_body({"a"}));
    auto r = svc.answer(request(http::verb::post, "/v1/messages/batches/" + id + "/cancel"));
    BOOST_TEST_REQUIRE(r.status == 200u, r.body);
    auto b = json::parse(r.body);
    BOOST_TEST(b.at("processing_status") == "canceling");
    BOOST_TEST(b.at("cancel_initiated_at").is_string());
    BOOST_TEST(svc.batches().at(0).cancel_requested);
}

BOOST_AUTO_TEST_CASE(delete_and_results_of_a_running_batch_are_refused) {
    auto svc = make_service(1h);
    std::string id = created_id(svc, batch_body({"a"}));
    auto del = svc.answer(request(http::verb::delete_, "/v1/messages/batches/" + id));
    BOOST_TEST(error_message(del, 400, "invalid_request_error")
                   .find("cannot be deleted while it is still processing") != std::string::npos);
    auto res = svc.answer(request(http::verb::get, "/v1/messages/batches/" + id + "/results"));
    BOOST_TEST(error_message(res, 400, "invalid_request_error").find("has not yet ended") !=
               std::string::npos);
    BOOST_TEST(svc.batch_count() == 1u);
}

BOOST_AUTO_TEST_CASE(results_of_an_ended_batch_name_the_batch_to_stream_line_by_line) {
    auto svc = make_service(0ms);
    std::string id = created_id(svc, batch_body({"a", "b"}));
    auto r = svc.answer(request(http::verb::get, "/v1/messages/batches/" + id + "/results"));
    BOOST_TEST(r.status == 200u);
    BOOST_TEST_REQUIRE(r.results_of != nullptr);
    BOOST_TEST(r.results_of->id == id);
    BOOST_TEST_REQUIRE(r.results_of->size() == 2u);
    auto line = r.results_of->result_line(0);
    BOOST_TEST(line.ends_with("\n"));
    auto v = json::parse(line);
    BOOST_TEST(v.at("custom_id") == "a");
    BOOST_TEST(v.at("result").at("type") == "succeeded");
    BOOST_TEST(v.at("result").at("message").at("type") == "message");

    auto del = svc.answer(request(http::verb::delete_, "/v1/messages/batches/" + id));
    BOOST_TEST(del.status == 200u, del.body);
    BOOST_TEST(json::parse(del.body).at("type") == "message_batch_deleted");
    BOOST_TEST(svc.batch_count() == 0u);
    BOOST_TEST(svc.batches().at(0).deleted);
}

BOOST_AUTO_TEST_CASE(a_held_batch_runs_until_released_and_a_canceling_one_until_released) {
    emu::options opts;
    opts.hold_batches = true;
    opts.processing_time = 0ms; // not applied to held batches
    opts.cancel_time = 1h;
    emu::service svc(opts, "http://127.0.0.1:1");
    auto status_of = [&](const std::string& id) {
        auto r = svc.answer(request(http::verb::get, "/v1/messages/batches/" + id));
        return json::parse(r.body);
    };
    std::string kept = created_id(svc, batch_body({"a", "b"}));
    std::string canceled = created_id(svc, batch_body({"c", "d"}));
    BOOST_TEST(status_of(kept).at("processing_status") == "in_progress");
    BOOST_TEST(!svc.wait_ended(kept, 0ms));
    svc.answer(request(http::verb::post, "/v1/messages/batches/" + canceled + "/cancel"));
    BOOST_TEST(status_of(canceled).at("processing_status") == "canceling");

    BOOST_TEST(svc.release(kept));
    BOOST_TEST(svc.wait_ended(kept, 0ms));
    auto k = status_of(kept);
    BOOST_TEST(k.at("processing_status") == "ended");
    BOOST_TEST(k.at("request_counts").at("succeeded") == 2);
    BOOST_TEST(!svc.release(kept)); // ended: nothing to end

    BOOST_TEST(svc.release_all() == 1u); // the canceling one
    auto c = status_of(canceled);
    BOOST_TEST(c.at("processing_status") == "ended");
    BOOST_TEST(c.at("request_counts").at("canceled") == 2);
    BOOST_TEST(svc.release_all() == 0u);
    BOOST_TEST(!svc.release("msgbatch_unknown"));
}

BOOST_AUTO_TEST_CASE(release_ends_only_held_or_canceling_batches) {
    auto svc = make_service(1h); // not held: processing_time applies
    std::string id = created_id(svc, batch_body({"a"}));
    BOOST_TEST(!svc.release(id));
    BOOST_TEST(svc.release_all() == 0u);
    BOOST_TEST(!svc.wait_ended(id, 0ms));
}

BOOST_AUTO_TEST_CASE(list_pages_newest_first) {
    auto svc = make_service(1h);
    std::string first = created_id(svc, batch_body({"a"}));
    std::string second = created_id(svc, batch_body({"a"}));
    std::string third = created_id(svc, batch_body({"a"}));

    auto page =
        json::parse(svc.answer(request(http::verb::get, "/v1/messages/batches?limit=2")).body);
    BOOST_TEST_REQUIRE(page.at("data").as_array().size() == 2u);
    BOOST_TEST(page.at("data").at(0).at("id") == json::value(third));
    BOOST_TEST(page.at("data").at(1).at("id") == json::value(second));
    BOOST_TEST(page.at("has_more") == true);
    BOOST_TEST(page.at("first_id") == json::value(third));
    BOOST_TEST(page.at("last_id") == json::value(second));

    auto next = json::parse(
        svc.answer(request(http::verb::get, "/v1/messages/batches?limit=2&after_id=" + second))
            .body);
    BOOST_TEST_REQUIRE(next.at("data").as_array().size() == 1u);
    BOOST_TEST(next.at("data").at(0).at("id") == json::value(first));
    BOOST_TEST(next.at("has_more") == false);

    auto bad = [&](const std::string& query) {
        return error_message(svc.answer(request(http::verb::get, "/v1/messages/batches" + query)),
                             400, "invalid_request_error");
    };
    BOOST_TEST(bad("?limit=0") == "limit: Input should be greater than or equal to 1");
    BOOST_TEST(bad("?limit=1001") == "limit: Input should be less than or equal to 1000");
    BOOST_TEST(bad("?limit=two") == "limit: Input should be a valid integer");
}

BOOST_AUTO_TEST_CASE(headers_and_methods_are_checked_before_the_endpoint) {
    auto svc = make_service(1h);
    auto no_key = request(http::verb::get, "/v1/messages/batches");
    no_key.erase("x-api-key");
    BOOST_TEST(error_message(svc.answer(no_key), 401, "authentication_error") ==
               "x-api-key header is required");

    auto bearer = request(http::verb::get, "/v1/messages/batches");
    bearer.erase("x-api-key");
    bearer.set(http::field::authorization, "Bearer test-key");
    BOOST_TEST(svc.answer(bearer).status == 200u);

    auto no_version = request(http::verb::get, "/v1/messages/batches");
    no_version.erase("anthropic-version");
    BOOST_TEST(error_message(svc.answer(no_version), 400, "invalid_request_error") ==
               "anthropic-version: header is required");

    auto put = svc.answer(request(http::verb::put, "/v1/messages/batches"));
    BOOST_TEST(error_message(put, 405, "invalid_request_error") ==
               "Method PUT is not allowed for /v1/messages/batches");
    std::string allow;
    for (const auto& [k, v] : put.headers)
        if (k == "allow")
            allow = v;
    BOOST_TEST(allow == "POST, GET");

    BOOST_TEST(error_message(svc.answer(request(http::verb::get, "/v1/nowhere")), 404,
                             "not_found_error") == "Not found");
    BOOST_TEST(svc.log().back().endpoint.empty());
}

BOOST_AUTO_TEST_CASE(messages_and_count_tokens_check_params_like_batch_items) {
    auto svc = make_service(1h);
    auto params = item("x").at("params").as_object();
    auto ok = svc.answer(request(http::verb::post, "/v1/messages", json::serialize(params)));
    BOOST_TEST_REQUIRE(ok.status == 200u, ok.body);
    auto msg = json::parse(ok.body);
    BOOST_TEST(msg.at("type") == "message");
    BOOST_TEST(msg.at("usage").at("service_tier") == "standard");

    params["model"] = "claude-nonexistent";
    auto unknown = svc.answer(request(http::verb::post, "/v1/messages", json::serialize(params)));
    BOOST_TEST(error_message(unknown, 404, "not_found_error") == "model: claude-nonexistent");

    params = item("x").at("params").as_object();
    params.erase("max_tokens"); // not part of a count request
    auto count =
        svc.answer(request(http::verb::post, "/v1/messages/count_tokens", json::serialize(params)));
    BOOST_TEST_REQUIRE(count.status == 200u, count.body);
    BOOST_TEST(json::parse(count.body).at("input_tokens").as_int64() > 0);

    params.erase("messages");
    auto bad =
        svc.answer(request(http::verb::post, "/v1/messages/count_tokens", json::serialize(params)));
    BOOST_TEST(error_message(bad, 400, "invalid_request_error") == "messages: Field required");
}

BOOST_AUTO_TEST_SUITE_END()
