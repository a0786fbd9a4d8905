#include "batch_requests.hpp"

#include "request_rules.hpp"

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parse.hpp>

namespace aibatch::emulator {

namespace json = boost::json;
// (boost::json::error_code, an alias of this, is gone from Boost 1.88)
using error_code = boost::system::error_code;

namespace {

// A JSON parser that builds nothing: the grammar, limits and error codes of json::parse.
struct no_tree {
    constexpr static std::size_t max_object_size = json::object::max_size();
    constexpr static std::size_t max_array_size = json::array::max_size();
    constexpr static std::size_t max_key_size = json::string::max_size();
    constexpr static std::size_t max_string_size = json::string::max_size();
    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_object_begin(error_code&) { return true; }
    bool on_object_end(std::size_t, error_code&) { return true; }
    bool on_array_begin(error_code&) { return true; }
    bool on_array_end(std::size_t, error_code&) { return true; }
    bool on_key_part(json::string_view, std::size_t, error_code&) { return true; }
    bool on_key(json::string_view, std::size_t, error_code&) { return true; }
    bool on_string_part(json::string_view, std::size_t, error_code&) { return true; }
    bool on_string(json::string_view, std::size_t, error_code&) { return true; }
    bool on_number_part(json::string_view, error_code&) { return true; }
    bool on_int64(std::int64_t, json::string_view, error_code&) { return true; }
    bool on_uint64(std::uint64_t, json::string_view, error_code&) { return true; }
    bool on_double(double, json::string_view, error_code&) { return true; }
    bool on_bool(bool, error_code&) { return true; }
    bool on_null(error_code&) { return true; }
    bool on_comment_part(json::string_view, error_code&) { return true; }
    bool on_comment(json::string_view, error_code&) { return true; }
};

// What json::parse(text, ec) sets ec to, without building the value.
error_code check_syntax(std::string_view text) {
    json::basic_parser<no_tree> p{json::parse_options{}};
    error_code ec;
    auto n = p.write_some(false, text.data(), text.size(), ec);
    if (!ec && n < text.size())
        ec = json::error::extra_data;
    return ec;
}

// Walks JSON text already known to be valid (check_syntax): positions only.
class walker {
public:
    explicit walker(std::string_view text) : t_(text) {}

    std::size_t pos() const { return p_; }
    char peek() {
        skip_ws();
        return t_[p_];
    }
    void take(char) {
        skip_ws();
        ++p_;
    }
    /// Skips one value; returns where it started.
    std::size_t skip_value() {
        skip_ws();
        std::size_t from = p_;
        char c = t_[p_];
        if (c == '"') {
            skip_string();
        } else if (c == '{' || c == '[') {
            std::size_t depth = 0;
            do {
                c = t_[p_];
                if (c == '"') {
                    skip_string();
                    continue;
                }
                if (c == '{' || c == '[')
                    ++depth;
                else if (c == '}' || c == ']')
                    --depth;
                ++p_;
            } while (depth > 0);
        } else {
            while (p_ < t_.size() && !is_end_of_scalar(t_[p_]))
                ++p_;
        }
        return from;
    }
    /// Reads an object key (and its colon): its raw text and its decoded value.
    std::string_view key(std::string& decoded) {
        std::size_t from = skip_value();
        std::string_view raw = t_.substr(from, p_ - from);
        if (raw.find('\\') == std::string_view::npos) {
            decoded.assign(raw.substr(1, raw.size() - 2));
        } else {
            auto v = json::parse(raw);
            decoded.assign(v.get_string());
        }
        take(':');
        return raw;
    }

private:
    static bool is_end_of_scalar(char c) {
        return c == ',' || c == '}' || c == ']' || c == ' ' || c == '\t' || c == '\n' || c == '\r';
    }
    void skip_ws() {
        while (p_ < t_.size() &&
               (t_[p_] == ' ' || t_[p_] == '\t' || t_[p_] == '\n' || t_[p_] == '\r'))
            ++p_;
    }
    void skip_string() {
        ++p_; // opening quote
        while (t_[p_] != '"')
            p_ += t_[p_] == '\\' ? 2 : 1;
        ++p_;
    }

