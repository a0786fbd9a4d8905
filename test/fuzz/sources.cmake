# The fuzz entry functions (fuzz_targets.hpp), shared by the libFuzzer binaries
# (test/fuzz/CMakeLists.txt, preset `fuzz`) and the regression replay test (test/).
set(AIBATCH_FUZZ_TARGETS dotenv endpoint decode structured_output api_responses
    emulator_model emulator_http emulator_batch_body journal json_decode json_tokens)
set(AIBATCH_FUZZ_SOURCES)
foreach(t ${AIBATCH_FUZZ_TARGETS})
    list(APPEND AIBATCH_FUZZ_SOURCES ${CMAKE_CURRENT_LIST_DIR}/${t}_fuzz.cpp)
endforeach()
