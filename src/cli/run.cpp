// `aibatch run`: the typed one-call flow with a JSON Schema given at run time.
#include "commands.hpp"
#include "output.hpp"
#include "prompts.hpp"

#include <aibatch/detail/ascii.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/json/parse.hpp>
#include <boost/json/serialize.hpp>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <unistd.h>

namespace aibatch::cli {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

output_mode parse_mode(const std::string& m) {
    if (m == "tool")
        return output_mode::tool;
    if (m == "json_schema")
        return output_mode::json_schema;
    if (m == "json_text")
        return output_mode::json_text;
    throw usage_error("--mode must be tool, json_schema or json_text (got \"" + m + "\")");
}

// The tool name: the schema's title when it is one, else the file's stem made one.
std::string output_name(const json::object& schema, const std::string& file) {
    if (const auto* t = schema.if_contains("title"); t && t->is_string())
        if (!check_custom_id(t->get_string()))
            return std::string(t->get_string());
    std::string stem = std::filesystem::path(file).stem().string();
    for (char& c : stem)
        if (!detail::ascii::is_alnum(c) && c != '_' && c != '-')
            c = '_';
    if (stem.size() > 64)
        stem.resize(64);
    return stem.empty() ? "output" : stem;
}

std::string usd(double d) {
    char buf[48];
    std::snprintf(buf, sizeof buf, "$%.4f", d);
    return buf;
}

// The library names its options in C++ (output_mode::tool): say the flags instead.
std::string in_flags(std::string m) {
    // The library speaks C++; the command's user knows flags (found by the hostile review).
    for (auto [from, to] :
         {std::pair<std::string, std::string>{"output_mode::tool", "--mode tool"},
          {"output_mode::json_schema", "--mode json_schema"},
          {"output_mode::json_text", "--mode json_text"},
          {"batch_options::max_tokens", "--max-tokens"},
          {"batch_options::run_id", "--run-id"},
          {"batch_options::max_requests_per_batch", "--batch-requests"},
          {"batch_options::max_bytes_per_batch", "--batch-bytes"},
          {"batch_options::cost_limit", "--cost-limit"},
          {"batch_options::repair_rounds", "--repair-rounds"},
          {"batch_options::cache_system", "--cache-system"},
          {"batch_options::system", "--system"},
          {"set batch_options::price", "drop --cost-limit (this command has no price setting)"},
          {"batch: messages[", "prompt ["}}) {
        for (auto at = m.find(from); at != std::string::npos; at = m.find(from, at + to.size()))
            m.replace(at, from.size(), to);
    }
    return m;
}

template <class F>
auto with_flag_names(F&& f) -> decltype(f()) {
    try {
        return f();
    } catch (const aibatch::error& e) {
        if (e.code() != errc::invalid_argument)
            throw;
        throw usage_error(in_flags(e.diag().message));
    }
}

int dry_run(const global_options& g, const std::vector<conversation>& messages,
            const std::string& model, const batch_options& opts, const output_spec& spec) {
    cost_estimate e = estimate(messages, model, opts, spec);
    if (g.json) {
        json::array batches;
        for (std::size_t i = 0; i < e.batches(); ++i)
            batches.push_back(
                json::object{{"requests", e.batch_sizes[i]}, {"body_bytes", e.batch_bytes[i]}});
        json::object o{{"dry_run", true},
                       {"model", model},
                       {"requests", e.requests},
                       {"too_large", e.too_large},
                       {"batches", std::move(batches)},
                       {"body_bytes", e.body_bytes},
                       {"input_tokens_estimate", e.input_tokens},
                       {"max_output_tokens", e.max_output_tokens},
                       {"cost_min_usd", e.cost_min_usd ? json::value(*e.cost_min_usd) : nullptr},
                       {"cost_max_usd", e.cost_max_usd ? json::value(*e.cost_max_usd) : nullptr}};
        write_all(stdout, json_line(o));
        return exit_ok;
    }
    std::string s = "dry run: nothing was sent\n";
    s += "model:          " + model + "\n";
    s += "requests:       " + std::to_string(e.requests) + "\n";
    if (e.too_large)
        s += "too large:      " + std::to_string(e.too_large) +
             " (over the per-batch byte limit: would not be sent)\n";
    s += "batches:        " + std::to_string(e.batches()) + "\n";
    for (std::size_t i = 0; i < e.batches(); ++i)
        s += "  batch " + std::to_string(i + 1) + ":      " + std::to_string(e.batch_sizes[i]) +
             " requests, " + std::to_string(e.batch_bytes[i]) + " bytes\n";
    s += "body bytes:     " + std::to_string(e.body_bytes) + "\n";
    s += "input tokens:   ~" + std::to_string(e.input_tokens) + " (estimated, 4 bytes a token)\n";
    s += "output tokens:  at most " + std::to_string(e.max_output_tokens) + " (max_tokens " +
         std::to_string(opts.max_tokens) + " each)\n";
    if (e.cost_min_usd)
        s += "estimated cost: " + usd(*e.cost_min_usd) + " to " + usd(*e.cost_max_usd) +
             " (list prices with the 50% batch discount; repair rounds cost more)\n";
    else
        s += "estimated cost: unknown (" + model +
             " is not in the model table; its price is not known)\n";
    write_all(stdout, s);
    return exit_ok;
}

json::object outcome_json(std::size_t i, const json::value& id,
                          const item_outcome<json::value>& item) {
    json::object o{{"index", i}, {"id", id}, {"status", std::string(to_string(item.status))}};
    if (item.status == item_status::succeeded) {
        o["value"] = item.value ? *item.value : json::value(nullptr);
        return o;
    }
    o["error_type"] = item.error_type;
    o["message"] = item.message;
    o["batch_id"] = item.batch_id.empty() ? json::value(nullptr) : json::value(item.batch_id.str());
    if (!item.raw_output.empty())
        o["raw_output"] = item.raw_output;
    return o;
}

// Ctrl-C with `leave` during run: every batch this client created, running or ended (unread).
task<void> leave_running(runtime& rt, bool journal) {
    std::string list, ended;
    try {
        list_options o;
        o.limit = 100;
        auto lister = rt.client().list_all_batches(o);
        for (int seen = 0; seen < 1000; ++seen) {
            auto b = co_await lister.next();
            if (!b)
                break;
            if (!rt.client().owns_batch(b->id))
                continue;
            if (b->ended())
                ended += " " + b->id; // paid for, not read: as much to name as a running one
            else
                list += " " + b->id;
        }
    } catch (const aibatch::error& e) {
        list += " (could not list the batches: " + e.diag().to_string() + ")";
    }
    if (!ended.empty())
        write_all(stderr, "\naibatch: interrupted; ended but not read (paid for):" + ended +
                              " (`aibatch results ID` reads one)");
    write_all(stderr, "\naibatch: interrupted; left running:" + (list.empty() ? " none" : list) +
                          (journal ? " (rerun with the same --journal to pick them up; " : " (") +
                          "`aibatch wait ID` then `aibatch results ID` reads one, `aibatch "
                          "cancel ID` stops one)\n");
    std::fflush(nullptr);
    std::_Exit(exit_failed);
}

} // namespace

