// aibatch: manage Message Batches and run typed batches from the shell.
#include "commands.hpp"
#include "output.hpp"

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstdio>

namespace {

using namespace aibatch::cli;

std::chrono::milliseconds poll_interval(double seconds) {
    // At least 10 ms: a smaller interval rounds to 0 and turns a wait into a busy loop
    // against the API (found by the hostile review: 16,000 requests in 2 s).
    if (!(seconds >= 0.01 && seconds <= 3600))
        throw usage_error("--poll must be 0.01 to 3600 seconds (the API needs no faster "
                          "polling: a batch takes minutes to hours)");
    return std::chrono::milliseconds(static_cast<long long>(std::llround(seconds * 1000)));
}

} // namespace

int main(int argc, char** argv) {
    CLI::App app{"aibatch: Anthropic Message Batches from the shell (configuration: environment, "
                 "then .env; see `aibatch config`)"};
    app.name("aibatch");
    app.require_subcommand(1);
    app.fallthrough();
    global_options g;
    std::string on_interrupt;
    app.add_flag("--json", g.json, "Machine-readable output (JSON)");
    app.add_flag("-v,--verbose", g.verbose, "Say what is being done, on stderr");
    app.add_option("--on-interrupt", on_interrupt,
                   "What Ctrl-C during wait/run/create --wait does with the remote batches: "
                   "cancel or leave (default: ask on a terminal, else leave)")
        ->check(CLI::IsMember({"cancel", "leave"}));
    app.set_version_flag("--version", AIBATCH_VERSION_STRING);

    // list
    auto* list = app.add_subcommand("list", "Table of batches (newest first)");
    unsigned limit = 0;
    list_args la;
    list->add_option("--limit", limit,
                     "How many (1-1000; the API's default is 20); with --all, the page size");
    list->add_flag("--all", la.all, "Every batch, page after page");

    // status
    auto* status = app.add_subcommand("status", "One batch in detail");
    std::string status_id;
    status->add_option("ID", status_id, "Batch id (msgbatch_...)")->required();

    // wait
    auto* wait = app.add_subcommand("wait", "Wait until each batch has ended");
    wait_args wa;
    double wait_poll = 5;
    wait->add_option("ID", wa.ids, "Batch ids")->required();
    wait->add_option("--poll", wait_poll, "Seconds between polls (default 5)");

    // results
    auto* results = app.add_subcommand("results", "Stream the JSONL results of an ended batch");
    results_args ra;
    bool succeeded_only = false, errors_only = false;
    results->add_option("ID", ra.id, "Batch id")->required();
    results->add_option("--out", ra.out, "File to write (default: stdout)");
    auto* so = results->add_flag("--succeeded-only", succeeded_only, "Only succeeded results");
    results->add_flag("--errors-only", errors_only, "Only errored, canceled and expired results")
        ->excludes(so);

    // cancel, delete
    auto* cancel = app.add_subcommand("cancel", "Cancel batches");
    std::vector<std::string> cancel_ids;
    cancel->add_option("ID", cancel_ids, "Batch ids")->required();
    auto* del = app.add_subcommand("delete", "Delete ended batches");
    std::vector<std::string> delete_ids;
    del->add_option("ID", delete_ids, "Batch ids")->required();

    // create
    auto* create = app.add_subcommand(
        "create", "Submit a JSONL file of {\"custom_id\":...,\"params\":{...}} requests");
    create_args ca;
    double create_poll = 5;
    create->add_option("FILE", ca.file, "Requests, one a line")->required();
    create->add_flag("--wait", ca.wait, "Wait for the batches and download their results");
    create->add_option("--out", ca.out, "Where --wait writes the results (default: stdout)");
    create->add_option("--poll", create_poll, "Seconds between polls with --wait (default 5)");
    create->add_option("--batch-requests", ca.max_requests,
                       "Most requests in one batch (default and maximum 100000)");
    create->add_option("--batch-bytes", ca.max_bytes,
                       "Largest create body in bytes (default and maximum 256000000)");

    // run
    auto* run = app.add_subcommand(
        "run", "Typed one-call flow: prompts in, one validated JSON value (or failure) per prompt "
               "out, in input order");
    run_args rn;
    double run_poll = 1;
    std::optional<std::string> system;
    std::optional<double> cost_limit;
    run->add_option("--model", rn.model, "Model id, e.g. claude-haiku-4-5")->required();
    run->add_option("--schema", rn.schema_file, "JSON Schema file of the answer")->required();
    run->add_option("--prompts", rn.prompts_file,
                    "JSONL: one prompt a line, a string or {\"id\":...,\"text\":...} or "
                    "{\"id\":...,\"messages\":[...]}")
        ->required();
    run->add_option("--out", rn.out, "JSONL file of the outcomes (- for stdout)");
    run->add_option("--system", system, "System prompt of every request");
    run->add_option("--cache-system", rn.cache_system,
                    "Cache the system prompt (and the schema's tool before it) for 5m or 1h: "
                    "later requests read it at 0.1x the input price")
        ->check(CLI::IsMember({"5m", "1h"}));
    run->add_option("--mode", rn.mode, "tool (default), json_schema or json_text");
    run->add_option("--journal", rn.journal,
                    "Journal file: a rerun after a crash re-attaches instead of paying twice");
    run->add_option("--cost-limit", cost_limit, "USD: stop submitting past this estimate");
    run->add_option("--max-tokens", rn.max_tokens, "Output limit of each request (default 1024)");
    run->add_option("--repair-rounds", rn.repair_rounds,
                    "Resubmit outputs that failed validation this many times (default 1)");
    run->add_option("--run-id", rn.run_id,
                    "Run-unique part of the custom_ids (1-24 letters and digits; default random)");
    run->add_option("--poll", run_poll, "Seconds before the first poll (default 1; grows 1.5x)");
    run->add_option("--batch-requests", rn.max_requests, "Most requests in one batch");
    run->add_option("--batch-bytes", rn.max_bytes, "Largest create body in bytes");
    run->add_option("--lost-create-horizon", rn.lost_create_horizon,
                    "Seconds after which a create whose answer was lost and whose batch never "
                    "appeared is taken as having made nothing (default 3600)");
    run->add_flag("--dry-run", rn.dry_run,
                  "Print the batches, request count, body bytes and cost range; send nothing");

    // config
    auto* config = app.add_subcommand(
        "config", "Effective configuration, the key redacted, and where each value came from");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        if (e.get_exit_code() == 0)
            return app.exit(e) == 0 ? exit_ok : exit_usage; // --help
        // A usage error, said as every other error is (and as JSON with --json).
        std::string message = e.what();
        bool json_output = false;
        std::string first;
        for (int i = 1; i < argc; ++i) {
            std::string_view arg = argv[i];
            json_output = json_output || arg == "--json";
            if (first.empty() && !arg.empty() && arg[0] != '-')
                first = std::string(arg);
        }
        std::string commands;
        bool known = false;
        for (const auto* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
            commands += (commands.empty() ? "" : ", ") + sub->get_name();
            known = known || sub->get_name() == first;
        }
        if (!first.empty() && !known)
            message = "unknown command \"" + first + "\"; the commands are " + commands;
        message += "; `aibatch --help` (or `aibatch COMMAND --help`) shows the usage";
        write_all(stderr, "aibatch: error: " + message + "\n");
        if (json_output) {
            try {
                write_all(stdout, json_line(boost::json::object{
                                      {"error", boost::json::object{{"status", exit_usage},
                                                                    {"code", "usage"},
                                                                    {"message", message}}}}));
            } catch (const output_error&) {
            }
        }
        return exit_usage;
    }
    if (on_interrupt == "cancel")
        g.on_interrupt = interrupt_policy::cancel;
    else if (on_interrupt == "leave")
        g.on_interrupt = interrupt_policy::leave;

    try {
        if (config->parsed())
            return config_command(g);
        runtime rt(g);
        if (list->parsed()) {
            if (limit != 0 || list->count("--limit"))
                la.limit = limit;
            return rt.execute([la](runtime& r) { return list_command(r, la); });
        }
        if (status->parsed())
            return rt.execute([status_id](runtime& r) { return status_command(r, status_id); });
        if (wait->parsed()) {
            wa.poll = poll_interval(wait_poll);
            return rt.execute([wa](runtime& r) { return wait_command(r, wa); });
        }
        if (results->parsed()) {
            ra.filter = succeeded_only ? result_filter::succeeded
                        : errors_only  ? result_filter::errors
                                       : result_filter::all;
            return rt.execute([ra](runtime& r) { return results_command(r, ra); });
        }
        if (cancel->parsed())
            return rt.execute([cancel_ids](runtime& r) { return cancel_command(r, cancel_ids); });
        if (del->parsed())
            return rt.execute([delete_ids](runtime& r) { return delete_command(r, delete_ids); });
        if (create->parsed()) {
            ca.poll = poll_interval(create_poll);
            return rt.execute([ca](runtime& r) { return create_command(r, ca); });
        }
        if (run->parsed()) {
            rn.poll = poll_interval(run_poll);
            rn.system = system;
            rn.cost_limit = cost_limit;
            if (cost_limit && !(*cost_limit > 0))
                throw usage_error("--cost-limit must be a positive amount of USD");
            return rt.execute([rn](runtime& r) { return run_command(r, rn); });
        }
    } catch (...) {
        return report_failure(std::current_exception(), g.json);
    }
    return exit_usage;
}
