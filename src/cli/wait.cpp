// `aibatch wait`: polls batches until each has ended.
#include "wait.hpp"

#include "output.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include <algorithm>
#include <cstdio>
#include <unistd.h>

namespace aibatch::cli {

namespace asio = boost::asio;
namespace json = boost::json;

namespace {

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

} // namespace

task<wait_outcome> wait_for(runtime& rt, std::vector<std::string> ids,
                            std::chrono::milliseconds poll, bool just_created) {
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

task<int> wait_command(runtime& rt, wait_args a) {
    // An id given more than once is waited for, counted and shown once.
    std::vector<std::string> ids = each_id_once(a.ids, "waiting for");
    wait_outcome w = co_await wait_for(rt, std::move(ids), a.poll);
    if (rt.options().json)
        write_all(stdout, json_line(json::object{{"batches", batches_json(w.batches)},
                                                 {"interrupted", w.interrupted}}));
    else
        write_all(stdout, batch_table(w.batches));
    co_return w.interrupted ? exit_failed : exit_ok;
}

} // namespace aibatch::cli
