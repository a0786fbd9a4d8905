// Boost.JSON compiled into aibatch_boost (AIBATCH_BOOST_HEADER_ONLY builds only).
#include <boost/json/src.hpp>
