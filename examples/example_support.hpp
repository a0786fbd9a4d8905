// Shared by the examples: a client for the real API when ANTHROPIC_API_KEY is set
// (environment or .env), otherwise for an in-process aibatch-emulator, saying so.
#pragma once

#include <aibatch/aibatch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>
#include <memory>

namespace example {

struct backend {
    std::unique_ptr<aibatch::emulator::server> emulator; ///< set when emulating
    aibatch::client_config config;
};

inline backend choose_backend() {
    backend b;
    b.config = aibatch::client_config::from_env();
    if (b.config.api_key.empty()) {
        aibatch::emulator::options o;
        o.processing_time = std::chrono::seconds(2);
        b.emulator = std::make_unique<aibatch::emulator::server>(o);
        b.emulator->start();
        b.config.base_url = b.emulator->url();
        b.config.api_key = "sk-ant-emulator";
        std::cout << "No ANTHROPIC_API_KEY set: using the bundled aibatch-emulator at "
                  << b.emulator->url() << " (simulated answers, no cost).\n";
    } else {
        std::cout << "Using the Anthropic API at " << b.config.base_url << " with key "
                  << b.config.redacted_api_key() << " (batches are billed at 50%).\n";
    }
    return b;
}

/// The main() of an example: parses --model, picks the backend, runs `body(client,
/// model)` on an io_context and reports failures (each failed item of a batch_error).
template <class Body>
int main_of(int argc, char** argv, const char* title, Body body) {
    CLI::App app{title};
    std::string model = "claude-haiku-4-5";
    app.add_option("--model", model, "Model id (default: claude-haiku-4-5)");
    CLI11_PARSE(app, argc, argv);
    try {
        backend b = choose_backend();
        boost::asio::io_context ioc;
        aibatch::client client(ioc.get_executor(), b.config);
        std::exception_ptr failure;
        boost::asio::co_spawn(ioc, body(client, model),
                              [&](const std::exception_ptr& e) { failure = e; });
        ioc.run();
        if (failure)
            std::rethrow_exception(failure);
        return 0;
    } catch (const aibatch::batch_error& e) {
        std::cerr << "error: " << e.what() << "\n";
        for (const auto& f : e.failures())
            std::cerr << "  #" << f.index << " " << f.custom_id << ": " << to_string(f.status)
                      << " " << f.message << "\n";
    } catch (const std::exception& e) {
        std::cerr << "error: " << e.what() << "\n";
    }
    return 1;
}

inline void print_progress(const aibatch::batch_progress& p) {
    std::cout << "  batch " << p.batch_id << ": " << p.batch_counts.processing << " processing, "
              << p.batch_counts.succeeded << " succeeded, " << p.batch_counts.errored
              << " errored (" << p.batches_ended << "/" << p.batches_submitted
              << " batches ended)\n";
}

} // namespace example
