// What every aibatch command runs on: one io_context, the client made from the library's
// configuration, the exit status rules, the -v notes and the Ctrl-C policy.
#pragma once

#include <aibatch/aibatch.hpp>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/signal_set.hpp>

#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>

namespace aibatch::cli {

/// Exit statuses (a public contract): 0 success, 1 some items or operations failed,
/// 2 usage or configuration error.
enum exit_status : int { exit_ok = 0, exit_failed = 1, exit_usage = 2 };

/// A mistake in the command line or an input file: exit status 2, message says the fix.
class usage_error : public std::runtime_error {
public:
    using std::runtime_error::runtime_error;
};

/// What Ctrl-C does during wait and run.
enum class interrupt_policy { ask, cancel, leave };

struct global_options {
    bool json = false;
    bool verbose = false;
    /// From --on-interrupt; `ask` when not given (asks on a terminal, else leaves).
    interrupt_policy on_interrupt = interrupt_policy::ask;
};

class runtime {
public:
    explicit runtime(global_options o);
    ~runtime();

    /// Runs a command's coroutine to the end on the io_context and turns what it threw
    /// into a message on stderr (what happened and what to do) and an exit status.
    int execute(const std::function<task<int>(runtime&)>& command);

    /// The client, made on first use from client_config::from_env() (environment, then
    /// .env). Throws aibatch::error (missing key, bad configuration): exit status 2.
    aibatch::client& client();
    boost::asio::any_io_executor executor() { return ioc_.get_executor(); }
    /// The base URL of the client (empty until client() made it).
    const std::string& base_url() const { return base_url_; }
    const global_options& options() const { return opts_; }

    /// A note on stderr with -v (what the command is doing); never secrets.
    void note(const std::string& what) const;
    /// A warning on stderr.
    void warn(const std::string& what) const;

    /// Emitting it cancels the running command (terminal cancellation of its coroutine).
    boost::asio::cancellation_signal& cancel_signal() { return cancel_; }

    /// Watches for Ctrl-C (SIGINT, SIGTERM). On the first, decides what to do with the
    /// remote batches: --on-interrupt when given; else asks on stderr when stdin is a
    /// terminal ("Cancel ...? [y/N]"; a second Ctrl-C answers no); else leaves them. Then
    /// calls `decided` once, on the io_context.
    void watch_interrupts(std::function<void(interrupt_policy)> decided);
    /// Stops watching (the command is past the point where Ctrl-C matters).
    void stop_watching();
    /// Whether the Ctrl-C question is on the terminal (progress must not draw over it).
    bool asking() const noexcept { return asking_; }

private:
    void decide(interrupt_policy p);
    void ask();

    global_options opts_;
    boost::asio::io_context ioc_;
    std::optional<aibatch::client> client_;
    std::string base_url_;
    boost::asio::cancellation_signal cancel_;
    std::optional<boost::asio::signal_set> signals_;
    std::optional<boost::asio::posix::stream_descriptor> stdin_;
    std::function<void(interrupt_policy)> decided_;
    std::string answer_;
    bool asking_ = false;
};

/// The exit status and message of an exception thrown by a command. With `json`, also
/// {"error":{"status","code","message"}} on stdout, `code` from error_token() ("usage"
/// for a usage_error, "error" for another exception).
int report_failure(const std::exception_ptr& e, bool json);
/// The same, with the client's base URL (for the advice on a 404: not_found_hint()).
int report_failure(const std::exception_ptr& e, bool json, const std::string& base_url);

/// What to do about a 404 (errc::not_found): check the batch id; but when the path of
/// `base_url` ends with /v1 or holds /v1/ (the client adds /v1/messages/... itself, so
/// requests went to /v1/v1/...), set the base URL without it.
std::string not_found_hint(const std::string& base_url);
/// The /v1 part of not_found_hint() alone; nullopt when the base URL's path holds no /v1.
std::optional<std::string> doubled_v1_hint(const std::string& base_url);

/// The machine token of an error code for --json output: the name of its aibatch::errc
/// ("not_found", "invalid_argument", "timed_out", ...), "system_error" for another category.
std::string error_token(const boost::system::error_code& ec);

} // namespace aibatch::cli
