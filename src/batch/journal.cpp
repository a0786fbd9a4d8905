#include "journal.hpp"

#include "blocking_io.hpp"

#include <aibatch/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <charconv>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <functional>
#include <iterator>
#include <sys/file.h>
#include <thread>
#include <unistd.h>

namespace aibatch::detail {

namespace json = boost::json;

std::string format_ranges(const std::vector<std::size_t>& v) {
    std::string out;
    for (std::size_t i = 0; i < v.size();) {
        std::size_t j = i;
        while (j + 1 < v.size() && v[j + 1] == v[j] + 1)
            ++j;
        if (!out.empty())
            out += ',';
        out += std::to_string(v[i]);
        if (j > i)
            out += '-' + std::to_string(v[j]);
        i = j + 1;
    }
    return out;
}

std::uint64_t fnv1a(std::string_view bytes, std::uint64_t h) noexcept {
    for (unsigned char c : bytes) {
        h ^= c;
        h *= 1099511628211ull;
    }
    return h;
}

namespace {

[[noreturn]] void fail(const std::filesystem::path& p, const std::string& what) {
    throw error(errc::journal, "journal " + p.string() + ": " + what);
}

std::string hex(std::uint64_t h) {
    char buf[17];
    std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
    return buf;
}

} // namespace

journal::journal(journal&& o) noexcept
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), entries_(std::move(o.entries_)),
      run_id_(std::move(o.run_id_)), all_created_(std::move(o.all_created_)) {}
journal& journal::operator=(journal&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0)
            ::close(fd_);
        path_ = std::move(o.path_);
        fd_ = std::exchange(o.fd_, -1);
        entries_ = std::move(o.entries_);
        run_id_ = std::move(o.run_id_);
        all_created_ = std::move(o.all_created_);
    }
    return *this;
}
journal::~journal() {
    if (fd_ >= 0)
        ::close(fd_);
}

namespace {

const json::string* get_string(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    return v && v->is_string() ? &v->get_string() : nullptr;
}

std::optional<std::uint64_t> get_uint(const json::object& o, std::string_view k) {
    const auto* v = o.if_contains(k);
    if (!v)
        return std::nullopt;
    if (v->is_uint64())
        return v->get_uint64();
    if (v->is_int64() && v->get_int64() >= 0)
        return static_cast<std::uint64_t>(v->get_int64());
    return std::nullopt;
}

std::optional<std::uint64_t> parse_hex(std::string_view s) {
    if (s.empty() || s.size() > 16)
        return std::nullopt;
    std::uint64_t v = 0;
    auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), v, 16);
    if (ec != std::errc() || p != s.data() + s.size())
        return std::nullopt;
    return v;
}

void fsync_directory_of(const std::filesystem::path& p) {
    auto dir = p.parent_path();
    if (dir.empty())
        dir = ".";
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        fail(p, std::string("cannot open its directory to make the new file durable: ") +
                    std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0)
        fail(p, std::string("cannot fsync its directory: ") + std::strerror(err));
}

} // namespace

journal journal::open(const std::filesystem::path& path, const std::string& model,
                      std::size_t items, const std::string& run_id, bool run_id_required) {
    journal j;
    j.path_ = path;
    j.run_id_ = run_id;
    const bool existed = std::filesystem::exists(path);
    j.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j.fd_ < 0)
        fail(path, std::string("cannot open for writing: ") + std::strerror(errno));
    // One run at a time: two runs on one journal would each find nothing to re-attach to
    // and pay for the same items twice. Held until the journal is closed.
    if (::flock(j.fd_, LOCK_EX | LOCK_NB) != 0)
        fail(path, errno == EWOULDBLOCK
                       ? std::string("it is in use by another run (another process, or another "
                                     "call of this one, has it open); give each concurrent run "
                                     "its own journal, or run again once that run has ended")
                       : std::string("cannot lock it: ") + std::strerror(errno));
    bool fresh = true;
    std::optional<std::uintmax_t> truncate_to; // a torn tail to cut off
    {
        std::ifstream in(path, std::ios::binary);
        std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        std::size_t pos = 0;
        std::size_t lineno = 0;
        while (pos < text.size()) {
            std::size_t nl = text.find('\n', pos);
            bool complete = nl != std::string::npos;
            std::string_view line(text.data() + pos, (complete ? nl : text.size()) - pos);
            std::size_t next = complete ? nl + 1 : text.size();
            ++lineno;
            auto at = [&] { return "line " + std::to_string(lineno) + ": "; };
            boost::system::error_code ec;
            json::value v;
            if (!line.empty())
                v = json::parse(line, ec);
            if (!complete) {
                // Every record ends with a newline in the same write(): a last line
                // without one was torn by a crash while writing. Cut it off.
                truncate_to = pos;
                break;
            }
            pos = next;
            if (line.empty())
                continue;
            if (ec || !v.is_object())
                fail(path, at() + "is not a journal record (not a JSON object); the file was "
                                  "changed by something else than aibatch");
            const auto& o = v.get_object();
            if (fresh) {
                const auto* tag = get_string(o, "journal");
                const auto* m = get_string(o, "model");
                auto n = get_uint(o, "items");
                auto version = get_uint(o, "version");
                if (!tag || *tag != "aibatch" || !m || !n || !version)
                    fail(path, at() + "the header is malformed (not an aibatch journal?)");
                if (*version != 2)
                    fail(path, "it was written by another version of aibatch (journal version " +
                                   std::to_string(*version) +
                                   "); finish that run with that version, or use a new journal "
                                   "path");
                if (*m != model || *n != static_cast<std::uint64_t>(items))
                    fail(path, "it was written for " + std::to_string(*n) + " items of model " +
                                   std::string(*m) + ", not this input (" + std::to_string(items) +
                                   " items of " + model +
                                   "); use another journal path or delete the file");
                const auto* rid = get_string(o, "run_id");
                if (!rid || rid->empty())
                    fail(path, at() + "the header has no run_id");
                if (run_id_required && *rid != run_id)
                    fail(path, "it belongs to run " + std::string(*rid) +
                                   ", not batch_options::run_id " + run_id +
                                   "; use another journal path");
                j.run_id_ = std::string(*rid);
                fresh = false;
                continue;
            }
            const auto* event = get_string(o, "event");
            auto round = get_uint(o, "round");
            const auto* its = get_string(o, "items");
            const auto* hash_text = get_string(o, "hash");
            std::optional<std::uint64_t> hash;
            if (hash_text)
                hash = parse_hex(*hash_text);
            if (!event || !round || *round > 1000 || !its || its->empty() || !hash)
                fail(path, at() + "the record is malformed (needs event, round, items, hash)");
            entry& e = j.entries_[{static_cast<unsigned>(*round), std::string(*its)}];
            e.hash = *hash;
            if (*event == "creating") {
                auto count = get_uint(o, "count");
                const auto* when = get_string(o, "at");
                std::optional<timestamp> t;
                if (when)
                    t = parse_rfc3339(*when);
                if (!count || !t)
                    fail(path, at() + "the creating record is malformed (needs count and at)");
                e.count = *count;
                e.creating_at = t;
                if (!e.first_creating_at)
                    e.first_creating_at = t;
                ++e.creates;
            } else if (*event == "created") {
                const auto* id = get_string(o, "batch_id");
                if (!id || id->empty())
                    fail(path, at() + "the created record has no batch_id");
                e.batch_id = std::string(*id);
                ++e.answers;
                j.all_created_.push_back(e.batch_id); // a later record must not hide it
            } else if (*event == "refused") {
                ++e.answers;
            } else {
                fail(path, at() + "unknown event \"" + std::string(*event) + "\"");
            }
        }
    }
    if (truncate_to) {
        if (::ftruncate(j.fd_, static_cast<off_t>(*truncate_to)) != 0 || ::fsync(j.fd_) != 0)
            fail(path, std::string("cannot cut off the torn last line: ") + std::strerror(errno));
        // `fresh` stays as the reading left it: only a header makes a journal not fresh
        // (blank lines then a torn header still need one).
    }
    if (!existed)
        fsync_directory_of(path);
    if (fresh) {
        if (j.run_id_.empty())
            fail(path, "no run id to record");
        j.append(json::serialize(json::object{{"journal", "aibatch"},
                                              {"version", 2},
                                              {"model", model},
                                              {"items", items},
                                              {"run_id", j.run_id_}}));
    }
    return j;
}

