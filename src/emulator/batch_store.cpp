#include "batch_store.hpp"

#include "simulated_model.hpp"

#include <boost/json/monotonic_resource.hpp>
#include <boost/json/serialize.hpp>

#include <ctime>

namespace aibatch::emulator {

namespace json = boost::json;

std::string rfc3339(sys_clock::time_point t) {
    auto secs = std::chrono::time_point_cast<std::chrono::seconds>(t);
    auto micros = std::chrono::duration_cast<std::chrono::microseconds>(t - secs).count();
    std::time_t tt = sys_clock::to_time_t(secs);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[96];
    std::snprintf(buf, sizeof buf, "%04d-%02d-%02dT%02d:%02d:%02d.%06lldZ", tm.tm_year + 1900,
                  tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                  static_cast<long long>(micros));
    return buf;
}

namespace {

// Room on the stack for one request's parsed params (most fit; larger ones spill to the
// heap).
constexpr std::size_t params_room = std::size_t{16} << 10;

} // namespace

std::shared_ptr<batch_record> batch_record::deleted_copy() const {
    auto r = std::make_shared<batch_record>();
    static_cast<batch_facts&>(*r) = *this;
    r->deleted = true;
    r->cache = nullptr;
    r->requests = requests.ids_only();
    return r;
}

sys_clock::time_point batch_record::ends_at() const {
    if (cancel_done_at && *cancel_done_at < processing_ends_at)
        return *cancel_done_at;
    return processing_ends_at;
}

const char* batch_record::status(sys_clock::time_point now) const {
    if (now >= ends_at())
        return "ended";
    return cancel_initiated_at ? "canceling" : "in_progress";
}

std::optional<item_error> batch_record::validate(const boost::json::value& params) const {
    return validate_params(params, validation_context{true, validation_day});
}

void batch_record::compute_outcomes() const {
    std::size_t n = size();
    outcomes_.assign(n, item_outcome::succeeded);
    // Item at processing position k completes at created + span * (k + 1) / n. With the
    // expire fault, processing runs at half speed and stops at processing_ends_at. A held
    // batch processes every item at its release: a cancel before it cancels every item,
    // and with the expire fault every item expires.
    auto span = held ? sys_clock::duration::zero() : processing_ends_at - created_at;
    if (expire)
        span *= 2;
    sys_clock::time_point stop = processing_ends_at;
    bool canceled = cancel_initiated_at && *cancel_initiated_at < processing_ends_at;
    if (canceled)
        stop = *cancel_initiated_at;
    for (std::size_t k = 0; k < n; ++k) {
        std::uint32_t i = completion_order[k];
        auto done_at = held ? (expire ? sys_clock::time_point::max() : processing_ends_at)
                            : created_at + span * static_cast<long>(k + 1) / static_cast<long>(n);
        if (done_at > stop && (canceled || expire)) {
            outcomes_[i] = canceled ? item_outcome::canceled : item_outcome::expired;
            continue;
        }
        unsigned char room[params_room];
        json::monotonic_resource mr(room, sizeof room);
        const json::value params = requests.params(i, &mr);
        if (params.is_object()) {
            auto sc = read_script(params.get_object());
            if (sc.result == "errored") {
                outcomes_[i] = item_outcome::errored;
                continue;
            }
            if (sc.result == "expired") {
                outcomes_[i] = item_outcome::expired;
                continue;
            }
            if (sc.result == "canceled") {
                outcomes_[i] = item_outcome::canceled;
                continue;
            }
        }
        outcomes_[i] = validate(params) ? item_outcome::errored : item_outcome::succeeded;
        if (cache && outcomes_[i] == item_outcome::succeeded &&
            has_cache_control(params.get_object())) {
            cache_usage_.resize(n);
            cache_usage_[i] =
                cache->use(params.get_object(), std::min(done_at, processing_ends_at));
        }
    }
}

item_outcome batch_record::outcome(std::size_t i) const {
    if (outcomes_.empty() && size() > 0)
        compute_outcomes();
    return outcomes_[i];
}

std::string batch_record::result_line(std::size_t i) const {
    json::object line;
    line["custom_id"] = custom_id(i);
    json::object result;
    std::uint64_t item_seed = hash_bytes(custom_id(i), seed);
    const item_outcome out = outcome(i);
    unsigned char room[params_room];
    json::monotonic_resource mr(room, sizeof room);
    // Canceled and expired lines do not look at the params.
    const json::value params = out == item_outcome::succeeded || out == item_outcome::errored
                                   ? requests.params(i, &mr)
                                   : json::value();
    switch (out) {
    case item_outcome::succeeded:
        result["type"] = "succeeded";
        result["message"] =
            simulate_message(params.get_object(), item_seed, "batch",
                             cache_usage_.empty() ? cache_usage{} : cache_usage_[i]);
        break;
    case item_outcome::errored: {
        result["type"] = "errored";
        auto err = validate(params);
        item_error e = err ? *err : item_error{"api_error", "Internal server error"};
        rng r(item_seed);
        result["error"] =
            json::object{{"type", "error"},
                         {"error", json::object{{"type", e.type}, {"message", e.message}}},
                         {"request_id", r.id("req_")}};
        break;
    }
    case item_outcome::canceled:
        result["type"] = "canceled";
        break;
    case item_outcome::expired:
        result["type"] = "expired";
        break;
    }
    line["result"] = std::move(result);
    std::string s = json::serialize(line);
    s += '\n';
    return s;
}

json::object batch_record::to_json(sys_clock::time_point now, const std::string& origin,
                                   sys_clock::duration clock_offset) const {
    json::object o;
    o["id"] = id;
    o["type"] = "message_batch";
    bool is_ended = ended(now);
    o["processing_status"] = status(now);
    std::uint64_t counts[4] = {0, 0, 0, 0};
    if (is_ended)
        for (std::size_t i = 0; i < size(); ++i)
            ++counts[static_cast<int>(outcome(i))];
    o["request_counts"] = json::object{{"processing", is_ended ? 0 : size()},
                                       {"succeeded", counts[0]},
                                       {"errored", counts[1]},
                                       {"canceled", counts[2]},
                                       {"expired", counts[3]}};
    o["ended_at"] =
        is_ended ? json::value(rfc3339(ends_at() + clock_offset)) : json::value(nullptr);
    o["created_at"] = rfc3339(created_at + clock_offset);
    o["expires_at"] = rfc3339(expires_at + clock_offset);
    o["archived_at"] = nullptr;
    o["cancel_initiated_at"] = cancel_initiated_at
                                   ? json::value(rfc3339(*cancel_initiated_at + clock_offset))
                                   : json::value(nullptr);
    o["results_url"] = is_ended ? json::value(origin + "/v1/messages/batches/" + id + "/results")
                                : json::value(nullptr);
    return o;
}

} // namespace aibatch::emulator
