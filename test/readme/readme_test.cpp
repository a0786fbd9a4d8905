// README.md shows only compiled code: every paragraph (blank-line separated) of every
// ```cpp block must appear, whitespace aside, in a file under examples/ or in
// test/readme/snippets.cpp (which this test's target compiles).
#define BOOST_TEST_MODULE aibatch README snippets
// Boost.Test's compiled library, or (AIBATCH_BOOST_HEADER_ONLY builds) its header-only form.
#ifdef AIBATCH_BOOST_TEST_INCLUDED
#include <boost/test/included/unit_test.hpp>
#else
#include <boost/test/unit_test.hpp>
#endif

#include <cctype>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace {

std::string read(const std::filesystem::path& p) {
    std::ifstream f(p);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

bool word(char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
}

// Whitespace removed, except one space between two word characters (so line breaks and
// indentation chosen by clang-format do not matter).
std::string squeeze(const std::string& s) {
    std::string out;
    bool space = false;
    for (char c : s) {
        if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
            space = true;
            continue;
        }
        if (space && !out.empty() && word(out.back()) && word(c))
            out += ' ';
        space = false;
        out += c;
    }
    return out;
}

} // namespace

BOOST_AUTO_TEST_CASE(every_cpp_block_of_the_readme_is_compiled_code) {
    const std::filesystem::path root = AIBATCH_SOURCE_DIR;
    std::string compiled = squeeze(read(root / "test/readme/snippets.cpp"));
    for (const auto& e : std::filesystem::directory_iterator(root / "examples"))
        if (e.path().extension() == ".cpp" || e.path().extension() == ".hpp")
            compiled += "\n" + squeeze(read(e.path()));
    std::string readme = read(root / "README.md");
    std::size_t blocks = 0, pos = 0;
    while ((pos = readme.find("```cpp\n", pos)) != std::string::npos) {
        pos += 7;
        auto end = readme.find("```", pos);
        BOOST_REQUIRE(end != std::string::npos);
        std::string block = readme.substr(pos, end - pos);
        pos = end + 3;
        ++blocks;
        std::size_t p = 0;
        while (p < block.size()) {
            auto q = block.find("\n\n", p);
            std::string para = block.substr(p, q == std::string::npos ? std::string::npos : q - p);
            p = q == std::string::npos ? block.size() : q + 2;
            std::string s = squeeze(para);
            if (s.empty())
                continue;
            BOOST_TEST(compiled.find(s) != std::string::npos,
                       "README block " << blocks << " is not compiled code:\n"
                                       << para);
        }
    }
    BOOST_TEST(blocks >= 5u);
}
