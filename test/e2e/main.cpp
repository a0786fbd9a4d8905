#define BOOST_TEST_MODULE aibatch end - to - end tests
#include <boost/test/unit_test.hpp>
