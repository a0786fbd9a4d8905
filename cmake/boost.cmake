# Finds Boost 1.81 or newer and sets
#   AIBATCH_BOOST_LIBRARIES   what the aibatch target links for Boost
#   AIBATCH_BOOST_COMPONENTS  the components aibatchConfig.cmake asks its consumers' Boost for
# and defines aibatch_boost (AIBATCH_BOOST_HEADER_ONLY: Boost.JSON and Boost.URL compiled
# here, for builds where Boost's compiled libraries cannot be linked, such as libc++ or a
# Boost whose binaries need a newer libstdc++).
set(AIBATCH_BOOST_MIN_VERSION 1.81)

if(AIBATCH_BOOST_HEADER_ONLY)
    set(AIBATCH_BOOST_COMPONENTS headers)
else()
    set(AIBATCH_BOOST_COMPONENTS json url)
endif()

if(AIBATCH_BOOST_ROOT)
    find_package(Boost ${AIBATCH_BOOST_MIN_VERSION} REQUIRED CONFIG
                 COMPONENTS ${AIBATCH_BOOST_COMPONENTS} PATHS ${AIBATCH_BOOST_ROOT} NO_DEFAULT_PATH)
else()
    find_package(Boost ${AIBATCH_BOOST_MIN_VERSION} REQUIRED CONFIG COMPONENTS ${AIBATCH_BOOST_COMPONENTS})
endif()
message(STATUS "aibatch: Boost ${Boost_VERSION} from ${Boost_DIR}")

if(NOT AIBATCH_BOOST_HEADER_ONLY)
    set(AIBATCH_BOOST_LIBRARIES Boost::headers Boost::json Boost::url)
    return()
endif()

# Boost.JSON from its single-file form; Boost.URL the same up to 1.84 (its src.hpp is an
# #error from 1.85 on), from its sources otherwise.
get_target_property(_aibatch_boost_include Boost::headers INTERFACE_INCLUDE_DIRECTORIES)
set(_aibatch_boost_sources ${PROJECT_SOURCE_DIR}/src/boost/json.cpp)
set(_aibatch_url_src_hpp "")
foreach(dir ${_aibatch_boost_include})
    if(EXISTS ${dir}/boost/url/src.hpp)
        file(STRINGS ${dir}/boost/url/src.hpp _aibatch_url_error REGEX "^#error")
        if(NOT _aibatch_url_error)
            set(_aibatch_url_src_hpp ${dir}/boost/url/src.hpp)
        endif()
        break()
    endif()
endforeach()
if(_aibatch_url_src_hpp)
    list(APPEND _aibatch_boost_sources ${PROJECT_SOURCE_DIR}/src/boost/url.cpp)
else()
    if(NOT AIBATCH_BOOST_URL_SOURCES AND AIBATCH_BOOST_ROOT AND EXISTS ${AIBATCH_BOOST_ROOT}/../libs/url/src)
        get_filename_component(AIBATCH_BOOST_URL_SOURCES ${AIBATCH_BOOST_ROOT}/../libs/url/src ABSOLUTE)
    endif()
    if(NOT EXISTS "${AIBATCH_BOOST_URL_SOURCES}/url.cpp")
        message(FATAL_ERROR
                "Boost ${Boost_VERSION} has no boost/url/src.hpp: set AIBATCH_BOOST_URL_SOURCES to "
                "Boost.URL's libs/url/src (scripts/fetch-boost-latest fetches it)")
    endif()
    file(GLOB_RECURSE _aibatch_url_sources CONFIGURE_DEPENDS ${AIBATCH_BOOST_URL_SOURCES}/*.cpp)
    list(APPEND _aibatch_boost_sources ${_aibatch_url_sources})
endif()

add_library(aibatch_boost STATIC ${_aibatch_boost_sources})
add_library(aibatch::boost ALIAS aibatch_boost)
target_link_libraries(aibatch_boost PUBLIC Boost::headers)
target_compile_definitions(aibatch_boost PRIVATE BOOST_URL_SOURCE BOOST_JSON_SOURCE)
target_compile_features(aibatch_boost PUBLIC cxx_std_20)
# Boost's own code: no warnings of ours, and never warnings as errors.
set_target_properties(aibatch_boost PROPERTIES EXPORT_NAME boost POSITION_INDEPENDENT_CODE ON
                                               COMPILE_WARNING_AS_ERROR OFF)
set(AIBATCH_BOOST_LIBRARIES Boost::headers aibatch_boost)
