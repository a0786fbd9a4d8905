// ASCII character classes for the API's rules (ids, names, header fields), which are
// ASCII. <cctype>'s isalnum and kin answer by the C locale a program may set (under an
// ISO-8859-1 locale isalnum(0xE9) is true), so nothing of aibatch uses them.
#pragma once

#include <string_view>

namespace aibatch::detail::ascii {

constexpr bool is_digit(char c) noexcept {
    return c >= '0' && c <= '9';
}
constexpr bool is_alpha(char c) noexcept {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
constexpr bool is_alnum(char c) noexcept {
    return is_alpha(c) || is_digit(c);
}
/// ' ', '\t', '\n', '\v', '\f', '\r': what isspace() answers in the "C" locale.
constexpr bool is_space(char c) noexcept {
    return c == ' ' || (c >= '\t' && c <= '\r');
}
constexpr char to_lower(char c) noexcept {
    return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}
/// Equal but for the case of ASCII letters (HTTP field names, host names).
constexpr bool iequals(std::string_view a, std::string_view b) noexcept {
    if (a.size() != b.size())
        return false;
    for (std::size_t i = 0; i < a.size(); ++i)
        if (to_lower(a[i]) != to_lower(b[i]))
            return false;
    return true;
}

} // namespace aibatch::detail::ascii
