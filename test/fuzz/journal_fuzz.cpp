// The journal of batch<T>() (src/batch/journal.hpp) as it is read back after a crash or
// by hand: the input is the whole file. Promises: journal::open either opens it or fails
// with aibatch::error (errc::journal), never another exception; what it opens opens again
// the same (a torn tail is repaired once), and appending to it keeps it readable.
#include "fuzz_targets.hpp"

#include "../../src/batch/journal.hpp"

#include <aibatch/error.hpp>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/io_context.hpp>

#include <algorithm>
#include <exception>
#include <filesystem>
#include <fstream>
#include <unistd.h>

namespace aibatch::fuzz {
namespace {

namespace fs = std::filesystem;

const fs::path& scratch_dir() {
    static const fs::path dir = [] {
        fs::path base =
            fs::is_directory("/dev/shm") ? fs::path("/dev/shm") : fs::temp_directory_path();
        fs::path d = base / ("aibatch-fuzz-journal-" + std::to_string(::getpid()));
        fs::create_directories(d);
        return d;
    }();
    return dir;
}

std::optional<detail::journal> open(const fs::path& p) {
    try {
        return detail::journal::open(p, "claude-haiku-4-5", 10, "run1", false);
    } catch (const error& e) {
        require(e.code() == errc::journal, "journal::open failed with another code");
        return std::nullopt;
    }
}

} // namespace

void journal(std::string_view data) {
    fs::path p = scratch_dir() / "journal.jsonl";
    {
        std::ofstream out(p, std::ios::binary | std::ios::trunc);
        out.write(data.data(), static_cast<std::streamsize>(data.size()));
    }
    std::vector<std::string> first_ids;
    {
        auto j = open(p);
        if (!j)
            return;
        first_ids = j->batch_ids();
        try {
            // The records are written off the event loop: an io_context runs them.
            boost::asio::io_context ioc;
            std::exception_ptr failed;
            boost::asio::co_spawn(
                ioc,
                [&]() -> task<void> {
                    co_await j->creating(0, "0-9", 10, 42);
                    co_await j->created(0, "0-9", 42, "msgbatch_fuzz");
                },
                [&](std::exception_ptr e) { failed = e; });
            ioc.run();
            if (failed)
                std::rethrow_exception(failed);
        } catch (const error& e) {
            require(e.code() == errc::journal, "a journal append failed with another code");
            return;
        }
    }
    auto again = open(p);
    require(again.has_value(), "a journal that opened does not open again after an append");
    auto ids = again->batch_ids();
    for (const auto& id : first_ids)
        require(std::find(ids.begin(), ids.end(), id) != ids.end(),
                "a recorded batch id was lost when the journal was opened again");
    const auto* e = again->find(0, "0-9");
    require(e && e->batch_id == "msgbatch_fuzz", "an appended record was not read back");
}

} // namespace aibatch::fuzz
