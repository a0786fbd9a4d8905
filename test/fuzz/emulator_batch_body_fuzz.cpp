// The emulator's reading of a batch create body (batch_requests::read, which never holds
// the whole body as a tree) against what it replaced: json::parse of the whole body, then
// batch_body_problem(). Promises: the same refusal message for every input, and for an
// accepted body the same custom ids and the same params, request by request.
#include "fuzz_targets.hpp"

#include "emulator/batch_requests.hpp"
#include "emulator/request_rules.hpp"

#include <boost/json/parse.hpp>

namespace aibatch::fuzz {

void emulator_batch_body(std::string_view data) {
    namespace json = boost::json;
    namespace emu = aibatch::emulator;
    constexpr std::uint64_t max_requests = 8;
    boost::system::error_code ec;
    json::value whole = json::parse(data, ec);
    std::optional<std::string> expected;
    if (ec)
        expected = "There was an error parsing the body of your request: " + ec.message();
    else
        expected = emu::batch_body_problem(whole, max_requests);
    emu::batch_requests got;
    auto problem = emu::batch_requests::read(std::string(data), max_requests, got);
    require(problem == expected, "read answered '" + problem.value_or("(accepted)") +
                                     "' where a whole-body parse answered '" +
                                     expected.value_or("(accepted)") + "'");
    if (expected)
        return;
    const auto& reqs = whole.get_object().at("requests").get_array();
    require(got.size() == reqs.size(), "another number of requests");
    for (std::size_t i = 0; i < reqs.size(); ++i) {
        require(got.custom_id(i) == reqs[i].at("custom_id").get_string(),
                "another custom_id at " + std::to_string(i));
        require(got.params(i) == reqs[i].at("params"), "other params at " + std::to_string(i));
    }
}

} // namespace aibatch::fuzz
