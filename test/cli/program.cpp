#include "program.hpp"

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <sstream>
#include <stdexcept>
#include <sys/wait.h>
#include <unistd.h>

namespace cli_test {

namespace {

struct prepared {
    std::vector<std::string> strings;
    std::vector<char*> argv, envp;
};

prepared prepare(const program& p, const std::vector<std::string>& args) {
    prepared r;
    r.strings.push_back(p.path);
    for (const auto& a : args)
        r.strings.push_back(a);
    std::size_t argc = r.strings.size();
    auto env = p.env;
    if (!env.count("PATH"))
        env["PATH"] = "/usr/local/bin:/usr/bin:/bin";
    for (const auto& [k, v] : env)
        r.strings.push_back(k + "=" + v);
    for (std::size_t i = 0; i < r.strings.size(); ++i)
        (i < argc ? r.argv : r.envp).push_back(r.strings[i].data());
    r.argv.push_back(nullptr);
    r.envp.push_back(nullptr);
    return r;
}

std::string temp_file() {
    char name[] = "/tmp/aibatch-cli-test-XXXXXX";
    int fd = ::mkstemp(name);
    if (fd < 0)
        throw std::runtime_error("mkstemp failed");
    ::close(fd);
    return name;
}

std::string slurp(const std::string& file) {
    std::ifstream in(file, std::ios::binary);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
}

// Only async-signal-safe calls between fork and exec (the test process has threads).
pid_t spawn(const program& p, prepared& pr, int out_fd, int err_fd, int in_fd = -1) {
    int null_fd = in_fd >= 0 ? in_fd : ::open("/dev/null", O_RDONLY);
    pid_t pid = ::fork();
    if (pid < 0)
        throw std::runtime_error("fork failed");
    if (pid == 0) {
        ::dup2(null_fd, 0);
        ::dup2(out_fd, 1);
        ::dup2(err_fd, 2);
        if (!p.cwd.empty() && ::chdir(p.cwd.c_str()) != 0)
            ::_exit(127);
        ::execve(pr.argv[0], pr.argv.data(), pr.envp.data());
        ::_exit(127);
    }
    if (in_fd < 0)
        ::close(null_fd);
    return pid;
}

int wait_status(pid_t pid) {
    int st = 0;
    while (::waitpid(pid, &st, 0) < 0 && errno == EINTR) {
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

} // namespace

outcome run(const program& p, const std::vector<std::string>& args) {
    prepared pr = prepare(p, args);
    std::string out_file = temp_file(), err_file = temp_file();
    int out_fd = p.stdout_path.empty() ? ::open(out_file.c_str(), O_WRONLY | O_TRUNC)
                                       : ::open(p.stdout_path.c_str(), O_WRONLY);
    int err_fd = ::open(err_file.c_str(), O_WRONLY | O_TRUNC);
    pid_t pid = spawn(p, pr, out_fd, err_fd);
    ::close(out_fd);
    ::close(err_fd);
    outcome o;
    o.status = wait_status(pid);
    o.out = slurp(out_file);
    o.err = slurp(err_file);
    std::remove(out_file.c_str());
    std::remove(err_file.c_str());
    return o;
}

running::running(const program& p, const std::vector<std::string>& args, bool merged,
                 bool with_stdin) {
    prepared pr = prepare(p, args);
    out_file_ = temp_file();
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0)
        throw std::runtime_error("pipe failed");
    int in_fds[2] = {-1, -1};
    if (with_stdin && ::pipe(in_fds) != 0)
        throw std::runtime_error("pipe failed");
    int out_fd = merged ? pipe_fds[1] : ::open(out_file_.c_str(), O_WRONLY | O_TRUNC);
    pid_ = spawn(p, pr, out_fd, pipe_fds[1], in_fds[0]);
    if (!merged)
        ::close(out_fd);
    ::close(pipe_fds[1]);
    err_fd_ = pipe_fds[0];
    if (with_stdin) {
        ::close(in_fds[0]);
        in_fd_ = in_fds[1];
    }
}

void running::write_stdin(const std::string& text) {
    if (in_fd_ >= 0 && ::write(in_fd_, text.data(), text.size()) < 0)
        throw std::runtime_error("writing to the child's stdin failed");
}

running::~running() {
    if (pid_ > 0) {
        ::kill(pid_, SIGKILL);
        wait_status(pid_);
    }
    if (err_fd_ >= 0)
        ::close(err_fd_);
    if (in_fd_ >= 0)
        ::close(in_fd_);
    if (!out_file_.empty())
        std::remove(out_file_.c_str());
}

bool running::wait_for_stderr(const std::string& text) {
    char buf[4096];
    while (err_.find(text) == std::string::npos) {
        ssize_t n = ::read(err_fd_, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false; // the child closed stderr (it ended)
        err_.append(buf, static_cast<std::size_t>(n));
    }
    return true;
}

void running::signal(int sig) {
    ::kill(pid_, sig);
}

outcome running::finish() {
    wait_for_stderr(std::string(1, '\0')); // reads to the end: stderr never holds a NUL
    outcome o;
    o.status = wait_status(pid_);
    pid_ = -1;
    o.out = slurp(out_file_);
    o.err = err_;
    return o;
}

} // namespace cli_test
