// Boost.URL compiled into aibatch_boost (AIBATCH_BOOST_HEADER_ONLY builds with a Boost that
// still has boost/url/src.hpp, up to 1.84).
#include <boost/url/src.hpp>
