# Builds test/install/consumer, with default flags, in Release and in Debug, as a user of
# aibatch does: MODE=package installs the built aibatch into a fresh prefix and the
# consumer uses find_package(aibatch CONFIG REQUIRED); MODE=subdirectory has the consumer
# add_subdirectory() the aibatch sources. Then runs the consumer's three programs (Asio
# header-only; Asio compiled by the program, linked after and before aibatch).
# Variables: MODE, AIBATCH_BUILD_DIR, AIBATCH_SOURCE_DIR, CONSUMER_SOURCE_DIR, WORK_DIR,
# CONSUMER_CACHE (initial cache: compiler, its flags, Boost location and options).
file(REMOVE_RECURSE ${WORK_DIR})

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}${err}" PARENT_SCOPE)
endfunction()

if(MODE STREQUAL "package")
    set(prefix ${WORK_DIR}/prefix)
    run(${CMAKE_COMMAND} --install ${AIBATCH_BUILD_DIR} --prefix ${prefix})
    if(NOT EXISTS ${prefix}/lib/cmake/aibatch/aibatchConfigVersion.cmake)
        message(FATAL_ERROR "aibatchConfigVersion.cmake was not installed")
    endif()
    set(mode_args -DCMAKE_PREFIX_PATH=${prefix})
elseif(MODE STREQUAL "subdirectory")
    set(mode_args -DAIBATCH_CONSUMER_MODE=subdirectory -DAIBATCH_SOURCE_DIR=${AIBATCH_SOURCE_DIR})
else()
    message(FATAL_ERROR "MODE must be package or subdirectory")
endif()

# ccache (when the consumer cache names it) hashes paths relative to the source tree.
set(build_env ${CMAKE_COMMAND} -E env CCACHE_BASEDIR=${AIBATCH_SOURCE_DIR} CCACHE_NOHASHDIR=true)
foreach(config Release Debug)
    set(build ${WORK_DIR}/${config})
    run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${build} -C ${CONSUMER_CACHE}
        -DCMAKE_BUILD_TYPE=${config} ${mode_args})
    run(${build_env} ${CMAKE_COMMAND} --build ${build} --parallel 2)
    # Nothing of aibatch's may warn in a user's build (nor print a #pragma message).
    string(REGEX MATCHALL "[^\n]*(warning|pragma message)[^\n]*" warnings "${last_output}")
    if(warnings)
        message(FATAL_ERROR "${config} build of the consumer warns:\n${last_output}")
    endif()
    foreach(program consumer consumer_aibatch_first consumer_own_asio_first)
        run(${build}/${program})
        if(NOT last_output MATCHES "aibatch [0-9]+\\.[0-9]+\\.[0-9]+ consumer ok")
            message(FATAL_ERROR "${config} ${program} printed: ${last_output}")
        endif()
        message(STATUS "${config} ${program}: ${last_output}")
    endforeach()
endforeach()
