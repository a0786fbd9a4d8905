#include "ledger.hpp"

#include <aibatch/detail/c_locale.hpp>

#include <aibatch/api/models.hpp>

#include <algorithm>

namespace aibatch::detail {

outcome_ledger::outcome_ledger(item_store& items, std::size_t count,
                               std::optional<model_price> price, unsigned repair_rounds,
                               std::int64_t max_tokens)
    : items_(&items), price_(price), repair_rounds_(repair_rounds), max_tokens_(max_tokens) {
    // The reports themselves are set up by the engine in slices (see engine.cpp): only
    // the room is made here.
    items_->reserve(count);
    slots_.reserve(count);
}

void outcome_ledger::add_item(std::size_t i) {
    items_->add(i);
    slots_.emplace_back();
}

void outcome_ledger::begin_round(unsigned round) {
    round_ = round;
    const std::size_t n = items_->size();
    // Memory touched as the items were added: clearing it is fast (a first-time assign
    // of fresh memory page-faulted for milliseconds in one go).
    slots_.resize(n);
    std::fill(slots_.begin(), slots_.end(), slot{});
    bad_lines_.clear();
}

void outcome_ledger::assign(const job& j) {
    for (std::size_t i : j.indices)
        slots_[i].job_of = j.number + 1;
}

std::vector<std::size_t> outcome_ledger::repair_todo() const {
    std::vector<std::size_t> todo;
    for (std::size_t i : repairable_)
        if (item(i).status == item_status::invalid_output)
            todo.push_back(i);
    return todo;
}

const conversation* outcome_ledger::feedback(std::size_t i) const {
    auto it = feedback_.find(i);
    return it == feedback_.end() ? nullptr : &it->second;
}

void outcome_ledger::prefetch(std::string_view line) const {
    constexpr std::string_view head = R"({"custom_id":")";
    if (line.size() <= head.size() || line.substr(0, head.size()) != head)
        return;
    line.remove_prefix(head.size());
    // a plain loop: find_first_of calls memchr over the set once per byte
    const std::size_t limit = std::min<std::size_t>(line.size(), 128);
    std::size_t end = 0;
    while (end < limit && line[end] != '"' && line[end] != '\\')
        ++end;
    if (end == limit || line[end] != '"')
        return;
    auto id = ids_.parse(line.substr(0, end));
    if (!id || id->second >= slots_.size())
        return;
    const std::size_t i = id->second;
#if defined(__GNUC__)
    __builtin_prefetch(&slots_[i], 1);
#endif
    items_->prefetch(i);
}

namespace {
// Removes i from a set that is empty on almost every line: then without the tree walk.
void drop(std::set<std::size_t>& s, std::size_t i) {
    if (!s.empty())
        s.erase(i);
}
} // namespace

