#include <aibatch/detail/async_run.hpp>
#include <aibatch/error.hpp>
#include <boost/asio/error.hpp>

#include <boost/asio/io_context.hpp>
#include <boost/test/unit_test.hpp>

BOOST_AUTO_TEST_SUITE(error_model)

// One category (code comparing categories keeps working); is_api_error tells the API's
// answers apart.
BOOST_AUTO_TEST_CASE(error_codes_are_in_the_aibatch_category_and_api_answers_are_told_apart) {
    boost::system::error_code ec = aibatch::errc::rate_limited;
    BOOST_TEST(std::string(ec.category().name()) == "aibatch");
    BOOST_TEST((ec.category() == aibatch::error_category()));
    BOOST_TEST(aibatch::is_api_error(ec));
    BOOST_TEST(ec.message().find("429") != std::string::npos);
    BOOST_TEST((aibatch::errc_of(ec) == aibatch::errc::rate_limited));
    boost::system::error_code own = aibatch::errc::request_timeout;
    BOOST_TEST(!aibatch::is_api_error(own));
    BOOST_TEST((aibatch::errc_of(own) == aibatch::errc::request_timeout));
    for (int v = static_cast<int>(aibatch::errc::invalid_request);
         v <= static_cast<int>(aibatch::errc::http_status); ++v)
        BOOST_TEST(aibatch::is_api_error(make_error_code(static_cast<aibatch::errc>(v))));
    for (auto e : {aibatch::errc::ambiguous_create, aibatch::errc::connection_failed,
                   aibatch::errc::missing_api_key, aibatch::errc::bad_response})
        BOOST_TEST(!aibatch::is_api_error(make_error_code(e)));
    BOOST_TEST(!aibatch::is_api_error(make_error_code(boost::asio::error::connection_reset)));
    BOOST_TEST(!aibatch::errc_of(make_error_code(boost::asio::error::operation_aborted)));
}

// is_retryable: the transport failures a resend may cure, nothing else.
BOOST_AUTO_TEST_CASE(is_retryable_is_true_for_transport_failures_only) {
    using aibatch::errc;
    using aibatch::is_retryable;
    namespace ae = boost::asio::error;
    for (errc e : {errc::connect_timeout, errc::connection_failed, errc::request_timeout,
                   errc::idle_timeout, errc::connection_closed})
        BOOST_TEST(is_retryable(make_error_code(e)), make_error_code(e).message());
    for (errc e : {errc::tls_handshake, errc::invalid_argument, errc::bad_response,
                   errc::body_too_large, errc::missing_api_key, errc::ambiguous_create,
                   errc::rate_limited, errc::overloaded, errc::unread_batches})
        BOOST_TEST(!is_retryable(make_error_code(e)), make_error_code(e).message());
    BOOST_TEST(is_retryable(make_error_code(ae::connection_refused)));
    BOOST_TEST(is_retryable(make_error_code(ae::connection_reset)));
    BOOST_TEST(is_retryable(make_error_code(ae::host_not_found_try_again)));
    BOOST_TEST(!is_retryable(make_error_code(ae::operation_aborted)));
    BOOST_TEST(!is_retryable(boost::system::error_code{}));
}

BOOST_AUTO_TEST_CASE(exception_carries_the_diagnostics) {
    aibatch::diagnostics d{"slow down", "req_123", 429, "rate_limit_error", "Slow down"};
    aibatch::error e(aibatch::errc::rate_limited, d);
    BOOST_TEST(e.code() == aibatch::errc::rate_limited);
    BOOST_TEST(e.diag().request_id == "req_123");
    std::string what = e.what();
    BOOST_TEST(what.find("slow down") != std::string::npos);
    BOOST_TEST(what.find("req_123") != std::string::npos);
    BOOST_TEST(what.find("rate_limit_error") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(async_run_maps_exceptions_to_error_code_and_diagnostics) {
    boost::asio::io_context ioc;
    aibatch::diagnostics diag;
    boost::system::error_code got;
    int value = -1;
    auto op = []() -> aibatch::task<int> {
        throw aibatch::error(aibatch::errc::not_found, "no batch msgbatch_x");
        co_return 1;
    };
    aibatch::detail::async_run<int>(ioc.get_executor(), op(), diag,
                                    [&](boost::system::error_code ec, int v) {
                                        got = ec;
                                        value = v;
                                    });
    ioc.run();
    BOOST_TEST(got == aibatch::errc::not_found);
    BOOST_TEST(diag.message == "no batch msgbatch_x");
    BOOST_TEST(value == 0);
}

BOOST_AUTO_TEST_SUITE_END()
