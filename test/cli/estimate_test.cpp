// aibatch::estimate() against what batch<T>() really sends: the same split, byte for byte.
#include "cli_types.hpp"

#include "../support/emulator_fixture.hpp"

#include <aibatch/emulator/emulator.hpp>

#include <boost/test/unit_test.hpp>

#include <algorithm>

using namespace cli_test;

namespace {

std::vector<aibatch::conversation> prompts(std::size_t n) {
    std::vector<aibatch::conversation> v;
    for (std::size_t i = 0; i < n; ++i)
        v.push_back(
            {aibatch::user("Prompt number " + std::to_string(i) + std::string(i % 7, '!'))});
    return v;
}

// The request count of each batch batch<Scored>() creates with these options.
std::vector<std::size_t> sent_batches(const std::vector<aibatch::conversation>& messages,
                                      aibatch::batch_options opts) {
    aibatch::client_config cfg;
    cfg.api_key = "sk-ant-estimate-test";
    aibatch::test::emulator_fixture emu(
        aibatch::test::emulator_fixture::options(std::chrono::milliseconds(50), 0), cfg);
    auto& ioc = emu.ioc();
    auto& client = emu.client();
    opts.poll_interval = std::chrono::milliseconds(20);
    bool done = false;
    boost::asio::co_spawn(ioc,
                          aibatch::run_batch<Scored>(client, messages, "claude-haiku-4-5", opts),
                          [&](std::exception_ptr e, aibatch::batch_run<Scored> r) {
                              BOOST_TEST_REQUIRE(!e);
                              BOOST_TEST(r.succeeded() == messages.size());
                              done = true;
                          });
    ioc.run();
    BOOST_TEST_REQUIRE(done);
    // Batches are created concurrently: put them in input order by their first item.
    std::vector<std::pair<std::size_t, std::size_t>> first_and_size;
    for (const auto& b : emu.emu().batches()) {
        const std::string& id = b.custom_ids.at(0);
        first_and_size.emplace_back(std::stoul(id.substr(id.rfind('-') + 1)), b.custom_ids.size());
    }
    std::sort(first_and_size.begin(), first_and_size.end());
    std::vector<std::size_t> sizes;
    for (const auto& [first, size] : first_and_size)
        sizes.push_back(size);
    return sizes;
}

} // namespace

BOOST_AUTO_TEST_SUITE(estimate)

BOOST_AUTO_TEST_CASE(counts_bytes_exactly_as_batch_of_t_splits) {
    auto messages = prompts(40);
    aibatch::batch_options opts;
    opts.run_id = "est1";
    auto spec = aibatch::output_spec::for_type<Scored>(opts.output_mode);
    aibatch::cost_estimate whole = aibatch::estimate(messages, "claude-haiku-4-5", opts, spec);
    BOOST_TEST_REQUIRE(whole.batches() == 1u);
    BOOST_TEST(whole.requests == 40u);
    BOOST_TEST(whole.body_bytes == whole.batch_bytes[0]);
    // The engine splits exactly where the estimate says the body ends: at its size the
    // batch fits, one byte less and it does not.
    opts.max_bytes_per_batch = whole.body_bytes;
    BOOST_TEST(aibatch::estimate(messages, "claude-haiku-4-5", opts, spec).batches() == 1u);
    BOOST_TEST(sent_batches(messages, opts) == (std::vector<std::size_t>{40}));
    opts.max_bytes_per_batch = whole.body_bytes - 1;
    aibatch::cost_estimate split = aibatch::estimate(messages, "claude-haiku-4-5", opts, spec);
    BOOST_TEST(split.batch_sizes == (std::vector<std::size_t>{39, 1}));
    {
        auto sent = sent_batches(messages, opts);
        BOOST_TEST(sent == split.batch_sizes, boost::test_tools::per_element());
    }
    // A split by bytes in several places, and by count.
    opts.max_bytes_per_batch = whole.body_bytes / 3;
    split = aibatch::estimate(messages, "claude-haiku-4-5", opts, spec);
    BOOST_TEST(split.batches() >= 3u);
    {
        auto sent = sent_batches(messages, opts);
        BOOST_TEST(sent == split.batch_sizes, boost::test_tools::per_element());
    }
    opts.max_bytes_per_batch = 256'000'000;
    opts.max_requests_per_batch = 15;
    split = aibatch::estimate(messages, "claude-haiku-4-5", opts, spec);
    BOOST_TEST(split.batch_sizes == (std::vector<std::size_t>{15, 15, 10}));
}

BOOST_AUTO_TEST_CASE(cost_range_is_input_alone_to_input_plus_max_tokens) {
    auto messages = prompts(10);
    aibatch::batch_options opts;
    opts.max_tokens = 100;
    auto spec = aibatch::output_spec::for_type<Scored>(opts.output_mode);
    auto e = aibatch::estimate(messages, "claude-haiku-4-5", opts, spec);
    BOOST_TEST_REQUIRE(e.price.has_value());
    BOOST_TEST(e.input_tokens == e.body_bytes / 4);
    BOOST_TEST(e.max_output_tokens == 1000u);
    // claude-haiku-4-5: $1 / $5 per million, half price in batches.
    BOOST_TEST(*e.cost_min_usd == static_cast<double>(e.input_tokens) * 1.0 / 1e6 * 0.5,
               boost::test_tools::tolerance(1e-12));
    BOOST_TEST(*e.cost_max_usd == *e.cost_min_usd + 1000 * 5.0 / 1e6 * 0.5,
               boost::test_tools::tolerance(1e-12));
    auto unknown = aibatch::estimate(messages, "some-future-model", opts, spec);
    BOOST_TEST(!unknown.cost_min_usd.has_value());
    opts.price = aibatch::model_price{2, 10};
    BOOST_TEST(
        aibatch::estimate(messages, "some-future-model", opts, spec).cost_max_usd.has_value());
}

BOOST_AUTO_TEST_CASE(refuses_what_batch_of_t_refuses_before_the_network) {
    auto messages = prompts(2);
    aibatch::batch_options opts;
    opts.max_tokens = 10'000'000; // above the model's maximum output
    auto spec = aibatch::output_spec::for_type<Scored>(opts.output_mode);
    BOOST_CHECK_THROW(aibatch::estimate(messages, "claude-haiku-4-5", opts, spec), aibatch::error);
    opts.max_tokens = 100;
    opts.max_requests_per_batch = 0;
    BOOST_CHECK_THROW(aibatch::estimate(messages, "claude-haiku-4-5", opts, spec), aibatch::error);
}

BOOST_AUTO_TEST_SUITE_END()