line_use outcome_ledger::take_line(job& j, const line_facts& line) {
    line_use use;
    auto id = ids_.parse(line.custom_id);
    const bool mine = id && id->first == j.round && slots_[id->second].job_of == j.number + 1;
    if (!mine) {
        if (j.tentative) {
            // Not proof either way yet (a stray line can come first): a candidate is
            // rejected only after many lines and none of them one of j's items.
            if (id && id->first == j.round && slots_[id->second].job_of != 0)
                hint_[j.batch_id] = slots_[id->second].job_of - 1;
            if (!id)
                j.foreign_run_seen = true;
            use.keep_reading = ++j.unmatched_lines < 16;
            return use;
        }
        anomaly("batch " + j.batch_id + ": a result line for custom_id \"" +
                std::string(line.custom_id.substr(0, 80)) +
                "\", which is not an item of this batch; ignored");
        return use;
    }
    if (j.tentative) {
        j.tentative = false;
        use.confirmed = true;
        if (j.unmatched_lines > 0)
            anomaly("batch " + j.batch_id + ": " + std::to_string(j.unmatched_lines) +
                    " result line(s) for custom_ids that are not items of this batch; "
                    "ignored");
        hint_.erase(j.batch_id);
    }
    j.verified_line = true;
    const std::size_t i = id->second;
    if (slots_[i].done_in_round != 0) {
        if (line.identity == slots_[i].identity) {
            if (slots_[i].done_in_round != download_)
                return use; // delivered again by a repeated download
            anomaly("batch " + j.batch_id + ": the result line for " + std::string(line.custom_id) +
                    " came twice (the same answer); used once");
            return use;
        }
        // Two different answers for one input: neither can be trusted.
        anomaly("batch " + j.batch_id + ": two different result lines for " +
                std::string(line.custom_id) + "; neither is used");
        set(i, item_status::failed, "duplicate_result",
            "batch " + j.batch_id + " sent two different result lines for " +
                std::string(line.custom_id) + "; neither is used");
        drop(repairable_, i);
        return use;
    }
    slots_[i].done_in_round = download_;
    slots_[i].identity = line.identity;
    drop(bad_lines_, i);
    auto& it = item(i);
    if (it.batch_id != j.batch_id)
        it.batch_id = report_id(j);
    switch (line.type) {
    case result_type::succeeded: {
        ++results_seen_;
        if (line.tokens)
            res_.usage += *line.tokens;
        const decode_report& d = *line.output;
        if (d.ok) {
            set(i, item_status::succeeded, {}, {});
            if (j.round > 0)
                ++res_.repaired;
            drop(repairable_, i);
            use.value_for = i;
        } else {
            set(i, item_status::invalid_output, std::string(to_string(d.failure)), d.message,
                d.raw);
            if (d.failure == output_failure::validation ||
                d.failure == output_failure::invalid_json ||
                d.failure == output_failure::no_output) {
                repairable_.insert(i);
                conversation fb;
                fb.push_back(assistant(d.raw.empty() ? "(no answer)" : d.raw));
                fb.push_back(user("That answer does not match the required schema: " + d.message +
                                  ". Answer again with output that fixes these problems."));
                feedback_[i] = std::move(fb);
            } else {
                drop(repairable_, i);
            }
        }
        break;
    }
    case result_type::errored:
        set(i, item_status::errored, line.error ? line.error->type : std::string(),
            !line.error || line.error->message.empty() ? "errored" : line.error->message);
        drop(repairable_, i);
        break;
    case result_type::expired:
        set(i, item_status::expired, "expired", "the batch expired before this item was processed");
        drop(repairable_, i);
        break;
    case result_type::canceled:
        set(i, item_status::canceled, "canceled",
            "the batch was canceled before this item was processed");
        drop(repairable_, i);
        break;
    }
    return use;
}

void outcome_ledger::take_bad_line(const job& j, const std::optional<std::string>& custom_id,
                                   std::string_view why) {
    std::optional<std::pair<unsigned, std::size_t>> id;
    if (custom_id)
        id = ids_.parse(*custom_id);
    anomaly("batch " + j.batch_id + ": " + std::string(why) + "; ignored");
    if (id && id->first == j.round && slots_[id->second].job_of == j.number + 1 &&
        slots_[id->second].done_in_round == 0 && !j.tentative) {
        bad_lines_.insert(id->second);
        set(id->second, item_status::failed, "invalid_result_line",
            "batch " + j.batch_id +
                " sent a result line for this item that is not a valid result: " +
                std::string(why));
        item(id->second).batch_id = report_id(j);
        drop(repairable_, id->second);
    }
}

const shared_string& outcome_ledger::report_id(const job& j) {
    if (j.report_id != j.batch_id)
        j.report_id = j.batch_id;
    return j.report_id;
}

std::optional<std::uint32_t> outcome_ledger::hint(const std::string& batch_id) const {
    auto h = hint_.find(batch_id);
    if (h == hint_.end())
        return std::nullopt;
    return h->second;
}

void outcome_ledger::set(std::size_t i, item_status st, std::string type, std::string msg,
                         std::string raw) {
    auto& it = item(i);
    it.status = st;
    it.error_type = std::move(type);
    it.message = std::move(msg);
    it.raw_output = std::move(raw);
}

bool outcome_ledger::mark(std::size_t i, item_status st, const std::string& type,
                          const std::string& msg) {
    if (item(i).status == item_status::succeeded || slots_[i].done_in_round != 0)
        return false;
    set(i, st, type, msg);
    return true;
}

void outcome_ledger::missing_result(const job& j, std::size_t i) {
    if (slots_[i].done_in_round == 0 && !bad_lines_.count(i) &&
        item(i).status != item_status::succeeded)
        set(i, item_status::failed, "missing_result",
            "batch " + j.batch_id + " ended without a result line for " + item(i).custom_id);
}

void outcome_ledger::not_submitted_at_stop(std::size_t i, bool cost_stopped) {
    if (item(i).status == item_status::not_submitted)
        set(i, item_status::not_submitted, cost_stopped ? "cost_limit" : "stopped",
            res_.stop_message + " before submission");
}

