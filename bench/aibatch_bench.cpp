// aibatch's side of the benchmarks (bench/run drives it beside the TypeScript SDK).
// Each subcommand prints one JSON line of figures.
//
//   aibatch_bench prepare  --url U --items N        create the shared batch, wait, print its id
//   aibatch_bench results  --url U --batch ID       stream, parse and validate into SpamResult
//   aibatch_bench download --url U --batch ID       plain loopback download (floor)
//   aibatch_bench parse    --file F                 bare Boost.JSON parse of a JSONL file (floor)
//   aibatch_bench decode   --file F --with W        the lines of a JSONL file held in memory:
//                                                   W = lines (result_decoder<SpamResult>, one
//                                                   pass), floor (bare basic_parser pass, null
//                                                   handler), arena (one json::parser, each
//                                                   line's tree in a monotonic arena over a
//                                                   reused buffer, read_output in place), tree
//                                                   (json::parser, result_line::from_json,
//                                                   read_output)
//   aibatch_bench create   --url U --items N        serialise and upload one batch
//   aibatch_bench wait     --url U --batches N --seconds S   N batches polled from one thread
//   aibatch_bench e2e      --url U --items N --processing-time S   batch<T>() overhead, client
//                                                   CPU, peak RSS above the inputs, loop stall
#include <aibatch/aibatch.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/describe.hpp>
#include <boost/json/basic_parser_impl.hpp>
#include <boost/json/monotonic_resource.hpp>
#include <boost/json/parser.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fcntl.h>
#include <fstream>
#include <iostream>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

namespace asio = boost::asio;
namespace json = boost::json;
using clk = std::chrono::steady_clock;

struct SpamResult {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(SpamResult, (), (is_spam, confidence, reason))

namespace {

// A field of /proc/self/status in KiB ("VmHWM" peak resident set, "VmRSS" current).
long proc_status_kib(const std::string& field) {
    std::ifstream f("/proc/self/status");
    std::string line;
    while (std::getline(f, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::stol(line.substr(field.size() + 1));
    return -1;
}
long peak_rss_kib() {
    return proc_status_kib("VmHWM");
}
long current_rss_kib() {
    return proc_status_kib("VmRSS");
}
// Resets VmHWM to the current RSS (Linux >= 4.0), so that a later peak_rss_kib() is the
// peak of what follows. False when the kernel refused.
bool reset_peak_rss() {
    std::ofstream f("/proc/self/clear_refs");
    f << "5" << std::flush;
    return static_cast<bool>(f);
}

double cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
           static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}
// The kernel's part of cpu_seconds(), and the page faults that needed no I/O.
double system_cpu_seconds() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return static_cast<double>(u.ru_stime.tv_sec) + static_cast<double>(u.ru_stime.tv_usec) / 1e6;
}
long minor_faults() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return u.ru_minflt;
}

// Time the calling thread has spent runnable but not running (other processes had the
// CPU), in ms, from the scheduler's per-thread statistics; `fd`: the thread's
// /proc/thread-self/schedstat ("run_ns wait_ns slices"), or -1 (then 0).
double runqueue_wait_ms(int fd) {
    char buf[128];
    if (fd < 0)
        return 0;
    const ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = 0;
    unsigned long long run = 0, wait = 0;
    if (std::sscanf(buf, "%llu %llu", &run, &wait) != 2)
        return 0;
    return static_cast<double>(wait) / 1e6;
}

// CPU time of the calling thread (the io_context's thread in the e2e run), in ms.
double thread_cpu_ms() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

double since(clk::time_point t0) {
    return std::chrono::duration<double>(clk::now() - t0).count();
}

aibatch::client_config config(const std::string& url) {
    aibatch::client_config c;
    c.base_url = url;
    c.api_key = "sk-ant-bench";
    c.transport.timeouts.request = std::chrono::minutes(10);
    return c;
}

template <class F>
void run(F&& body) {
    asio::io_context ioc;
    std::exception_ptr failure;
    asio::co_spawn(ioc, body(ioc), [&](std::exception_ptr e) { failure = std::move(e); });
    ioc.run();
    if (failure)
        std::rethrow_exception(failure);
}

// The realistic requests of the benchmarks: a spam verdict by forced tool use; every
// 50th item is scripted to come back errored (2%).
std::vector<aibatch::conversation> inputs(std::size_t n) {
    std::vector<aibatch::conversation> v;
    v.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        std::string text = "You are a spam detection expert. Is this email spam? Email " +
                           std::to_string(i) +
                           ": Dear customer, your parcel is waiting. Confirm delivery details "
                           "at the link below to avoid return to sender.";
        if (i % 50 == 7)
            text += "\nEMULATOR_RESULT: errored";
        v.push_back({aibatch::user(std::move(text))});
    }
    return v;
}

