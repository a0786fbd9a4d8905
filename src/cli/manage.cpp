// list, status, wait, results, cancel, delete, create: the batches of the account.
#include "commands.hpp"
#include "output.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <unistd.h>

namespace aibatch::cli {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

json::array batches_json(const std::vector<batch_info>& v) {
    json::array a;
    for (const auto& b : v)
        a.push_back(batch_json(b));
    return a;
}

// A file to write, or stdout for "" and "-". A file is written as PATH.partial and renamed
// over PATH by commit() only: a download that fails (a batch not found, not ended, a cut
// connection) leaves an existing PATH as it was.
class output_file {
public:
    explicit output_file(const std::string& path) {
        if (path.empty() || path == "-") {
            f_ = stdout;
            return;
        }
        path_ = path;
        partial_ = path + ".partial";
        f_ = std::fopen(partial_.c_str(), "wb");
        if (!f_)
            throw usage_error("cannot write " + partial_ + ": " + std::strerror(errno) +
                              "; give a path in a directory you can write to");
        owned_ = true;
    }
    ~output_file() {
        if (owned_) {
            std::fclose(f_);
            if (!committed_)
                std::remove(partial_.c_str());
        }
    }
    output_file(const output_file&) = delete;
    output_file& operator=(const output_file&) = delete;
    std::FILE* get() const { return f_; }
    bool is_stdout() const { return !owned_; }
    void write(std::string_view s) {
        if (std::fwrite(s.data(), 1, s.size(), f_) != s.size())
            throw std::runtime_error(std::string("writing the output failed: ") +
                                     std::strerror(errno) + "; check the free disk space");
    }
    void flush() {
        if (std::fflush(f_) != 0)
            throw std::runtime_error(std::string("writing the output failed: ") +
                                     std::strerror(errno) + "; check the free disk space");
    }
    /// Everything was written: the file takes its name.
    void commit() {
        flush();
        if (!owned_ || committed_)
            return;
        if (std::rename(partial_.c_str(), path_.c_str()) != 0)
            throw std::runtime_error("renaming " + partial_ + " to " + path_ +
                                     " failed: " + std::strerror(errno));
        committed_ = true;
    }

private:
    std::FILE* f_ = nullptr;
    bool owned_ = false;
    bool committed_ = false;
    std::string path_, partial_;
};

// One result line as the API writes it.
json::object result_json(const result_line& r) {
    json::object res;
    res["type"] = std::string(to_string(r.type));
    if (r.type == result_type::succeeded) {
        res["message"] = r.message;
    } else if (r.type == result_type::errored) {
        json::object err{
            {"type", "error"},
            {"error", json::object{{"type", r.error.type}, {"message", r.error.message}}}};
        if (!r.error.request_id.empty())
            err["request_id"] = r.error.request_id;
        res["error"] = std::move(err);
    }
    return json::object{{"custom_id", r.custom_id}, {"result", std::move(res)}};
}

struct result_tally {
    std::uint64_t written = 0;
    std::uint64_t succeeded = 0, errored = 0, canceled = 0, expired = 0, bad_lines = 0;
    bool all_succeeded() const {
        return errored == 0 && canceled == 0 && expired == 0 && bad_lines == 0;
    }
    json::object to_json() const {
        return json::object{{"written", written}, {"succeeded", succeeded},
                            {"errored", errored}, {"canceled", canceled},
                            {"expired", expired}, {"bad_lines", bad_lines}};
    }
    std::string to_string() const {
        return std::to_string(written) + " lines written (results: " + std::to_string(succeeded) +
               " succeeded, " + std::to_string(errored) + " errored, " + std::to_string(canceled) +
               " canceled, " + std::to_string(expired) + " expired" +
               (bad_lines ? ", " + std::to_string(bad_lines) + " unreadable lines skipped" : "") +
               ")";
    }
};

// Streams a batch's results into `out` line by line (memory bounded by the longest line).
task<void> write_results(runtime& rt, const std::string& id, output_file& out, result_filter filter,
                         result_tally& tally) {
    rt.note("downloading the results of " + id);
    // Retrieved first: a batch still running is told apart from an API error, and the
    // stream knows the batch's request count (it bounds what it accepts).
    batch_info b = co_await rt.client().retrieve_batch(id);
    if (!b.ended())
        throw usage_error(id + " has not ended yet (processing_status " +
                          std::string(to_string(b.status)) +
                          "), so it has no results; wait for it with `aibatch wait " + id + "`");
    result_stream rs = co_await rt.client().open_results(std::move(b));
    for (;;) {
        std::optional<result_line> line;
        try {
            line = co_await rs.next();
        } catch (const aibatch::error& e) {
            if (e.code() != errc::bad_response)
                throw;
            ++tally.bad_lines;
            rt.warn("a line of " + id + "'s results is not a result and was skipped (" +
                    e.diag().message + ")");
            continue;
        }
        if (!line)
            break;
        switch (line->type) {
        case result_type::succeeded:
            ++tally.succeeded;
            break;
        case result_type::errored:
            ++tally.errored;
            break;
        case result_type::canceled:
            ++tally.canceled;
            break;
        case result_type::expired:
            ++tally.expired;
            break;
        }
        bool ok = line->type == result_type::succeeded;
        if ((filter == result_filter::succeeded && !ok) || (filter == result_filter::errors && ok))
            continue;
        out.write(json_line(result_json(*line)));
        ++tally.written;
    }
    out.flush();
}

struct wait_outcome {
    std::vector<batch_info> batches;
    bool interrupted = false;
    interrupt_policy policy = interrupt_policy::leave;
};

// Polls every batch until each has ended (or Ctrl-C), showing the progress on stderr.
// Whether a failed poll leaves the wait going (see wait_for). `seen`: the batch was
// retrieved before, or was not just created (its 404 is then final).
bool wait_goes_on(const aibatch::error& e, bool seen, std::chrono::steady_clock::duration waited) {
    const auto& ec = e.code();
    if (is_retryable(ec))
        return true;
    if (ec == errc::not_found)
        return !seen && waited < std::chrono::minutes(1);
    return ec == errc::rate_limited || ec == errc::overloaded || ec == errc::api_internal ||
           ec == errc::gateway_timeout || (ec == errc::http_status && e.diag().http_status >= 500);
}

// `just_created`: the ids were created by this command (a 404 is then the API's lag).
task<wait_outcome> wait_for(runtime& rt, std::vector<std::string> ids,
                            std::chrono::milliseconds poll, bool just_created = false) {
    wait_outcome w;
    w.batches.resize(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i)
        w.batches[i].id = ids[i];
    std::vector<bool> known(ids.size(), false);
    asio::steady_timer timer(rt.executor());
    std::optional<interrupt_policy> decided;
    rt.watch_interrupts([&](interrupt_policy p) {
        decided = p;
        timer.cancel();
    });
    progress_display progress(stderr, isatty(STDERR_FILENO) != 0);
    const auto started = std::chrono::steady_clock::now();
    for (;;) {
        bool all_ended = true;
        for (std::size_t i = 0; i < ids.size() && !decided; ++i) {
            if (known[i] && w.batches[i].ended())
                continue;
            rt.note("retrieving " + ids[i]);
            std::optional<aibatch::error> failed;
            try {
                w.batches[i] = co_await rt.client().retrieve_batch(ids[i]);
            } catch (const aibatch::error& e) {
                failed = e;
            }
            if (failed) {
                // A wait rides out what passes (the client has already retried it): a busy
                // or failing API, a dropped connection, and a 404 in the first minute of a
                // batch not seen yet (the API answers 404 for a new batch for a while).
                if (!wait_goes_on(*failed, known[i] || !just_created,
                                  std::chrono::steady_clock::now() - started))
                    throw *failed;
                rt.warn("retrieving " + ids[i] + " failed (" + failed->diag().to_string() +
                        "); polling again");
                all_ended = false;
                continue;
            }
            known[i] = true;
            all_ended = all_ended && w.batches[i].ended();
        }
        if (decided)
            break;
        if (!rt.asking())
            progress.update(w.batches);
        if (all_ended)
            break;
        timer.expires_after(poll);
        co_await timer.async_wait(asio::as_tuple(asio::use_awaitable));
        if (decided)
            break;
    }
    progress.finish();
    rt.stop_watching();
    if (decided) {
        w.interrupted = true;
        w.policy = *decided;
        std::vector<std::string> running;
        for (std::size_t i = 0; i < ids.size(); ++i)
            if (!known[i] || !w.batches[i].ended())
                running.push_back(ids[i]);
        std::string list;
        for (const auto& id : running)
            list += " " + id;
        if (*decided == interrupt_policy::cancel) {
            for (const auto& id : running) {
                try {
                    co_await rt.client().cancel_batch(id);
                    write_all(stderr, "aibatch: canceled " + id + "\n");
                } catch (const aibatch::error& e) {
                    std::string m = "aibatch: could not cancel " + id;
                    m += " (" + e.diag().to_string();
                    m += "); it is left running: cancel it with `aibatch cancel " + id + "`\n";
                    write_all(stderr, m);
                }
            }
            write_all(stderr, "aibatch: interrupted; canceled the batches still running:" +
                                  (list.empty() ? std::string(" none") : list) + "\n");
        } else {
            write_all(stderr, "aibatch: interrupted; left running:" +
                                  (list.empty() ? std::string(" none") : list) +
                                  " (see them with `aibatch status ID`, cancel with `aibatch "
                                  "cancel ID`, wait again with `aibatch wait ID`)\n");
        }
    }
    co_return w;
}

std::string ids_text(const std::vector<std::string>& ids) {
    std::string s;
    for (const auto& id : ids)
        s += id + "\n";
    return s;
}

} // namespace

