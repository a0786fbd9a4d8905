// Layer 3 at run time: a JSON Schema known only when the program runs (a file given on
// the command line), checked the way decode<T>() checks a described type.
//
//   aibatch::json_validator v(schema);                 // throws for what it cannot check
//   aibatch::decode_result<boost::json::value> r = v.decode(json);
//   if (!r) std::cout << r.error().to_string();        // "$.confidence: expected number, got
//   string"
//
// The subset is what aibatch::json_schema<T>() produces, so a schema written by
// json_schema<T>() validates exactly as decode<T>() decodes: same issues, same paths, same
// text, same order. Keywords:
//   type (a name or a list of names: object, array, string, integer, number, boolean,
//   null), properties, required, additionalProperties (false, true or a schema: a map),
//   items, minItems, maxItems, minimum, maximum, minLength, maxLength (Unicode characters),
//   pattern (ECMAScript, searched), enum, const, anyOf, $ref to "#", "#/$defs/NAME" or
//   "#/definitions/NAME", $defs, definitions; annotations (description, title, default,
//   examples, format, $schema, $id, $comment) are accepted and not checked.
// Like decode<T>(): "integer" holds a 64-bit signed integer (a JSON 2.0 is one; 2.5 and
// numbers out of range are not); a number must be finite; a property that is not required
// may be null (what a std::optional member accepts); an array is checked item by item
// before its minItems/maxItems, and a value's bounds only when its type was right.
#pragma once

#include <aibatch/typed/schema.hpp>

#include <boost/json/object.hpp>
#include <boost/json/value.hpp>

#include <memory>
#include <string>

namespace aibatch {

class json_validator {
public:
    /// Takes the schema (an object). Throws aibatch::error (errc::invalid_argument) when
    /// it uses a keyword outside the subset above, a keyword with a value of the wrong
    /// kind, or a $ref that does not resolve, naming where ("schema
    /// $.properties.tags: the keyword \"oneOf\" is not supported ...") and what to do.
    explicit json_validator(boost::json::object schema);
    json_validator(const json_validator&);
    json_validator(json_validator&&) noexcept;
    json_validator& operator=(const json_validator&);
    json_validator& operator=(json_validator&&) noexcept;
    ~json_validator();

    /// The value itself when it conforms, else every problem found (path and what was
    /// wrong, at most opts.max_issues). opts.allow_unknown_fields ignores
    /// additionalProperties: false. Never throws for bad input.
    decode_result<boost::json::value> decode(const boost::json::value& v,
                                             const decode_options& opts = {}) const;

    const boost::json::object& schema() const noexcept;

private:
    struct impl;
    std::unique_ptr<impl> impl_;
};

} // namespace aibatch
