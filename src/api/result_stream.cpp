#include "client_impl.hpp"

#include <boost/asio/error.hpp>
#include <boost/json/parser.hpp>

#include <algorithm>
#include <cstring>
#include <deque>
#include <memory>
#include <unordered_map>

namespace aibatch {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

// The custom_id of a line that did not parse, when its bytes still show one.
std::optional<std::string> sniff_custom_id(std::string_view line) {
    constexpr std::string_view key = "\"custom_id\"";
    auto at = line.find(key);
    if (at == std::string_view::npos)
        return std::nullopt;
    std::size_t i = at + key.size();
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    if (i >= line.size() || line[i] != ':')
        return std::nullopt;
    ++i;
    while (i < line.size() && (line[i] == ' ' || line[i] == '\t'))
        ++i;
    if (i >= line.size() || line[i] != '"')
        return std::nullopt;
    auto end = line.find('"', i + 1);
    if (end == std::string_view::npos)
        return std::nullopt;
    std::string id(line.substr(i + 1, end - i - 1));
    if (check_custom_id(id))
        return std::nullopt;
    return id;
}

} // namespace

struct result_stream::state {
    std::shared_ptr<client_state> owner;
    std::string batch_id;
    std::string target;
    std::optional<response_stream> body;
    bool body_done = false;
    std::string_view chunk; // unread rest of the last piece (valid until the next read)
    std::string carry;      // a line split across pieces
    json::parser parser;
    // Ids delivered so far, in order (100,000 separate strings would cost as long to free
    // as to fill; one growing buffer copies itself and faults in fresh pages at each
    // doubling) until a resume needs lookups, then indexed once in `delivered`.
    struct id_log {
        static constexpr std::size_t block_size = std::size_t{1} << 16;
        struct entry {
            const char* id;
            std::size_t size;
            std::uint64_t identity;
        };
        std::vector<std::unique_ptr<char[]>> blocks; // the ids' bytes; a block never moves
        char* free = nullptr;                        // the unused end of the last block
        std::size_t room = 0;
        std::deque<entry> entries;

        void add(std::string_view id, std::uint64_t identity) {
            // Also before the first block: memcpy into a null `free` is undefined even
            // for an empty id ("" is a custom_id from_json takes).
            if (id.size() > room || free == nullptr) {
                room = std::max(block_size, id.size());
                blocks.push_back(std::make_unique_for_overwrite<char[]>(room));
                free = blocks.back().get();
            }
            std::memcpy(free, id.data(), id.size());
            entries.push_back({free, id.size(), identity});
            free += id.size();
            room -= id.size();
        }
    } delivered_log;
    // id -> result_identity of each answer delivered for it (two different answers for
    // one id are both delivered, once each)
    std::unordered_multimap<std::string, std::uint64_t> delivered;
    bool resumed = false;
    std::uint64_t lines = 0;
    std::uint64_t bytes = 0;
    unsigned resumes = 0;
    unsigned failures_without_progress = 0;
    std::uint64_t lines_at_last_failure = 0;
    std::optional<std::uint64_t> max_lines; // the batch's request count, when known
    std::uint64_t raw_lines = 0;            // every line of this download
    std::optional<std::string> bad_id;
    // Why the download ended for good (a failure not resumed): every later call throws it
    // again. Read on, the failed body would give the cut line's head as a bad line, then
    // the end of the results with lines missing (or, after a failed reopen, no body).
    std::optional<error> broken;
    std::chrono::steady_clock::time_point opened_at;
    std::uint64_t bytes_at_open = 0;

    void check_rate() const {
        const auto& t = owner->cfg.transport;
        auto elapsed = std::chrono::steady_clock::now() - opened_at;
        if (elapsed < t.timeouts.stream_grace || t.min_stream_rate == 0)
            return;
        double secs = std::chrono::duration<double>(elapsed).count();
        double got = static_cast<double>(bytes - bytes_at_open);
        if (got < secs * static_cast<double>(t.min_stream_rate))
            throw error(errc::stream_too_slow,
                        "results of " + batch_id + ": " + std::to_string(bytes - bytes_at_open) +
                            " bytes in " + std::to_string(static_cast<long>(secs)) +
                            " s, below transport_options::min_stream_rate (" +
                            std::to_string(t.min_stream_rate) + " bytes/s)");
    }

