// The API's character rules are ASCII, and numbers and dates are read and written as in
// the "C" locale, whatever C locale the user's program sets (include/aibatch/detail/
// ascii.hpp, c_locale.hpp). ctest runs these suites with LOCPATH at a Latin-1 French
// locale made in the build tree (test/CMakeLists.txt), under which <cctype> says 0xE9 is
// a letter and printf writes 0,5; without one they run under C.UTF-8, which proves less.
#include "../support/run_task.hpp"
#include "api/api_rules.hpp"
#include "batch/rules.hpp"
#include "emulator/schema_values.hpp"

#include <aibatch/api/client.hpp>
#include <aibatch/api/models.hpp>
#include <aibatch/detail/ascii.hpp>
#include <aibatch/detail/c_locale.hpp>
#include <aibatch/detail/schema/decode_state.hpp>
#include <aibatch/dotenv.hpp>
#include <aibatch/emulator/emulator.hpp>
#include <aibatch/error.hpp>
#include <aibatch/transport/http_client.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

#include <cctype>
#include <clocale>
#include <string>

namespace ascii = aibatch::detail::ascii;

namespace {

// Sets a non-C locale for the scope (a Latin-1 one when there is one), then "C" again.
struct user_locale {
    std::string name;
    bool latin1 = false;
    user_locale() {
        for (const char* n : {"fr_FR.ISO-8859-1", "fr_FR.iso88591", "de_DE.ISO-8859-1",
                              "en_US.ISO-8859-1", "C.UTF-8", "C.utf8"})
            if (std::setlocale(LC_ALL, n)) {
                name = n;
                latin1 = std::isalnum(0xE9) != 0;
                break;
            }
        BOOST_TEST_MESSAGE("locale: " << (name.empty() ? "C (no other)" : name)
                                      << (latin1 ? ", Latin-1: isalnum(0xE9) is true" : ""));
    }
    ~user_locale() { std::setlocale(LC_ALL, "C"); }
    user_locale(const user_locale&) = delete;
    user_locale& operator=(const user_locale&) = delete;
};

std::string with_byte(const char* before, unsigned b, const char* after = "") {
    return std::string(before) + static_cast<char>(b) + after;
}

// The bytes 0x80..0xFF for which `taken(b)` is true, as " 0xE9 0xF1": empty when none.
template <class F>
std::string high_bytes_where(F taken) {
    static constexpr char hex[] = "0123456789ABCDEF";
    std::string out;
    for (unsigned b = 0x80; b < 0x100; ++b)
        if (taken(b))
            out += std::string(" 0x") + hex[b >> 4] + hex[b & 0xF];
    return out;
}

template <class F>
bool throws(F f) {
    try {
        f();
    } catch (const aibatch::error& e) {
        return e.code() == aibatch::errc::invalid_argument ||
               e.code() == aibatch::errc::invalid_config;
    }
    return false;
}

} // namespace

BOOST_AUTO_TEST_SUITE(ascii_checks)

BOOST_AUTO_TEST_CASE(every_byte_is_classed_as_ascii_defines_it) {
    user_locale loc;
    for (unsigned b = 0; b < 256; ++b) {
        const char c = static_cast<char>(b);
        const bool digit = b >= '0' && b <= '9';
        const bool upper = b >= 'A' && b <= 'Z';
        const bool alpha = upper || (b >= 'a' && b <= 'z');
        BOOST_TEST(ascii::is_digit(c) == digit, "byte " << b);
        BOOST_TEST(ascii::is_alpha(c) == alpha, "byte " << b);
        BOOST_TEST(ascii::is_alnum(c) == (alpha || digit), "byte " << b);
        BOOST_TEST(ascii::is_space(c) == (b == ' ' || (b >= 9 && b <= 13)), "byte " << b);
        BOOST_TEST(static_cast<unsigned char>(ascii::to_lower(c)) == (upper ? b + 32 : b),
                   "byte " << b);
    }
    static_assert(ascii::iequals("Retry-After", "retry-after"));
    static_assert(!ascii::iequals("\xC9", "\xE9")); // É and é in Latin-1
}

BOOST_AUTO_TEST_CASE(run_id_and_custom_id_prefix_refuse_bytes_above_0x7f) {
    user_locale loc;
    const std::vector<aibatch::conversation> messages{{aibatch::user("hi")}};
    aibatch::batch_options ok;
    ok.run_id = "abc123";
    BOOST_CHECK_NO_THROW(aibatch::detail::validate_inputs(messages, "claude-haiku-4-5", ok));
    const auto run_id_taken = high_bytes_where([&](unsigned b) {
        aibatch::batch_options o = ok;
        o.run_id = with_byte("abc", b);
        return !throws([&] { aibatch::detail::validate_inputs(messages, "claude-haiku-4-5", o); });
    });
    BOOST_TEST(run_id_taken.empty(), "run_id took" << run_id_taken);
    const auto prefix_taken = high_bytes_where([&](unsigned b) {
        aibatch::batch_options o = ok;
        o.custom_id_prefix = with_byte("job", b, "-");
        return !throws([&] { aibatch::detail::validate_inputs(messages, "claude-haiku-4-5", o); });
    });
    BOOST_TEST(prefix_taken.empty(), "custom_id_prefix took" << prefix_taken);
}

