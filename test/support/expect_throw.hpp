// Runs f and returns the exception of type E it throws; fails the test when it throws
// nothing (another exception type propagates).
#pragma once

#include <boost/core/demangle.hpp>
#include <boost/test/unit_test.hpp>

#include <stdexcept>
#include <typeinfo>

namespace aibatch::test {

template <class E, class F>
E expect_throw(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e;
    }
    BOOST_FAIL("no " << boost::core::demangle(typeid(E).name()) << " thrown");
    throw std::logic_error("unreachable");
}

} // namespace aibatch::test
