// clang-format off
// Every C++ block of README.md, compiled (readme_test.cpp checks that each paragraph of
// each block appears here or in examples/ verbatim, whitespace aside). Not run: the
// behaviour of each form is tested in test/e2e/.
#include <aibatch/aibatch.hpp>
#include <aibatch/emulator/emulator.hpp>

#include <boost/asio/use_future.hpp>
#include <boost/describe.hpp>

#include <future>
#include <iostream>

// ---- the headline
struct SpamResult {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(SpamResult, (), (is_spam, confidence, reason))

aibatch::task<void> headline(aibatch::client& client, std::vector<aibatch::conversation> messages) {
    std::vector<SpamResult> r =
        co_await aibatch::batch<SpamResult>(client, messages, "claude-haiku-4-5");
}

std::vector<aibatch::conversation> make_messages() {
    return {{aibatch::user("Is this spam? WIN NOW")}};
}

// ---- batch<T>() forms
aibatch::task<void> forms(aibatch::client& client, std::vector<aibatch::conversation> messages,
                          std::string model, aibatch::batch_options options) {
    std::vector<SpamResult> v = co_await aibatch::batch<SpamResult>(client, messages, model);
    std::vector<SpamResult> w = co_await aibatch::batch<SpamResult>(client, messages, model, options);
    aibatch::batch_run<SpamResult> run =
        co_await aibatch::run_batch<SpamResult>(client, messages, model, options); // never throws for items
    std::vector<SpamResult> x = co_await aibatch::batch<SpamResult>(client, make_messages(), model);
}

// ---- completion tokens
void tokens(aibatch::client& client, std::vector<aibatch::conversation> messages,
            std::string model, aibatch::batch_options options, aibatch::diagnostics& diag) {
    // void(std::exception_ptr, std::vector<T>): the exception is the batch_error itself.
    aibatch::async_batch<SpamResult>(client, messages, model, options,
                                     [](std::exception_ptr e, std::vector<SpamResult> r) {});
    // void(error_code, batch_run<T>): error_code only for bad input; everything else in run.
    aibatch::async_run_batch<SpamResult>(
        client, messages, model, options,
        [](boost::system::error_code ec, aibatch::batch_run<SpamResult> run) {});
    // Boost.MySQL style: void(error_code, std::vector<T>), the story in diag.
    aibatch::async_batch<SpamResult>(client, messages, model, options, diag,
                                     [](boost::system::error_code ec, std::vector<SpamResult> r) {});
}

// ---- use_future
void future(aibatch::client& client, std::vector<aibatch::conversation> messages,
            std::string model, aibatch::batch_options options) {
    std::future<std::vector<SpamResult>> f =
        aibatch::async_batch<SpamResult>(client, messages, model, options, boost::asio::use_future);
    try {
        std::vector<SpamResult> r = f.get();
    } catch (const aibatch::batch_error& e) { // the whole story: failures(), results<T>()
        std::cerr << e.what() << "\n";
    }
}

// ---- batch_error
aibatch::task<void> failures(aibatch::client& client,
                             std::vector<aibatch::conversation> messages, std::string model) {
    try {
        auto r = co_await aibatch::batch<SpamResult>(client, messages, model);
    } catch (const aibatch::batch_error& e) {
        // e.what(): "2 of 100 items did not succeed (1 errored, 1 invalid_output): #4 item-k3v9x2m7q1zt-4 ..."
        for (const aibatch::item_report& f : e.failures())  // index, custom_id, status, error_type, message, raw_output, batch_id
            std::cerr << f.index << " " << to_string(f.status) << ": " << f.message << "\n";
        const auto& all = e.results<SpamResult>();          // std::vector<std::optional<SpamResult>>, by index
    }
}

// ---- describing types
BOOST_DEFINE_ENUM_CLASS(Sentiment, positive, negative, neutral)
struct Review {
    Sentiment sentiment;                          // "enum": ["positive","negative","neutral"]
    double score;                                 // "number"
    std::vector<std::string> key_phrases;         // "array"
    std::optional<std::string> product_issue;     // not required (nullable in json_schema mode)
    std::map<std::string, int> counts;            // "additionalProperties": {"type":"integer"}
};
BOOST_DESCRIBE_STRUCT(Review, (), (sentiment, score, key_phrases, product_issue, counts))

template <> struct aibatch::schema_docs<Review> {                        // optional
    static constexpr std::string_view description = "Analysis of one review";
    static constexpr aibatch::field_doc fields[] = {
        {.name = "score", .description = "-1 to 1", .minimum = -1, .maximum = 1},
        {.name = "key_phrases", .max_length = 3},
    };
};

void show(const boost::json::value& json_value) {
    boost::json::object schema = aibatch::json_schema<Review>();
    aibatch::decode_result<Review> r = aibatch::decode<Review>(json_value);
    if (!r)
        std::cout << r.error().to_string();
}

// ---- the client
aibatch::task<void> client_ops(boost::asio::io_context& ioc,
                               std::vector<aibatch::batch_request> requests) {
    aibatch::client client(ioc.get_executor(), aibatch::client_config::from_env());
    aibatch::batch_info b = co_await client.create_batch(requests);  // span of {custom_id, message_params}
    b = co_await client.retrieve_batch(b.id);                         // every field, timestamps parsed
    co_await client.cancel_batch(b.id);
    aibatch::batch_page page = co_await client.list_batches({.limit = 100});
    auto all = client.list_all_batches();                             // lazy, page by page
    while (auto x = co_await all.next())
        std::cout << x->id << "\n";
    aibatch::result_stream rs = co_await client.open_results(b);      // bounded memory
    while (auto line = co_await rs.next())                            // custom_id, type, message, error
        std::cout << line->custom_id << " " << aibatch::to_string(line->type) << "\n";
    co_await client.delete_batch(b.id);                               // ended batches only
}

// ---- typed results
aibatch::task<void> typed_results_read(aibatch::client& client, aibatch::batch_info b) {
    aibatch::typed_results<SpamResult> results(co_await client.open_results(b));
    while (const aibatch::decoded_line<SpamResult>* line = co_await results.next())
        if (line->output.value)                                       // else output.failure, .message
            std::cout << line->custom_id << " " << line->output.value->is_spam << "\n";
}

// ---- the emulator in-process
void emulator() {
    aibatch::emulator::options o;
    o.processing_time = std::chrono::milliseconds(200);
    aibatch::emulator::server emu(o);
    emu.start();                              // its own thread; emu.url(), emu.log(), emu.batches_created()
}

// ---- Seeing what a client does (client_config::observer)
void observer_snippet() {
aibatch::client_config cfg = aibatch::client_config::from_env();
cfg.observer = [](const aibatch::client_event& e) {
    std::clog << aibatch::to_string(e.what) << " " << e.method << " " << e.target << " "
              << e.status << " " << e.detail << "\n";
};
}
