// Sentiment of product reviews, with a system prompt, an enum and run_batch<T>() (no
// exceptions for item failures: an outcome per item, plus usage and cost).
//
//   ./build/default/examples/sentiment_analysis [--model claude-haiku-4-5]
#include "example_support.hpp"

#include <boost/describe.hpp>

#include <iomanip>

BOOST_DEFINE_ENUM_CLASS(Sentiment, positive, negative, neutral)

struct ReviewAnalysis {
    Sentiment sentiment;
    double score;
    std::vector<std::string> key_phrases;
    std::optional<std::string> product_issue;
};
BOOST_DESCRIBE_STRUCT(ReviewAnalysis, (), (sentiment, score, key_phrases, product_issue))

template <>
struct aibatch::schema_docs<ReviewAnalysis> {
    static constexpr std::string_view description = "Analysis of one product review";
    static constexpr aibatch::field_doc fields[] = {
        {.name = "score",
         .description = "-1 (very negative) to 1 (very positive)",
         .minimum = -1,
         .maximum = 1},
        {.name = "key_phrases",
         .description = "Up to three phrases that carry the sentiment",
         .max_length = 3},
        {.name = "product_issue", .description = "The defect mentioned, if any"},
    };
};

aibatch::task<void> run(aibatch::client& client, std::string model) {
    const std::vector<std::string> reviews = {
        "Absolutely love this kettle, boils fast and looks great.",
        "Stopped working after two weeks. The switch broke. Avoid.",
        "It's fine. Does what it says, nothing special.",
    };
    std::vector<aibatch::conversation> messages;
    for (const auto& r : reviews)
        messages.push_back({aibatch::user("Review: " + r)});

    aibatch::batch_options options;
    options.system = "You analyse customer reviews for a kitchen appliance shop.";
    options.temperature = 0.0;
    options.max_tokens = 400;
    options.poll_interval = std::chrono::milliseconds(500);
    options.on_progress = example::print_progress;

    auto run = co_await aibatch::run_batch<ReviewAnalysis>(client, messages, model, options);
    for (std::size_t i = 0; i < run.items.size(); ++i) {
        const auto& item = run.items[i];
        if (!item.value) {
            std::cout << "#" << i << " " << to_string(item.status) << ": " << item.message << "\n";
            continue;
        }
        std::cout << std::left << std::setw(9)
                  << boost::describe::enum_to_string(item.value->sentiment, "?") << std::fixed
                  << std::setprecision(2) << std::setw(6) << item.value->score << reviews[i]
                  << "\n";
        if (item.value->product_issue)
            std::cout << "         issue: " << *item.value->product_issue << "\n";
    }
    std::cout << "usage: " << run.usage.input_tokens << " input + " << run.usage.output_tokens
              << " output tokens";
    if (run.cost_usd)
        std::cout << ", estimated cost $" << std::setprecision(5) << *run.cost_usd
                  << " (batch price, an estimate)";
    std::cout << "\n";
}

int main(int argc, char** argv) {
    return example::main_of(argc, argv, "Sentiment analysis with aibatch::run_batch<T>()", run);
}
