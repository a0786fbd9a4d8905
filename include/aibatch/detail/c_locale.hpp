// Numbers and dates read and written as the "C" locale does, whatever locale a program
// sets with setlocale: HTTP headers, the messages aibatch writes (the API's among them)
// and the emulator's fault specs use a point and English names, while under a locale
// such as fr_FR strtod stops at the point of "1.5", printf writes 0,5 and strptime's %a
// wants "mer.".
#pragma once

#include <cerrno>
#include <charconv>
#include <cstdlib>
#include <locale.h>
#include <optional>
#include <string>

namespace aibatch::detail {

/// This thread runs in the "C" locale while the object lives (uselocale: other threads
/// and the global locale are untouched).
class c_locale_scope {
public:
    c_locale_scope() : old_(c_locale() ? uselocale(c_locale()) : locale_t{}) {}
    ~c_locale_scope() {
        if (c_locale())
            uselocale(old_);
    }
    c_locale_scope(const c_locale_scope&) = delete;
    c_locale_scope& operator=(const c_locale_scope&) = delete;

private:
    static locale_t c_locale() {
        static const locale_t c = newlocale(LC_ALL_MASK, "C", locale_t{});
        return c;
    }
    locale_t old_;
};

/// The whole of `s` read by strtod in the "C" locale (its forms: leading blanks, a sign,
/// an exponent, inf, nan); nullopt when `s` is empty, is not all read, or is out of range.
inline std::optional<double> c_strtod(const std::string& s) {
    const c_locale_scope c;
    char* end = nullptr;
    errno = 0;
    const double d = std::strtod(s.c_str(), &end);
    if (s.empty() || end != s.c_str() + s.size() || errno != 0)
        return std::nullopt;
    return d;
}

/// `d` as printf("%.<precision>g") writes it in the "C" locale ("0.5", "1e+300").
inline std::string c_format(double d, int precision) {
    char buf[64];
    const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::general, precision);
    return std::string(buf, r.ptr);
}

/// `d` as printf("%.<decimals>f") writes it in the "C" locale ("0.0040").
inline std::string c_fixed(double d, int decimals) {
    char buf[400]; // DBL_MAX in full is 309 digits
    const auto r = std::to_chars(buf, buf + sizeof buf, d, std::chars_format::fixed, decimals);
    return r.ec == std::errc() ? std::string(buf, r.ptr) : c_format(d, 17);
}

} // namespace aibatch::detail
