// `aibatch create`: a JSONL file of requests checked, split over the per-batch limits and
// submitted one batch body at a time; with --wait, waited for and read.
#include "commands.hpp"
#include "output.hpp"
#include "results.hpp"
#include "wait.hpp"

#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <cstdio>
#include <fstream>
#include <set>

namespace aibatch::cli {

namespace json = boost::json;

namespace {

std::string ids_text(const std::vector<std::string>& ids) {
    std::string s;
    for (const auto& id : ids)
        s += id + "\n";
    return s;
}

// A create file read one request at a time: each line checked and re-serialised.
class request_file {
public:
    explicit request_file(std::string file) : file_(std::move(file)), in_(file_, std::ios::binary) {
        if (!in_)
            throw usage_error("cannot read " + file_ +
                              "; give the path of a JSONL file with one "
                              "{\"custom_id\":...,\"params\":{...}} per line");
    }

    /// The next request (compact JSON), or nullopt at the end. `seen` (first pass only)
    /// collects the custom_ids to refuse duplicates.
    std::optional<std::string> next(std::set<std::string>* seen) {
        std::string line;
        for (;;) {
            start_ = in_.tellg();
            if (!std::getline(in_, line))
                return std::nullopt;
            ++line_no_;
            if (line_no_ == 1 && line.starts_with("\xEF\xBB\xBF"))
                line.erase(0, 3); // a UTF-8 byte order mark (editors on Windows write one)
            if (line.find_first_not_of(" \t\r") != std::string::npos)
                break;
        }
        boost::system::error_code ec;
        json::value v = json::parse(line, ec);
        if (ec)
            throw fail("not JSON (" + ec.message() + "); each line must be one request object");
        if (!v.is_object())
            throw fail("expected an object {\"custom_id\":...,\"params\":{...}}");
        auto& o = v.get_object();
        const auto* id = o.if_contains("custom_id");
        if (!id || !id->is_string())
            throw fail("\"custom_id\" is missing or not a string; give each request a unique id");
        std::string cid(id->get_string());
        if (auto why = check_custom_id(cid))
            throw fail("custom_id \"" + cid + "\": " + *why);
        if (seen && !seen->insert(cid).second)
            throw fail("custom_id \"" + cid + "\" is used twice; custom_ids must be unique");
        const auto* params = o.if_contains("params");
        if (!params || !params->is_object())
            throw fail("\"params\" is missing or not an object (the Messages API params: model, "
                       "max_tokens, messages, ...)");
        for (const auto& kv : o)
            if (kv.key() != "custom_id" && kv.key() != "params")
                throw fail("unknown field \"" + std::string(kv.key()) +
                           "\"; a request has only custom_id and params");
        return json::serialize(v);
    }

