// The emulator's simulated model, as a request reaches it. First byte: 0 = the rest is
// the params of a Messages request (validated, then answered when valid, as POST
// /v1/messages and a batch item are), 1 = a JSON Schema for generate_conforming on its
// own, 2 = a --fault spec. Promises: no crash, no hang, no exception but the documented
// one (parse_fault: std::invalid_argument), answers bounded in size.
#include "fuzz_targets.hpp"

#include <aibatch/emulator/emulator.hpp>

#include "emulator/simulated_model.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

namespace aibatch::fuzz {
namespace {
namespace json = boost::json;
namespace emu = aibatch::emulator;

// The largest answer the emulator generates (schema_values.hpp), with room for the
// envelope of a message.
constexpr std::size_t answer_bound = emu::max_generated_bytes + 64 * 1024;

void params(const json::value& v, std::uint64_t seed) {
    auto err = emu::validate_params(v);
    if (err) {
        require(!err->type.empty() && !err->message.empty(), "a params error without text");
        return;
    }
    const auto& p = v.get_object();
    (void)emu::count_input_tokens(p);
    json::object msg = emu::simulate_message(p, seed);
    std::string text = json::serialize(msg);
    // A scripted EMULATOR_OUTPUT line is echoed as given: it is part of the request.
    std::size_t bound = answer_bound + json::serialize(v).size();
    require(text.size() <= bound, "a simulated message larger than the emulator's limit");
}

void schema(const json::value& v, std::uint64_t seed) {
    json::value out = emu::generate_conforming(v, seed);
    std::size_t bound = answer_bound + json::serialize(v).size() * 4;
    require(json::serialize(out).size() <= bound, "a generated value larger than the limit");
    (void)emu::check_schema(v);
}

} // namespace

void emulator_model(std::string_view data) {
    if (data.empty())
        return;
    unsigned char which = static_cast<unsigned char>(data[0]);
    data.remove_prefix(1);
    if (which % 3 == 2) {
        try {
            (void)emu::parse_fault(data);
        } catch (const std::invalid_argument&) {
        }
        return;
    }
    boost::system::error_code ec;
    json::value v = json::parse(data, ec);
    if (ec)
        return;
    std::uint64_t seed = emu::hash_bytes(data);
    if (which % 3 == 0)
        params(v, seed);
    else
        schema(v, seed);
}

} // namespace aibatch::fuzz
