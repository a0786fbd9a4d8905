// aibatch::client's operations (create, retrieve, cancel, delete, list, find, results),
// each run on the client's strand through client_state (client_state.cpp).
#include "client_impl.hpp"

#include <aibatch/detail/ascii.hpp>

#include <boost/json/parse.hpp>

namespace aibatch {

namespace asio = boost::asio;
namespace json = boost::json;

json::value parse_body(const http_response& r, std::string_view what) {
    boost::system::error_code ec;
    json::value v = json::parse(r.body, ec);
    if (ec)
        throw error(errc::bad_response,
                    std::string(what) + ": the answer is not JSON (" + ec.message() + ")");
    return v;
}

void check_batch_id(const std::string& id) {
    if (id.empty())
        throw error(errc::invalid_argument, "the batch id is empty");
    for (char c : id)
        if (!(detail::ascii::is_alnum(c) || c == '_' || c == '-'))
            throw error(errc::invalid_argument,
                        "\"" + id + "\" is not a batch id (ids look like msgbatch_013Zva2C...)");
}

// ------------------------------------------------------------------ client
client::client(const asio::any_io_executor& ex, client_config cfg)
    : impl_(std::make_shared<client_state>(ex, std::move(cfg))) {}
client::client(std::shared_ptr<client_state> s) : impl_(std::move(s)) {}
client client_from_state(std::shared_ptr<client_state> s) {
    return client(std::move(s));
}
client::client(client&&) noexcept = default;
client& client::operator=(client&&) noexcept = default;
client::~client() = default;

asio::any_io_executor client::get_executor() const {
    return impl_->strand;
}
const client_config& client::config() const {
    return impl_->cfg;
}
http_client& client::http() {
    return impl_->http;
}
client_stats client::stats() const {
    client_stats s;
    s.requests = impl_->stats.requests;
    s.retries = impl_->stats.retries;
    s.creates_adopted = impl_->stats.creates_adopted;
    s.results_resumed = impl_->stats.results_resumed;
    return s;
}
void client::claim_batch(const std::string& id) {
    impl_->claim(id);
}
bool client::owns_batch(const std::string& id) const {
    return impl_->owns(id);
}

namespace {

using state_ptr = std::shared_ptr<client_state>;

task<batch_info> do_create(state_ptr self, std::span<const batch_request> requests) {
    for (std::size_t i = 0; i < requests.size(); ++i)
        if (auto why = check_custom_id(requests[i].custom_id))
            throw error(errc::invalid_argument,
                        "create_batch: requests[" + std::to_string(i) + "]: " + *why);
    std::string body;
    serialize_create_body(requests, body);
    co_return co_await self->create(std::move(body), requests.size());
}

task<batch_info> do_create_from_body(state_ptr self, std::string body, std::uint64_t count) {
    co_return co_await self->create(std::move(body), count);
}

task<batch_info> do_create_streamed(state_ptr self, streamed_body body, std::uint64_t count) {
    co_return co_await self->create_streamed(std::move(body), count, true);
}

task<batch_info> do_retrieve(state_ptr self, std::string id) {
    check_batch_id(id);
    auto r = co_await self->call(self->make_request("GET", "/v1/messages/batches/" + id),
                                 "retrieve_batch " + id);
    co_return batch_info::from_json(parse_body(r, "retrieve_batch"));
}

task<batch_info> do_cancel(state_ptr self, std::string id) {
    check_batch_id(id);
    // Canceling twice is harmless, so a retry after an ambiguous failure is safe.
    auto req = self->make_request("POST", "/v1/messages/batches/" + id + "/cancel");
    req.idempotent = true;
    auto r = co_await self->call(std::move(req), "cancel_batch " + id);
    co_return batch_info::from_json(parse_body(r, "cancel_batch"));
}

task<deleted_batch> do_delete(state_ptr self, std::string id) {
    check_batch_id(id);
    auto r = co_await self->call(self->make_request("DELETE", "/v1/messages/batches/" + id),
                                 "delete_batch " + id);
    json::value v = parse_body(r, "delete_batch");
    deleted_batch d;
    if (v.is_object()) {
        if (const auto* i = v.get_object().if_contains("id"); i && i->is_string())
            d.id = std::string(i->get_string());
        if (const auto* t = v.get_object().if_contains("type"); t && t->is_string())
            d.type = std::string(t->get_string());
    }
    if (d.id.empty())
        throw error(errc::bad_response, "delete_batch: the answer has no id");
    co_return d;
}

task<batch_page> do_list(state_ptr self, list_options opts) {
    std::string target = "/v1/messages/batches";
    char sep = '?';
    auto add = [&](std::string_view k, const std::string& v) {
        target += sep;
        target += k;
        target += '=';
        target += v;
        sep = '&';
    };
    if (opts.limit) {
        if (*opts.limit < 1 || *opts.limit > 1000)
            throw error(errc::invalid_argument, "list_batches: limit must be 1 to 1000 (got " +
                                                    std::to_string(*opts.limit) + ")");
        add("limit", std::to_string(*opts.limit));
    }
    if (opts.before_id) {
        check_batch_id(*opts.before_id);
        add("before_id", *opts.before_id);
    }
    if (opts.after_id) {
        check_batch_id(*opts.after_id);
        add("after_id", *opts.after_id);
    }
    auto r = co_await self->call(self->make_request("GET", target), "list_batches");
    co_return batch_page::from_json(parse_body(r, "list_batches"));
}

task<std::vector<batch_info>> do_find(state_ptr self, std::uint64_t count, timestamp not_before) {
    co_return co_await self->find_candidates(count, not_before);
}

} // namespace

task<batch_info> client::create_batch(std::span<const batch_request> requests) {
    return client_state::on_strand(impl_, do_create(impl_, requests));
}

task<batch_info> client::create_batch_from_body(std::string body, std::uint64_t count) {
    return client_state::on_strand(impl_, do_create_from_body(impl_, std::move(body), count));
}

task<batch_info> client::create_batch_streamed(streamed_body body, std::uint64_t count) {
    return client_state::on_strand(impl_, do_create_streamed(impl_, std::move(body), count));
}

task<batch_info> client::retrieve_batch(std::string id) {
    return client_state::on_strand(impl_, do_retrieve(impl_, std::move(id)));
}

task<batch_info> client::cancel_batch(std::string id) {
    return client_state::on_strand(impl_, do_cancel(impl_, std::move(id)));
}

task<deleted_batch> client::delete_batch(std::string id) {
    return client_state::on_strand(impl_, do_delete(impl_, std::move(id)));
}

task<batch_page> client::list_batches(list_options opts) {
    return client_state::on_strand(impl_, do_list(impl_, std::move(opts)));
}

batch_lister client::list_all_batches(list_options opts) {
    return batch_lister(impl_, std::move(opts));
}

task<std::optional<batch_info>> batch_lister::next() {
    if (pos_ == page_.size()) {
        if (!more_)
            co_return std::nullopt;
        batch_page p = co_await client_state::on_strand(state_, do_list(state_, opts_));
        ++pages_;
        page_ = std::move(p.data);
        pos_ = 0;
        more_ = p.has_more && !page_.empty();
        if (more_) {
            // Page on in the direction the listing started (as the official SDKs do):
            // back with before_id = first_id, onward with after_id = last_id.
            if (opts_.before_id) {
                if (!p.first_id)
                    more_ = false;
                else
                    opts_.before_id = p.first_id;
            } else {
                if (!p.last_id)
                    more_ = false;
                else
                    opts_.after_id = p.last_id;
            }
        }
        if (page_.empty())
            co_return std::nullopt;
    }
    co_return std::move(page_[pos_++]);
}

task<std::vector<batch_info>> client::find_created_batches(std::uint64_t count,
                                                           timestamp not_before) {
    return client_state::on_strand(impl_, do_find(impl_, count, not_before));
}

namespace {

task<std::optional<batch_info>> first_found(task<std::vector<batch_info>> all) {
    auto v = co_await std::move(all);
    if (v.empty())
        co_return std::nullopt;
    co_return std::move(v.front());
}

task<std::vector<result_line>> collect(task<result_stream> opening) {
    result_stream rs = co_await std::move(opening);
    std::vector<result_line> out;
    while (auto line = co_await rs.next())
        out.push_back(std::move(*line));
    co_return out;
}

} // namespace

// Plain functions: the tasks hold the client's shared state, not `this`.
task<std::optional<batch_info>> client::find_created_batch(std::uint64_t count,
                                                           timestamp not_before) {
    return first_found(find_created_batches(count, not_before));
}

task<std::vector<result_line>> client::results(std::string batch_id) {
    return collect(open_results(std::move(batch_id)));
}

} // namespace aibatch
