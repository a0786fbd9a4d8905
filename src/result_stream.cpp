#include "client_impl.hpp"

#include <boost/json/parser.hpp>

#include <unordered_set>

namespace aibatch {

namespace json = boost::json;

struct result_stream::state {
    std::shared_ptr<client::impl> owner;
    std::string batch_id;
    std::string target;
    std::optional<response_stream> body;
    bool body_done = false;
    std::string_view chunk; // unread rest of the last piece (valid until the next read)
    std::string carry;      // a line split across pieces
    json::parser parser;
    // Ids delivered so far: appended in order (cheap, short ids stay in SSO) until a
    // resume needs lookups, then indexed once in `delivered`.
    std::vector<std::string> delivered_order;
    std::unordered_set<std::string> delivered;
    bool resumed = false;
    std::uint64_t lines = 0;
    std::uint64_t bytes = 0;
    unsigned resumes = 0;
    unsigned failures_without_progress = 0;
    std::uint64_t lines_at_last_failure = 0;

    task<void> reopen() {
        body.reset();
        body_done = false;
        chunk = {};
        carry.clear();
        body.emplace(
            co_await owner->open(owner->make_request("GET", target), "results of " + batch_id));
    }

    // The next complete line, or nullopt at the end of the body. The view is valid until
    // the next call.
    task<std::optional<std::string_view>> next_line() {
        for (;;) {
            std::size_t nl = chunk.find('\n');
            if (nl != std::string_view::npos) {
                std::string_view line = chunk.substr(0, nl);
                chunk.remove_prefix(nl + 1);
                if (carry.empty())
                    co_return line;
                carry.append(line);
                carry_ready = true;
                co_return std::string_view(carry);
            }
            carry.append(chunk);
            chunk = {};
            if (carry.size() > max_line_bytes)
                throw error(errc::body_too_large, "results of " + batch_id +
                                                      ": a line longer than " +
                                                      std::to_string(max_line_bytes) + " bytes");
            if (body_done) {
                if (carry.empty())
                    co_return std::nullopt;
                carry_ready = true;
                co_return std::string_view(carry);
            }
            chunk = co_await body->read_some();
            bytes += chunk.size();
            if (chunk.empty())
                body_done = true;
        }
    }
    bool carry_ready = false;

    void consumed_line() {
        if (carry_ready) {
            carry.clear();
            carry_ready = false;
        }
    }
};

result_stream::result_stream() noexcept = default;
result_stream::result_stream(std::unique_ptr<state> s) : state_(std::move(s)) {}
result_stream::result_stream(result_stream&&) noexcept = default;
result_stream& result_stream::operator=(result_stream&&) noexcept = default;
result_stream::~result_stream() = default;

std::uint64_t result_stream::lines_read() const noexcept {
    return state_ ? state_->lines : 0;
}
std::uint64_t result_stream::bytes_read() const noexcept {
    return state_ ? state_->bytes : 0;
}
unsigned result_stream::resumes() const noexcept {
    return state_ ? state_->resumes : 0;
}

task<std::optional<result_line>> result_stream::next() {
    if (!state_)
        throw error(errc::invalid_argument, "result_stream::next on an empty (moved-from) stream");
    state& s = *state_;
    for (;;) {
        std::optional<std::string_view> line;
        std::optional<error> failure;
        try {
            line = co_await s.next_line();
        } catch (const error& e) {
            if (!client::impl::retryable(e))
                throw;
            failure = e;
        }
        if (failure) {
            // Resume: download again and skip what was delivered. Give up after
            // max_retries consecutive failures without a new line in between.
            if (s.lines != s.lines_at_last_failure)
                s.failures_without_progress = 0;
            s.lines_at_last_failure = s.lines;
            if (++s.failures_without_progress >
                static_cast<unsigned>(std::max(0, s.owner->cfg.retry.max_retries)))
                throw *failure;
            ++s.resumes;
            ++s.owner->stats.results_resumed;
            if (!s.resumed) {
                s.resumed = true;
                s.delivered.reserve(s.delivered_order.size() * 2);
                for (auto& id : s.delivered_order)
                    s.delivered.insert(std::move(id));
                s.delivered_order = {};
            }
            s.carry_ready = false;
            co_await s.reopen();
            continue;
        }
        if (!line)
            co_return std::nullopt;
        std::string_view text = *line;
        if (!text.empty() && text.back() == '\r')
            text.remove_suffix(1);
        if (text.find_first_not_of(" \t") == std::string_view::npos) {
            s.consumed_line();
            continue;
        }
        boost::system::error_code ec;
        s.parser.reset();
        s.parser.write(text.data(), text.size(), ec);
        if (ec) {
            std::string shown(text.substr(0, 120));
            s.consumed_line();
            throw error(errc::bad_response, "results of " + s.batch_id + ": line " +
                                                std::to_string(s.lines + 1) + " is not JSON (" +
                                                ec.message() + "): " + shown);
        }
        json::value v = s.parser.release();
        s.consumed_line();
        result_line r = result_line::from_json(std::move(v));
        if (s.resumed) {
            if (!s.delivered.insert(r.custom_id).second)
                continue; // already delivered before a resume
        } else {
            s.delivered_order.push_back(r.custom_id);
        }
        ++s.lines;
        co_return r;
    }
}

task<result_stream> client::open_results(batch_info batch) {
    check_batch_id(batch.id);
    if (!batch.ended())
        throw error(errc::invalid_argument, "open_results: batch " + batch.id +
                                                " has not ended (processing_status " +
                                                std::string(to_string(batch.status)) +
                                                "); poll retrieve_batch until it has");
    auto self = impl_;
    auto st = std::make_unique<result_stream::state>();
    st->owner = self;
    st->batch_id = batch.id;
    st->target = self->results_target(batch.id, batch.results_url);
    co_await st->reopen();
    co_return result_stream(std::move(st));
}

task<result_stream> client::open_results(std::string batch_id) {
    check_batch_id(batch_id);
    auto self = impl_;
    auto st = std::make_unique<result_stream::state>();
    st->owner = self;
    st->batch_id = batch_id;
    st->target = self->results_target(batch_id, std::nullopt);
    co_await st->reopen();
    co_return result_stream(std::move(st));
}

} // namespace aibatch
