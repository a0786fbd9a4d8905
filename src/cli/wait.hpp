// What `wait` and `create --wait` share: polling batches until each has ended, the
// progress on stderr, and what Ctrl-C does meanwhile.
#pragma once

#include "commands.hpp"

#include <chrono>
#include <string>
#include <vector>

namespace aibatch::cli {

struct wait_outcome {
    std::vector<batch_info> batches;
    bool interrupted = false;
    interrupt_policy policy = interrupt_policy::leave;
};

// Polls every batch until each has ended (or Ctrl-C), showing the progress on stderr.
// `just_created`: the ids were created by this command (a 404 is then the API's lag).
task<wait_outcome> wait_for(runtime& rt, std::vector<std::string> ids,
                            std::chrono::milliseconds poll, bool just_created = false);

} // namespace aibatch::cli
