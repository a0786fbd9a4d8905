#include "output.hpp"

#include <boost/json/serialize.hpp>
#include <cstring>

#include <algorithm>
#include <ctime>
#include <filesystem>

namespace aibatch::cli {

namespace json = boost::json;

json::object batch_json(const batch_info& b) {
    json::object o;
    o["id"] = b.id;
    o["type"] = b.type.empty() ? "message_batch" : b.type;
    o["processing_status"] = std::string(to_string(b.status));
    const auto& c = b.request_counts;
    o["request_counts"] = json::object{{"processing", c.processing},
                                       {"succeeded", c.succeeded},
                                       {"errored", c.errored},
                                       {"canceled", c.canceled},
                                       {"expired", c.expired}};
    auto time = [](const std::optional<timestamp>& t) -> json::value {
        return t ? json::value(format_rfc3339(*t)) : json::value(nullptr);
    };
    o["created_at"] = format_rfc3339(b.created_at);
    o["expires_at"] = format_rfc3339(b.expires_at);
    o["ended_at"] = time(b.ended_at);
    o["archived_at"] = time(b.archived_at);
    o["cancel_initiated_at"] = time(b.cancel_initiated_at);
    o["results_url"] = b.results_url ? json::value(*b.results_url) : json::value(nullptr);
    return o;
}

json::array batches_json(const std::vector<batch_info>& v) {
    json::array a;
    for (const auto& b : v)
        a.push_back(batch_json(b));
    return a;
}

std::string format_time(timestamp t) {
    if (t == timestamp{})
        return "-";
    std::time_t tt = std::chrono::system_clock::to_time_t(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

std::string format_duration(std::chrono::steady_clock::duration d) {
    long long s =
        std::max<long long>(0, std::chrono::duration_cast<std::chrono::seconds>(d).count());
    char buf[48];
    if (s >= 3600)
        std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", s / 3600, s / 60 % 60, s % 60);
    else
        std::snprintf(buf, sizeof buf, "%lld:%02lld", s / 60, s % 60);
    return buf;
}

namespace {

std::string pad(std::string s, std::size_t w, bool right = false) {
    if (s.size() >= w)
        return s;
    return right ? std::string(w - s.size(), ' ') + s : s + std::string(w - s.size(), ' ');
}

} // namespace

std::string batch_table(const std::vector<batch_info>& batches) {
    std::vector<std::vector<std::string>> rows;
    rows.push_back({"ID", "STATUS", "PROCESSING", "SUCCEEDED", "ERRORED", "CANCELED", "EXPIRED",
                    "CREATED (UTC)", "ENDS (UTC)"});
    for (const auto& b : batches) {
        const auto& c = b.request_counts;
        // An ended batch shows when it ended; one still running, when it expires.
        std::string ends = b.ended_at ? format_time(*b.ended_at) : format_time(b.expires_at);
        rows.push_back({b.id, std::string(to_string(b.status)), std::to_string(c.processing),
                        std::to_string(c.succeeded), std::to_string(c.errored),
                        std::to_string(c.canceled), std::to_string(c.expired),
                        format_time(b.created_at), ends});
    }
    std::vector<std::size_t> w(rows[0].size(), 0);
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i)
            w[i] = std::max(w[i], r[i].size());
    std::string out;
    for (const auto& r : rows) {
        std::string line;
        for (std::size_t i = 0; i < r.size(); ++i) {
            bool number = i >= 2 && i <= 6;
            line += pad(r[i], w[i], number);
            if (i + 1 < r.size())
                line += "  ";
        }
        while (!line.empty() && line.back() == ' ')
            line.pop_back();
        out += line + "\n";
    }
    return out;
}

std::string batch_details(const batch_info& b) {
    const auto& c = b.request_counts;
    auto opt = [](const std::optional<timestamp>& t) { return t ? format_time(*t) : "-"; };
    std::string s;
    s += "id:                  " + b.id + "\n";
    s += "status:              " + std::string(to_string(b.status)) + "\n";
    s += "requests:            " + std::to_string(c.total()) + " (processing " +
         std::to_string(c.processing) + ", succeeded " + std::to_string(c.succeeded) +
         ", errored " + std::to_string(c.errored) + ", canceled " + std::to_string(c.canceled) +
         ", expired " + std::to_string(c.expired) + ")\n";
    s += "created (UTC):       " + format_time(b.created_at) + "\n";
    s += "expires (UTC):       " + format_time(b.expires_at) + "\n";
    s += "ended (UTC):         " + opt(b.ended_at) + "\n";
    s += "cancel started:      " + opt(b.cancel_initiated_at) + "\n";
    s += "archived (UTC):      " + opt(b.archived_at) + "\n";
    s += "results:             " + (b.results_url ? *b.results_url : std::string("-")) + "\n";
    return s;
}

std::string json_line(const json::value& v) {
    return json::serialize(v) + "\n";
}

std::vector<std::string> each_id_once(const std::vector<std::string>& ids, std::string_view doing) {
    std::vector<std::string> once;
    for (const auto& id : ids) {
        if (std::find(once.begin(), once.end(), id) != once.end())
            continue;
        once.push_back(id);
        const auto times = std::count(ids.begin(), ids.end(), id);
        if (times > 1)
            write_all(stderr,
                      "aibatch: " + id + " is given " +
                          (times == 2 ? std::string("twice") : std::to_string(times) + " times") +
                          "; " + std::string(doing) + " it once\n");
    }
    return once;
}

bool same_file(const std::string& a, const std::string& b) {
    namespace fs = std::filesystem;
    std::error_code ec;
    if (fs::exists(a, ec) && fs::exists(b, ec)) {
        bool same = fs::equivalent(a, b, ec);
        return !ec && same;
    }
    const fs::path x = fs::weakly_canonical(a, ec);
    if (ec)
        return false;
    const fs::path y = fs::weakly_canonical(b, ec);
    return !ec && x == y;
}

void write_all(std::FILE* f, std::string_view text) {
    const bool written = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    const bool flushed = std::fflush(f) == 0;
    if ((!written || !flushed) && f != stderr)
        throw output_error(
            std::string("writing to ") + (f == stdout ? "standard output" : "the output") +
            " failed: " + std::strerror(errno) + "; check the disk space or what reads the output");
}

progress_display::progress_display(std::FILE* out, bool terminal)
    : out_(out), terminal_(terminal) {}

void progress_display::update(const std::vector<batch_info>& batches) {
    std::size_t done = 0, total = 0, ended = 0;
    for (const auto& b : batches) {
        const auto& c = b.request_counts;
        total += c.total();
        done += c.total() - c.processing;
        ended += b.ended();
    }
    show(done, total, ended, batches.size());
}

void progress_display::update_counts(std::size_t done, std::size_t total, std::size_t batches_ended,
                                     std::size_t batches_submitted) {
    show(done, total, batches_ended, batches_submitted);
}

void progress_display::show(std::size_t done, std::size_t total, std::size_t ended,
                            std::size_t batches) {
    auto now = std::chrono::steady_clock::now();
    auto elapsed = now - start_;
    double secs = std::chrono::duration<double>(elapsed).count();
    double rate = secs > 0 ? static_cast<double>(done) / secs : 0;
    std::string eta = "--";
    if (rate > 0 && total >= done)
        eta = format_duration(std::chrono::duration_cast<std::chrono::steady_clock::duration>(
            std::chrono::duration<double>(static_cast<double>(total - done) / rate)));
    char rate_text[32];
    std::snprintf(rate_text, sizeof rate_text, "%.1f/s", rate);
    std::string counts = std::to_string(ended) + "/" + std::to_string(batches) +
                         " batches ended, " + std::to_string(done) + "/" + std::to_string(total) +
                         " requests done";
    if (terminal_) {
        constexpr std::size_t width = 30;
        std::size_t filled =
            total > 0 ? done * width / total : (batches > 0 ? ended * width / batches : 0);
        std::string bar = "[" + std::string(filled, '#') + std::string(width - filled, '-') + "] ";
        std::string line = bar + counts + "  elapsed " + format_duration(elapsed) + "  rate " +
                           rate_text + "  ETA " + eta;
        write_all(out_, "\r\033[K" + line);
        drawn_ = true;
        return;
    }
    // Plain lines: when something changed, or once a minute.
    if (counts == last_state_ && now - last_line_ < std::chrono::minutes(1))
        return;
    last_state_ = counts;
    last_line_ = now;
    write_all(out_, "progress: " + counts + ", elapsed " + format_duration(elapsed) + ", rate " +
                        rate_text + ", ETA " + eta + "\n");
}

void progress_display::finish() {
    if (terminal_ && drawn_)
        write_all(out_, "\n");
    drawn_ = false;
}

} // namespace aibatch::cli
