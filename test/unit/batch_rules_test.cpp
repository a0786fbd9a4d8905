// batch<T>()'s rules without sockets (src/batch/rules.hpp).
#include "batch/rules.hpp"

#include <aibatch/api/models.hpp>

#include <boost/asio/error.hpp>
#include <boost/test/unit_test.hpp>

#include <cstdint>
#include <limits>
#include <optional>
#include <random>
#include <regex>
#include <string>

using namespace std::chrono_literals;
using aibatch::detail::custom_ids;

BOOST_AUTO_TEST_SUITE(batch_rules)

BOOST_AUTO_TEST_CASE(custom_ids_round_trip_and_refuse_every_other_spelling) {
    const custom_ids ids("job-", "abc123", 1000);
    BOOST_TEST(ids.make(0, 7) == "job-abc123-7");
    BOOST_TEST(ids.make(2, 999) == "job-abc123r2-999");
    for (unsigned round : {0u, 1u, 12u})
        for (std::size_t i : {std::size_t{0}, std::size_t{9}, std::size_t{999}}) {
            auto back = ids.parse(ids.make(round, i));
            BOOST_REQUIRE(back.has_value());
            BOOST_TEST(back->first == round);
            BOOST_TEST(back->second == i);
        }
    // Another run, another prefix, out of range, or not as make() writes it: not ours.
    for (const char* other : {"job-abc124-7",     "jobs-abc123-7",
                              "abc123-7",         "job-abc123-1000",
                              "job-abc123-07",    "job-abc123-+7",
                              "job-abc123r01-7",  "job-abc123r0-7",
                              "job-abc123x1-7",   "job-abc123-",
                              "job-abc123",       "job-abc123-7 ",
                              "job-abc123--7",    "",
                              "job-abc123-00",    "job-abc123-007",
                              "job-abc123- 7",    "job-abc123-0x1",
                              "job-abc123r-7",    "job-abc123r+1-7",
                              "job-abc123r 1-7",  "job-abc123r1",
                              "job-abc123r007-7", "job-abc123-7\n"})
        BOOST_TEST(!ids.parse(other).has_value(), other);
}

// parse() against the grammar make() writes, on random spellings near it: a parse names
// exactly the (round, index) whose make() is the id, and every other string is refused.
BOOST_AUTO_TEST_CASE(custom_ids_parse_exactly_what_make_writes) {
    const custom_ids ids("job-", "abc123", 1000);
    const std::regex grammar("job-abc123(?:r([1-9][0-9]*))?-(0|[1-9][0-9]*)");
    const std::uint64_t seed = std::random_device{}();
    BOOST_TEST_MESSAGE("custom id spellings: seed " << seed);
    std::mt19937_64 rng(seed);
    static const std::string pieces[] = {
        "job-abc123", "job-abc123", "r", "-", "0", "1",    "7",      "9",
        "99",         "4294967296", "x", " ", "+", "job-", "abc123", "999"};
    std::size_t accepted = 0;
    for (int n = 0; n < 20000; ++n) {
        std::string s;
        if (n % 2 == 0) {
            // near the grammar: stem, maybe a round, a dash, an index, each piece random
            s = "job-abc123";
            if (rng() % 2 == 0)
                s += "r" + pieces[2 + rng() % 10];
            s += pieces[3 + rng() % 8] + pieces[3 + rng() % 8];
        } else {
            const std::size_t parts = 1 + rng() % 6;
            for (std::size_t k = 0; k < parts; ++k)
                s += pieces[rng() % std::size(pieces)];
        }
        std::optional<std::pair<unsigned, std::size_t>> want;
        std::smatch m;
        if (std::regex_match(s, m, grammar)) {
            const auto round = m[1].matched ? std::stoull(m[1].str()) : 0ull;
            const auto index = m[2].str().size() < 6 ? std::stoull(m[2].str()) : 1000ull;
            if (round <= std::numeric_limits<unsigned>::max() && index < 1000)
                want = std::pair{static_cast<unsigned>(round), static_cast<std::size_t>(index)};
        }
        const auto got = ids.parse(s);
        BOOST_REQUIRE_MESSAGE(got == want, "custom_id \"" << s << "\"");
        if (got) {
            ++accepted;
            BOOST_REQUIRE_EQUAL(ids.make(got->first, got->second), s);
        }
    }
    BOOST_TEST(accepted > 500u); // the spellings reach the accepted ones too
}