BOOST_AUTO_TEST_CASE(the_client_refuses_a_batch_id_with_a_byte_above_0x7f) {
    user_locale loc;
    boost::asio::io_context ioc;
    aibatch::client_config cfg;
    cfg.api_key = "sk-ant-test";
    cfg.base_url = "http://127.0.0.1:9"; // never reached: the id is refused first
    cfg.retry.max_retries = 0;
    aibatch::client client(ioc.get_executor(), cfg);
    const auto taken = high_bytes_where([&](unsigned b) {
        return !throws([&] {
            aibatch::test::run_task(ioc, client.retrieve_batch(with_byte("msgbatch_01", b)));
        });
    });
    BOOST_TEST(taken.empty(), "batch ids took" << taken);
}

BOOST_AUTO_TEST_CASE(dotenv_names_paths_and_header_names_are_ascii) {
    user_locale loc;
    // A .env variable name: letters, digits and '_' of ASCII.
    const auto dotenv_taken = high_bytes_where([](unsigned b) {
        try {
            aibatch::parse_dotenv(with_byte("", b, "KEY=1\n"));
            return true;
        } catch (const aibatch::error&) {
            return false;
        }
    });
    BOOST_TEST(dotenv_taken.empty(), ".env names took" << dotenv_taken);
    // A JSON path shows a key that is not an ASCII identifier in brackets.
    const auto plain = high_bytes_where([](unsigned b) {
        const std::string key = with_byte("caf", b);
        return aibatch::detail::render_path({{key}}).rfind("$[\"", 0) != 0;
    });
    BOOST_TEST(plain.empty(), "JSON paths took as identifier characters" << plain);
    // Header names compare without case for ASCII letters only: in Latin-1 0xC9 is 0xE9's
    // capital, but not to HTTP.
    aibatch::http_headers h;
    h.add("X-Caf\xC9", "1");
    BOOST_TEST(!h.find("x-caf\xE9").has_value());
    BOOST_TEST(h.find("x-CAF\xC9").has_value());
}

BOOST_AUTO_TEST_SUITE_END()

// Numbers read and written with a point whatever LC_NUMERIC says (fr_FR writes 0,5).
BOOST_AUTO_TEST_SUITE(locale_numbers)

BOOST_AUTO_TEST_CASE(retry_after_reads_fractions_with_a_point) {
    user_locale loc;
    aibatch::http_headers ms;
    ms.add("retry-after-ms", "150.5");
    BOOST_TEST(aibatch::detail::retry_after(ms).value_or(std::chrono::milliseconds(-1)).count() ==
               151);
    aibatch::http_headers s;
    s.add("retry-after", "1.5");
    BOOST_TEST(aibatch::detail::retry_after(s).value_or(std::chrono::milliseconds(-1)).count() ==
               1500);
    aibatch::http_headers comma;
    comma.add("retry-after", "1,5");
    BOOST_TEST(!aibatch::detail::retry_after(comma).has_value());
    aibatch::http_headers date; // day and month names are English (LC_TIME says jeu., oct.)
    date.add("retry-after", "Wed, 21 Oct 2015 07:28:05 GMT");
    const auto now = std::chrono::system_clock::from_time_t(1445412480); // 07:28:00
    BOOST_TEST(
        aibatch::detail::retry_after(date, now).value_or(std::chrono::milliseconds(-1)).count() ==
        5000);
}

BOOST_AUTO_TEST_CASE(messages_write_numbers_with_a_point) {
    user_locale loc;
    BOOST_TEST(aibatch::detail::format_number(0.5) == "0.5");
    BOOST_TEST(aibatch::detail::format_number(-1234.25) == "-1234.25");
    BOOST_TEST(aibatch::detail::format_number(1e300) == "1e+300");
    BOOST_TEST(aibatch::detail::format_number(3) == "3");
    const auto* opus = aibatch::find_model("claude-opus-4-7");
    BOOST_REQUIRE(opus != nullptr);
    const auto why = aibatch::model_rule_violation(
        *opus, boost::json::object{{"model", "claude-opus-4-7"},
                                   {"max_tokens", 16},
                                   {"temperature", 0.3},
                                   {"messages", boost::json::array{}}});
    BOOST_REQUIRE(why.has_value());
    BOOST_TEST(why->find("got 0.3") != std::string::npos, *why);
}

BOOST_AUTO_TEST_CASE(money_is_written_with_a_point) {
    // the cost-limit message (outcome_ledger::reserve) writes dollars with c_fixed
    user_locale loc;
    BOOST_TEST(aibatch::detail::c_fixed(0.004, 4) == "0.0040");
    BOOST_TEST(aibatch::detail::c_fixed(1234.56789, 4) == "1234.5679");
    BOOST_TEST(aibatch::detail::c_fixed(0, 4) == "0.0000");
    BOOST_TEST(aibatch::detail::c_fixed(-2.5, 1) == "-2.5");
}

BOOST_AUTO_TEST_CASE(the_emulator_reads_and_writes_numbers_with_a_point) {
    user_locale loc;
    BOOST_TEST(aibatch::emulator::parse_fault("status:500:0.25").fraction == 0.25);
    BOOST_CHECK_THROW(aibatch::emulator::parse_fault("status:500:0,25"), std::exception);
    // The emulator's schema limits name a number with a point too.
    const auto why = aibatch::emulator::check_schema(
        boost::json::object{{"type", "string"}, {"minLength", 100000.5}});
    BOOST_REQUIRE(why.has_value());
    BOOST_TEST(why->find("100000.5 is above") != std::string::npos, *why);
}

BOOST_AUTO_TEST_SUITE_END()
