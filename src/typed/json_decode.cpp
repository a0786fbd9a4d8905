#include "flat_reader.hpp"
#include "stream_decoder.hpp"

#include <aibatch/typed/json_decode.hpp>

#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/parse.hpp>

#include <algorithm>

namespace aibatch::detail {

void stream_decoder::start(target root, decode_state& st) {
    st_ = &st;
    root_ = root;
    done_ = false;
    frames_.clear();
    pending_.clear();
    seen_.clear();
    skip_ = 0;
    capture_ = 0;
    key_.clear();
    text_.clear();
}

target stream_decoder::next_target() {
    if (frames_.empty())
        return root_;
    frame& f = frames_.back();
    if (pending_.back().is_array)
        return f.ops->child(f, {}, *st_, seen_);
    target t = pending_.back().next;
    pending_.back().next = {};
    return t;
}

void stream_decoder::value_done() {
    if (frames_.empty()) {
        done_ = true;
        return;
    }
    frame& f = frames_.back();
    f.ops->child_done(f, *st_);
}

bool stream_decoder::begin_container(bool is_array) {
    if (capture_ > 0) {
        ++capture_;
        return true;
    }
    if (skip_ > 0) {
        ++skip_;
        return true;
    }
    target t = next_target();
    if (!t.ops) {
        skip_ = 1;
        return !stopped();
    }
    open_result r = t.ops->open(is_array, t.out, *st_);
    switch (r.what) {
    case open_result::action::skip:
        skip_ = 1;
        break;
    case open_result::action::capture:
        captured_ = r.captured;
        capture_ = 1;
        vs_.reset();
        break;
    case open_result::action::descend:
        r.f.seen = seen_.size();
        seen_.resize(seen_.size() + r.f.ops->flags, 0);
        frames_.push_back(r.f);
        pending_.push_back({is_array, {}});
        break;
    }
    return !stopped();
}

bool stream_decoder::on_array_begin() {
    return begin_container(true);
}
bool stream_decoder::on_object_begin() {
    return begin_container(false);
}

bool stream_decoder::on_array_end(std::size_t n) {
    return end_container(true, n);
}
bool stream_decoder::on_object_end(std::size_t n) {
    return end_container(false, n);
}

bool stream_decoder::end_container(bool is_array, std::size_t n) {
    if (capture_ > 0) {
        if (is_array)
            vs_.push_array(n);
        else
            vs_.push_object(n);
        if (--capture_ == 0) {
            boost::json::value v = vs_.release();
            captured_.ops->on_value(v, captured_.out, *st_);
            value_done();
        }
        return !stopped();
    }
    if (skip_ > 0) {
        if (--skip_ == 0)
            value_done();
        return !stopped();
    }
    frame f = frames_.back();
    f.ops->close(f, *st_, seen_);
    seen_.resize(f.seen);
    frames_.pop_back();
    pending_.pop_back();
    value_done();
    return !stopped();
}

bool stream_decoder::on_key_part(std::string_view s) {
    if (capture_ > 0)
        vs_.push_chars(s);
    else if (skip_ == 0)
        key_.append(s);
    return true;
}

bool stream_decoder::on_key(std::string_view s) {
    if (capture_ > 0) {
        vs_.push_key(s);
        return true;
    }
    if (skip_ > 0)
        return true;
    std::string_view key = s;
    if (!key_.empty()) {
        key_.append(s);
        key = key_;
    }
    frame& f = frames_.back();
    pending_.back().next = f.ops->child(f, key, *st_, seen_);
    key_.clear();
    return !stopped();
}

bool stream_decoder::on_string_part(std::string_view s) {
    if (capture_ > 0)
        vs_.push_chars(s);
    else if (skip_ == 0)
        text_.append(s);
    return true;
}

bool stream_decoder::on_string(std::string_view s) {
    if (capture_ > 0) {
        vs_.push_string(s);
        return true;
    }
    if (skip_ > 0)
        return true;
    if (text_.empty())
        return on_scalar(scalar::of(s));
    text_.append(s);
    bool ok = on_scalar(scalar::of(std::string_view(text_)));
    text_.clear();
    return ok;
}

bool stream_decoder::on_scalar(const scalar& s) {
    if (capture_ > 0) {
        switch (s.k) {
        case scalar::kind::null:
            vs_.push_null();
            break;
        case scalar::kind::boolean:
            vs_.push_bool(s.b);
            break;
        case scalar::kind::int64:
            vs_.push_int64(s.i);
            break;
        case scalar::kind::uint64:
            vs_.push_uint64(s.u);
            break;
        case scalar::kind::double_:
            vs_.push_double(s.d);
            break;
        case scalar::kind::string:
            vs_.push_string(s.s);
            break;
        }
        return true;
    }
    if (skip_ > 0)
        return true;
    target t = next_target();
    if (t.ops)
        t.ops->on_scalar(s, t.out, *st_);
    value_done();
    return !stopped();
}

namespace {

using boost::json::string_view;
using boost::system::error_code;

// A basic_parser handler that hands every event to a stream_decoder.
struct text_handler {
    static constexpr std::size_t max_object_size = boost::json::object::max_size();
    static constexpr std::size_t max_array_size = boost::json::array::max_size();
    static constexpr std::size_t max_key_size = boost::json::string::max_size();
    static constexpr std::size_t max_string_size = boost::json::string::max_size();