task<int> list_command(runtime& rt, list_args a) {
    if (a.limit && (*a.limit < 1 || *a.limit > 1000))
        throw usage_error("--limit must be 1 to 1000 (got " + std::to_string(*a.limit) +
                          "); use --all for every batch");
    std::vector<batch_info> batches;
    if (a.all) {
        list_options o;
        o.limit = a.limit.value_or(100);
        auto lister = rt.client().list_all_batches(o);
        while (auto b = co_await lister.next())
            batches.push_back(std::move(*b));
    } else {
        list_options o;
        o.limit = a.limit;
        batch_page page = co_await rt.client().list_batches(o);
        batches = std::move(page.data);
        // On stderr, with or without -v and --json: stdout stays the table or the array.
        if (page.has_more)
            write_all(stderr,
                      "aibatch: more batches exist than the " + std::to_string(batches.size()) +
                          " shown: --all lists every one" +
                          (batches.size() < 1000 ? ", --limit N (up to 1000) shows more" : "") +
                          "\n");
    }
    if (rt.options().json)
        write_all(stdout, json_line(batches_json(batches)));
    else if (batches.empty())
        write_all(stdout, "no batches\n");
    else
        write_all(stdout, batch_table(batches));
    co_return exit_ok;
}

task<int> status_command(runtime& rt, std::string id) {
    batch_info b = co_await rt.client().retrieve_batch(id);
    write_all(stdout, rt.options().json ? json_line(batch_json(b)) : batch_details(b));
    co_return exit_ok;
}