void outcome_ledger::fill_in(std::size_t i) {
    auto& it = item(i);
    it.index = i;
    if (it.custom_id.empty())
        it.custom_id = ids_.make(0, i);
    if (it.status == item_status::not_submitted && it.message.empty())
        it.message =
            res_.stop_message.empty() ? "not submitted" : "not submitted: " + res_.stop_message;
}

void outcome_ledger::stop(boost::system::error_code ec, std::string msg) {
    if (!res_.stop_code) {
        res_.stop_code = ec;
        res_.stop_message = std::move(msg);
    }
}

void outcome_ledger::anomaly(std::string what) {
    ++anomaly_count_;
    if (res_.anomalies.size() < 100)
        res_.anomalies.push_back(std::move(what));
    else if (res_.anomalies.size() == 100)
        res_.anomalies.push_back("(more anomalies not listed)");
}

void outcome_ledger::unread(const job& j, std::string why) {
    if (is_unread(j.batch_id))
        return;
    res_.unread_batches.push_back({j.batch_id, j.ranges, std::move(why)});
}

bool outcome_ledger::is_unread(const std::string& batch_id) const {
    return std::any_of(res_.unread_batches.begin(), res_.unread_batches.end(),
                       [&](const unread_batch& u) { return u.id == batch_id; });
}

void outcome_ledger::record_batch(const std::string& id) {
    if (std::find(res_.batch_ids.begin(), res_.batch_ids.end(), id) == res_.batch_ids.end())
        res_.batch_ids.push_back(id);
}

std::optional<batch_progress> outcome_ledger::progress(const job& j,
                                                       std::span<const std::unique_ptr<job>> jobs) {
    batch_progress p;
    p.round = j.round;
    p.batch_id = j.batch_id;
    p.batch_counts = j.counts;
    p.items_total = size();
    for (const auto& jp : jobs) {
        if (jp->batch_id.empty() || jp->tentative)
            continue;
        p.total_counts += jp->counts;
        ++p.batches_submitted;
        p.batches_ended += jp->ended;
    }
    for (std::size_t k = 0; k < size(); ++k) {
        const item_report& it = item(k);
        if (it.status == item_status::not_submitted)
            continue;
        const bool repairing = it.status == item_status::invalid_output &&
                               repairable_.count(it.index) && round_ < repair_rounds_;
        if (repairing)
            ++p.items_repairing;
        else if (!(slots_.size() > it.index && slots_[it.index].done_in_round == 0 &&
                   slots_[it.index].job_of != 0))
            ++p.items_done;
    }
    auto key =
        std::tuple(p.round, p.total_counts.succeeded, p.total_counts.errored,
                   p.total_counts.canceled, p.total_counts.expired, p.total_counts.processing,
                   p.batches_submitted, p.batches_ended, p.items_done, p.items_repairing);
    if (last_progress_ && *last_progress_ == key)
        return std::nullopt;
    last_progress_ = key;
    return p;
}

double outcome_ledger::estimate(const job& j) const {
    const double out_per_item = results_seen_ > 0 ? static_cast<double>(res_.usage.output_tokens) /
                                                        static_cast<double>(results_seen_)
                                                  : static_cast<double>(max_tokens_);
    return estimated_cost(price_, j.input_bytes, j.indices.size(), out_per_item);
}

double outcome_ledger::spent() const {
    return price_ ? batch_cost(res_.usage, *price_) : 0;
}

std::optional<std::string> outcome_ledger::reserve(job& j, std::optional<double> cost_limit) {
    const double est = estimate(j);
    if (cost_limit && spent() + committed_ + est > *cost_limit) {
        // A point whatever locale the program set (printf would write 0,0040 under fr_FR).
        const auto usd = [](double d) { return c_fixed(d, 4); };
        return "cost limit $" + usd(*cost_limit) + " reached: spent $" + usd(spent()) +
               ", in flight ~$" + usd(committed_) + ", next batch (" +
               std::to_string(j.indices.size()) + " items) ~$" + usd(est);
    }
    j.committed = est;
    committed_ += est;
    return std::nullopt;
}

void outcome_ledger::release(job& j) {
    committed_ -= j.committed;
    j.committed = 0;
}

engine_result outcome_ledger::finish() {
    res_.cost_usd = price_ ? std::optional<double>(spent()) : std::nullopt;
    if (anomaly_count_ > 0 && res_.anomalies.empty())
        res_.anomalies.push_back(std::to_string(anomaly_count_) + " anomalies");
    return std::move(res_);
}

} // namespace aibatch::detail
