#include <aibatch/typed/schema.hpp>

#include <boost/json/serialize.hpp>

#include <cstdio>

namespace aibatch {

std::string decode_error::to_string() const {
    std::string s;
    for (const auto& i : issues) {
        if (!s.empty())
            s += "; ";
        s += i.path;
        s += ": ";
        s += i.message;
    }
    return s;
}

namespace detail {

const char* json_kind(const boost::json::value& v) noexcept {
    switch (v.kind()) {
    case boost::json::kind::null:
        return "null";
    case boost::json::kind::bool_:
        return "boolean";
    case boost::json::kind::int64:
    case boost::json::kind::uint64:
        return "integer";
    case boost::json::kind::double_:
        return "number";
    case boost::json::kind::string:
        return "string";
    case boost::json::kind::array:
        return "array";
    case boost::json::kind::object:
        return "object";
    }
    return "unknown";
}

std::string format_number(double d) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%.15g", d);
    return buf;
}

std::string json_brief(const boost::json::value& v) {
    if (v.is_double())
        return format_number(v.get_double());
    std::string s = boost::json::serialize(v);
    if (s.size() > 80)
        s = s.substr(0, 77) + "...";
    return s;
}

std::size_t utf8_length(std::string_view s) noexcept {
    std::size_t n = 0;
    for (unsigned char c : s)
        n += (c & 0xC0) != 0x80;
    return n;
}

std::string decoder::path() const {
    std::string p = "$";
    for (const auto& s : segments_) {
        if (s.is_index) {
            p += '[';
            p += std::to_string(s.index);
            p += ']';
            continue;
        }
        bool plain = !s.key.empty() && !std::isdigit(static_cast<unsigned char>(s.key[0]));
        for (char c : s.key)
            plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
        if (plain) {
            p += '.';
            p += s.key;
        } else {
            p += "[";
            p += boost::json::serialize(boost::json::string_view(s.key.data(), s.key.size()));
            p += "]";
        }
    }
    return p;
}

} // namespace detail
} // namespace aibatch
