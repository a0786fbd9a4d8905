#include <aibatch/dotenv.hpp>
#include <aibatch/error.hpp>

#include <boost/test/unit_test.hpp>

#include <fstream>

using aibatch::parse_dotenv;

namespace {
std::string value_of(const aibatch::dotenv_entries& e, const std::string& key) {
    for (auto& [k, v] : e)
        if (k == key)
            return v;
    BOOST_FAIL("key " + key + " not found");
    return {};
}
} // namespace

BOOST_AUTO_TEST_SUITE(dotenv)

BOOST_AUTO_TEST_CASE(plain_values_are_trimmed_and_comments_skipped) {
    auto e = parse_dotenv("# a comment\n\n  A=1\nB = two words  \nC=x # trailing comment\n");
    BOOST_TEST(e.size() == 3u);
    BOOST_TEST(value_of(e, "A") == "1");
    BOOST_TEST(value_of(e, "B") == "two words");
    BOOST_TEST(value_of(e, "C") == "x");
}

BOOST_AUTO_TEST_CASE(hash_inside_a_word_is_part_of_the_value) {
    auto e = parse_dotenv("URL=http://h/#frag\n");
    BOOST_TEST(value_of(e, "URL") == "http://h/#frag");
}

BOOST_AUTO_TEST_CASE(export_prefix_is_dropped) {
    auto e = parse_dotenv("export ANTHROPIC_API_KEY=sk-ant-123\n");
    BOOST_TEST(e.size() == 1u);
    BOOST_TEST(e[0].first == "ANTHROPIC_API_KEY");
    BOOST_TEST(e[0].second == "sk-ant-123");
}

BOOST_AUTO_TEST_CASE(single_quotes_are_literal) {
    auto e = parse_dotenv("A='a \\n # b'  # comment\n");
    BOOST_TEST(value_of(e, "A") == "a \\n # b");
}

BOOST_AUTO_TEST_CASE(double_quotes_understand_escapes_and_span_lines) {
    auto e = parse_dotenv("A=\"line1\\nline2\\t\\\"q\\\" \\\\\"\nB=\"multi\nline\"\nC=3\n");
    BOOST_TEST(value_of(e, "A") == "line1\nline2\t\"q\" \\");
    BOOST_TEST(value_of(e, "B") == "multi\nline");
    BOOST_TEST(value_of(e, "C") == "3");
}

BOOST_AUTO_TEST_CASE(empty_values) {
    auto e = parse_dotenv("A=\nB=''\nC=\"\"\nD=   \n");
    BOOST_TEST(e.size() == 4u);
    for (auto& [k, v] : e)
        BOOST_TEST(v.empty(), k);
}

BOOST_AUTO_TEST_CASE(windows_line_endings) {
    auto e = parse_dotenv("A=1\r\nB='x'\r\n");
    BOOST_TEST(value_of(e, "A") == "1");
    BOOST_TEST(value_of(e, "B") == "x");
}

BOOST_AUTO_TEST_CASE(missing_equals_names_the_line) {
    try {
        parse_dotenv("A=1\nB=2\nNOEQUALS\n");
        BOOST_FAIL("expected an error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::dotenv_syntax);
        BOOST_TEST(e.diag().message.find("line 3") != std::string::npos, e.diag().message);
        BOOST_TEST(e.diag().message.find("NAME=value") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(a_pasted_secret_without_equals_is_not_echoed) {
    try {
        parse_dotenv("sk-ant-api03-AbCdEf0123456789\n");
        BOOST_FAIL("expected an error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::dotenv_syntax);
        BOOST_TEST(e.diag().message.find("AbCdEf") == std::string::npos, e.diag().message);
    }
}

BOOST_AUTO_TEST_CASE(export_followed_only_by_blanks_is_an_error) {
    BOOST_CHECK_THROW(parse_dotenv("export\t"), aibatch::error);
    BOOST_CHECK_THROW(parse_dotenv("A=1\nexport  "), aibatch::error);
}

BOOST_AUTO_TEST_CASE(a_utf8_bom_at_the_start_is_skipped) {
    auto e = parse_dotenv("\xEF\xBB\xBF"
                          "ANTHROPIC_API_KEY=sk-ant-1\n");
    BOOST_TEST(e.size() == 1u);
    BOOST_TEST(value_of(e, "ANTHROPIC_API_KEY") == "sk-ant-1");
}

BOOST_AUTO_TEST_CASE(a_raw_byte_is_shown_as_hex) {
    try {
        parse_dotenv("\xC3\xA9"
                     "=1\n");
        BOOST_FAIL("expected an error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.diag().message.find("byte 0xC3") != std::string::npos, e.diag().message);
    }
}

BOOST_AUTO_TEST_CASE(unclosed_quote_is_an_error_without_the_value) {
    try {
        parse_dotenv("SECRET=\"sk-ant-supersecret\n");
        BOOST_FAIL("expected an error");
    } catch (const aibatch::error& e) {
        BOOST_TEST(e.code() == aibatch::errc::dotenv_syntax);
        BOOST_TEST(std::string(e.what()).find("supersecret") == std::string::npos);
        BOOST_TEST(e.diag().message.find("not closed") != std::string::npos);
    }
}

BOOST_AUTO_TEST_CASE(text_after_closing_quote_is_an_error) {
    BOOST_CHECK_THROW(parse_dotenv("A='x' y\n"), aibatch::error);
}

BOOST_AUTO_TEST_CASE(missing_file_is_nullopt) {
    BOOST_TEST(!aibatch::read_dotenv("/nonexistent/dir/.env").has_value());
}

BOOST_AUTO_TEST_SUITE_END()
