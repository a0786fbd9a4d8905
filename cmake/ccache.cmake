# Use ccache when it is on the machine: rebuilds on 2 cores stay short.
find_program(AIBATCH_CCACHE ccache)
if(AIBATCH_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${AIBATCH_CCACHE})
endif()
