// A program outside the aibatch tree that uses the installed package.
#include <aibatch/aibatch.hpp>

#include <boost/asio/io_context.hpp>

#include <iostream>

int main() {
    boost::asio::io_context ioc;
    aibatch::http_client client(ioc.get_executor(), "http://127.0.0.1:1");
    aibatch::endpoint ep = client.endpoint();
    try {
        aibatch::client_config{}.require_api_key();
        return 1;
    } catch (const aibatch::error& e) {
        if (e.code() != aibatch::errc::missing_api_key)
            return 1;
    }
    std::cout << "aibatch " << AIBATCH_VERSION_STRING << " consumer ok (" << ep.origin() << ")\n";
    return 0;
}
