// Child program of the kill-and-resume journal test: runs one batch<SpamResult>() with a
// journal against the emulator at argv[1] and prints "index<TAB>reason" per result.
//   aibatch_journal_child URL JOURNAL ITEMS
#include "spam_types.hpp"

#include <aibatch/batch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 4) {
        std::cerr << "usage: aibatch_journal_child URL JOURNAL ITEMS\n";
        return 2;
    }
    aibatch::client_config cfg;
    cfg.base_url = argv[1];
    cfg.api_key = "sk-ant-journal-test";
    boost::asio::io_context ioc;
    aibatch::client client(ioc.get_executor(), cfg);
    std::vector<aibatch::conversation> messages;
    int n = std::stoi(argv[3]);
    for (int i = 0; i < n; ++i)
        messages.push_back(
            {aibatch::user("Is this spam?\nEMULATOR_OUTPUT: "
                           "{\"is_spam\":false,\"confidence\":0.5,\"reason\":\"item " +
                           std::to_string(i) + "\"}")});
    aibatch::batch_options o;
    o.journal = argv[2];
    o.max_requests_per_batch = 10;
    o.max_batches_in_flight = 8;
    o.poll_interval = std::chrono::milliseconds(50);
    o.poll_interval_max = std::chrono::milliseconds(100);
    int rc = 1;
    boost::asio::co_spawn(
        ioc,
        [&]() -> aibatch::task<void> {
            auto r =
                co_await aibatch::batch<e2e::SpamResult>(client, messages, "claude-haiku-4-5", o);
            for (std::size_t i = 0; i < r.size(); ++i)
                std::cout << i << "\t" << r[i].reason << "\n";
            std::cout.flush();
            rc = 0;
        },
        [&](std::exception_ptr e) {
            if (!e)
                return;
            try {
                std::rethrow_exception(e);
            } catch (const std::exception& ex) {
                std::cerr << "error: " << ex.what() << "\n";
            }
        });
    ioc.run();
    return rc;
}