std::vector<aibatch::batch_request> requests(std::size_t n) {
    auto spec = aibatch::output_spec::for_type<SpamResult>();
    std::vector<aibatch::batch_request> out;
    out.reserve(n);
    auto convs = inputs(n);
    for (std::size_t i = 0; i < n; ++i) {
        aibatch::batch_request r;
        r.custom_id = "item-" + std::to_string(i);
        r.params.model = "claude-haiku-4-5";
        r.params.max_tokens = 256;
        r.params.messages = std::move(convs[i]);
        aibatch::apply_output_spec(r.params, spec);
        out.push_back(std::move(r));
    }
    return out;
}

// A basic_parser handler that does nothing: the cost of reading JSON text, no more.
struct null_handler {
    static constexpr std::size_t max_object_size = std::size_t(-1);
    static constexpr std::size_t max_array_size = std::size_t(-1);
    static constexpr std::size_t max_key_size = std::size_t(-1);
    static constexpr std::size_t max_string_size = std::size_t(-1);
    using ec_t = boost::system::error_code;
    using sv = boost::json::string_view;
    bool on_document_begin(ec_t&) { return true; }
    bool on_document_end(ec_t&) { return true; }
    bool on_array_begin(ec_t&) { return true; }
    bool on_array_end(std::size_t, ec_t&) { return true; }
    bool on_object_begin(ec_t&) { return true; }
    bool on_object_end(std::size_t, ec_t&) { return true; }
    bool on_string_part(sv, std::size_t, ec_t&) { return true; }
    bool on_string(sv, std::size_t, ec_t&) { return true; }
    bool on_key_part(sv, std::size_t, ec_t&) { return true; }
    bool on_key(sv, std::size_t, ec_t&) { return true; }
    bool on_number_part(sv, ec_t&) { return true; }
    bool on_int64(std::int64_t, sv, ec_t&) { return true; }
    bool on_uint64(std::uint64_t, sv, ec_t&) { return true; }
    bool on_double(double, sv, ec_t&) { return true; }
    bool on_bool(bool, ec_t&) { return true; }
    bool on_null(ec_t&) { return true; }
    bool on_comment_part(sv, ec_t&) { return true; }
    bool on_comment(sv, ec_t&) { return true; }
};

// "a,b,c" -> its parts.
std::vector<std::string_view> split_on(std::string_view s, char sep) {
    std::vector<std::string_view> parts;
    for (;;) {
        auto at = s.find(sep);
        parts.push_back(s.substr(0, at));
        if (at == std::string_view::npos)
            return parts;
        s.remove_prefix(at + 1);
    }
}

// The lines of a file, read into memory before any clock starts.
std::vector<std::string_view> split_lines(const std::string& data) {
    std::vector<std::string_view> lines;
    std::string_view rest(data);
    while (!rest.empty()) {
        auto nl = rest.find('\n');
        std::string_view line = rest.substr(0, nl);
        if (!line.empty())
            lines.push_back(line);
        if (nl == std::string_view::npos)
            break;
        rest.remove_prefix(nl + 1);
    }
    return lines;
}

