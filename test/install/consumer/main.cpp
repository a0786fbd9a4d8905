// A program outside the aibatch tree that uses aibatch the way its users do. It is built
// against the installed package and through add_subdirectory, with Asio in its default
// header-only mode (consumer) and with Asio compiled by the program itself
// (BOOST_ASIO_SEPARATE_COMPILATION and own_asio.cpp), with that library linked before and
// after aibatch. It uses the Asio of before Boost 1.87 (io_context::work, io_context::post)
// where that still exists, and lists batches of an in-process emulator through a
// completion-token operation, so aibatch's and the program's Asio code run together.
#include <aibatch/aibatch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/version.hpp>

#include <iostream>
#include <optional>

int main() {
    boost::asio::io_context ioc;
    int posted = 0;
#if BOOST_VERSION < 108700 // Boost 1.87 removed io_context::work and io_context::post
    {
        boost::asio::io_context::work work(ioc);
        ioc.post([&] { ++posted; });
    }
#else
    boost::asio::post(ioc, [&] { ++posted; });
#endif
    ioc.run();
    if (posted != 1)
        return 1;

    try {
        aibatch::client_config{}.require_api_key();
        return 2;
    } catch (const aibatch::error& e) {
        if (e.code() != aibatch::errc::missing_api_key)
            return 3;
    }

    aibatch::emulator::server emu(aibatch::emulator::options{});
    emu.start();
    aibatch::client_config cfg;
    cfg.api_key = "consumer-key";
    cfg.base_url = emu.url();
    aibatch::client client(ioc.get_executor(), cfg);
    aibatch::diagnostics diag;
    std::optional<aibatch::batch_page> page;
    boost::system::error_code failure;
    client.async_list_batches(aibatch::list_options{}, diag,
                              [&](boost::system::error_code ec, aibatch::batch_page p) {
                                  failure = ec;
                                  page = std::move(p);
                              });
    ioc.restart();
    ioc.run();
    if (failure || !page || !page->data.empty()) {
        std::cerr << "list_batches: " << failure.message() << " " << diag.to_string() << "\n";
        return 4;
    }
    std::cout << "aibatch " << AIBATCH_VERSION_STRING << " consumer ok (Boost " << BOOST_LIB_VERSION
              << ")\n";
    return 0;
}
