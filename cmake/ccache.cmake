# Use ccache when it is on the machine: rebuilds on 2 cores stay short. base_dir makes the
# paths under the source tree relative in what ccache hashes, so another clone of the
# repository (CI's fresh clone, a second worktree) hits the same cache entries.
find_program(AIBATCH_CCACHE ccache)
if(AIBATCH_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
    set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${PROJECT_SOURCE_DIR}
                                    CCACHE_NOHASHDIR=true ${AIBATCH_CCACHE})
endif()
