// `aibatch results`: the JSONL results of an ended batch, streamed to a file or stdout.
#include "results.hpp"

#include "output.hpp"

namespace aibatch::cli {

namespace json = boost::json;

namespace {

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

} // namespace

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

} // namespace aibatch::cli