void emit(json::object o) {
    o["peak_rss_mb"] = static_cast<double>(peak_rss_kib()) / 1024.0;
    std::cout << json::serialize(o) << std::endl;
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"aibatch benchmarks (one JSON line of figures per run)"};
    app.require_subcommand(1);
    std::string url, batch_id, file;
    std::size_t items = 100'000, batches = 1000;
    double seconds = 30, processing = 2;

    auto* prepare = app.add_subcommand("prepare", "create the shared batch and wait for it");
    prepare->add_option("--url", url)->required();
    prepare->add_option("--items", items);
    auto* results = app.add_subcommand("results", "stream, parse, validate results");
    results->add_option("--url", url)->required();
    results->add_option("--batch", batch_id)->required();
    bool tree = false;
    results->add_flag("--tree", tree,
                      "result_stream::next() + read_output<T>() (the tree) instead of "
                      "typed_results<T> (what batch<T>() does)");
    auto* download = app.add_subcommand("download", "plain loopback download");
    download->add_option("--url", url)->required();
    download->add_option("--batch", batch_id)->required();
    download->add_option("--save", file, "also write the bytes here");
    auto* parse = app.add_subcommand("parse", "bare Boost.JSON parse of a JSONL file");
    parse->add_option("--file", file)->required();
    std::string with = "lines";
    auto* decode = app.add_subcommand("decode", "decode the lines of a JSONL file in memory");
    decode->add_option("--file", file)->required();
    decode->add_option("--with", with,
                       "lines, floor, arena or tree; several, comma-separated, alternate round "
                       "by round (one JSON line each)");
    int passes = 1;
    decode->add_option("--passes", passes, "times over the lines (for profiling)");
    int rounds = 1;
    decode
        ->add_option("--rounds", rounds,
                     "timed rounds over the lines in one process; seconds is their median")
        ->check(CLI::PositiveNumber);
    auto* create = app.add_subcommand("create", "serialise and upload one batch");
    create->add_option("--url", url)->required();
    create->add_option("--items", items);
    auto* wait = app.add_subcommand("wait", "many batches polled from one thread");
    wait->add_option("--url", url)->required();
    wait->add_option("--batches", batches);
    wait->add_option("--seconds", seconds);
    auto* e2e = app.add_subcommand("e2e", "batch<T>() end to end");
    e2e->add_option("--url", url)->required();
    e2e->add_option("--items", items);
    e2e->add_option("--processing-time", processing, "the emulator's processing time (s)");
    bool failing = false;
    e2e->add_flag("--failing", failing,
                  "call batch<T>() and expect a batch_error (run the emulator with a --fault "
                  "that fails the items): measures the failure path");
    bool no_watchdog = false;
    e2e->add_flag("--no-watchdog", no_watchdog,
                  "no 1 ms watchdog timer (its wake-ups cost CPU): for client CPU and memory "
                  "alone; the loop stall figures are then 0");
    CLI11_PARSE(app, argc, argv);

    try {
        if (*prepare) {
            run([&](asio::io_context& ioc) -> aibatch::task<void> {
                aibatch::client c(ioc.get_executor(), config(url));
                auto reqs = requests(items);
                auto b = co_await c.create_batch(reqs);
                asio::steady_timer t(ioc);
                while (!b.ended()) {
                    t.expires_after(std::chrono::milliseconds(200));
                    co_await t.async_wait(asio::use_awaitable);
                    b = co_await c.retrieve_batch(b.id);
                }
                std::cout << b.id << std::endl;
            });
        } else if (*results) {
            run([&](asio::io_context& ioc) -> aibatch::task<void> {
                aibatch::client c(ioc.get_executor(), config(url));
                auto spec = aibatch::output_spec::for_type<SpamResult>();
                auto t0 = clk::now();
                auto rs = co_await c.open_results(batch_id);
                std::size_t ok = 0, errored = 0, invalid = 0, spam = 0;
                std::uint64_t bytes = 0, lines = 0;
                if (tree) {
                    while (auto line = co_await rs.next()) {
                        if (line->type != aibatch::result_type::succeeded) {
                            ++errored;
                            continue;
                        }
                        auto r = aibatch::read_output<SpamResult>(line->message, spec);
                        if (r.value) {
                            ++ok;
                            spam += r.value->is_spam;
                        } else {
                            ++invalid;
                        }
                    }
                    bytes = rs.bytes_read();
                    lines = rs.lines_read();
                } else {
                    aibatch::typed_results<SpamResult> typed(std::move(rs), spec);
                    while (const auto* line = co_await typed.next()) {
                        if (line->type != aibatch::result_type::succeeded) {
                            ++errored;
                        } else if (line->output.value) {
                            ++ok;
                            spam += line->output.value->is_spam;
                        } else {
                            ++invalid;
                        }
                    }
                    bytes = typed.stream().bytes_read();
                    lines = typed.stream().lines_read();
                }
                double s = since(t0);
                emit({{"what", "results"},
                      {"seconds", s},
                      {"path", tree ? "tree" : "typed_results"},
                      {"bytes", bytes},
                      {"lines", lines},
                      {"succeeded", ok},
                      {"errored", errored},
                      {"invalid", invalid},
                      {"spam", spam}});
            });
        } else if (*download) {
            run([&](asio::io_context& ioc) -> aibatch::task<void> {
                aibatch::http_client h(ioc.get_executor(), url);
                aibatch::http_request req;
                req.target = "/v1/messages/batches/" + batch_id + "/results";
                req.headers.add("x-api-key", "sk-ant-bench");
                req.headers.add("anthropic-version", "2023-06-01");
                std::ofstream out;
                if (!file.empty())
                    out.open(file, std::ios::binary);
                auto t0 = clk::now();
                auto rs = co_await h.open(std::move(req));
                std::uint64_t bytes = 0;
                for (;;) {
                    auto piece = co_await rs.read_some();
                    if (piece.empty())
                        break;
                    bytes += piece.size();
                    if (out)
                        out.write(piece.data(), static_cast<std::streamsize>(piece.size()));
                }
                emit({{"what", "download"}, {"seconds", since(t0)}, {"bytes", bytes}});
            });
        } else if (*parse) {
            std::ifstream in(file, std::ios::binary);
            std::vector<char> buf(1 << 16);
            std::string carry;
            json::parser p;
            std::uint64_t lines = 0, bytes = 0;
            auto t0 = clk::now();
            auto one = [&](std::string_view line) {
                if (line.empty())
                    return;
                p.reset();
                boost::system::error_code ec;
                p.write(line.data(), line.size(), ec);
                if (!ec) {
                    json::value v = p.release();
                    lines += v.is_object();
                }
            };
            while (in) {
                in.read(buf.data(), static_cast<std::streamsize>(buf.size()));
                std::string_view chunk(buf.data(), static_cast<std::size_t>(in.gcount()));
                bytes += chunk.size();
                for (;;) {
                    auto nl = chunk.find('\n');
                    if (nl == std::string_view::npos) {
                        carry.append(chunk);
                        break;
                    }
                    if (carry.empty()) {
                        one(chunk.substr(0, nl));
                    } else {
                        carry.append(chunk.substr(0, nl));
                        one(carry);
                        carry.clear();
                    }
                    chunk.remove_prefix(nl + 1);
                }
            }
            one(carry);
            emit({{"what", "parse"}, {"seconds", since(t0)}, {"bytes", bytes}, {"lines", lines}});
        } else if (*decode) {
            std::ifstream in(file, std::ios::binary);
            std::string data((std::istreambuf_iterator<char>(in)),
                             std::istreambuf_iterator<char>());
            std::vector<std::string_view> lines;
            for (int pass = 0; pass < passes; ++pass)
                for (auto line : split_lines(data))
                    lines.push_back(line);
            auto spec = aibatch::output_spec::for_type<SpamResult>();
            // "lines,floor": the rounds alternate between the two, so both see the same
            // moments of a noisy machine and their ratio is a fair one.
            std::vector<std::string> withs;
            for (std::string_view w : split_on(with, ',')) {
                if (w != "lines" && w != "floor" && w != "arena" && w != "tree") {
                    std::cerr << "decode --with: lines, floor, arena or tree, not \"" << w
                              << "\"\n";
                    return 2;
                }
                withs.emplace_back(w);
            }
            std::vector<std::vector<double>> times(withs.size());
            std::vector<std::size_t> counted(withs.size());
            for (int round = 0; round < rounds; ++round)
                for (std::size_t k = 0; k < withs.size(); ++k) {
                    const std::string& with = withs[k];
                    std::size_t values = 0;
                    auto t0 = clk::now();
                    if (with == "floor") {
                        json::basic_parser<null_handler> p{json::parse_options{}};
                        for (auto line : lines) {
                            p.reset();
                            boost::system::error_code ec;
                            p.write_some(false, line.data(), line.size(), ec);
                            values += !ec;
                        }
                    } else if (with == "lines") {
                        aibatch::result_decoder<SpamResult> dec(spec);
                        aibatch::decoded_line<SpamResult> d;
                        for (auto line : lines) {
                            dec.decode(line, d);
                            values += d.output.value.has_value();
                        }
                    } else if (with == "arena") {
                        // The DOM path as cheap as it gets: one parser, each line's values in an
                        // arena over one reused 64 KiB buffer, dropped whole (not value by value).
                        // A fresh arena per line: Boost 1.81's monotonic_resource::release() keeps
                        // doubling the next block size, so a released arena reused per line ends
                        // in bad_alloc.
                        std::vector<unsigned char> buffer(std::size_t(1) << 16);
                        json::parser p;
                        for (auto line : lines) {
                            json::monotonic_resource arena(buffer.data(), buffer.size());
                            p.reset(json::storage_ptr(&arena));
                            p.write(line.data(), line.size());
                            // One typed walk over the tree in place: result_line::from_json would
                            // copy the message out of the arena into default storage.
                            json::value v = p.release();
                            const auto& result = v.at("result").as_object();
                            if (result.at("type").as_string() == "succeeded")
                                values += aibatch::read_output<SpamResult>(
                                              result.at("message").as_object(), spec)
                                              .value.has_value();
                        }
                    } else {
                        json::parser p;
                        for (auto line : lines) {
                            p.reset();
                            p.write(line.data(), line.size());
                            auto r = aibatch::result_line::from_json(p.release());
                            if (r.type == aibatch::result_type::succeeded)
                                values += aibatch::read_output<SpamResult>(r.message, spec)
                                              .value.has_value();
                        }
                    }
                    times[k].push_back(since(t0));
                    counted[k] = values;
                }
            for (std::size_t k = 0; k < withs.size(); ++k) {
                std::vector<double> sorted = times[k];
                std::sort(sorted.begin(), sorted.end());
                json::array each;
                for (double t : times[k])
                    each.push_back(t);
                emit({{"what", "decode"},
                      {"with", withs[k]},
                      {"seconds", sorted[sorted.size() / 2]},
                      {"rounds", each},
                      {"bytes", data.size() * static_cast<std::size_t>(passes)},
                      {"lines", lines.size()},
                      {"values", counted[k]}});
            }
        } else if (*create) {
            run([&](asio::io_context& ioc) -> aibatch::task<void> {
                aibatch::client c(ioc.get_executor(), config(url));
                auto convs = inputs(items);
                auto spec = aibatch::output_spec::for_type<SpamResult>();
                const double rss_before = static_cast<double>(current_rss_kib()) / 1024.0;
                auto t0 = clk::now();
                // What batch<T>() does: the shared params serialised once; each request
                // measured (planning), then written again piece by piece as the body is
                // sent (create_batch_streamed): never the whole body in memory.
                aibatch::message_params proto;
                proto.model = "claude-haiku-4-5";
                proto.max_tokens = 256;
                aibatch::apply_output_spec(proto, spec);
                aibatch::params_template tmpl(proto);
                auto request = [&](std::size_t i, std::string& out) {
                    out += R"({"custom_id":"item-)";
                    out += std::to_string(i);
                    out += R"(","params":)";
                    tmpl.append(convs[i], out);
                    out += '}';
                };
                std::string r;
                std::size_t size = std::string_view(R"({"requests":[)").size() + 2;
                for (std::size_t i = 0; i < items; ++i) {
                    r.clear();
                    request(i, r);
                    size += r.size() + (i ? 1 : 0);
                }
                double serialise = since(t0);
                aibatch::streamed_body body;
                body.size = size;
                body.start = [&] {
                    return [&, i = std::size_t{0}](std::string& out) mutable {
                        if (i == 0 && items)
                            out += R"({"requests":[)";
                        while (i < items && out.size() < (std::size_t{256} << 10)) {
                            if (i)
                                out += ',';
                            request(i++, out);
                        }
                        if (i == items) {
                            out += "]}";
                            ++i;
                        }
                    };
                };
                auto b = co_await c.create_batch_streamed(std::move(body), items);
                emit({{"what", "create"},
                      {"seconds", since(t0)},
                      {"serialise_seconds", serialise},
                      {"rss_before_mb", rss_before},
                      {"body_mb", static_cast<double>(size) / 1e6},
                      {"batch", b.id}});
            });
        } else if (*wait) {
            run([&](asio::io_context& ioc) -> aibatch::task<void> {
                aibatch::client c(ioc.get_executor(), config(url));
                std::vector<std::string> ids;
                std::vector<aibatch::batch_request> one = requests(1);
                for (std::size_t i = 0; i < batches; ++i)
                    ids.push_back((co_await c.create_batch(one)).id);
                // Poll every batch every 5 s (what batch<T>() settles to) for `seconds`.
                std::uint64_t polls = 0;
                double cpu0 = cpu_seconds();
                auto t0 = clk::now();
                auto deadline = t0 + std::chrono::duration_cast<clk::duration>(
                                         std::chrono::duration<double>(seconds));
                std::size_t running = ids.size();
                asio::steady_timer done(ioc, clk::time_point::max());
                for (std::size_t k = 0; k < ids.size(); ++k)
                    asio::co_spawn(
                        ioc,
                        [&, k]() -> aibatch::task<void> {
                            asio::steady_timer t(ioc);
                            // Spread the polls over the interval, as independent batches are.
                            t.expires_after(std::chrono::milliseconds(5000 * k / ids.size()));
                            co_await t.async_wait(asio::use_awaitable);
                            while (clk::now() < deadline) {
                                co_await c.retrieve_batch(ids[k]);
                                ++polls;
                                t.expires_after(std::chrono::seconds(5));
                                co_await t.async_wait(asio::use_awaitable);
                            }
                        },
                        [&](const std::exception_ptr&) {
                            if (--running == 0)
                                done.cancel();
                        });
                co_await done.async_wait(asio::as_tuple(asio::use_awaitable));
                double wall = since(t0), cpu = cpu_seconds() - cpu0;
                emit({{"what", "wait"},
                      {"batches", batches},
                      {"seconds", wall},
                      {"cpu_seconds", cpu},
                      {"cpu_seconds_per_minute", cpu / wall * 60.0},
                      {"cpu_percent", cpu / wall * 100.0},
                      {"polls", polls}});
            });
        } else if (*e2e) {
            run([&](asio::io_context& ioc) -> aibatch::task<void> {
                aibatch::client c(ioc.get_executor(), config(url));
                auto convs = inputs(items);
                // What the call adds above its inputs: the resident set now, and the peak
                // from here on (VmHWM reset; without the reset the peak is the process's).
                const bool peak_reset = reset_peak_rss();
                const double rss_before = static_cast<double>(current_rss_kib()) / 1024.0;
                aibatch::batch_options o;
                o.poll_interval = std::chrono::milliseconds(100);
                o.poll_interval_max = std::chrono::milliseconds(200);
                o.repair_rounds = 0;
                // A 1 ms watchdog on the same io_context: the loop thread's CPU time within
                // its lateness is the time the call held the loop (body building, parsing,
                // decoding); the raw lateness is reported too.
                bool finished = false;
                std::uint64_t ticks = 0;
                double max_stall_ms = 0, max_stall_at_s = 0, max_cpu_stall_ms = 0,
                       max_cpu_stall_at_s = 0, max_late_ms = 0, max_late_at_s = 0,
                       max_preempted_ms = 0, max_asleep_ms = 0, max_asleep_at_s = 0;
                auto started = clk::now();
                asio::co_spawn(
                    ioc,
                    [&]() -> aibatch::task<void> {
                        if (no_watchdog)
                            co_return;
                        asio::steady_timer t(co_await asio::this_coro::executor);
                        double cpu_before = thread_cpu_ms();
                        const int sched_fd = ::open("/proc/thread-self/schedstat", O_RDONLY);
                        double waited_before = runqueue_wait_ms(sched_fd);
                        // AIBATCH_BENCH_STALL_LOG=MS prints every stall of at least MS on CPU
                        // and every lateness of at least 4 x MS.
                        const char* log_env = std::getenv("AIBATCH_BENCH_STALL_LOG");
                        const double stall_log_ms = log_env ? std::atof(log_env) : 0.0;
                        while (!finished) {
                            auto due = clk::now() + std::chrono::milliseconds(1);
                            t.expires_at(due);
                            co_await t.async_wait(asio::use_awaitable);
                            ++ticks;
                            double late =
                                std::chrono::duration<double, std::milli>(clk::now() - due).count();
                            double cpu_now = thread_cpu_ms();
                            // The loop's own work in that stall: the CPU time this thread
                            // spent since the previous tick, at most the lateness. Wall
                            // lateness beyond it is the machine (other processes), not us.
                            double on_cpu = std::min(late, cpu_now - cpu_before);
                            cpu_before = cpu_now;
                            // The loop held by the call: its thread's CPU time within the
                            // lateness (the call makes no blocking syscall here: no
                            // journal). The rest is the machine: other processes on the
                            // core while the thread was ready (the run-queue wait: a nice
                            // -10 daemon of this VM takes a core for 5-10 ms in `perf
                            // sched` traces), or the thread neither running nor queued
                            // (the hypervisor's steal, a late timer interrupt: up to 9 ms
                            // seen with 0.03 ms on CPU).
                            const double waited_now = runqueue_wait_ms(sched_fd);
                            const double preempted = std::min(late, waited_now - waited_before);
                            waited_before = waited_now;
                            const double held = on_cpu;
                            // Neither on CPU nor queued: asleep (in a syscall, the loop's
                            // wait for the timer itself) or not run by the hypervisor. A
                            // blocking call added on the loop would show here.
                            const double asleep = std::max(0.0, late - on_cpu - preempted);
                            if (asleep > max_asleep_ms) {
                                max_asleep_ms = asleep;
                                max_asleep_at_s = since(started);
                            }
                            if (held > max_stall_ms) {
                                max_stall_ms = held;
                                max_stall_at_s = since(started);
                            }
                            if (late > max_late_ms) {
                                max_late_ms = late;
                                max_late_at_s = since(started);
                                max_preempted_ms = preempted;
                            }
                            if (stall_log_ms > 0 &&
                                (held >= stall_log_ms || late >= 4 * stall_log_ms))
                                std::fprintf(
                                    stderr,
                                    "stall: %.2f ms (%.2f on CPU, %.2f preempted) ending at "
                                    "%.3f s (clock %.6f)\n",
                                    late, on_cpu, preempted, since(started),
                                    std::chrono::duration<double>(clk::now().time_since_epoch())
                                        .count());
                            if (on_cpu > max_cpu_stall_ms) {
                                max_cpu_stall_ms = on_cpu;
                                max_cpu_stall_at_s = since(started);
                            }
                        }
                        if (sched_fd >= 0)
                            ::close(sched_fd);
                    },
                    asio::detached);
                auto t0 = clk::now();
                const double cpu0 = cpu_seconds();
                const double sys0 = system_cpu_seconds();
                const long faults0 = minor_faults();
                std::size_t succeeded = 0, failed = 0;
                if (failing) {
                    try {
                        (void)co_await aibatch::batch<SpamResult>(c, convs, "claude-haiku-4-5", o);
                        succeeded = items;
                    } catch (const aibatch::batch_error& e) {
                        failed = e.failures().size();
                        succeeded = items - failed;
                    }
                } else {
                    auto run =
                        co_await aibatch::run_batch<SpamResult>(c, convs, "claude-haiku-4-5", o);
                    if (std::getenv("AIBATCH_BENCH_STALL_LOG"))
                        std::fprintf(stderr, "run_batch returned at %.3f s\n", since(started));
                    succeeded = run.succeeded();
                    failed = items - succeeded;
                }
                double s = since(t0);
                if (std::getenv("AIBATCH_BENCH_STALL_LOG"))
                    std::fprintf(stderr, "results freed at %.3f s\n", since(started));
                const double cpu = cpu_seconds() - cpu0;
                const double sys = system_cpu_seconds() - sys0;
                const long faults = minor_faults() - faults0;
                const double peak_mb = static_cast<double>(peak_rss_kib()) / 1024.0;
                finished = true;
                emit({{"what", "e2e"},
                      {"watchdog", !no_watchdog},
                      {"client_cpu_seconds", cpu},
                      {"client_cpu_us_per_item", cpu * 1e6 / static_cast<double>(items)},
                      {"client_system_cpu_us_per_item", sys * 1e6 / static_cast<double>(items)},
                      {"client_minor_faults", faults},
                      {"watchdog_ticks", ticks},
                      {"rss_before_mb", rss_before},
                      {"peak_rss_reset", peak_reset},
                      {"peak_rss_above_inputs_mb", peak_mb - rss_before},
                      {"peak_rss_above_inputs_bytes_per_item",
                       (peak_mb - rss_before) * 1024.0 * 1024.0 / static_cast<double>(items)},
                      {"seconds", s},
                      {"processing_seconds", processing},
                      {"overhead_seconds", s - processing},
                      {"max_loop_stall_ms", max_stall_ms},
                      {"max_loop_stall_at_seconds", max_stall_at_s},
                      {"max_loop_lateness_ms", max_late_ms},
                      {"max_loop_lateness_at_seconds", max_late_at_s},
                      {"max_loop_lateness_preempted_ms", max_preempted_ms},
                      {"max_loop_lateness_asleep_ms", max_asleep_ms},
                      {"max_loop_lateness_asleep_at_seconds", max_asleep_at_s},
                      {"max_loop_stall_on_cpu_ms", max_cpu_stall_ms},
                      {"max_loop_stall_on_cpu_at_seconds", max_cpu_stall_at_s},
                      {"succeeded", succeeded},
                      {"failed", failed},
                      {"items", items}});
            });
        }
    } catch (const std::exception& e) {
        std::cerr << "aibatch_bench: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