task<int> run_command(runtime& rt, run_args a) {
    // Everything that can be wrong with the input is found before anything is sent.
    std::vector<prompt> prompts = read_prompts(a.prompts_file);
    json::object schema;
    {
        boost::system::error_code ec;
        json::value v = json::parse(read_file(a.schema_file, "schema"), ec);
        if (ec)
            throw usage_error(a.schema_file + " is not JSON (" + ec.message() +
                              "); give a JSON Schema object");
        if (!v.is_object())
            throw usage_error(a.schema_file + " is not a JSON object; give a JSON Schema object");
        schema = std::move(v.get_object());
    }
    json_validator validator = [&] {
        try {
            return json_validator(schema);
        } catch (const aibatch::error& e) {
            throw usage_error(a.schema_file + ": " + e.diag().message);
        }
    }();
    output_mode mode = parse_mode(a.mode);
    std::string description;
    if (const auto* d = schema.if_contains("description"); d && d->is_string())
        description = std::string(d->get_string());
    output_spec spec = with_flag_names([&] {
        return output_spec_for_schema(validator, mode, output_name(schema, a.schema_file),
                                      description);
    });
    if (a.model.empty())
        throw usage_error("--model is empty; give a model id such as claude-haiku-4-5");

    batch_options opts;
    opts.max_tokens = a.max_tokens;
    opts.system = a.system;
    opts.cache_system = a.cache_system == "1h"   ? prompt_cache::one_hour
                        : a.cache_system == "5m" ? prompt_cache::five_minutes
                                                 : prompt_cache::off;
    opts.output_mode = mode;
    opts.journal = a.journal;
    opts.cost_limit = a.cost_limit;
    opts.run_id = a.run_id;
    opts.repair_rounds = a.repair_rounds;
    opts.poll_interval = a.poll;
    opts.max_requests_per_batch = a.max_requests;
    opts.max_bytes_per_batch = a.max_bytes;
    if (a.lost_create_horizon)
        opts.lost_create_horizon =
            std::chrono::seconds(static_cast<std::chrono::seconds::rep>(std::min<std::uint64_t>(
                *a.lost_create_horizon,
                static_cast<std::uint64_t>(std::chrono::seconds::max().count()))));
    std::vector<conversation> messages;
    std::vector<json::value> ids;
    messages.reserve(prompts.size());
    for (auto& p : prompts) {
        messages.push_back(std::move(p.messages));
        ids.push_back(std::move(p.id));
    }
    prompts.clear();

    if (a.dry_run)
        co_return with_flag_names(
            [&] { return dry_run(rt.options(), messages, a.model, opts, spec); });

    if (a.out.empty())
        throw usage_error("--out is required (a file, or - for stdout)");
    const bool out_is_stdout = a.out == "-";
    // --out is emptied now: it must not be what the run reads or records.
    if (!out_is_stdout)
        for (const auto& [flag, file] :
             {std::pair<const char*, const std::string*>{"--prompts", &a.prompts_file},
              {"--schema", &a.schema_file},
              {"--journal", &a.journal}})
            if (!file->empty() && same_file(a.out, *file))
                throw usage_error("--out " + a.out + " is the file of " + flag + " (" + *file +
                                  "); writing the results there would destroy it: give --out "
                                  "another path");
    std::FILE* out = stdout;
    if (!out_is_stdout) {
        out = std::fopen(a.out.c_str(), "wb");
        if (!out)
            throw usage_error("cannot write " + a.out + ": " + std::strerror(errno) +
                              "; give a path in a directory you can write to");
    }
    struct closer {
        std::FILE* f;
        bool own;
        ~closer() {
            if (own)
                std::fclose(f);
        }
    } close_out{out, !out_is_stdout};

    aibatch::client& c = rt.client();
    progress_display progress(stderr, isatty(STDERR_FILENO) != 0);
    opts.on_progress = [&progress, &rt](const batch_progress& p) {
        if (rt.asking())
            return; // the Ctrl-C question is on the terminal
        const auto& c = p.total_counts;
        std::size_t done = std::max<std::size_t>(p.items_done, c.total() - c.processing);
        progress.update_counts(std::min(done, p.items_total), p.items_total, p.batches_ended,
                               p.batches_submitted);
    };
    rt.watch_interrupts([&rt, journal = !a.journal.empty()](interrupt_policy p) {
        if (p == interrupt_policy::cancel) {
            write_all(stderr, "\naibatch: interrupted; canceling the remote batches still "
                              "running (results that came in are kept)\n");
            rt.cancel_signal().emit(asio::cancellation_type::terminal);
        } else {
            asio::co_spawn(rt.executor(), leave_running(rt, journal), asio::detached);
        }
    });
    rt.note("running " + std::to_string(messages.size()) + " prompts on " + a.model + " (" +
            std::string(to_string(mode)) + " mode)");
    batch_run<json::value> r;
    std::optional<usage_error> refused;
    try {
        r = co_await run_batch_json(c, std::move(messages), a.model, std::move(validator),
                                    std::move(spec), std::move(opts));
    } catch (const aibatch::error& e) {
        // Bad input is found before anything is sent; everything later is in `r`.
        if (e.code() != errc::invalid_argument)
            throw;
        refused.emplace(in_flags(e.diag().message));
    }
    if (refused)
        throw *refused;
    rt.stop_watching();
    progress.finish();

    for (std::size_t i = 0; i < r.items.size(); ++i) {
        std::string line = json_line(outcome_json(i, ids[i], r.items[i]));
        if (std::fwrite(line.data(), 1, line.size(), out) != line.size())
            throw std::runtime_error("writing " + a.out + " failed: " + std::strerror(errno) +
                                     "; check the free disk space");
    }
    if (std::fflush(out) != 0)
        throw std::runtime_error("writing " + a.out + " failed: " + std::strerror(errno) +
                                 "; check the free disk space");

    const std::size_t ok = r.succeeded();
    std::FILE* summary = out_is_stdout ? stderr : stdout;
    std::string stopped = r.stop_message;
    if (r.stop_code == errc::not_found) // a create that 404s: a base URL ending in /v1?
        if (auto h = doubled_v1_hint(rt.base_url()))
            stopped += "; " + *h;
    json::array unread;
    std::string unread_text;
    for (const auto& u : r.unread_batches) {
        unread.push_back(json::object{{"id", u.id}, {"items", u.items}, {"why", u.why}});
        unread_text += "  " + (u.id.empty() ? std::string("(no id: not found)") : u.id) +
                       " (items " + u.items + "): " + u.why + "\n";
    }
    if (rt.options().json) {
        json::array batch_ids;
        for (const auto& b : r.batch_ids)
            batch_ids.push_back(json::value(b));
        write_all(summary, json_line(json::object{
                               {"items", r.items.size()},
                               {"succeeded", ok},
                               {"failed", r.items.size() - ok},
                               {"repaired", r.repaired},
                               {"batch_ids", std::move(batch_ids)},
                               {"unread_batches", std::move(unread)},
                               {"input_tokens", r.usage.input_tokens},
                               {"output_tokens", r.usage.output_tokens},
                               {"cache_creation_input_tokens", r.usage.cache_creation_input_tokens},
                               {"cache_read_input_tokens", r.usage.cache_read_input_tokens},
                               {"cost_usd", r.cost_usd ? json::value(*r.cost_usd) : nullptr},
                               {"stopped", r.stop_code ? json::value(stopped) : nullptr},
                               {"run_id", r.run_id},
                               {"out", a.out}}));
    } else {
        std::string s = std::to_string(ok) + " of " + std::to_string(r.items.size()) + " succeeded";
        if (r.repaired)
            s += " (" + std::to_string(r.repaired) + " after a repair round)";
        s += "; " + std::to_string(r.batch_ids.size()) + " batch(es)";
        if (r.cost_usd)
            s += ", estimated cost " + usd(*r.cost_usd);
        s += "; results in " + (out_is_stdout ? std::string("stdout") : a.out) + "\n";
        if (r.stop_code)
            s += "stopped early: " + stopped + "\n";
        if (!unread_text.empty())
            s += "batches not read to the end (read them with `aibatch results ID`, cancel with "
                 "`aibatch cancel ID`):\n" +
                 unread_text;
        if (ok < r.items.size())
            s += "failed items are the lines with a \"status\" other than \"succeeded\"\n";
        write_all(summary, s);
    }
    co_return r.all_succeeded() && r.unread_batches.empty() ? exit_ok : exit_failed;
}

} // namespace aibatch::cli
