// The README's first example: classify emails as spam with one batch<T>() call.
//
//   ./build/default/examples/spam_detection [--model claude-haiku-4-5]
#include "example_support.hpp"

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
    return example::main_of(argc, argv, "Spam detection with aibatch::batch<T>()", run);
}