    task<void> reopen() {
        body.reset();
        body_done = false;
        chunk = {};
        carry.clear();
        opened_at = std::chrono::steady_clock::now();
        bytes_at_open = bytes;
        raw_lines = 0; // per download: a resume sends the delivered lines again
        body.emplace(
            co_await owner->open(owner->make_request("GET", target, {}, "application/binary"),
                                 "results of " + batch_id));
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
            else
                check_rate();
        }
    }
    bool carry_ready = false;

    // The next line that is not blank, without its "\r": downloads again after a
    // failure, skipping nothing yet (deliver() does), and caps the number of lines. The
    // view is valid until the next call.
    task<std::optional<std::string_view>> next_text() {
        consumed_line();
        bad_id.reset();
        if (broken) // the download failed for good: never read on as if it had ended
            throw *broken;
        if (!body) // canceled before (a read or a reopen): download again
            co_await reopen();
        for (;;) {
            std::optional<std::string_view> line;
            std::optional<error> failure;
            try {
                line = co_await next_line();
            } catch (const error& e) {
                // The caller canceled this call: the download is dropped, and the next
                // call downloads again and skips what was delivered.
                if (e.code() == asio::error::operation_aborted) {
                    drop_body();
                    throw;
                }
                // A broken body (bad chunk framing, ...) is resumed like a dropped one:
                // never taken for the end of the results.
                if (!client_state::retryable(e) && e.code() != errc::bad_response) {
                    broken = e;
                    throw;
                }
                failure = e;
            }
            if (failure) {
                std::optional<error> gave_up;
                try {
                    co_await resume(*failure);
                } catch (const error& e) {
                    gave_up = e;
                }
                if (gave_up && gave_up->code() == asio::error::operation_aborted) {
                    drop_body(); // canceled while downloading again: as above
                    throw *gave_up;
                }
                if (gave_up) {
                    broken = gave_up;
                    throw *gave_up;
                }
                continue;
            }
            if (!line)
                co_return std::nullopt;
            if (auto text = accept(*line))
                co_return text;
        }
    }

    // next_text() without reading: a line already in the buffer, or nullopt when the
    // next one needs a read (then call next_text()). No coroutine frame per line.
    std::optional<std::string_view> buffered_text() {
        consumed_line();
        bad_id.reset();
        if (broken)
            return std::nullopt; // next_text() throws it
        for (;;) {
            const std::size_t nl = chunk.find('\n');
            if (nl == std::string_view::npos)
                return std::nullopt;
            std::string_view line = chunk.substr(0, nl);
            chunk.remove_prefix(nl + 1);
            if (!carry.empty()) {
                carry.append(line);
                carry_ready = true;
                line = carry;
            }
            if (auto text = accept(line))
                return text;
        }
    }

    // A line as read: without its "\r", counted against the cap (blank, bad and repeated
    // ones too, so an endless stream of them ends); nullopt for a blank line (skipped).
    std::optional<std::string_view> accept(std::string_view text) {
        if (!text.empty() && text.back() == '\r')
            text.remove_suffix(1);
        if (max_lines && ++raw_lines > 2 * *max_lines + 16)
            throw error(errc::body_too_large, "results of " + batch_id +
                                                  ": more than twice as many lines as the "
                                                  "batch's " +
                                                  std::to_string(*max_lines) +
                                                  " requests; the rest is not read");
        if (text.find_first_not_of(" \t") == std::string_view::npos) {
            consumed_line();
            return std::nullopt;
        }
        return text;
    }

    // Resume: download again and skip what was delivered. Gives up after max_retries
    // consecutive failures without a new line in between.
    task<void> resume(const error& failure) {
        if (lines != lines_at_last_failure)
            failures_without_progress = 0;
        lines_at_last_failure = lines;
        if (++failures_without_progress >
            static_cast<unsigned>(std::max(0, owner->cfg.retry.max_retries)))
            throw failure;
        ++resumes;
        ++owner->stats.results_resumed;
        {
            client_event e;
            e.what = client_event::kind::results_resumed;
            e.target = target;
            e.detail = "results of " + batch_id + " cut after " + std::to_string(lines) +
                       " lines (" + failure.diag().to_string() +
                       "); downloading again and skipping what was delivered";
            owner->tell(e);
        }
        index_delivered();
        carry_ready = false;
        co_await reopen();
    }

    // From now on every line is checked against those delivered (a download again).
    void index_delivered() {
        if (resumed)
            return;
        resumed = true;
        delivered.reserve(delivered_log.entries.size() * 2);
        for (const auto& e : delivered_log.entries)
            delivered.emplace(std::string(e.id, e.size), e.identity);
        delivered_log = {};
    }

    // After a canceled call: the body (whose connection a canceled read closed) and the
    // lines left of it are dropped; the next call downloads again (next_text()).
    void drop_body() {
        index_delivered();
        body.reset();
        body_done = false;
        chunk = {};
        carry.clear();
        carry_ready = false;
    }

    // A line that is not JSON: the error says which line and shows its start.
    error not_json(std::string_view text, std::string_view why) {
        bad_id = sniff_custom_id(text);
        std::string shown(text.substr(0, 120));
        for (char& c : shown)
            if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f)
                c = '?';
        return error(errc::bad_response, "results of " + batch_id + ": line " +
                                             std::to_string(lines + 1) + " is not JSON (" +
                                             std::string(why) + "): " + shown);
    }

    // JSON that is not a result line (result_line::from_json's error `e`).
    error not_a_result(std::string_view text, const error& e) {
        bad_id = sniff_custom_id(text);
        diagnostics d = e.diag();
        d.message =
            "results of " + batch_id + ": line " + std::to_string(lines + 1) + ": " + d.message;
        return error(e.code(), std::move(d));
    }

    // Whether the line of `custom_id` with this identity is new; false for a line
    // delivered before a resume (a different answer for the same id is new: the caller
    // must see it). Counts the line.
    bool deliver(std::string_view custom_id, std::uint64_t identity) {
        if (resumed) {
            std::string id(custom_id);
            auto [first, last] = delivered.equal_range(id);
            for (auto it = first; it != last; ++it)
                if (it->second == identity)
                    return false;
            delivered.emplace(std::move(id), identity);
        } else {
            delivered_log.add(custom_id, identity);
        }
        ++lines;
        return true;
    }

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
const std::optional<std::string>& result_stream::bad_line_custom_id() const noexcept {
    static const std::optional<std::string> none;
    return state_ ? state_->bad_id : none;
}