task<int> wait_command(runtime& rt, wait_args a) {
    // An id given more than once is waited for, counted and shown once.
    std::vector<std::string> ids;
    for (const auto& id : a.ids) {
        const auto times = std::count(a.ids.begin(), a.ids.end(), id);
        if (std::find(ids.begin(), ids.end(), id) != ids.end())
            continue;
        ids.push_back(id);
        if (times > 1)
            write_all(stderr,
                      "aibatch: " + id + " is given " +
                          (times == 2 ? std::string("twice") : std::to_string(times) + " times") +
                          "; waiting for it once\n");
    }
    wait_outcome w = co_await wait_for(rt, std::move(ids), a.poll);
    if (rt.options().json)
        write_all(stdout, json_line(json::object{{"batches", batches_json(w.batches)},
                                                 {"interrupted", w.interrupted}}));
    else
        write_all(stdout, batch_table(w.batches));
    co_return w.interrupted ? exit_failed : exit_ok;
}

task<int> results_command(runtime& rt, results_args a) {
    output_file out(a.out);
    result_tally tally;
    co_await write_results(rt, a.id, out, a.filter, tally);
    out.commit();
    std::FILE* summary = out.is_stdout() ? stderr : stdout;
    if (rt.options().json)
        write_all(summary,
                  json_line(json::object{{"batch_id", a.id}, {"results", tally.to_json()}}));
    else
        write_all(summary, a.id + ": " + tally.to_string() + "\n");
    co_return tally.all_succeeded() ? exit_ok : exit_failed;
}

