#define BOOST_TEST_MODULE aibatch command line tests
// Boost.Test's compiled library, or (AIBATCH_BOOST_HEADER_ONLY builds) its header-only form.
#ifdef AIBATCH_BOOST_TEST_INCLUDED
#include <boost/test/included/unit_test.hpp>
#else
#include <boost/test/unit_test.hpp>
#endif
