// Replays every input kept under test/fuzz/regressions/<target>/ (findings of the
// fuzzers, each one fixed) and test/fuzz/corpus/<target>/ (the seeds) through the same
// entry functions the fuzzers run, so a finding stays fixed without the fuzzer. Under
// the asan preset the sanitizers watch the replay too.
#define BOOST_TEST_MODULE aibatch fuzz regressions
// Boost.Test's compiled library, or (AIBATCH_BOOST_HEADER_ONLY builds) its header-only form.
#ifdef AIBATCH_BOOST_TEST_INCLUDED
#include <boost/test/included/unit_test.hpp>
#endif
#include "fuzz_targets.hpp"

#include <boost/core/demangle.hpp>
#include <boost/test/unit_test.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <random>
#include <sstream>
#include <typeinfo>
#include <vector>

namespace fs = std::filesystem;

namespace {

std::vector<fs::path> files_under(const fs::path& dir) {
    std::vector<fs::path> out;
    if (fs::is_directory(dir))
        for (const auto& e : fs::directory_iterator(dir))
            if (e.is_regular_file() && e.path().filename().string()[0] != '.')
                out.push_back(e.path());
    std::sort(out.begin(), out.end());
    return out;
}

std::string bytes_of(const fs::path& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

void replay(std::string_view name) {
    const auto* t =
        std::find_if(std::begin(aibatch::fuzz::targets), std::end(aibatch::fuzz::targets),
                     [&](const auto& x) { return x.name == name; });
    BOOST_REQUIRE(t != std::end(aibatch::fuzz::targets));
    std::size_t n = 0;
    for (const char* kind : {"regressions", "corpus"}) {
        for (const auto& file : files_under(fs::path(AIBATCH_FUZZ_DIR) / kind / t->name)) {
            std::string data = bytes_of(file);
            try {
                t->entry(data);
            } catch (const std::exception& e) {
                BOOST_ERROR(file.string()
                            << ": " << boost::core::demangle(typeid(e).name()) << ": " << e.what());
            }
            ++n;
        }
    }
    BOOST_TEST_MESSAGE(name << ": " << n << " inputs replayed");
    BOOST_TEST(n > 0u);
}

} // namespace

BOOST_AUTO_TEST_SUITE(fuzz_regressions)

BOOST_AUTO_TEST_CASE(dotenv_inputs_replay_clean) {
    replay("dotenv");
}
BOOST_AUTO_TEST_CASE(endpoint_and_config_inputs_replay_clean) {
    replay("endpoint");
}
BOOST_AUTO_TEST_CASE(decode_inputs_replay_clean) {
    replay("decode");
}
BOOST_AUTO_TEST_CASE(structured_output_inputs_replay_clean) {
    replay("structured_output");
}
BOOST_AUTO_TEST_CASE(api_response_inputs_replay_clean) {
    replay("api_responses");
}
BOOST_AUTO_TEST_CASE(emulator_model_inputs_replay_clean) {
    replay("emulator_model");
}
BOOST_AUTO_TEST_CASE(emulator_http_inputs_replay_clean) {
    replay("emulator_http");
}
BOOST_AUTO_TEST_CASE(emulator_batch_body_inputs_replay_clean) {
    replay("emulator_batch_body");
}

BOOST_AUTO_TEST_CASE(journal_inputs_replay_clean) {
    replay("journal");
}
BOOST_AUTO_TEST_CASE(json_decode_inputs_replay_clean) {
    replay("json_decode");
}
BOOST_AUTO_TEST_CASE(json_tokens_inputs_replay_clean) {
    replay("json_tokens");
}

// A target's seeds, each changed by 1 to 3 edits, through its entry function: 20,000
// inputs, a seeded run (the seed is printed) that stops after 5 failures.
template <class Edit>
void mutated_seeds(const char* target, void (*entry)(std::string_view), Edit edit) {
    const std::uint64_t seed = std::random_device{}();
    BOOST_TEST_MESSAGE(target << " mutations: seed " << seed);
    std::mt19937_64 rng(seed);
    std::vector<std::string> seeds;
    for (const auto& file : files_under(fs::path(AIBATCH_FUZZ_DIR) / "corpus" / target))
        seeds.push_back(bytes_of(file));
    BOOST_REQUIRE(!seeds.empty());
    std::size_t failures = 0;
    for (int i = 0; i < 20000 && failures < 5; ++i) {
        std::string s = seeds[rng() % seeds.size()];
        for (int edits = 1 + static_cast<int>(rng() % 3); edits > 0; --edits)
            edit(s, rng);
        try {
            entry(s);
        } catch (const std::exception& e) {
            ++failures;
            BOOST_ERROR(target << ": seed " << seed << ", input " << i << ": " << e.what() << "\n"
                               << s);
        }
    }
}

// One edit of s at `at`: up to three bytes dropped, one of `pieces` put in, or else
// other(s, at), each a third of the time.
template <std::size_t N, class Other>
void edit_at(std::string& s, std::size_t at, std::mt19937_64& rng, const std::string (&pieces)[N],
             Other other) {
    switch (rng() % 3) {
    case 0:
        if (at < s.size())
            s.erase(at, 1 + rng() % 3);
        break;
    case 1:
        s.insert(at, pieces[rng() % N]);
        break;
    default:
        other(s, at);
    }
}

// fast_json against basic_parser beyond the seeds: each seed changed byte by byte (the
// bytes JSON's grammar, escapes and UTF-8 turn on), a seeded run bounded in count.
BOOST_AUTO_TEST_CASE(json_tokens_holds_on_mutated_seeds) {
    static const std::string pieces[] = {"{",
                                         "}",
                                         "[",
                                         "]",
                                         ":",
                                         ",",
                                         "\"",
                                         "\\",
                                         "\\u",
                                         "\\ud83d\\ude00",
                                         "\\udc00",
                                         "0",
                                         "-",
                                         ".",
                                         "e",
                                         "E+",
                                         "1",
                                         "9",
                                         " ",
                                         "\t",
                                         "\n",
                                         "\x01",
                                         "\x7f",
                                         "\xc3\xa9",
                                         "\xc0\xaf",
                                         "\xed\xa0\x80",
                                         "\xf0\x9f\x98\x80",
                                         "\xf4\x90\x80\x80",
                                         "\xff",
                                         "true",
                                         "nul",
                                         "123456789012345678",
                                         "18446744073709551616",
                                         std::string(1, '\0')};
    mutated_seeds(
        "json_tokens", &aibatch::fuzz::json_tokens, [](std::string& s, std::mt19937_64& rng) {
            edit_at(s, 1 + rng() % s.size(), rng, pieces, [&](std::string& t, std::size_t at) {
                if (at < t.size())
                    t[at] = static_cast<char>(rng());
            });
        });
}

// The emulator's reading of create bodies against a whole-body parse beyond the seeds:
// each seed changed piece by piece (JSON punctuation, escapes, the keys it looks for), a
// seeded run bounded in count.
BOOST_AUTO_TEST_CASE(emulator_batch_body_holds_on_mutated_seeds) {
    static const std::string pieces[] = {"{",
                                         "}",
                                         "[",
                                         "]",
                                         ":",
                                         ",",
                                         "\"",
                                         "\\",
                                         "\\u0061",
                                         " ",
                                         "\n",
                                         "0",
                                         "-1.5e3",
                                         "null",
                                         "true",
                                         "\"requests\"",
                                         "\"custom_id\"",
                                         "\"params\"",
                                         "\"a\"",
                                         "{}",
                                         "[]"};
    mutated_seeds("emulator_batch_body", &aibatch::fuzz::emulator_batch_body,
                  [](std::string& s, std::mt19937_64& rng) {
                      edit_at(s, rng() % s.size(), rng, pieces,
                              [&](std::string& t, std::size_t at) {
                                  t.insert(at, t.substr(rng() % t.size(), rng() % 24));
                              });
                      if (s.empty())
                          s = "{";
                  });
}

BOOST_AUTO_TEST_SUITE_END()
