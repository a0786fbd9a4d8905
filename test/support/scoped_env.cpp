#include "run_task.hpp"

#include <cstdlib>

namespace aibatch::test {

scoped_env::scoped_env(const char* name, const char* value) : name_(name) {
    if (const char* v = std::getenv(name))
        old_ = v;
    if (value)
        ::setenv(name, value, 1);
    else
        ::unsetenv(name);
}

scoped_env::~scoped_env() {
    if (old_)
        ::setenv(name_.c_str(), old_->c_str(), 1);
    else
        ::unsetenv(name_.c_str());
}

} // namespace aibatch::test
