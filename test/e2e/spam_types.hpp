// Types shared by the end-to-end tests and their child program.
#pragma once

#include <aibatch/typed/schema.hpp>

#include <boost/describe.hpp>

#include <string>
#include <vector>

namespace e2e {

struct SpamResult {
    bool is_spam;
    double confidence;
    std::string reason;
};
BOOST_DESCRIBE_STRUCT(SpamResult, (), (is_spam, confidence, reason))

BOOST_DEFINE_ENUM_CLASS(Sentiment, positive, negative, neutral)

struct SentimentResult {
    Sentiment sentiment;
    double score;
};
BOOST_DESCRIBE_STRUCT(SentimentResult, (), (sentiment, score))

} // namespace e2e