namespace {

// cancel and delete: one call per id; every id is tried, failures are reported.
template <class Call>
task<int> each_batch(runtime& rt, const std::vector<std::string>& ids, const char* verb,
                     Call call) {
    json::array done;
    int status = exit_ok;
    for (const auto& id : ids) {
        try {
            json::object o = co_await call(id);
            if (!rt.options().json)
                write_all(stdout, std::string(verb) + " " + id + "\n");
            done.push_back(std::move(o));
        } catch (const aibatch::error& e) {
            // A malformed id is a usage error (exit 2), as for `status` (found by the
            // hostile review); the other ids are still tried.
            const bool bad_id = e.code() == errc::invalid_argument;
            status = std::max<int>(status, bad_id ? exit_usage : exit_failed);
            std::string fix;
            if (bad_id)
                fix = "; give a batch id such as msgbatch_013Zva2C... (`aibatch list` shows "
                      "the batches of this key)";
            else if (e.code() == errc::not_found)
                fix = "; " + not_found_hint(rt.base_url());
            else if (e.code() == errc::invalid_request && std::string(verb) == "deleted") {
                fix = "; on the command line: `aibatch cancel ";
                fix += id;
                fix += "`, then `aibatch wait ";
                fix += id;
                fix += "`, then delete";
            }
            std::string why = e.diag().to_string();
            why += fix;
            std::string line = "aibatch: error: ";
            line += id;
            line += ": ";
            line += why;
            line += "\n";
            write_all(stderr, line);
            done.push_back(
                json::object{{"id", id}, {"error", why}, {"code", error_token(e.code())}});
        }
    }
    if (rt.options().json)
        write_all(stdout, json_line(done));
    co_return status;
}

} // namespace

task<int> cancel_command(runtime& rt, std::vector<std::string> ids) {
    co_return co_await each_batch(rt, ids, "canceling",
                                  [&rt](const std::string& id) -> task<json::object> {
                                      co_return batch_json(co_await rt.client().cancel_batch(id));
                                  });
}

task<int> delete_command(runtime& rt, std::vector<std::string> ids) {
    co_return co_await each_batch(rt, ids, "deleted",
                                  [&rt](const std::string& id) -> task<json::object> {
                                      deleted_batch d = co_await rt.client().delete_batch(id);
                                      co_return json::object{{"id", d.id}, {"type", d.type}};
                                  });
}

namespace {

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
        throw usage_error("--batch-requests must be 1 to 100000");
    if (a.max_bytes < 1024 || a.max_bytes > 256'000'000)
        throw usage_error("--batch-bytes must be 1024 to 256000000");
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
