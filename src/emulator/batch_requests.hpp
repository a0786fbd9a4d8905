// The requests of one batch as posted: the create body's text, each request's custom_id,
// and where its params lie in the text. Params are parsed again each time they are needed
// (validation, a result line, prompt-cache accounting): a parsed body took about 6.6 times
// its text, and a long-lived emulator kept one per batch.
#pragma once

#include <boost/json/storage_ptr.hpp>
#include <boost/json/value.hpp>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace aibatch::emulator {

class batch_requests {
public:
    /// Reads the body of POST /v1/messages/batches. Answers exactly what json::parse
    /// followed by batch_body_problem() would (the same checks in the same order, the same
    /// duplicate-key rule), without ever holding the whole body as a JSON tree. std::nullopt
    /// when the body makes a batch (then `out` holds it, and owns `text`), else the
    /// invalid_request_error message.
    static std::optional<std::string> read(std::string text, std::uint64_t max_requests,
                                           batch_requests& out);

    std::size_t size() const { return id_ends_.size(); }
    /// Request i's custom_id (decoded: the JSON text may spell it with escapes).
    std::string_view custom_id(std::size_t i) const;
    /// Request i's params, a JSON object, as the body spells it.
    std::string_view params_text(std::size_t i) const;
    /// Request i's params parsed into `sp` (the same value the whole body's parse held).
    boost::json::value params(std::size_t i, boost::json::storage_ptr sp = {}) const;
    /// Whether the params are still here (false for ids_only()).
    bool has_params() const { return !params_.empty() || size() == 0; }

    /// The same custom ids, without the text and params (what a deleted batch keeps).
    batch_requests ids_only() const;
    /// Bytes this object holds on the heap (its strings' and vectors' capacities).
    std::size_t memory_bytes() const;

private:
    struct span {
        std::size_t at = 0, size = 0;
    };
    std::string text_;
    std::vector<span> params_;         ///< of each request, into text_
    std::string ids_;                  ///< every custom_id, one after another
    std::vector<std::size_t> id_ends_; ///< where each ends in ids_
};

} // namespace aibatch::emulator
