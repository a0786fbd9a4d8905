# Strict warnings on our own targets only; Boost and OpenSSL headers are system headers.
function(aibatch_warnings target)
    target_compile_options(${target} PRIVATE -Wall -Wextra -Werror -Wno-unused-parameter)
endfunction()
