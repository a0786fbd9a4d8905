// The emulator's prompt cache (src/emulator/prompt_cache.hpp) on a clock the test sets:
// what a request reads and writes, TTLs, the model's minimum, the token counts of each
// prefix. The same over loopback is in integration/emulator_test.cpp
// (emulator_prompt_cache).
#include "emulator/prompt_cache.hpp"
#include "emulator/simulated_model.hpp"

#include <boost/json.hpp>
#include <boost/test/unit_test.hpp>

#include <chrono>
#include <string>

namespace json = boost::json;
namespace emu = aibatch::emulator;
using namespace std::chrono_literals;

namespace {

// Haiku 4.5 params: a system block of `chars` characters with a breakpoint of `ttl`, a
// short question.
json::object params(std::size_t chars, const char* ttl, const char* question = "Why?") {
    json::object cc{{"type", "ephemeral"}};
    if (*ttl)
        cc["ttl"] = ttl;
    return json::object{
        {"model", "claude-haiku-4-5"},
        {"max_tokens", 16},
        {"system", json::array{json::object{{"type", "text"},
                                            {"text", std::string(chars, 's')},
                                            {"cache_control", std::move(cc)}}}},
        {"messages", json::array{json::object{{"role", "user"}, {"content", question}}}}};
}

const emu::prompt_cache::clock::time_point t0{std::chrono::hours(24 * 365 * 50)};

} // namespace

BOOST_AUTO_TEST_SUITE(emulator_prompt_cache_rules)

BOOST_AUTO_TEST_CASE(a_five_minute_prefix_lives_five_minutes_from_its_last_use) {
    emu::prompt_cache cache;
    const auto p = params(40000, "");
    const auto first = cache.use(p, t0);
    BOOST_TEST(first.write_5m > 4096u);
    BOOST_TEST(first.read == 0u);
    BOOST_TEST(cache.use(p, t0 + 4min + 59s).read == first.write_5m); // refreshed: +9:59
    BOOST_TEST(cache.use(p, t0 + 9min + 58s).read == first.write_5m); // refreshed: +14:58
    const auto late = cache.use(p, t0 + 20min);
    BOOST_TEST(late.read == 0u);
    BOOST_TEST(late.write_5m == first.write_5m);
}

BOOST_AUTO_TEST_CASE(a_one_hour_prefix_lives_an_hour) {
    emu::prompt_cache cache;
    const auto p = params(40000, "1h");
    const auto first = cache.use(p, t0);
    BOOST_TEST(first.write_1h > 4096u);
    BOOST_TEST(first.write_5m == 0u);
    BOOST_TEST(cache.use(p, t0 + 59min).read == first.write_1h);
    BOOST_TEST(cache.use(p, t0 + 2h).read == 0u); // 59 min + 1 h has passed
}

BOOST_AUTO_TEST_CASE(a_prefix_is_not_read_before_it_was_written) {
    // Batch items are processed at their own times, not in the order the emulator
    // computes them: an item earlier than the write does not read it, and writes.
    emu::prompt_cache cache;
    const auto p = params(40000, "");
    BOOST_TEST(cache.use(p, t0).write_5m > 0u);
    BOOST_TEST(cache.use(p, t0 - 1s).write_5m > 0u);
    BOOST_TEST(cache.use(p, t0 - 1s + 1ms).read > 0u);
}

BOOST_AUTO_TEST_CASE(the_minimum_is_the_models_and_counts_the_whole_prefix) {
    BOOST_TEST(emu::min_cacheable_tokens("claude-haiku-4-5") == 4096u);
    BOOST_TEST(emu::min_cacheable_tokens("claude-haiku-4-5-20251001") == 4096u);
    BOOST_TEST(emu::min_cacheable_tokens("claude-sonnet-4-5") == 1024u);
    BOOST_TEST(emu::min_cacheable_tokens("claude-3-haiku-20240307") == 2048u);
    BOOST_TEST(emu::min_cacheable_tokens("claude-next-model") == 1024u);
    emu::prompt_cache cache;
    // A prefix of exactly 4,096 tokens is cached, one of 4,095 is not.
    auto sized = [](std::uint64_t tokens) {
        auto p = params(100, "");
        const std::uint64_t chars = emu::read_breakpoints(p).at(0).tokens * 4;
        p = params(100 + tokens * 4 - chars, "");
        BOOST_REQUIRE(emu::read_breakpoints(p).at(0).tokens == tokens);
        return p;
    };
    BOOST_TEST(cache.use(sized(4096), t0).write_5m == 4096u);
    const auto small = cache.use(sized(4095), t0);
    BOOST_TEST(small.write_5m == 0u);
    BOOST_TEST(small.read == 0u);
}

BOOST_AUTO_TEST_CASE(input_tokens_count_what_follows_the_last_cached_prefix) {
    emu::prompt_cache cache;
    auto p = params(40000, "");
    p["cache_control"] = json::object{{"type", "ephemeral"}}; // and automatic caching
    const auto bps = emu::read_breakpoints(p);
    BOOST_REQUIRE(bps.size() == 2u);
    BOOST_TEST(bps[0].tokens < bps[1].tokens);
    BOOST_TEST(bps[1].tokens <= emu::count_input_tokens(p));
    const auto first = cache.use(p, t0);
    BOOST_TEST(first.write_5m == bps[1].tokens);
    const auto message = emu::simulate_message(p, 1, "batch", first);
    const auto& u = message.at("usage");
    BOOST_TEST(u.at("input_tokens").to_number<std::uint64_t>() + bps[1].tokens ==
               emu::count_input_tokens(p));
    BOOST_TEST(u.at("cache_creation_input_tokens").to_number<std::uint64_t>() == bps[1].tokens);
    // Another question: the system prompt's prefix is read, the new last one written.
    auto q = params(40000, "", "Why not?");
    q["cache_control"] = json::object{{"type", "ephemeral"}};
    const auto second = cache.use(q, t0 + 1s);
    BOOST_TEST(second.read == bps[0].tokens);
    BOOST_TEST(second.write_5m == emu::read_breakpoints(q).at(1).tokens - bps[0].tokens);
}

BOOST_AUTO_TEST_CASE(the_key_is_the_model_and_the_content_not_the_markers) {
    auto p = params(40000, "1h");
    auto five = params(40000, "5m");
    BOOST_TEST(emu::read_breakpoints(p).at(0).key == emu::read_breakpoints(five).at(0).key);
    auto other = p;
    other["model"] = "claude-haiku-4-5-20251001"; // the same model by its snapshot id
    BOOST_TEST(emu::read_breakpoints(p).at(0).key == emu::read_breakpoints(other).at(0).key);
    other["model"] = "claude-opus-4-5";
    BOOST_TEST(emu::read_breakpoints(p).at(0).key != emu::read_breakpoints(other).at(0).key);
    auto longer = params(40001, "1h");
    BOOST_TEST(emu::read_breakpoints(p).at(0).key != emu::read_breakpoints(longer).at(0).key);
    BOOST_TEST(!emu::has_cache_control(json::object{{"model", "m"}, {"system", "plain"}}));
}

BOOST_AUTO_TEST_SUITE_END()
