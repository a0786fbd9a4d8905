// An immutable string shared by its copies: what many items hold in common (the id of
// the batch that carried them) is stored once, not once per item.
#pragma once

#include <compare>
#include <cstddef>
#include <functional>
#include <memory>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

namespace aibatch {

/// A string that copies share (a copy is a pointer, not the characters); it reads like a
/// `const std::string` (it converts to `const std::string&` and `std::string_view`,
/// compares with strings, prints) and is changed only by assigning a new value.
/// item_report::batch_id is one: 300,000 items of three batches hold three strings.
class shared_string {
public:
    shared_string() = default;
    shared_string(std::string s) { assign(std::move(s)); }
    shared_string(const char* s) { assign(s ? std::string(s) : std::string()); }
    explicit shared_string(std::string_view s) { assign(std::string(s)); }

    shared_string& operator=(std::string s) {
        assign(std::move(s));
        return *this;
    }
    /// A null pointer (also what `= {}` picks) makes it empty.
    shared_string& operator=(const char* s) {
        assign(s ? std::string(s) : std::string());
        return *this;
    }
    shared_string& operator=(std::string_view s) {
        assign(std::string(s));
        return *this;
    }

    void clear() noexcept { p_.reset(); }

    const std::string& str() const noexcept { return p_ ? *p_ : empty_string(); }
    operator const std::string&() const noexcept { return str(); }
    operator std::string_view() const noexcept { return str(); }

    const char* c_str() const noexcept { return str().c_str(); }
    const char* data() const noexcept { return str().data(); }
    std::size_t size() const noexcept { return str().size(); }
    std::size_t length() const noexcept { return str().size(); }
    bool empty() const noexcept { return !p_; }
    std::string::const_iterator begin() const noexcept { return str().begin(); }
    std::string::const_iterator end() const noexcept { return str().end(); }
    char operator[](std::size_t i) const noexcept { return str()[i]; }
    // The reads code does on ids; anything else through str().
    std::string substr(std::size_t pos = 0, std::size_t n = std::string::npos) const {
        return str().substr(pos, n);
    }
    std::size_t find(std::string_view s, std::size_t pos = 0) const noexcept {
        return str().find(s, pos);
    }
    bool starts_with(std::string_view s) const noexcept { return view().starts_with(s); }
    bool ends_with(std::string_view s) const noexcept { return view().ends_with(s); }
    int compare(std::string_view s) const noexcept { return view().compare(s); }

    friend bool operator==(const shared_string& a, const shared_string& b) noexcept {
        return a.p_ == b.p_ || a.str() == b.str();
    }
    friend bool operator==(const shared_string& a, const std::string& b) noexcept {
        return a.str() == b;
    }
    friend bool operator==(const shared_string& a, std::string_view b) noexcept {
        return a.str() == b;
    }
    friend bool operator==(const shared_string& a, const char* b) noexcept { return a.str() == b; }
    friend std::strong_ordering operator<=>(const shared_string& a,
                                            const shared_string& b) noexcept {
        return a.str().compare(b.str()) <=> 0;
    }
    friend std::ostream& operator<<(std::ostream& os, const shared_string& s) {
        return os << s.str();
    }

private:
    std::string_view view() const noexcept { return str(); }
    void assign(std::string s) {
        if (s.empty())
            p_.reset();
        else
            p_ = std::make_shared<const std::string>(std::move(s));
    }
    static const std::string& empty_string() noexcept {
        static const std::string none;
        return none;
    }

    std::shared_ptr<const std::string> p_;
};

} // namespace aibatch

template <>
struct std::hash<aibatch::shared_string> {
    std::size_t operator()(const aibatch::shared_string& s) const noexcept {
        return std::hash<std::string>()(s.str());
    }
};
