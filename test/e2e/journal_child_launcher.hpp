// Starts test/e2e/journal_child.cpp as a real child process (for kill -9 tests) and reads
// what it and the journal wrote. Shared by the e2e and integrity tests.
#pragma once

#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <fstream>
#include <spawn.h>
#include <string>
#include <vector>

extern char** environ;

namespace e2e {

/// Runs `aibatch_journal_child URL JOURNAL ITEMS CHUNK` with stdout to `out`.
inline pid_t spawn_journal_child(const std::string& url, const std::string& journal,
                                 const std::string& out, const std::string& items,
                                 const std::string& chunk) {
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<char*> argv{
        const_cast<char*>(AIBATCH_JOURNAL_CHILD), const_cast<char*>(url.c_str()),
        const_cast<char*>(journal.c_str()),       const_cast<char*>(items.c_str()),
        const_cast<char*>(chunk.c_str()),         nullptr};
    pid_t pid = -1;
    int rc = posix_spawn(&pid, AIBATCH_JOURNAL_CHILD, &fa, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&fa);
    BOOST_REQUIRE_MESSAGE(rc == 0, "posix_spawn failed: " << rc);
    return pid;
}

/// How many lines of a file contain `needle`.
inline std::size_t count_lines_with(const std::string& path, const std::string& needle) {
    std::ifstream f(path);
    std::string line;
    std::size_t n = 0;
    while (std::getline(f, line))
        n += line.find(needle) != std::string::npos;
    return n;
}

} // namespace e2e