namespace {

task<std::optional<result_line>> empty_stream_next() {
    throw error(errc::invalid_argument, "result_stream::next on an empty (moved-from) stream");
    co_return std::nullopt;
}

} // namespace

task<std::optional<result_line>> result_stream::next() {
    if (!state_)
        return empty_stream_next();
    return client_state::on_strand(state_->owner, next_line_of(*state_));
}

task<std::optional<result_line>> result_stream::next_line_of(state& s) {
    for (;;) {
        std::optional<std::string_view> text = s.buffered_text();
        if (!text) {
            text = co_await s.next_text();
            if (!text)
                co_return std::nullopt;
        }
        boost::system::error_code ec;
        s.parser.reset();
        s.parser.write(text->data(), text->size(), ec);
        if (ec)
            throw s.not_json(*text, ec.message());
        json::value v = s.parser.release();
        result_line r;
        try {
            r = result_line::from_json(std::move(v));
        } catch (const error& e) {
            throw s.not_a_result(*text, e);
        }
        if (!s.deliver(r.custom_id, result_identity(r)))
            continue; // already delivered before a resume
        co_return r;
    }
}

namespace {
task<std::optional<std::string_view>> empty_stream_text() {
    throw error(errc::invalid_argument, "result_stream::next on an empty (moved-from) stream");
    co_return std::nullopt;
}
} // namespace

task<std::optional<std::string_view>> detail::raw_results::next(result_stream& rs) {
    if (!rs.state_)
        return empty_stream_text();
    return client_state::on_strand(rs.state_->owner, rs.state_->next_text());
}

std::optional<std::string_view> detail::raw_results::buffered(result_stream& rs) {
    return rs.state_ ? rs.state_->buffered_text() : std::nullopt;
}

error detail::raw_results::not_json(result_stream& rs, std::string_view line,
                                    std::string_view why) {
    return rs.state_->not_json(line, why);
}

error detail::raw_results::not_a_result(result_stream& rs, std::string_view line, const error& e) {
    return rs.state_->not_a_result(line, e);
}

bool detail::raw_results::deliver(result_stream& rs, std::string_view custom_id, result_type type,
                                  std::string_view answer) {
    return rs.state_->deliver(custom_id, result_identity(type, answer));
}

namespace {

task<result_stream> do_open_results(std::shared_ptr<client_state> self, std::string id,
                                    std::optional<std::string> url,
                                    std::optional<std::uint64_t> max_lines) {
    check_batch_id(id);
    auto st = std::make_unique<result_stream::state>();
    st->owner = self;
    st->batch_id = id;
    st->target = self->results_target(id, url);
    st->max_lines = max_lines;
    co_await st->reopen();
    co_return result_stream(std::move(st));
}

task<result_stream> not_ended(std::string id, processing_status status) {
    throw error(errc::invalid_argument,
                "open_results: batch " + id + " has not ended (processing_status " +
                    std::string(to_string(status)) + "); poll retrieve_batch until it has");
    co_return result_stream();
}

} // namespace

task<result_stream> client::open_results(batch_info batch) {
    if (!batch.ended())
        return not_ended(std::move(batch.id), batch.status);
    std::uint64_t n = batch.request_counts.total();
    if (n > (std::uint64_t{1} << 40))
        n = 0; // not a count any batch can have: no cap from it
    return client_state::on_strand(impl_, do_open_results(impl_, std::move(batch.id),
                                                          std::move(batch.results_url),
                                                          n > 0 ? std::optional(n) : std::nullopt));
}

task<result_stream> client::open_results(std::string batch_id) {
    return client_state::on_strand(
        impl_, do_open_results(impl_, std::move(batch_id), std::nullopt, std::nullopt));
}

} // namespace aibatch
