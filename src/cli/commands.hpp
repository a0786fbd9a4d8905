// The aibatch commands. Each is a coroutine run by runtime::execute and returns the exit
// status (see runtime.hpp); problems with the command line or an input file are thrown
// as usage_error, failures of the library as aibatch::error.
#pragma once

#include "runtime.hpp"

#include <chrono>
#include <optional>
#include <string>
#include <vector>

namespace aibatch::cli {

struct list_args {
    std::optional<unsigned> limit; ///< one page of this many (API default 20)
    bool all = false;              ///< every batch, page after page
};
task<int> list_command(runtime& rt, list_args a);

task<int> status_command(runtime& rt, std::string id);

struct wait_args {
    std::vector<std::string> ids;
    std::chrono::milliseconds poll{std::chrono::seconds(5)};
};
task<int> wait_command(runtime& rt, wait_args a);

enum class result_filter { all, succeeded, errors };
struct results_args {
    std::string id;
    std::string out; ///< file; empty or "-": stdout
    result_filter filter = result_filter::all;
};
task<int> results_command(runtime& rt, results_args a);

task<int> cancel_command(runtime& rt, std::vector<std::string> ids);
task<int> delete_command(runtime& rt, std::vector<std::string> ids);

struct create_args {
    std::string file;
    bool wait = false;
    std::string out; ///< results with --wait; empty or "-": stdout
    std::chrono::milliseconds poll{std::chrono::seconds(5)};
    std::size_t max_requests = 100'000;
    std::size_t max_bytes = 256'000'000;
};
task<int> create_command(runtime& rt, create_args a);

struct run_args {
    std::string model;
    std::string schema_file;
    std::string prompts_file;
    std::string out; ///< "-": stdout
    std::optional<std::string> system;
    std::string cache_system; ///< "", "5m" or "1h": batch_options::cache_system
    std::string mode = "tool";
    std::string journal;
    std::optional<double> cost_limit;
    std::int64_t max_tokens = 1024;
    std::string run_id;
    unsigned repair_rounds = 1;
    std::chrono::milliseconds poll{std::chrono::seconds(1)};
    std::size_t max_requests = 100'000;
    std::size_t max_bytes = 256'000'000;
    /// batch_options::lost_create_horizon in seconds; unset: the library's default.
    std::optional<std::uint64_t> lost_create_horizon;
    bool dry_run = false;
};
task<int> run_command(runtime& rt, run_args a);

/// `aibatch config`: the effective configuration, the key redacted, and where each value
/// came from. Needs no io_context.
int config_command(const global_options& g);

} // namespace aibatch::cli
