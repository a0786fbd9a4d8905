# Strict warnings on our own targets only; Boost and OpenSSL headers are system headers.
# -Wno-mismatched-new-delete: g++ 12 reports a false positive at the end of some Asio
# coroutines (awaitable frames use Asio's sized operator new/delete pair; GCC bug 109224).
function(aibatch_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter
                           $<$<CXX_COMPILER_ID:GNU>:-Wno-mismatched-new-delete>)
endfunction()
