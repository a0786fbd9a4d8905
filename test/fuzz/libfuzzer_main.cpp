// The libFuzzer driver of one target: AIBATCH_FUZZ_ENTRY names the entry function
// (see fuzz_targets.hpp). An exception escaping the entry is a finding: it is printed,
// then abort() makes libFuzzer save the input as a crash.
#include "fuzz_targets.hpp"

#include <boost/core/demangle.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <typeinfo>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    try {
        AIBATCH_FUZZ_ENTRY(std::string_view(reinterpret_cast<const char*>(data), size));
    } catch (const std::exception& e) {
        std::fprintf(stderr, "aibatch fuzz finding: %s: %s\n",
                     boost::core::demangle(typeid(e).name()).c_str(), e.what());
        std::abort();
    }
    return 0;
}
