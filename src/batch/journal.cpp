#include "journal.hpp"

#include <aibatch/error.hpp>

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
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

std::uint64_t fnv1a(std::string_view bytes) noexcept {
    std::uint64_t h = 1469598103934665603ull;
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
    : path_(std::move(o.path_)), fd_(std::exchange(o.fd_, -1)), entries_(std::move(o.entries_)) {}
journal& journal::operator=(journal&& o) noexcept {
    if (this != &o) {
        if (fd_ >= 0)
            ::close(fd_);
        path_ = std::move(o.path_);
        fd_ = std::exchange(o.fd_, -1);
        entries_ = std::move(o.entries_);
    }
    return *this;
}
journal::~journal() {
    if (fd_ >= 0)
        ::close(fd_);
}

journal journal::open(const std::filesystem::path& path, const std::string& model,
                      std::size_t items) {
    journal j;
    j.path_ = path;
    bool fresh = true;
    {
        std::ifstream in(path);
        std::string line;
        std::size_t lineno = 0;
        while (std::getline(in, line)) {
            ++lineno;
            if (line.empty())
                continue;
            boost::system::error_code ec;
            json::value v = json::parse(line, ec);
            if (ec || !v.is_object()) {
                if (in.peek() == std::char_traits<char>::eof())
                    break; // a torn last line (killed while writing): ignore it
                fail(path, "line " + std::to_string(lineno) + " is not a journal record");
            }
            const auto& o = v.get_object();
            if (lineno == 1 || o.contains("journal")) {
                fresh = false;
                const auto* m = o.if_contains("model");
                const auto* n = o.if_contains("items");
                if (!m || !n || !m->is_string() || !n->is_number())
                    fail(path, "the header is malformed");
                if (m->get_string() != model ||
                    n->to_number<std::uint64_t>() != static_cast<std::uint64_t>(items))
                    fail(path, "it was written for " +
                                   std::to_string(n->to_number<std::uint64_t>()) +
                                   " items of model " + std::string(m->get_string()) +
                                   ", not this input (" + std::to_string(items) + " items of " +
                                   model + "); use another journal path or delete the file");
                continue;
            }
            std::string event(o.at("event").as_string());
            unsigned round = static_cast<unsigned>(o.at("round").to_number<std::uint64_t>());
            std::string its(o.at("items").as_string());
            entry& e = j.entries_[{round, its}];
            e.hash = std::stoull(std::string(o.at("hash").as_string()), nullptr, 16);
            if (event == "creating") {
                e.count = o.at("count").to_number<std::uint64_t>();
                e.creating_at = parse_rfc3339(o.at("at").as_string());
            } else if (event == "created") {
                e.batch_id = std::string(o.at("batch_id").as_string());
            }
        }
    }
    j.fd_ = ::open(path.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (j.fd_ < 0)
        fail(path, std::string("cannot open for writing: ") + std::strerror(errno));
    if (fresh)
        j.append(json::serialize(json::object{
            {"journal", "aibatch"}, {"version", 1}, {"model", model}, {"items", items}}));
    return j;
}

const journal::entry* journal::find(unsigned round, const std::string& items) const {
    auto it = entries_.find({round, items});
    return it == entries_.end() ? nullptr : &it->second;
}

void journal::append(const std::string& line) {
    std::string l = line + '\n';
    const char* p = l.data();
    std::size_t left = l.size();
    while (left > 0) {
        ssize_t n = ::write(fd_, p, left);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            fail(path_, std::string("cannot write: ") + std::strerror(errno));
        }
        p += n;
        left -= static_cast<std::size_t>(n);
    }
    if (::fsync(fd_) != 0)
        fail(path_, std::string("cannot fsync: ") + std::strerror(errno));
}

void journal::creating(unsigned round, const std::string& items, std::uint64_t count,
                       std::uint64_t hash) {
    if (!enabled())
        return;
    auto now = std::chrono::system_clock::now();
    append(json::serialize(json::object{{"event", "creating"},
                                        {"round", round},
                                        {"items", items},
                                        {"count", count},
                                        {"hash", hex(hash)},
                                        {"at", format_rfc3339(now)}}));
    entry& e = entries_[{round, items}];
    e.hash = hash;
    e.count = count;
    e.creating_at = now;
}

void journal::created(unsigned round, const std::string& items, std::uint64_t hash,
                      const std::string& batch_id) {
    if (!enabled())
        return;
    append(json::serialize(json::object{{"event", "created"},
                                        {"round", round},
                                        {"items", items},
                                        {"hash", hex(hash)},
                                        {"batch_id", batch_id}}));
    entries_[{round, items}].batch_id = batch_id;
}

} // namespace aibatch::detail
