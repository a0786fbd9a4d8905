// The emulator's batch_requests (the posted text of a batch, params parsed on demand)
// against what it replaced: json::parse of the whole body, then batch_body_problem(). The
// same error for every body, and for every accepted body the same custom ids and params.
#include "emulator/batch_requests.hpp"
#include "emulator/request_rules.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <optional>
#include <string>
#include <vector>

namespace json = boost::json;
namespace emu = aibatch::emulator;

namespace {

constexpr std::uint64_t max_requests = 5;

// What the emulator answered before batch_requests: the whole body's tree judged.
std::optional<std::string> whole_body_problem(const std::string& body) {
    boost::system::error_code ec;
    auto v = json::parse(body, ec);
    if (ec)
        return "There was an error parsing the body of your request: " + ec.message();
    return emu::batch_body_problem(v, max_requests);
}

// Bodies with everything a create may carry: whitespace anywhere, escapes in keys and
// ids, duplicate keys, strings full of JSON punctuation, odd numbers, and the mistakes.
const std::vector<std::string>& bodies() {
    static const std::vector<std::string> all = {
        // accepted
        R"({"requests":[{"custom_id":"a","params":{"model":"m","max_tokens":5}}]})",
        std::string(" \n\t") +
            R"({ "requests" : [ { "custom_id" : "a" , "params" : { "x" : [ 1 , 2 ] } } ,)" + "\n" +
            R"({"params":{},"custom_id":"b"} ] } )" + "\r\n",
        R"({"requests":[{"custom\u005fid":"\u0061b","par\u0061ms":{"k":"v"}}]})",
        R"({"requests":[{"custom_id":"a","params":{"k":1},"params":{"k":2}}]})",
        R"({"requests":[{"custom_id":"a","params":{"k":1}}],"requests":[{"custom_id":"z","params":{"q":[]}}]})",
        R"({"requests":[{"custom_id":"a","params":{"s":"}]{[\"\\,:","t":"\u00e9\ud83d\ude00"}}]})",
        R"({"requests":[{"custom_id":"a","params":{"n":[-0,1e400,1.5E+3,18446744073709551616,-9223372036854775808,0.1]}}]})",
        R"({"requests":[{"custom_id":"a","params":{"d":{"e":{"f":{"g":{"h":[[[[true,false,null]]]]}}}}}}]})",
        R"({"requests":[{"custom_id":"a","params":{}},{"custom_id":"b","params":{}},{"custom_id":"c","params":{}},{"custom_id":"d","params":{}},{"custom_id":"e","params":{}}]})",
        // refused at create, by the parser
        R"({"requests":[{"custom_id":"a","params":{}},]})",
        R"({"requests":[{"custom_id":"a","params":{}}]} x)",
        R"({"requests":[{"custom_id":"a","params":{"k":"unterminated}]})",
        R"({"requests":[{"custom_id":"a","params":{"k":01}}]})",
        "",
        "[",
        std::string(40, '[') + std::string(40, ']'),
        // refused at create, by batch_body_problem
        "[]",
        R"("requests")",
        "null",
        R"({})",
        R"({"requests":{}})",
        R"({"requests":[]})",
        R"({"requests":[{"custom_id":"a","params":{}}],"model":"x"})",
        R"({"extra":{"big":[1,2,3]},"requests":[]})",
        R"({"requests":[{"custom_id":"a","params":{}}],"requests":7})",
        R"({"requests":[1]})",
        R"({"requests":[{"custom_id":"a","params":{}},[]]})",
        R"({"requests":[{"params":{}}]})",
        R"({"requests":[{"custom_id":7,"params":{}}]})",
        R"({"requests":[{"custom_id":"a b","params":{}}]})",
        R"({"requests":[{"custom_id":"","params":{}}]})",
        R"({"requests":[{"custom_id":"a","params":{}},{"custom_id":"\u0061","params":{}}]})",
        R"({"requests":[{"custom_id":"a"}]})",
        R"({"requests":[{"custom_id":"a","params":[]}]})",
        R"({"requests":[{"custom_id":"a","params":"{}"}]})",
        R"({"requests":[{"custom_id":"a","params":{}},{"custom_id":"a","params":{}}]})",
        R"({"requests":[{"custom_id":"a","params":{},"extra":1}]})",
        R"({"requests":[{"custom_id":"a","params":{},"params":null}]})",
        R"({"requests":[{"custom_id":"a","params":{}},{"custom_id":"b","params":{}},{"custom_id":"c","params":{}},{"custom_id":"d","params":{}},{"custom_id":"e","params":{}},{"custom_id":"f","params":{}}]})",
        R"({"requests":[{"custom_id":"a","params":7},{"custom_id":"b","params":{}},{"custom_id":"c","params":{}},{"custom_id":"d","params":{}},{"custom_id":"e","params":{}},{"custom_id":"f","params":{}}]})",
    };
    return all;
}

} // namespace

BOOST_AUTO_TEST_SUITE(emulator_batch_requests)

BOOST_AUTO_TEST_CASE(read_answers_every_body_as_a_whole_body_parse_did) {
    for (std::size_t i = 0; i < bodies().size(); ++i) {
        const std::string& body = bodies()[i];
        BOOST_TEST_CONTEXT("body " << i << ": " << body) {
            emu::batch_requests got;
            auto problem = emu::batch_requests::read(body, max_requests, got);
            auto expected = whole_body_problem(body);
            BOOST_TEST(problem.value_or("(accepted)") == expected.value_or("(accepted)"));
            if (expected)
                continue;
            const json::value whole = json::parse(body);
            const auto& reqs = whole.at("requests").as_array();
            BOOST_TEST_REQUIRE(got.size() == reqs.size());
            for (std::size_t k = 0; k < reqs.size(); ++k) {
                BOOST_TEST(got.custom_id(k) == reqs[k].at("custom_id").as_string());
                BOOST_TEST(got.params(k) == reqs[k].at("params"), "request " << k);
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(a_batch_holds_its_text_and_a_few_bytes_and_its_id_per_request) {
    json::array reqs;
    for (int i = 0; i < 1000; ++i)
        reqs.push_back(json::object{
            {"custom_id", "item-" + std::to_string(i)},
            {"params", json::object{{"model", "claude-haiku-4-5"},
                                    {"max_tokens", 256},
                                    {"messages", json::array{json::object{
                                                     {"role", "user"},
                                                     {"content", std::string(500, 'x')}}}}}}});
    const std::string body = json::serialize(json::object{{"requests", std::move(reqs)}});
    emu::batch_requests got;
    BOOST_TEST_REQUIRE(!emu::batch_requests::read(body, 1000, got));
    // The text, plus 24 bytes of offsets and the id's bytes (at most 64) per request.
    BOOST_TEST(got.memory_bytes() <= body.size() + std::size_t{1000} * (24 + 64) + 64);
    auto ids = got.ids_only();
    BOOST_TEST(ids.size() == 1000u);
    BOOST_TEST(ids.custom_id(999) == "item-999");
    BOOST_TEST(!ids.has_params());
    BOOST_TEST(ids.memory_bytes() <= std::size_t{1000} * (8 + 16) + 64);
}

BOOST_AUTO_TEST_SUITE_END()