    /// Where the line last returned by next() began, and its number.
    std::streamoff start() const { return start_; }
    std::size_t line_no() const { return line_no_; }
    void seek(std::streamoff at, std::size_t line_no) {
        in_.clear();
        in_.seekg(at);
        line_no_ = line_no - 1;
    }
    usage_error fail(const std::string& what) const {
        return usage_error(file_ + ":" + std::to_string(line_no_) + ": " + what);
    }

private:
    std::string file_;
    std::ifstream in_;
    std::streamoff start_ = 0;
    std::size_t line_no_ = 0;
};

// One batch of the plan: where its requests start in the file, how many, its body size.
struct planned_batch {
    std::streamoff start = 0;
    std::size_t first_line = 0;
    std::size_t count = 0;
    std::size_t bytes = 0;
};

const std::string create_open = R"({"requests":[)";

// First pass: every line checked, and the requests split over the per-batch limits as
// batch<T>() splits its own. Nothing but the plan is kept.
std::vector<planned_batch> plan_create(request_file& f, std::size_t max_requests,
                                       std::size_t max_bytes) {
    std::vector<planned_batch> out;
    planned_batch cur;
    std::size_t body = create_open.size();
    std::set<std::string> seen;
    while (auto r = f.next(&seen)) {
        if (cur.count > 0 && (cur.count == max_requests || body + r->size() + 3 > max_bytes)) {
            cur.bytes = body + 2;
            out.push_back(cur);
            cur = planned_batch{};
            body = create_open.size();
        }
        if (body + r->size() + 3 > max_bytes)
            throw f.fail("the request is " + std::to_string(r->size()) +
                         " bytes, more than a batch may hold (" + std::to_string(max_bytes) +
                         "); shorten it");
        if (cur.count == 0) {
            cur.start = f.start();
            cur.first_line = f.line_no();
        } else {
            body += 1;
        }
        body += r->size();
        ++cur.count;
    }
    if (cur.count > 0) {
        cur.bytes = body + 2;
        out.push_back(cur);
    }
    return out;
}

// Second pass, one batch at a time: memory holds one create body.
std::string batch_body(request_file& f, const planned_batch& b) {
    f.seek(b.start, b.first_line);
    std::string body;
    body.reserve(b.bytes);
    body = create_open;
    for (std::size_t i = 0; i < b.count; ++i) {
        auto r = f.next(nullptr);
        if (!r)
            throw f.fail("the file changed while it was being sent; nothing after this batch "
                         "was sent");
        if (i > 0)
            body += ',';
        body += *r;
    }
    body += "]}";
    if (body.size() != b.bytes)
        throw f.fail("the file changed while it was being sent; nothing after this batch was "
                     "sent");
    return body;
}

} // namespace

task<int> create_command(runtime& rt, create_args a) {
    if (!a.wait && !a.out.empty())
        throw usage_error("--out is where --wait writes the results: add --wait, or read "
                          "them later with `aibatch results ID --out FILE`");
    if (a.max_requests < 1 || a.max_requests > 100'000)
        throw usage_error("--batch-requests must be 1 to 100000 (given " +
                          std::to_string(a.max_requests) + ")");
    if (a.max_bytes < 1024 || a.max_bytes > 256'000'000)
        throw usage_error("--batch-bytes must be 1024 to 256000000 (given " +
                          std::to_string(a.max_bytes) + ")");
    if (!a.out.empty() && a.out != "-" && same_file(a.out, a.file))
        throw usage_error("--out " + a.out + " is the requests file " + a.file +
                          "; writing the results there would replace it: give --out another "
                          "path");
    request_file requests(a.file);
    std::vector<planned_batch> plan = plan_create(requests, a.max_requests, a.max_bytes);
    if (plan.empty())
        throw usage_error(a.file +
                          " holds no requests; give one {\"custom_id\":...,\"params\":{...}} "
                          "per line");
    std::optional<output_file> out;
    if (a.wait)
        out.emplace(a.out); // before anything is paid for: a bad --out fails now
    aibatch::client& c = rt.client();
    std::vector<batch_info> created;
    // The ids of paid batches must reach the user: when stdout fails, stderr names them.
    auto emit = [&](const std::string& text) {
        try {
            write_all(stdout, text);
        } catch (const output_error&) {
            std::string list;
            for (const auto& b : created)
                list += " " + b.id;
            write_all(stderr, "aibatch: created (standard output failed):" + list + "\n");
            throw;
        }
    };
    for (std::size_t i = 0; i < plan.size(); ++i) {
        rt.note("creating batch " + std::to_string(i + 1) + " of " + std::to_string(plan.size()) +
                " (" + std::to_string(plan[i].count) + " requests, " +
                std::to_string(plan[i].bytes) + " bytes)");
        try {
            created.push_back(
                co_await c.create_batch_from_body(batch_body(requests, plan[i]), plan[i].count));
        } catch (const std::exception& ex) {
            const auto* ae = dynamic_cast<const aibatch::error*>(&ex);
            std::string why = ae ? ae->diag().to_string() : std::string(ex.what());
            if (ae && ae->code() == errc::not_found)
                if (auto h = doubled_v1_hint(rt.base_url()))
                    why += "; " + *h;
            // The library's advice in C++ terms, as the flag.
            const std::string knob = "batch_options::max_bytes_per_batch";
            if (auto at = why.find(knob); at != std::string::npos)
                why.replace(at, knob.size(), "--batch-bytes");
            std::vector<std::string> ids;
            ids.reserve(created.size());
            for (const auto& b : created)
                ids.push_back(b.id);
            std::string list;
            for (const auto& id : ids)
                list += " " + id;
            write_all(stderr, "aibatch: error: creating batch " + std::to_string(i + 1) + " of " +
                                  std::to_string(plan.size()) + " failed: " + why +
                                  "; created before it:" + (list.empty() ? " none" : list) +
                                  " (they are running; `aibatch cancel ID` stops one)\n");
            if (rt.options().json)
                write_all(stdout, json_line(json::object{
                                      {"batches", batches_json(created)},
                                      {"error", why},
                                      {"code", ae ? error_token(ae->code()) : "error"}}));
            else if (a.wait) // without --wait each id was printed once created
                write_all(stdout, ids_text(ids));
            co_return exit_failed;
        }
        if (!rt.options().json && !a.wait)
            emit(created.back().id + "\n");
    }
    if (!a.wait) {
        if (rt.options().json)
            emit(json_line(json::object{{"batches", batches_json(created)}}));
        co_return exit_ok;
    }
    std::vector<std::string> ids;
    ids.reserve(created.size());
    for (const auto& b : created)
        ids.push_back(b.id);
    write_all(
        stderr, "aibatch: created" + [&] {
            std::string s;
            for (const auto& id : ids)
                s += " " + id;
            return s;
        }() + "; waiting\n");
    wait_outcome w = co_await wait_for(rt, ids, a.poll, true);
    if (w.interrupted) {
        if (rt.options().json)
            write_all(out->is_stdout() ? stderr : stdout,
                      json_line(json::object{{"batches", batches_json(w.batches)},
                                             {"interrupted", true}}));
        co_return exit_failed;
    }
    result_tally tally;
    for (const auto& id : ids)
        co_await write_results(rt, id, *out, result_filter::all, tally);
    out->commit();
    std::FILE* summary = out->is_stdout() ? stderr : stdout;
    if (rt.options().json)
        write_all(summary, json_line(json::object{{"batches", batches_json(w.batches)},
                                                  {"results", tally.to_json()}}));
    else
        write_all(summary, ids_text(ids) + tally.to_string() + "\n");
    co_return tally.all_succeeded() ? exit_ok : exit_failed;
}

} // namespace aibatch::cli