const journal::entry* journal::find(unsigned round, const std::string& items) const {
    auto it = entries_.find({round, items});
    return it == entries_.end() ? nullptr : &it->second;
}

namespace {

// One line with one write(), then fsync: a crash leaves at most a torn last line.
void write_line(int fd, const std::filesystem::path& path, const std::string& line) {
    if (int delay = journal_write_delay_ms_for_tests.load(); delay > 0)
        std::this_thread::sleep_for(std::chrono::milliseconds(delay));
    const char* p = line.data();
    std::size_t left = line.size();
    while (left > 0) {
        ssize_t n = ::write(fd, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail(path, std::string("cannot write: ") + std::strerror(errno));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd) != 0)
        fail(path, std::string("cannot fsync: ") + std::strerror(errno));
}

} // namespace

void journal::append(const std::string& line) {
    write_line(fd_, path_, line + '\n');
}

task<void> journal::append_off_loop(std::string line) {
    line += '\n';
    // The job owns copies: nothing of the journal is touched off the loop. Named, not a
    // temporary of the co_await expression: g++ 12 destroys such temporaries twice.
    std::function<void()> job = [fd = fd_, path = path_, l = std::move(line)] {
        write_line(fd, path, l);
    };
    co_await off_loop(std::move(job));
}

task<void> journal::creating(unsigned round, std::string items, std::uint64_t count,
                             std::uint64_t hash) {
    if (!enabled())
        co_return;
    auto now = std::chrono::system_clock::now();
    // Named: g++ 12 mishandles some temporaries inside a co_await expression.
    std::string line = json::serialize(json::object{{"event", "creating"},
                                                    {"round", round},
                                                    {"items", items},
                                                    {"count", count},
                                                    {"hash", hex(hash)},
                                                    {"at", format_rfc3339(now)}});
    co_await append_off_loop(std::move(line));
    entry& e = entries_[{round, items}];
    e.hash = hash;
    e.count = count;
    e.creating_at = now;
    if (!e.first_creating_at)
        e.first_creating_at = now;
    ++e.creates;
}

task<void> journal::created(unsigned round, std::string items, std::uint64_t hash,
                            std::string batch_id) {
    if (!enabled())
        co_return;
    std::string line = json::serialize(json::object{{"event", "created"},
                                                    {"round", round},
                                                    {"items", items},
                                                    {"hash", hex(hash)},
                                                    {"batch_id", batch_id}});
    co_await append_off_loop(std::move(line));
    entry& e = entries_[{round, std::move(items)}];
    e.batch_id = batch_id;
    ++e.answers;
    all_created_.push_back(std::move(batch_id));
}

task<void> journal::refused(unsigned round, std::string items, std::uint64_t hash) {
    if (!enabled())
        co_return;
    std::string line = json::serialize(json::object{
        {"event", "refused"}, {"round", round}, {"items", items}, {"hash", hex(hash)}});
    co_await append_off_loop(std::move(line));
    ++entries_[{round, items}].answers;
}

} // namespace aibatch::detail
