// The README's first example: classify emails as spam with one batch<T>() call.
//
//   ./build/default/examples/spam_detection [--model claude-haiku-4-5]
#include "example_support.hpp"

#include <CLI/CLI.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/describe.hpp>

#include <iomanip>

struct SpamResult {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(SpamResult, (), (is_spam, confidence, reason))

template <>
struct aibatch::schema_docs<SpamResult> {
    static constexpr std::string_view description = "Verdict on whether one email is spam";
    static constexpr aibatch::field_doc fields[] = {
        {.name = "confidence",
         .description = "How sure you are, 0 to 1",
         .minimum = 0,
         .maximum = 1},
        {.name = "reason", .description = "One short sentence"},
    };
};

aibatch::task<void> run(aibatch::client& client, std::string model) {
    const std::vector<std::string> emails = {
        "Congratulations! You've won a $1000 gift card. Click here to claim now!",
        "Hi team, the meeting is moved to 3pm tomorrow. See you there.",
        "URGENT: your account will be suspended. Verify your password at this link.",
        "Mum says dinner is at 7 on Sunday, bring the salad bowl back please.",
    };
    std::vector<aibatch::conversation> messages;
    for (const auto& e : emails)
        messages.push_back({aibatch::user("You are a spam detection expert. Is this spam? " + e)});

    aibatch::batch_options options;
    options.poll_interval = std::chrono::milliseconds(500);
    options.poll_interval_max = std::chrono::seconds(30);
    options.on_progress = example::print_progress;

    std::vector<SpamResult> r =
        co_await aibatch::batch<SpamResult>(client, messages, model, options);

    for (std::size_t i = 0; i < r.size(); ++i)
        std::cout << (r[i].is_spam ? "SPAM " : "ok   ") << std::fixed << std::setprecision(2)
                  << r[i].confidence << "  " << emails[i].substr(0, 50) << "...\n    "
                  << r[i].reason << "\n";
}

int main(int argc, char** argv) {
    CLI::App app{"Spam detection with aibatch::batch<T>()"};
    std::string model = "claude-haiku-4-5";
    app.add_option("--model", model, "Model id");
    CLI11_PARSE(app, argc, argv);
    try {
        example::backend b = example::choose_backend();
        boost::asio::io_context ioc;
        aibatch::client client(ioc.get_executor(), b.config);
        std::exception_ptr failure;
        boost::asio::co_spawn(ioc, run(client, model), [&](std::exception_ptr e) { failure = e; });
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
