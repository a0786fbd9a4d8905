// batch<T>()'s rules, apart from I/O: input checks, custom ids, which failures leave a
// batch worth waiting for or a create that may have happened, cost, the failure story.
#include "rules.hpp"

#include "../api/api_rules.hpp"

#include <aibatch/api/models.hpp>
#include <aibatch/batch/batch.hpp>
#include <aibatch/detail/ascii.hpp>

#include <boost/asio/error.hpp>

#include <algorithm>
#include <charconv>
#include <cstring>
#include <limits>
#include <random>

namespace aibatch {

using namespace std::chrono_literals;

std::string_view to_string(item_status s) noexcept {
    switch (s) {
    case item_status::succeeded:
        return "succeeded";
    case item_status::errored:
        return "errored";
    case item_status::expired:
        return "expired";
    case item_status::canceled:
        return "canceled";
    case item_status::invalid_output:
        return "invalid_output";
    case item_status::not_submitted:
        return "not_submitted";
    case item_status::failed:
        return "failed";
    }
    return "unknown";
}

namespace detail {

std::string describe_failures(const std::vector<item_report>& failures, std::size_t total,
                              const std::string& stop_message,
                              const std::vector<unread_batch>& unread, std::size_t anomalies) {
    std::string s;
    if (!stop_message.empty())
        s = stop_message + ". ";
    if (failures.empty())
        s += "all " + std::to_string(total) + " items succeeded";
    else
        s += std::to_string(failures.size()) + " of " + std::to_string(total) +
             " items did not succeed";
    std::map<std::string_view, std::size_t> kinds;
    for (const auto& f : failures)
        ++kinds[to_string(f.status)];
    if (!kinds.empty()) {
        s += " (";
        bool first = true;
        for (const auto& [k, n] : kinds) {
            s += (first ? "" : ", ") + std::to_string(n) + " " + std::string(k);
            first = false;
        }
        s += ")";
    }
    std::size_t shown = 0;
    for (const auto& f : failures) {
        if (shown == 5) {
            s += "; ... (batch_error::failures() lists all)";
            break;
        }
        s += shown == 0 ? ": " : "; ";
        // Appends, not operator+ chains: g++ 12 warns falsely (-Wrestrict) on those at -O3.
        s += '#';
        s += std::to_string(f.index);
        s += ' ';
        s += f.custom_id;
        s += ' ';
        s += to_string(f.status);
        if (!f.message.empty()) {
            s += ": ";
            s += f.message;
        }
        ++shown;
    }
    if (failures.empty())
        s += " (batch_error::results() holds their values)";
    if (!unread.empty()) {
        s += ". Batches not read to the end (batch_error::unread_batches()):";
        std::size_t k = 0;
        for (const auto& u : unread) {
            if (k++ == 5) {
                s += " ...";
                break;
            }
            s += k == 1 ? " " : "; ";
            s += u.id.empty() ? std::string_view("(no id: not found)") : std::string_view(u.id);
            if (!u.items.empty()) {
                s += " (items ";
                s += u.items;
                s += ')';
            }
            s += ": ";
            s += u.why;
        }
    }
    if (anomalies > 0) {
        s += ' ';
        s += std::to_string(anomalies);
        s += " result line(s) were not used (batch_error::anomalies())";
    }
    return s;
}

namespace {
constexpr std::string_view request_head = R"({"custom_id":)";
constexpr std::string_view request_params = R"(,"params":)";
} // namespace

void append_batch_request(std::string_view custom_id, const params_template& tmpl,
                          const conversation& messages, std::string& out) {
    out += request_head;
    append_json_string(custom_id, out);
    out += request_params;
    tmpl.append(messages, out);
    out += '}';
}

std::size_t batch_request_size(std::string_view custom_id, const params_template& tmpl,
                               const conversation& messages) {
    // append_batch_request, piece by piece, by each writer's sizing twin
    return request_head.size() + json_string_size(custom_id) + request_params.size() +
           tmpl.size(messages) + 1;
}

message_params request_prototype(const std::string& model, const batch_options& o,
                                 const output_spec& spec) {
    message_params p;
    p.model = model;
    p.max_tokens = o.max_tokens;
    p.system = o.system;
    p.system_cache = o.cache_system;
    p.temperature = o.temperature;
    apply_output_spec(p, spec);
    return p;
}

namespace {

[[noreturn]] void bad_input(const std::string& what) {
    throw error(errc::invalid_argument, what);
}

} // namespace

void validate_inputs(std::span<const conversation> messages, const std::string& model,
                     const batch_options& o) {
    if (model.empty())
        bad_input("batch: the model is empty; pass a model id such as \"claude-haiku-4-5\"");
    if (o.max_tokens <= 0)
        bad_input("batch: batch_options::max_tokens must be positive (got " +
                  std::to_string(o.max_tokens) + ")");
    if (o.temperature && !(*o.temperature >= 0.0 && *o.temperature <= 1.0))
        bad_input("batch: batch_options::temperature must be between 0 and 1 (got " +
                  std::to_string(*o.temperature) + ")");
    if (o.max_requests_per_batch == 0 || o.max_requests_per_batch > 100'000)
        bad_input("batch: batch_options::max_requests_per_batch must be 1 to 100000 (got " +
                  std::to_string(o.max_requests_per_batch) + ")");
    if (o.max_bytes_per_batch < 1024 || o.max_bytes_per_batch > 256'000'000)
        bad_input("batch: batch_options::max_bytes_per_batch must be 1024 to 256000000 (got " +
                  std::to_string(o.max_bytes_per_batch) + ")");
    if (o.cache_system != prompt_cache::off && !o.system)
        bad_input("batch: batch_options::cache_system caches the system prompt, and there "
                  "is none; set batch_options::system or drop batch_options::cache_system");
    if (o.max_batches_in_flight == 0)
        bad_input("batch: batch_options::max_batches_in_flight must be at least 1");
    if (o.poll_interval <= 0ms || o.poll_interval_max < o.poll_interval)
        bad_input("batch: batch_options::poll_interval must be positive and at most "
                  "poll_interval_max");
    if (o.timeout && *o.timeout <= 0ms)
        bad_input("batch: batch_options::timeout must be positive");
    if (o.cost_limit && !(*o.cost_limit >= 0))
        bad_input("batch: batch_options::cost_limit must be a non-negative amount of USD");
    if (o.cost_limit && !o.price && !find_price(model))
        bad_input("batch: no price is known for model \"" + model +
                  "\", so cost_limit cannot be enforced; set batch_options::price");
    if (!o.run_id.empty()) {
        bool ok = o.run_id.size() <= 24 && std::all_of(o.run_id.begin(), o.run_id.end(),
                                                       [](char c) { return ascii::is_alnum(c); });
        if (!ok)
            bad_input("batch: batch_options::run_id must be 1 to 24 letters and digits (got \"" +
                      o.run_id + "\")");
    }
    {
        std::string longest =
            o.custom_id_prefix + std::string(std::max<std::size_t>(o.run_id.size(), 12), 'x') +
            "r" + std::to_string(o.repair_rounds) + "-" + std::to_string(messages.size());
        if (auto why = check_custom_id(longest))
            bad_input("batch: batch_options::custom_id_prefix makes a bad custom_id (" + longest +
                      "): " + *why);
    }
}

// One input conversation (the engine checks them in slices that yield to the event loop).
void validate_conversation(std::size_t i, const conversation& conv, const batch_options& o) {
    {
        auto at = [i] { return "batch: messages[" + std::to_string(i) + "]"; }; // on error only
        if (conv.empty())
            bad_input(at() + " is an empty conversation; add a user turn: aibatch::user(\"...\")");
        if (conv.front().role != role::user)
            bad_input(at() +
                      " starts with an assistant turn; a conversation starts with a user turn");
        // Consecutive turns of the same role are fine: the API combines them into one.
        for (std::size_t t = 0; t < conv.size(); ++t) {
            bool empty = conv[t].blocks.empty() &&
                         conv[t].text.find_first_not_of(" \t\r\n") == std::string::npos;
            if (empty)
                bad_input(at() + "[" + std::to_string(t) + "] has empty content");
        }
        if (o.output_mode == output_mode::json_schema && conv.back().role == role::assistant)
            bad_input(at() + " ends with an assistant turn (a prefill), which structured "
                             "outputs (output_mode::json_schema) refuse; end it with a user "
                             "turn or use output_mode::tool");
    }
}

std::string random_run_id() {
    static constexpr char alphabet[] = "0123456789abcdefghijklmnopqrstuvwxyz";
    std::random_device rd;
    std::string s(12, '0');
    for (auto& c : s)
        c = alphabet[rd() % 36];
    return s;
}

// Any exception of the Asio/aibatch family as an aibatch::error (a cancellation seen by
// co_await throws a plain system_error).
error as_error(const boost::system::system_error& e) {
    if (const auto* ae = dynamic_cast<const error*>(&e))
        return *ae;
    diagnostics d;
    d.message = e.what();
    return error(e.code(), std::move(d));
}

// A create that failed this way may still have made the batch.
bool may_have_created(const error& e) {
    const auto& ec = e.code();
    if (ec == errc::ambiguous_create)
        return true;
    if (auto c = errc_of(ec)) {
        switch (*c) {
        case errc::request_timeout:
        case errc::connection_closed:
        case errc::api_internal:
        case errc::gateway_timeout:
        case errc::bad_response: // a malformed HTTP answer to a create sent whole
            return true;
        case errc::http_status:
            return e.diag().http_status >= 500 && e.diag().http_status != 529;
        default:
            return false;
        }
    }
    return maybe_delivered(ec);
}

// A poll or download failure after which the batch is still worth waiting for.
bool transient(const error& e, std::chrono::steady_clock::duration since_create) {
    const auto& ec = e.code();
    if (ec == boost::asio::error::operation_aborted)
        return false;
    if (auto c = errc_of(ec)) {
        switch (*c) {
        case errc::connect_timeout:
        case errc::request_timeout:
        case errc::idle_timeout:
        case errc::connection_closed:
        case errc::stream_too_slow:
        case errc::rate_limited:
        case errc::api_internal:
        case errc::gateway_timeout:
        case errc::overloaded:
        case errc::bad_response:
            return true;
        case errc::not_found:
            // The API answers 404 for a batch during the first seconds after create.
            return since_create < std::chrono::minutes(1);
        case errc::http_status:
            return e.diag().http_status >= 500 || e.diag().http_status == 408 ||
                   e.diag().http_status == 409;
        default:
            return false;
        }
    }
    return true; // connection refused / reset, DNS failure, ...
}

// ------------------------------------------------------------------ custom ids
std::string custom_ids::make(unsigned round, std::size_t i) const {
    // One string of the exact size, written in place: one allocation, no growth.
    char r[16];
    char n[24];
    const auto rl = round > 0
                        ? static_cast<std::size_t>(std::to_chars(r, r + sizeof r, round).ptr - r)
                        : std::size_t{0};
    const auto nl = static_cast<std::size_t>(std::to_chars(n, n + sizeof n, i).ptr - n);
    std::string s(prefix_.size() + run_id_.size() + (round > 0 ? 1 + rl : 0) + 1 + nl, '-');
    char* p = s.data();
    const auto put = [&](const char* d, std::size_t k) {
        std::memcpy(p, d, k);
        p += k;
    };
    put(prefix_.data(), prefix_.size());
    put(run_id_.data(), run_id_.size());
    if (round > 0) {
        *p++ = 'r';
        put(r, rl);
    }
    ++p; // the '-' the string was filled with
    put(n, nl);
    return s;
}

std::optional<std::pair<unsigned, std::size_t>> custom_ids::parse(std::string_view id) const {
    // prefix_ + run_id_ + ["r" round] + "-" + index, both numbers canonical (no sign,
    // no leading zero; a round is at least 1), the index below count_. Read byte by byte:
    // every result line is checked here, twice.
    const std::size_t np = prefix_.size();
    const std::size_t nr = run_id_.size();
    if (id.size() < np + nr + 2 || std::memcmp(id.data(), prefix_.data(), np) != 0 ||
        std::memcmp(id.data() + np, run_id_.data(), nr) != 0)
        return std::nullopt;
    const char* p = id.data() + np + nr;
    const char* const e = id.data() + id.size();
    const auto digit = [](char c) { return c >= '0' && c <= '9'; };
    unsigned round = 0;
    if (*p == 'r') {
        ++p;
        if (p == e || *p < '1' || *p > '9')
            return std::nullopt; // "r", "r0", "r01", "r-"
        std::uint64_t r = 0;
        for (; p != e && digit(*p); ++p) {
            r = r * 10 + static_cast<unsigned>(*p - '0');
            if (r > std::numeric_limits<unsigned>::max())
                return std::nullopt;
        }
        round = static_cast<unsigned>(r);
    }
    if (p == e || *p != '-')
        return std::nullopt;
    ++p;
    if (p == e || (*p == '0' && e - p > 1))
        return std::nullopt; // no index, or not canonical ("-00", "-01")
    std::size_t i = 0;
    for (; p != e; ++p) {
        if (!digit(*p) || i > (std::numeric_limits<std::size_t>::max() - 9) / 10)
            return std::nullopt;
        i = i * 10 + static_cast<std::size_t>(*p - '0');
        if (i >= count_)
            return std::nullopt;
    }
    return std::pair{round, i};
}

// ------------------------------------------------------------------ cost
double estimated_cost(const std::optional<model_price>& price, std::uint64_t input_bytes,
                      std::size_t items, double output_tokens_per_item) {
    if (!price)
        return 0;
    usage u;
    u.input_tokens = input_bytes / 4;
    u.output_tokens =
        static_cast<std::uint64_t>(output_tokens_per_item * static_cast<double>(items));
    return batch_cost(u, *price);
}

} // namespace detail
} // namespace aibatch
