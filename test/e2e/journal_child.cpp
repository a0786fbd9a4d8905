// Child program of the kill-and-resume journal test: runs one batch<SpamResult>() with a
// journal against the emulator at argv[1] and prints "index<TAB>reason" per result.
//   aibatch_journal_child URL JOURNAL ITEMS [CHUNK]
// Also prints "unread<TAB>ID" for every batch the run names as not read to the end.
#include "spam_types.hpp"

#include <aibatch/batch/batch.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <iostream>

int main(int argc, char** argv) {
    if (argc != 4 && argc != 5) {
        std::cerr << "usage: aibatch_journal_child URL JOURNAL ITEMS [CHUNK]\n";
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
    o.max_requests_per_batch = argc == 5 ? static_cast<std::size_t>(std::stoi(argv[4])) : 10;
    o.max_batches_in_flight = 8;
    o.poll_interval = std::chrono::milliseconds(50);
    o.poll_interval_max = std::chrono::milliseconds(100);
    int rc = 1;
    boost::asio::co_spawn(
        ioc,
        [&]() -> aibatch::task<void> {
            auto r = co_await aibatch::run_batch<e2e::SpamResult>(client, messages,
                                                                  "claude-haiku-4-5", o);
            for (std::size_t i = 0; i < r.items.size(); ++i)
                if (r.items[i].value)
                    std::cout << i << "\t" << r.items[i].value->reason << "\n";
            for (const auto& u : r.unread_batches)
                std::cout << "unread\t" << u.id << "\n";
            std::cout.flush();
            if (!r.all_succeeded())
                std::cerr << "error: " << r.stop_message << "\n";
            rc = r.all_succeeded() ? 0 : 1;
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
