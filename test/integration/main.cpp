#define BOOST_TEST_MODULE aibatch integration tests
#include <boost/test/unit_test.hpp>
