#include <aibatch/detail/ascii.hpp>
#include <aibatch/dotenv.hpp>
#include <aibatch/error.hpp>

#include <fstream>
#include <sstream>

namespace aibatch {
namespace {

class dotenv_parser {
public:
    explicit dotenv_parser(std::string_view text) : text_(text) {}

    dotenv_entries parse() {
        dotenv_entries out;
        if (text_.starts_with("\xEF\xBB\xBF")) // a UTF-8 byte order mark, as editors write
            pos_ = 3;
        while (!at_end()) {
            skip_blanks();
            if (at_end())
                break;
            if (peek() == '\n') {
                next_line();
                continue;
            }
            if (peek() == '#') {
                skip_to_line_end();
                continue;
            }
            std::string key = read_key();
            skip_blanks();
            // The "name" may be a pasted secret: it is never shown.
            if (at_end() || peek() != '=')
                fail("expected '=' after the variable name; write lines as NAME=value");
            ++pos_;
            skip_blanks();
            std::string value = read_value();
            out.emplace_back(std::move(key), std::move(value));
        }
        return out;
    }

private:
    bool at_end() const { return pos_ >= text_.size(); }
    char peek() const { return text_[pos_]; }

    void skip_blanks() {
        while (!at_end() && (peek() == ' ' || peek() == '\t' || peek() == '\r'))
            ++pos_;
    }
    void skip_to_line_end() {
        while (!at_end() && peek() != '\n')
            ++pos_;
    }
    void next_line() {
        ++pos_;
        ++line_;
    }

    [[noreturn]] void fail(const std::string& what) const {
        throw error(errc::dotenv_syntax, ".env line " + std::to_string(line_) + ": " + what);
    }

    // The character at the current position for a message: printable ASCII quoted, any
    // other byte as hex, "the end of the file" past the end.
    std::string shown_here() const {
        if (at_end())
            return "the end of the file";
        auto c = static_cast<unsigned char>(peek());
        if (c == '\n')
            return "the end of the line";
        if (c >= 0x20 && c < 0x7F)
            return std::string("'") + static_cast<char>(c) + "'";
        static constexpr char hex[] = "0123456789ABCDEF";
        return std::string("byte 0x") + hex[c >> 4] + hex[c & 0xF];
    }

    static bool key_char(char c) {
        return detail::ascii::is_alnum(c) || c == '_' || c == '.' || c == '-';
    }

    std::string read_key() {
        auto word = [this] {
            std::size_t start = pos_;
            while (!at_end() && key_char(peek()))
                ++pos_;
            return std::string(text_.substr(start, pos_ - start));
        };
        std::string key = word();
        if (key == "export" && !at_end() && (peek() == ' ' || peek() == '\t')) {
            skip_blanks();
            key = word();
        }
        if (key.empty())
            fail("expected a variable name (letters, digits, '_'), found " + shown_here());
        if (detail::ascii::is_digit(key[0]))
            fail("a variable name starts with a digit; names start with a letter or '_'");
        return key;
    }

    std::string read_value() {
        if (at_end() || peek() == '\n')
            return {};
        std::string value;
        if (peek() == '\'') {
            ++pos_;
            std::size_t start = pos_;
            while (!at_end() && peek() != '\'') {
                if (peek() == '\n')
                    ++line_;
                ++pos_;
            }
            if (at_end())
                fail("single-quoted value is not closed; add the closing '");
            value.assign(text_.substr(start, pos_ - start));
            ++pos_;
            finish_quoted_line();
        } else if (peek() == '"') {
            ++pos_;
            while (!at_end() && peek() != '"') {
                char c = peek();
                if (c == '\\' && pos_ + 1 < text_.size()) {
                    char e = text_[pos_ + 1];
                    pos_ += 2;
                    switch (e) {
                    case 'n':
                        value += '\n';
                        break;
                    case 'r':
                        value += '\r';
                        break;
                    case 't':
                        value += '\t';
                        break;
                    case '"':
                        value += '"';
                        break;
                    case '\\':
                        value += '\\';
                        break;
                    case '$':
                        value += '$';
                        break;
                    default:
                        value += '\\';
                        value += e;
                    }
                    continue;
                }
                if (c == '\n')
                    ++line_;
                value += c;
                ++pos_;
            }
            if (at_end())
                fail("double-quoted value is not closed; add the closing \"");
            ++pos_;
            finish_quoted_line();
        } else {
            std::size_t start = pos_;
            while (!at_end() && peek() != '\n') {
                if (peek() == '#' && pos_ > start &&
                    (text_[pos_ - 1] == ' ' || text_[pos_ - 1] == '\t'))
                    break;
                ++pos_;
            }
            value.assign(text_.substr(start, pos_ - start));
            while (!value.empty() &&
                   (value.back() == ' ' || value.back() == '\t' || value.back() == '\r'))
                value.pop_back();
            skip_to_line_end();
        }
        return value;
    }

    // After a closing quote only blanks or a comment may follow on the line.
    void finish_quoted_line() {
        skip_blanks();
        if (at_end() || peek() == '\n')
            return;
        if (peek() == '#') {
            skip_to_line_end();
            return;
        }
        fail("unexpected text after the closing quote; put a '#' before a comment");
    }

    std::string_view text_;
    std::size_t pos_ = 0;
    std::size_t line_ = 1;
};

} // namespace

dotenv_entries parse_dotenv(std::string_view text) {
    return dotenv_parser(text).parse();
}

std::optional<dotenv_entries> read_dotenv(const std::filesystem::path& file) {
    std::error_code fs_ec;
    if (!std::filesystem::exists(file, fs_ec))
        return std::nullopt;
    std::ifstream in(file, std::ios::binary);
    if (!in)
        throw error(errc::invalid_config,
                    "cannot read " + file.string() + "; check its permissions");
    std::ostringstream ss;
    ss << in.rdbuf();
    try {
        return parse_dotenv(ss.str());
    } catch (const error& e) {
        throw error(e.code(), diagnostics{file.string() + ": " + e.diag().message, {}, 0, {}, {}});
    }
}

} // namespace aibatch
