// The emulator's deterministic randomness: a seeded generator for ids and choices, a
// stable hash that derives seeds from bytes, and the words simulated text is made of.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>

namespace aibatch::emulator {

/// A small deterministic random generator (splitmix64).
class rng {
public:
    explicit rng(std::uint64_t seed) : state_(seed) {}
    std::uint64_t next();
    /// Uniform in [0, n); n > 0.
    std::uint64_t below(std::uint64_t n) { return next() % n; }
    bool coin() { return (next() & 1) != 0; }
    /// `prefix` followed by `len` base62 characters ("msg_01...").
    std::string id(std::string_view prefix, std::size_t len = 24);

private:
    std::uint64_t state_;
};

/// Stable 64-bit hash of bytes (FNV-1a), combined with a seed.
std::uint64_t hash_bytes(std::string_view bytes, std::uint64_t seed = 0);

/// The words generated strings and simulated answers are drawn from.
inline constexpr std::array<const char*, 12> sample_words = {"alpha", "bravo",   "charlie", "delta",
                                                             "echo",  "foxtrot", "golf",    "hotel",
                                                             "india", "juliet",  "kilo",    "lima"};

} // namespace aibatch::emulator
