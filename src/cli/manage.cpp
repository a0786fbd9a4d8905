// list, status, cancel, delete: one call per page or batch.
#include "commands.hpp"
#include "output.hpp"

#include <algorithm>
#include <cstdio>
#include <optional>

namespace aibatch::cli {

namespace json = boost::json;

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

namespace {
// What to do about a malformed batch id (status, cancel, delete).
constexpr const char* bad_id_fix =
    "; give a batch id such as msgbatch_013Zva2C... (`aibatch list` shows the batches of this key)";
} // namespace

task<int> status_command(runtime& rt, std::string id) {
    std::optional<aibatch::error> bad_id; // rethrown out of the catch, with what to do
    batch_info b;
    try {
        b = co_await rt.client().retrieve_batch(id);
    } catch (const aibatch::error& e) {
        if (e.code() != errc::invalid_argument)
            throw;
        bad_id = e;
    }
    if (bad_id)
        throw aibatch::error(errc::invalid_argument, bad_id->diag().message + bad_id_fix);
    write_all(stdout, rt.options().json ? json_line(batch_json(b)) : batch_details(b));
    co_return exit_ok;
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
                fix = bad_id_fix;
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
            if (!id.empty()) {
                line += id;
                line += ": ";
            }
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
    // An id given more than once is canceled (deleted) once.
    co_return co_await each_batch(rt, each_id_once(ids, "canceling"), "canceling",
                                  [&rt](const std::string& id) -> task<json::object> {
                                      co_return batch_json(co_await rt.client().cancel_batch(id));
                                  });
}

task<int> delete_command(runtime& rt, std::vector<std::string> ids) {
    co_return co_await each_batch(rt, each_id_once(ids, "deleting"), "deleted",
                                  [&rt](const std::string& id) -> task<json::object> {
                                      deleted_batch d = co_await rt.client().delete_batch(id);
                                      co_return json::object{{"id", d.id}, {"type", d.type}};
                                  });
}

} // namespace aibatch::cli
