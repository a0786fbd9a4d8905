// aibatch-emulator: a local Message Batches API. See README.md, "The emulator".
#include <aibatch/emulator/emulator.hpp>

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <iostream>

int main(int argc, char** argv) {
    CLI::App app{"aibatch-emulator: a faithful local Anthropic Message Batches API"};
    aibatch::emulator::options opts;
    double processing_seconds = 2.0;
    std::vector<std::string> faults;
    std::string tls_cert, tls_key, log_file;
    app.add_option("--host", opts.host, "Address to listen on")->capture_default_str();
    app.add_option("--port", opts.port, "Port (0 = pick a free one)")->capture_default_str();
    app.add_option("--api-key", opts.api_key,
                   "When set, requests with another key get 401 authentication_error; when "
                   "not, any non-empty key is accepted (a request without one gets 401)");
    std::string today;
    app.add_option("--today", today,
                   "YYYY-MM-DD: the day model end-of-life dates are compared with (default: "
                   "the system clock's)");
    app.add_option("--tls-cert", tls_cert, "PEM certificate chain: serve HTTPS");
    app.add_option("--tls-key", tls_key, "PEM private key for --tls-cert");
    app.add_option("--processing-time", processing_seconds,
                   "Seconds a batch takes to end (decimals allowed)")
        ->capture_default_str()
        ->check(CLI::NonNegativeNumber);
    app.add_option("--seed", opts.seed, "Seed of the simulated model")->capture_default_str();
    app.add_option("--fault", faults,
                   "Inject a fault (repeatable): status:CODE:N, drop:N, drop-after:N, "
                   "cut-request:BYTES:N, cut-results:BYTES, delay:MS:N, trickle:BYTES:N, expire:N, "
                   "transient-404:MS:N, dup-line:N, inject-line:N:TEXT; "
                   "an optional :ENDPOINT narrows status, drop, drop-after, cut-request, delay "
                   "and transient-404");
    app.add_option("--max-batch-requests", opts.max_batch_requests, "Most requests in one batch")
        ->capture_default_str();
    app.add_option("--max-batch-bytes", opts.max_batch_bytes,
                   "Largest create body in bytes (413 past it)")
        ->capture_default_str();
    app.add_option("--log", log_file, "Append one JSON line per request to this file");
    std::size_t cache_mb = opts.results_cache_bytes >> 20;
    app.add_option("--results-cache-mb", cache_mb,
                   "Total budget, across all batches, for generated results kept for faster "
                   "later downloads; the least recently downloaded go first when a new one "
                   "needs room, a rendering larger than the budget is not kept (0 = off)")
        ->capture_default_str();
    CLI11_PARSE(app, argc, argv);
    opts.results_cache_bytes = cache_mb << 20;

    opts.processing_time =
        std::chrono::milliseconds(static_cast<long long>(processing_seconds * 1000.0));
    opts.tls_cert = tls_cert;
    opts.tls_key = tls_key;
    opts.log_file = log_file;
    try {
        if (!today.empty()) {
            int y = 0;
            unsigned m = 0, d0 = 0;
            char end = 0;
            bool parsed = std::sscanf(today.c_str(), "%4d-%2u-%2u%c", &y, &m, &d0, &end) == 3;
            std::chrono::year_month_day d{std::chrono::year(y), std::chrono::month(m),
                                          std::chrono::day(d0)};
            if (!parsed || !d.ok())
                throw std::invalid_argument("--today wants a date as YYYY-MM-DD, got " + today);
            opts.today = std::chrono::sys_days(d);
        }
        for (const auto& f : faults)
            opts.faults.push_back(aibatch::emulator::parse_fault(f));
        aibatch::emulator::server server(opts);
        std::cout << server.url() << std::endl; // first line: where to connect
        server.run();
    } catch (const std::exception& e) {
        std::cerr << "aibatch-emulator: " << e.what() << "\n";
        return 1;
    }
    return 0;
}