    stream_decoder d;

    static bool go(bool ok, error_code& ec) {
        if (!ok)
            ec = boost::system::errc::make_error_code(boost::system::errc::operation_canceled);
        return ok;
    }
    bool on_document_begin(error_code&) { return true; }
    bool on_document_end(error_code&) { return true; }
    bool on_array_begin(error_code& ec) { return go(d.on_array_begin(), ec); }
    bool on_array_end(std::size_t n, error_code& ec) { return go(d.on_array_end(n), ec); }
    bool on_object_begin(error_code& ec) { return go(d.on_object_begin(), ec); }
    bool on_object_end(std::size_t n, error_code& ec) { return go(d.on_object_end(n), ec); }
    bool on_string_part(string_view s, std::size_t, error_code& ec) {
        return go(d.on_string_part(s), ec);
    }
    bool on_string(string_view s, std::size_t, error_code& ec) { return go(d.on_string(s), ec); }
    bool on_key_part(string_view s, std::size_t, error_code& ec) {
        return go(d.on_key_part(s), ec);
    }
    bool on_key(string_view s, std::size_t, error_code& ec) { return go(d.on_key(s), ec); }
    bool on_number_part(string_view, error_code&) { return true; }
    bool on_int64(std::int64_t i, string_view, error_code& ec) {
        return go(d.on_scalar(scalar::of(i)), ec);
    }
    bool on_uint64(std::uint64_t u, string_view, error_code& ec) {
        return go(d.on_scalar(scalar::of(u)), ec);
    }
    bool on_double(double v, string_view, error_code& ec) {
        return go(d.on_scalar(scalar::of(v)), ec);
    }
    bool on_bool(bool b, error_code& ec) { return go(d.on_scalar(scalar::of(b)), ec); }
    bool on_null(error_code& ec) { return go(d.on_scalar(scalar::null()), ec); }
    bool on_comment_part(string_view, error_code&) { return true; }
    bool on_comment(string_view, error_code&) { return true; }
};

} // namespace

bool stream_decode(std::string_view json, target t, decode_state& st,
                   boost::system::error_code& ec) {
    boost::json::basic_parser<text_handler> p{boost::json::parse_options{}};
    p.handler().d.start(t, st);
    std::size_t n = p.write_some(false, json.data(), json.size(), ec);
    if (!ec && n < json.size())
        ec = boost::json::error::extra_data;
    return !ec;
}

namespace {

// A flat struct's object, the whole text (read_flat): read in one loop; false leaves
// the text to the driver (and `out` as it was, or reset).
bool decoded_flat(std::string_view json, target t, decode_state& st) {
    // fast_json's read() guard: the text is shorter than every maximum of text_handler.
    if (!t.ops->flat ||
        json.size() >= std::min({text_handler::max_object_size, text_handler::max_array_size,
                                 text_handler::max_key_size, text_handler::max_string_size}))
        return false;
    scalar_sink sink;
    fast_json<scalar_sink> reader(sink);
    const char* const e = json.data() + json.size();
    const char* q = read_flat(reader, sink, json.data(), e, 0, t, st);
    if (q == e)
        return true;
    if (q) // the object, then more text: the driver's to judge
        t.ops->flat()->reset(t.out);
    return false;
}

} // namespace

text_status decode_text(std::string_view json, target t, decode_state& st, boost::json::value& tree,
                        std::string& why) {
    if (decoded_flat(json, t, st))
        return text_status::decoded;
    boost::system::error_code ec;
    if (stream_decode(json, t, st, ec))
        return text_status::decoded;
    if (st.saw_repeated_key()) {
        tree = boost::json::parse(json, ec);
        if (!ec)
            return text_status::tree_built;
    }
    why = "not valid JSON: " + ec.message();
    return text_status::not_json;
}

} // namespace aibatch::detail
