// The streaming driver of the typed decode: parser events in, the hooks of
// detail/schema_impl.hpp called, no tree built (private to src/typed).
#pragma once

#include <aibatch/typed/schema.hpp>

#include <boost/json/value_stack.hpp>

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch::detail {

/// Decodes one JSON value, given as boost::json::basic_parser events, into a target.
/// The same hooks as decode<T>'s tree walk, so the same values and the same issues.
/// Subtrees a type reads as a whole (boost::json::value, schema_traits types) are built
/// as a tree, those alone. Each event returns false when decoding must stop: an object
/// repeated a key that matters (the caller decodes through the tree instead, where the
/// last one wins).
class stream_decoder {
public:
    /// Starts on a new value for `root` (reusable: buffers are kept).
    void start(target root, decode_state& st);
    /// The root value is complete.
    bool done() const noexcept { return done_; }

    bool on_array_begin();
    bool on_array_end(std::size_t n);
    bool on_object_begin();
    bool on_object_end(std::size_t n);
    bool on_key_part(std::string_view s);
    bool on_key(std::string_view s);
    bool on_string_part(std::string_view s);
    bool on_string(std::string_view s);
    /// A number, bool or null.
    bool on_scalar(const scalar& s);

private:
    target next_target();
    bool begin_container(bool is_array);
    bool end_container(bool is_array, std::size_t n);
    void value_done();
    bool stopped() const noexcept { return st_->saw_repeated_key(); }

    decode_state* st_ = nullptr;
    struct level {
        bool is_array;
        target next; ///< objects: where the value of the last key goes
    };

    target root_;
    bool done_ = false;
    std::vector<frame> frames_;
    std::vector<level> pending_; ///< beside frames_
    seen_flags seen_;
    std::size_t skip_ = 0;    ///< depth inside a skipped subtree
    std::size_t capture_ = 0; ///< depth inside a captured subtree
    target captured_;
    boost::json::value_stack vs_;
    std::string key_;
    std::string text_;
};

/// Decodes JSON text into a target. Returns false when the text is not JSON (`ec` says
/// why) or repeated a key (`st.saw_repeated_key()`).
bool stream_decode(std::string_view json, target t, decode_state& st,
                   boost::system::error_code& ec);

} // namespace aibatch::detail
