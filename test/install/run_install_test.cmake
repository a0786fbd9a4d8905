# Installs the built aibatch into a fresh prefix, configures and builds a consumer that
# uses find_package(aibatch CONFIG REQUIRED), then runs it.
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

function(run)
    execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
    if(NOT rc EQUAL 0)
        message(FATAL_ERROR "failed (${rc}): ${ARGN}\n${out}\n${err}")
    endif()
    set(last_output "${out}" PARENT_SCOPE)
endfunction()

run(${CMAKE_COMMAND} --install ${AIBATCH_BUILD_DIR} --prefix ${prefix})
if(NOT EXISTS ${prefix}/lib/cmake/aibatch/aibatchConfigVersion.cmake)
    message(FATAL_ERROR "aibatchConfigVersion.cmake was not installed")
endif()
run(${CMAKE_COMMAND} -S ${CONSUMER_SOURCE_DIR} -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=Release)
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build)
run(${WORK_DIR}/build/consumer)
if(NOT last_output MATCHES "aibatch [0-9]+\\.[0-9]+\\.[0-9]+ consumer ok")
    message(FATAL_ERROR "consumer printed: ${last_output}")
endif()
message(STATUS "consumer: ${last_output}")