BOOST_AUTO_TEST_CASE(which_create_failures_may_have_made_the_batch) {
    using aibatch::errc;
    using aibatch::detail::may_have_created;
    BOOST_TEST(may_have_created(aibatch::error(errc::request_timeout, "t")));
    BOOST_TEST(may_have_created(aibatch::error(errc::connection_closed, "c")));
    BOOST_TEST(may_have_created(aibatch::error(errc::api_internal, "500")));
    BOOST_TEST(may_have_created(aibatch::error(errc::ambiguous_create, "a")));
    // A malformed HTTP answer: the request was sent whole (a failure while sending it is
    // connection_failed), so the server may have made the batch before answering.
    BOOST_TEST(may_have_created(aibatch::error(errc::bad_response, "malformed HTTP response")));
    BOOST_TEST(!may_have_created(aibatch::error(errc::overloaded, "529")));
    BOOST_TEST(!may_have_created(aibatch::error(errc::invalid_request, "400")));
    BOOST_TEST(!may_have_created(aibatch::error(errc::connect_timeout, "never sent")));
    BOOST_TEST(!may_have_created(aibatch::error(errc::connection_failed, "never sent")));
    aibatch::diagnostics d;
    d.http_status = 502;
    BOOST_TEST(may_have_created(aibatch::error(make_error_code(errc::http_status), d)));
    BOOST_TEST(!may_have_created(
        aibatch::error(make_error_code(boost::asio::error::connection_refused), {})));
}

BOOST_AUTO_TEST_CASE(which_poll_failures_leave_the_batch_worth_waiting_for) {
    using aibatch::errc;
    using aibatch::detail::transient;
    BOOST_TEST(transient(aibatch::error(errc::rate_limited, "429"), 1h));
    BOOST_TEST(transient(aibatch::error(errc::overloaded, "529"), 1h));
    BOOST_TEST(transient(aibatch::error(errc::idle_timeout, "slow"), 1h));
    BOOST_TEST(!transient(aibatch::error(errc::authentication, "401"), 1s));
    // A new batch can be 404 for a few seconds; an old one is gone.
    BOOST_TEST(transient(aibatch::error(errc::not_found, "404"), 5s));
    BOOST_TEST(!transient(aibatch::error(errc::not_found, "404"), 2min));
    BOOST_TEST(!transient(aibatch::error(make_error_code(boost::asio::error::operation_aborted),
                                         aibatch::diagnostics{}),
                          1s));
    BOOST_TEST(
        transient(aibatch::error(make_error_code(boost::asio::error::connection_reset), {}), 1h));
}

BOOST_AUTO_TEST_CASE(the_cost_estimate_counts_4_bytes_a_token_and_the_output_bound) {
    using aibatch::detail::estimated_cost;
    BOOST_TEST(estimated_cost(std::nullopt, 4000, 10, 100) == 0.0);
    auto price = aibatch::find_price("claude-haiku-4-5");
    BOOST_REQUIRE(price.has_value());
    aibatch::usage u;
    u.input_tokens = 1000;
    u.output_tokens = 1000;
    BOOST_TEST(estimated_cost(price, 4000, 10, 100) == aibatch::batch_cost(u, *price));
    BOOST_TEST(estimated_cost(price, 8000, 10, 100) > estimated_cost(price, 4000, 10, 100));
}

BOOST_AUTO_TEST_CASE(inputs_are_refused_with_the_option_named) {
    aibatch::batch_options o;
    std::vector<aibatch::conversation> one{{aibatch::user("hi")}};
    BOOST_CHECK_NO_THROW(aibatch::detail::validate_inputs(one, "claude-haiku-4-5", o));
    auto refused = [&](const aibatch::batch_options& bad, const std::string& model) {
        try {
            aibatch::detail::validate_inputs(one, model, bad);
        } catch (const aibatch::error& e) {
            BOOST_TEST((e.code() == aibatch::errc::invalid_argument));
            return std::string(e.what());
        }
        return std::string();
    };
    BOOST_TEST(refused(o, "").find("model is empty") != std::string::npos);
    auto zero = o;
    zero.max_requests_per_batch = 0;
    BOOST_TEST(refused(zero, "claude-haiku-4-5").find("max_requests_per_batch") !=
               std::string::npos);
    auto run = o;
    run.run_id = "no spaces";
    BOOST_TEST(refused(run, "claude-haiku-4-5").find("run_id") != std::string::npos);
    aibatch::conversation starts_wrong{aibatch::assistant("x")};
    BOOST_CHECK_THROW(aibatch::detail::validate_conversation(0, starts_wrong, o), aibatch::error);
}

BOOST_AUTO_TEST_SUITE_END()