    std::string_view t_;
    std::size_t p_ = 0;
};

// The body with each request's params object replaced by {"":K}, K its index in `spans`,
// and every value batch_body_problem() does not look into replaced by null: what it needs
// to judge the body (keys, their order, types, custom ids, counts), a small fraction of it.
struct skeleton_of {
    struct span {
        std::size_t at = 0, size = 0;
    };
    std::string text;
    std::vector<span> spans;

    explicit skeleton_of(std::string_view body) : w(body), body_(body) {
        if (w.peek() != '{') {
            text = "null";
            return;
        }
        object([&](const std::string& k) {
            if (k == "requests" && w.peek() == '[')
                requests();
            else
                skip_to_null();
        });
    }

private:
    template <class OnMember>
    void object(OnMember on_member) {
        w.take('{');
        text += '{';
        std::string key;
        while (w.peek() != '}') {
            text += w.key(key);
            text += ':';
            on_member(key);
            if (w.peek() == ',') {
                w.take(',');
                text += ',';
            }
        }
        w.take('}');
        text += '}';
    }
    void requests() {
        w.take('[');
        text += '[';
        while (w.peek() != ']') {
            if (w.peek() == '{')
                object([&](const std::string& k) { member_of_request(k); });
            else
                skip_to_null();
            if (w.peek() == ',') {
                w.take(',');
                text += ',';
            }
        }
        w.take(']');
        text += ']';
    }
    void member_of_request(const std::string& k) {
        if (k == "params" && w.peek() == '{') {
            std::size_t from = w.skip_value();
            text += "{\"\":";
            text += std::to_string(spans.size());
            text += '}';
            spans.push_back({from, w.pos() - from});
        } else if (k == "custom_id") {
            std::size_t from = w.skip_value();
            text.append(body_.substr(from, w.pos() - from));
        } else {
            skip_to_null();
        }
    }
    void skip_to_null() {
        w.skip_value();
        text += "null";
    }

    walker w;
    std::string_view body_;
};

} // namespace

std::optional<std::string> batch_requests::read(std::string text, std::uint64_t max_requests,
                                                batch_requests& out) {
    if (auto ec = check_syntax(text))
        return "There was an error parsing the body of your request: " + ec.message();
    skeleton_of sk(text);
    // In a few large blocks, all returned at once (no scattered small frees left in the heap).
    json::monotonic_resource mr;
    json::value body = json::parse(sk.text, &mr);
    if (auto why = batch_body_problem(body, max_requests))
        return why;
    const auto& a = body.get_object().at("requests").get_array();
    out = batch_requests{};
    out.params_.reserve(a.size());
    out.id_ends_.reserve(a.size());
    for (const auto& item : a) {
        const auto& o = item.get_object();
        out.ids_.append(o.at("custom_id").get_string());
        out.id_ends_.push_back(out.ids_.size());
        auto k = o.at("params").get_object().at("").to_number<std::size_t>();
        out.params_.push_back({sk.spans[k].at, sk.spans[k].size});
    }
    out.ids_.shrink_to_fit();
    out.text_ = std::move(text);
    return std::nullopt;
}

std::string_view batch_requests::custom_id(std::size_t i) const {
    std::size_t from = i == 0 ? 0 : id_ends_[i - 1];
    return std::string_view(ids_).substr(from, id_ends_[i] - from);
}

std::string_view batch_requests::params_text(std::size_t i) const {
    return std::string_view(text_).substr(params_[i].at, params_[i].size);
}

json::value batch_requests::params(std::size_t i, json::storage_ptr sp) const {
    return json::parse(params_text(i), std::move(sp));
}

batch_requests batch_requests::ids_only() const {
    batch_requests r;
    r.ids_ = ids_;
    r.id_ends_ = id_ends_;
    return r;
}

std::size_t batch_requests::memory_bytes() const {
    auto heap = [](const std::string& s) {
        return s.capacity() > std::string().capacity() ? s.capacity() + 1 : 0;
    };
    return heap(text_) + heap(ids_) + params_.capacity() * sizeof(span) +
           id_ends_.capacity() * sizeof(std::size_t);
}

} // namespace aibatch::emulator
