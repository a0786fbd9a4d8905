// The README's first example, complete: classify two emails, print the results, report
// any failure (batch_error names every failed item and keeps the successes).
//
//   ./build/default/examples/quickstart
// Uses ANTHROPIC_API_KEY (environment or .env); without one it runs against the bundled
// emulator (see example_support.hpp) so it runs anywhere.
#include "example_support.hpp"

#include <aibatch/aibatch.hpp>
#include <boost/describe.hpp>

#include <iostream>

struct SpamResult {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(SpamResult, (), (is_spam, confidence, reason))

aibatch::task<void> run(aibatch::client& client, std::vector<std::string> emails) {
    std::vector<aibatch::conversation> messages;
    for (const auto& e : emails)
        messages.push_back({aibatch::user("You are a spam detection expert. Is this spam? " + e)});

    std::vector<SpamResult> r =
        co_await aibatch::batch<SpamResult>(client, messages, "claude-haiku-4-5");

    for (std::size_t i = 0; i < r.size(); ++i)
        std::cout << (r[i].is_spam ? "spam: " : "ok:   ") << emails[i] << " (" << r[i].reason
                  << ")\n";
}

int main() {
    example::backend backend = example::choose_backend(); // your key, or the emulator
    boost::asio::io_context ioc;
    aibatch::client client(ioc.get_executor(), backend.config);
    int status = 0;
    boost::asio::co_spawn(
        ioc, run(client, {"WIN A PRIZE NOW", "Lunch at noon?"}), [&](std::exception_ptr e) {
            if (!e)
                return;
            status = 1;
            try {
                std::rethrow_exception(e);
            } catch (const aibatch::batch_error& err) {
                std::cerr << "error: " << err.what() << "\n";
                for (const auto& f : err.failures())
                    std::cerr << "  input " << f.index << ": " << f.message << "\n";
            } catch (const std::exception& err) {
                std::cerr << "error: " << err.what() << "\n";
            }
        });
    ioc.run();
    return status;
}
