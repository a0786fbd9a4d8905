// Layer 3: one description of a C++ type, two uses.
//
//   struct SpamResult { bool is_spam; double confidence; std::string reason; };
//   BOOST_DESCRIBE_STRUCT(SpamResult, (), (is_spam, confidence, reason))
//
//   boost::json::object schema = aibatch::json_schema<SpamResult>();   // sent to the model
//   aibatch::decode_result<SpamResult> r = aibatch::decode<SpamResult>(json);
//   if (!r) std::cout << r.error().to_string();  // "$.confidence: expected number, got string"
//
// Supported: described structs (BOOST_DESCRIBE_STRUCT, bases included), described enums
// (BOOST_DESCRIBE_ENUM, BOOST_DEFINE_ENUM_CLASS) as string enums, bool, integers,
// floating point, std::string, std::optional, std::vector, std::array, std::map and
// std::unordered_map with string keys, boost::json::value (anything), and any type with
// a schema_traits specialisation. Recursive structs (through std::vector or
// std::optional) use $defs.
//
// Descriptions and constraints: specialise aibatch::schema_docs<T>:
//
//   template <> struct aibatch::schema_docs<SpamResult> {
//       static constexpr std::string_view description = "Verdict on one email";
//       static constexpr aibatch::field_doc fields[] = {
//           {.name = "confidence", .description = "How sure, 0 to 1", .minimum = 0, .maximum = 1},
//       };
//   };
//
// They go into the schema's "description" (they steer the model, as Pydantic's
// Field(description=...) does) and the constraints are checked by decode().
#pragma once

#include <aibatch/error.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace aibatch {

/// Description and constraints of one field, for schema_docs<T>::fields.
struct field_doc {
    std::string_view name;
    std::string_view description = {};
    std::optional<double> minimum = {};         ///< numbers: smallest allowed value
    std::optional<double> maximum = {};         ///< numbers: largest allowed value
    std::optional<std::size_t> min_length = {}; ///< strings (characters), arrays (items)
    std::optional<std::size_t> max_length = {}; ///< strings (characters), arrays (items)
};

/// Specialise to document a described type: `description` (a std::string_view) for the
/// type and/or `fields` (an array of field_doc) for its members. Both are optional.
template <class T>
struct schema_docs {};

/// Specialise for a type Boost.Describe cannot describe. Members:
///   static boost::json::value schema();
///   static void decode(const boost::json::value& v, T& out, aibatch::decode_context& ctx);
/// (report problems with ctx.fail("expected a date like 2024-01-31")).
template <class T>
struct schema_traits;

struct schema_options {
    /// Emit minimum/maximum/minLength/maxLength/minItems/maxItems from field_doc and
    /// from the C++ type (unsigned: minimum 0; std::array: exact item count). decode()
    /// checks them either way.
    bool constraints = true;
    /// std::optional members become nullable (type [X, "null"]) besides not required.
    bool nullable_optionals = false;
};

struct decode_options {
    /// Fields the type does not have: rejected (false) or ignored (true).
    bool allow_unknown_fields = false;
    /// Stop after this many problems.
    std::size_t max_issues = 20;
};

/// One problem: where (a JSON path like "$.items[2].confidence") and what.
struct decode_issue {
    std::string path;
    std::string message;
};

/// Everything decode() found wrong, in the order of the type's members (unknown fields
/// of an object after its members; elements in order).
struct decode_error {
    std::vector<decode_issue> issues;
    /// "$.a: expected number, got string; $: missing required field \"b\""
    std::string to_string() const;
};

/// The value, or the decode_error.
template <class T>
class decode_result {
public:
    explicit decode_result(T value) : v_(std::move(value)) {}
    explicit decode_result(decode_error e) : v_(std::move(e)) {}
    bool has_value() const { return v_.index() == 0; }
    explicit operator bool() const { return has_value(); }
    T& value() & { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    const T& value() const& { return std::get<0>(v_); }
    T& operator*() & { return value(); }
    T&& operator*() && { return std::move(*this).value(); }
    const T* operator->() const { return &value(); }
    const decode_error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, decode_error> v_;
};

class decode_context;

} // namespace aibatch

#include <aibatch/detail/schema_impl.hpp>

namespace aibatch {

/// The JSON Schema of T. For an object root the schema carries "$defs" when T is
/// recursive. Throws nothing; unsupported types fail to compile with a message.
template <class T>
boost::json::object json_schema(const schema_options& opts = {}) {
    detail::schema_builder b(opts);
    boost::json::value root = b.template build<T>();
    boost::json::object out =
        root.is_object() ? std::move(root.get_object()) : boost::json::object{};
    b.finish(out);
    return out;
}

/// Decodes a JSON value into T, or reports every problem found (path and what was
/// wrong). Never throws for bad input; allocation failures propagate.
template <class T>
decode_result<T> decode(const boost::json::value& v, const decode_options& opts = {}) {
    detail::decode_state st(opts);
    T out{};
    detail::walk(v, {&out, &detail::ops_of<T>()}, st);
    if (st.failed())
        return decode_result<T>(st.take_error());
    return decode_result<T>(std::move(out));
}

/// decode() that throws aibatch::error (errc::invalid_output) with the full diagnostic.
template <class T>
T decode_or_throw(const boost::json::value& v, const decode_options& opts = {}) {
    auto r = decode<T>(v, opts);
    if (!r)
        throw error(errc::invalid_output, r.error().to_string());
    return std::move(*r);
}

} // namespace aibatch
