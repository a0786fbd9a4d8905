# `cmake --install` puts headers, the library, the tools and a CMake package config
# in place so that find_package(aibatch CONFIG REQUIRED) works for other projects.
# `cmake --install <build> --strip` also strips debug information from the static
# libraries (CMake itself strips only programs and shared libraries).
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

# Public headers only (detail/ holds templates the public ones need); src/*.hpp stay private.
install(DIRECTORY include/aibatch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/aibatch/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/aibatch)

# Libraries, then whichever programs this build has (a command-line tool may be added as
# aibatch-cli or aibatch_cli, installed as `aibatch`).
set(AIBATCH_INSTALL_TARGETS aibatch)
set(AIBATCH_INSTALL_LIBRARIES aibatch)
foreach(t aibatch_boost aibatch_emulator)
    if(TARGET ${t})
        list(APPEND AIBATCH_INSTALL_TARGETS ${t})
        list(APPEND AIBATCH_INSTALL_LIBRARIES ${t})
    endif()
endforeach()
foreach(t aibatch-emulator aibatch-cli aibatch_cli)
    if(TARGET ${t})
        list(APPEND AIBATCH_INSTALL_TARGETS ${t})
    endif()
endforeach()

install(TARGETS ${AIBATCH_INSTALL_TARGETS} EXPORT aibatchTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

if(CMAKE_STRIP)
    foreach(t ${AIBATCH_INSTALL_LIBRARIES})
        get_target_property(type ${t} TYPE)
        if(type STREQUAL "STATIC_LIBRARY")
            install(CODE "
                if(CMAKE_INSTALL_DO_STRIP)
                    execute_process(COMMAND \"${CMAKE_STRIP}\" --strip-debug
                        \"\$ENV{DESTDIR}\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_LIBDIR}/$<TARGET_FILE_NAME:${t}>\")
                endif()")
        endif()
    endforeach()
endif()

set(AIBATCH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/aibatch)
install(EXPORT aibatchTargets NAMESPACE aibatch:: DESTINATION ${AIBATCH_CMAKE_DIR})
configure_package_config_file(cmake/aibatchConfig.cmake.in
    ${PROJECT_BINARY_DIR}/aibatchConfig.cmake INSTALL_DESTINATION ${AIBATCH_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/aibatchConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/aibatchConfig.cmake
              ${PROJECT_BINARY_DIR}/aibatchConfigVersion.cmake
        DESTINATION ${AIBATCH_CMAKE_DIR})
