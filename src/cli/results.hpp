// What `results` and `create --wait` share: the file results go to (written whole or not at
// all), the count of what was written, and the streaming of one batch's results.
#pragma once

#include "commands.hpp"

#include <boost/json/object.hpp>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>

namespace aibatch::cli {

// A file to write, or stdout for "" and "-". A file is written as PATH.partial and renamed
// over PATH by commit() only: a download that fails (a batch not found, not ended, a cut
// connection) leaves an existing PATH as it was.
class output_file {
public:
    explicit output_file(const std::string& path) {
        if (path.empty() || path == "-") {
            f_ = stdout;
            return;
        }
        path_ = path;
        partial_ = path + ".partial";
        f_ = std::fopen(partial_.c_str(), "wb");
        if (!f_)
            throw usage_error("cannot write " + partial_ + ": " + std::strerror(errno) +
                              "; give a path in a directory you can write to");
        owned_ = true;
    }
    ~output_file() {
        if (owned_) {
            std::fclose(f_);
            if (!committed_)
                std::remove(partial_.c_str());
        }
    }
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;
    std::FILE* get() const { return f_; }
    bool is_stdout() const { return !owned_; }
    void write(std::string_view s) {
        if (std::fwrite(s.data(), 1, s.size(), f_) != s.size())
            throw std::runtime_error(std::string("writing the output failed: ") +
                                     std::strerror(errno) + "; check the free disk space");
    }
    void flush() {
        if (std::fflush(f_) != 0)
            throw std::runtime_error(std::string("writing the output failed: ") +
                                     std::strerror(errno) + "; check the free disk space");
    }
    /// Everything was written: the file takes its name.
    void commit() {
        flush();
        if (!owned_ || committed_)
            return;
        if (std::rename(partial_.c_str(), path_.c_str()) != 0)
            throw std::runtime_error("renaming " + partial_ + " to " + path_ +
                                     " failed: " + std::strerror(errno));
        committed_ = true;
    }

private:
    std::FILE* f_ = nullptr;
    bool owned_ = false;
    bool committed_ = false;
    std::string path_, partial_;
};

struct result_tally {
    std::uint64_t written = 0;
    std::uint64_t succeeded = 0, errored = 0, canceled = 0, expired = 0, bad_lines = 0;
    bool all_succeeded() const {
        return errored == 0 && canceled == 0 && expired == 0 && bad_lines == 0;
    }
    boost::json::object to_json() const {
        return boost::json::object{{"written", written}, {"succeeded", succeeded},
                                   {"errored", errored}, {"canceled", canceled},
                                   {"expired", expired}, {"bad_lines", bad_lines}};
    }
    std::string to_string() const {
        return std::to_string(written) + " lines written (results: " + std::to_string(succeeded) +
               " succeeded, " + std::to_string(errored) + " errored, " + std::to_string(canceled) +
               " canceled, " + std::to_string(expired) + " expired" +
               (bad_lines ? ", " + std::to_string(bad_lines) + " unreadable lines skipped" : "") +
               ")";
    }
};

// Streams a batch's results into `out` line by line (memory bounded by the longest line).
task<void> write_results(runtime& rt, const std::string& id, output_file& out, result_filter filter,
                         result_tally& tally);

} // namespace aibatch::cli
