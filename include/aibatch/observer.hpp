// What a client reports as it works, for logs and the `aibatch -v` command line: requests
// sent, answers, retries with their delays, ambiguous creates, results resumed, batches
// adopted or re-attached. Never the API key, never message contents.
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace aibatch {

/// One thing a client did.
struct client_event {
    enum class kind {
        request,          ///< a request is being sent: method, target
        response,         ///< its answer: status, request_id, elapsed
        failure,          ///< no answer (transport failure): detail says what happened
        retry,            ///< the request is sent again after `delay`: attempt, detail (why)
        ambiguous_create, ///< a create may have made its batch: detail (what was found)
        results_resumed,  ///< a results download was cut and is resumed: target, detail
        adopted,          ///< batch<T>() checks a batch an ambiguous create may have made: batch_id
        reattached,       ///< batch<T>() re-attached a journaled batch: batch_id
    };
    kind what = kind::request;
    std::string method;     ///< GET, POST, ... (request, response, failure)
    std::string target;     ///< the path, e.g. /v1/messages/batches/msgbatch_... (no host, no key)
    unsigned status = 0;    ///< the HTTP status (response)
    std::string request_id; ///< the API's request-id header (response)
    std::string batch_id;   ///< (adopted, reattached)
    int attempt = 0;        ///< 1 for the first retry, ... (retry)
    std::chrono::milliseconds delay{0};   ///< the wait before the retry (retry)
    std::chrono::milliseconds elapsed{0}; ///< request to answer (response, failure)
    std::string detail;                   ///< a human line (failure, retry, ...)
};

/// The name of a kind: "request", "response", "failure", "retry", ...
const char* to_string(client_event::kind k) noexcept;

/// The event as one line for a log: "response 200 GET /v1/messages/batches/... (85 ms,
/// request-id req_...)", "retry 1 in 500 ms: ...", ...
std::string describe(const client_event& e);

/// Called on the client's strand for every event; it must be quick and must not throw
/// (an exception from it is caught and dropped, so it never breaks a run).
using client_observer = std::function<void(const client_event&)>;

} // namespace aibatch
