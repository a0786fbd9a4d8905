// Runs the aibatch binary as a child process (fork/exec) with a chosen environment and
// working directory, stdin from /dev/null, and collects its exit status and output.
#pragma once

#include <map>
#include <string>
#include <sys/types.h>
#include <vector>

namespace cli_test {

struct outcome {
    int status = -1; ///< exit status, or 128 + signal
    std::string out;
    std::string err;
};

struct program {
    std::string path;                       ///< executable
    std::map<std::string, std::string> env; ///< the whole environment (plus PATH)
    std::string cwd;                        ///< working directory
    std::string stdout_path; ///< run(): stdout goes here (e.g. /dev/full) instead of `out`
};

/// Runs to the end.
outcome run(const program& p, const std::vector<std::string>& args);

/// A running child whose stderr is read as it comes (for Ctrl-C tests).
class running {
public:
    /// `merged`: stdout goes to the same pipe as stderr (a pseudo-terminal's output read
    /// through script(1)). `with_stdin`: stdin is a pipe that write_stdin() feeds.
    running(const program& p, const std::vector<std::string>& args, bool merged = false,
            bool with_stdin = false);
    ~running();
    running(const running&) = delete;
    running& operator=(const running&) = delete;
    /// Reads stderr until `text` has appeared (or the child closed it): true when seen.
    bool wait_for_stderr(const std::string& text);
    void signal(int sig);
    void write_stdin(const std::string& text);
    /// Reads the rest and waits for the exit.
    outcome finish();

private:
    pid_t pid_ = -1;
    int err_fd_ = -1;
    int in_fd_ = -1;
    std::string out_file_;
    std::string err_;
};

} // namespace cli_test
