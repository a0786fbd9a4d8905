# AIBATCH_BUILD_FUZZERS (preset `fuzz`): every target is instrumented for libFuzzer with
# AddressSanitizer and UndefinedBehaviorSanitizer, and test/fuzz builds one binary per
# fuzz target. Needs clang (and its runtime, libclang-rt-N-dev on Debian).
option(AIBATCH_BUILD_FUZZERS "Build the libFuzzer targets of test/fuzz (clang only)" OFF)
if(AIBATCH_BUILD_FUZZERS)
    if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
        message(FATAL_ERROR "AIBATCH_BUILD_FUZZERS needs clang (libFuzzer); use the fuzz preset")
    endif()
    add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                        -fno-sanitize-recover=undefined -g)
    add_link_options(-fsanitize=address,undefined)
endif()
