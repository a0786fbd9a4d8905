#include <aibatch/observer.hpp>

namespace aibatch {

const char* to_string(client_event::kind k) noexcept {
    switch (k) {
    case client_event::kind::request:
        return "request";
    case client_event::kind::response:
        return "response";
    case client_event::kind::failure:
        return "failure";
    case client_event::kind::retry:
        return "retry";
    case client_event::kind::ambiguous_create:
        return "ambiguous_create";
    case client_event::kind::results_resumed:
        return "results_resumed";
    case client_event::kind::adopted:
        return "adopted";
    case client_event::kind::reattached:
        return "reattached";
    }
    return "unknown";
}

std::string describe(const client_event& e) {
    std::string s = to_string(e.what);
    auto add = [&s](const std::string& part) {
        if (!part.empty()) {
            s += ' ';
            s += part;
        }
    };
    switch (e.what) {
    case client_event::kind::request:
        add(e.method);
        add(e.target);
        break;
    case client_event::kind::response:
        add(std::to_string(e.status));
        add(e.method);
        add(e.target);
        s += " (" + std::to_string(e.elapsed.count()) + " ms";
        if (!e.request_id.empty())
            s += ", request-id " + e.request_id;
        s += ")";
        break;
    case client_event::kind::failure:
        add(e.method);
        add(e.target);
        s += " (" + std::to_string(e.elapsed.count()) + " ms): " + e.detail;
        break;
    case client_event::kind::retry:
        s += " " + std::to_string(e.attempt) + " in " + std::to_string(e.delay.count()) + " ms";
        if (!e.detail.empty())
            s += ": " + e.detail;
        break;
    default:
        add(e.batch_id);
        add(e.target);
        if (!e.detail.empty())
            s += ": " + e.detail;
        break;
    }
    return s;
}

} // namespace aibatch
