// .env parsing: parse_dotenv never reads out of bounds, fails only with
// errc::dotenv_syntax, never echoes what may be a secret, accepts a UTF-8 BOM, and what it
// returns survives a round trip through double-quoted values.
#include "fuzz_targets.hpp"

#include <aibatch/dotenv.hpp>
#include <aibatch/error.hpp>

#include <cctype>

namespace aibatch::fuzz {
namespace {

bool key_char(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '-';
}

// Words of the input that look like secrets (long, letters and digits mixed): none of
// them may appear in an error message.
void check_message(std::string_view input, const std::string& message) {
    for (unsigned char c : message)
        require(c >= 0x20 && c < 0x7F, "a .env error message holds a raw byte: " + message);
    std::size_t i = 0;
    while (i < input.size()) {
        if (!key_char(input[i])) {
            ++i;
            continue;
        }
        std::size_t start = i;
        bool digit = false, alpha = false;
        while (i < input.size() && key_char(input[i])) {
            digit = digit || std::isdigit(static_cast<unsigned char>(input[i]));
            alpha = alpha || std::isalpha(static_cast<unsigned char>(input[i]));
            ++i;
        }
        std::string_view word = input.substr(start, i - start);
        if (word.size() >= 10 && digit && alpha)
            require(message.find(word) == std::string::npos,
                    "a .env error message echoes input text: " + message);
    }
}

std::string double_quoted(std::string_view v) {
    std::string out = "\"";
    for (char c : v) {
        switch (c) {
        case '\\':
            out += "\\\\";
            break;
        case '"':
            out += "\\\"";
            break;
        case '\n':
            out += "\\n";
            break;
        case '\r':
            out += "\\r";
            break;
        default:
            out += c;
        }
    }
    return out + "\"";
}

std::optional<dotenv_entries> parse(std::string_view text) {
    try {
        return parse_dotenv(text);
    } catch (const error& e) {
        require(e.code() == errc::dotenv_syntax, "parse_dotenv failed with another code");
        check_message(text, e.diag().message);
        return std::nullopt;
    }
}

} // namespace

void dotenv(std::string_view data) {
    auto entries = parse(data);

    // A BOM in front changes nothing.
    if (!data.starts_with("\xEF\xBB\xBF")) {
        auto with_bom = parse("\xEF\xBB\xBF" + std::string(data));
        require(entries.has_value() == with_bom.has_value() && (!entries || *entries == *with_bom),
                "a UTF-8 BOM changes how a .env file parses");
    }
    if (!entries)
        return;
    std::string again;
    for (const auto& [k, v] : *entries) {
        require(!k.empty() && !std::isdigit(static_cast<unsigned char>(k[0])),
                "parse_dotenv returned a bad variable name");
        for (char c : k)
            require(key_char(c), "parse_dotenv returned a bad variable name");
        again += k + "=" + double_quoted(v) + "\n";
    }
    auto reparsed = parse(again);
    require(reparsed && *reparsed == *entries, "a .env file does not survive a round trip");
}

} // namespace aibatch::fuzz
