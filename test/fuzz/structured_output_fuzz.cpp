// Structured-output extraction: a Message object as JSON (or, when it does not parse,
// free text) read in each output mode. Promises: no exception, a failure always comes
// with a message, a success always points at a JSON value, and find_json_in_text only
// returns objects or arrays.
#include "fuzz_targets.hpp"

#include <aibatch/typed/structured_output.hpp>

#include <boost/describe.hpp>
#include <boost/json/parse.hpp>

namespace aibatch::fuzz {
namespace so_types {
struct verdict {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(verdict, (), (is_spam, confidence, reason))
} // namespace so_types

namespace {
namespace json = boost::json;

void read_in(const json::object& message, output_mode mode) {
    auto spec = output_spec::for_type<so_types::verdict>(mode);
    extracted_output e = extract_output(message, spec);
    if (e.failure == output_failure::none)
        require(e.json() != nullptr, "extract_output succeeded without a value");
    else
        require(!e.message.empty() && e.json() == nullptr,
                "extract_output failed without a message");
    extracted_output moved = std::move(e); // safe to move: borrowed points into message
    (void)moved.json();
    auto r = read_output<so_types::verdict>(message, spec);
    require(r.value.has_value() == (r.failure == output_failure::none),
            "read_output: value and failure disagree");
    if (!r.value)
        require(!r.message.empty(), "read_output failed without a message");
    (void)raw_output(message, spec);
}

} // namespace

void structured_output(std::string_view data) {
    if (auto v = find_json_in_text(data))
        require(v->is_object() || v->is_array(), "find_json_in_text returned a scalar");
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec || !v.is_object())
        return;
    for (auto mode : {output_mode::tool, output_mode::json_schema, output_mode::json_text})
        read_in(v.get_object(), mode);
}

} // namespace aibatch::fuzz
