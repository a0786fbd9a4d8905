# Warnings on our own targets only; Boost and OpenSSL headers are system headers.
# Warnings are never errors here: the project's presets (and so CI) turn them into errors
# with CMAKE_COMPILE_WARNING_AS_ERROR, a user's or a packager's build does not.
# -Wno-mismatched-new-delete: g++ 12 reports a false positive at the end of some Asio
# coroutines (awaitable frames use Asio's sized operator new/delete pair; GCC bug 109224).
function(aibatch_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Wno-unused-parameter
                           $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
endfunction()
