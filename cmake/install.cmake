# `cmake --install` puts headers, the library, the tools and a CMake package config
# in place so that find_package(aibatch CONFIG REQUIRED) works for other projects.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

install(DIRECTORY include/aibatch DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(FILES ${PROJECT_BINARY_DIR}/include/aibatch/version.hpp
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}/aibatch)

set(AIBATCH_INSTALL_TARGETS aibatch)
foreach(t aibatch_emulator aibatch-emulator aibatch-cli)
    if(TARGET ${t})
        list(APPEND AIBATCH_INSTALL_TARGETS ${t})
    endif()
endforeach()

install(TARGETS ${AIBATCH_INSTALL_TARGETS} EXPORT aibatchTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
        RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR}
        INCLUDES DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

set(AIBATCH_CMAKE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/aibatch)
install(EXPORT aibatchTargets NAMESPACE aibatch:: DESTINATION ${AIBATCH_CMAKE_DIR})
configure_package_config_file(cmake/aibatchConfig.cmake.in
    ${PROJECT_BINARY_DIR}/aibatchConfig.cmake INSTALL_DESTINATION ${AIBATCH_CMAKE_DIR})
write_basic_package_version_file(${PROJECT_BINARY_DIR}/aibatchConfigVersion.cmake
    VERSION ${PROJECT_VERSION} COMPATIBILITY SameMinorVersion)
install(FILES ${PROJECT_BINARY_DIR}/aibatchConfig.cmake
              ${PROJECT_BINARY_DIR}/aibatchConfigVersion.cmake
        DESTINATION ${AIBATCH_CMAKE_DIR})
