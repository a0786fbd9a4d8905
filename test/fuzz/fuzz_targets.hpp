// The fuzz entry functions: one per parser. Each takes arbitrary bytes, feeds them to
// the parser and checks what must hold whatever the input: the parser returns a value
// or throws aibatch::error (never another exception, never a crash), and what it returns
// keeps the parser's documented promises. A broken promise throws fuzz::violation.
//
// Built twice: into one libFuzzer binary per target (test/fuzz/libfuzzer_main.cpp, the
// `fuzz` preset), and into the unit tests, which replay every file of
// test/fuzz/regressions/<target>/ and test/fuzz/corpus/<target>/ (fuzz_replay_test.cpp).
#pragma once

#include <span>
#include <stdexcept>
#include <string>
#include <string_view>

namespace aibatch::fuzz {

/// A promise of the parser that an input broke.
struct violation : std::logic_error {
    using std::logic_error::logic_error;
};

/// Throws violation(what) unless `ok`.
inline void require(bool ok, const std::string& what) {
    if (!ok)
        throw violation(what);
}

void dotenv(std::string_view data);
void endpoint(std::string_view data);
void decode(std::string_view data);
void structured_output(std::string_view data);
void api_responses(std::string_view data);
void emulator_model(std::string_view data);
void emulator_http(std::string_view data);
void emulator_batch_body(std::string_view data);
void journal(std::string_view data);
void json_decode(std::string_view data);
void json_tokens(std::string_view data);

struct target {
    const char* name;
    void (*entry)(std::string_view);
};

/// Every target, by the name of its folder under corpus/ and regressions/.
inline constexpr target targets[] = {
    {"dotenv", &dotenv},
    {"endpoint", &endpoint},
    {"decode", &decode},
    {"structured_output", &structured_output},
    {"api_responses", &api_responses},
    {"emulator_model", &emulator_model},
    {"emulator_http", &emulator_http},
    {"emulator_batch_body", &emulator_batch_body},
    {"journal", &journal},
    {"json_decode", &json_decode},
    {"json_tokens", &json_tokens},
};

} // namespace aibatch::fuzz
