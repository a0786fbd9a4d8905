#define BOOST_TEST_MODULE aibatch unit tests
#include <boost/test/unit_test.hpp>
