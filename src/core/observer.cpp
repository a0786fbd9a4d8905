#include <aibatch/observer.hpp>

#include <string_view>

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

// Appends only (no "literal" + std::string chains: g++ 12 at -O3 warns about those with
// a false -Wrestrict, GCC bug 105651, and a consumer's Release build must not warn).
std::string describe(const client_event& e) {
    std::string s = to_string(e.what);
    auto add = [&s](std::string_view part) {
        if (!part.empty()) {
            s += ' ';
            s += part;
        }
    };
    auto add_ms = [&s](std::chrono::milliseconds ms) {
        s += std::to_string(ms.count());
        s += " ms";
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
        s += " (";
        add_ms(e.elapsed);
        if (!e.request_id.empty()) {
            s += ", request-id ";
            s += e.request_id;
        }
        s += ')';
        break;
    case client_event::kind::failure:
        add(e.method);
        add(e.target);
        s += " (";
        add_ms(e.elapsed);
        s += "): ";
        s += e.detail;
        break;
    case client_event::kind::retry:
        s += ' ';
        s += std::to_string(e.attempt);
        s += " in ";
        add_ms(e.delay);
        if (!e.detail.empty()) {
            s += ": ";
            s += e.detail;
        }
        break;
    default:
        add(e.batch_id);
        add(e.target);
        if (!e.detail.empty()) {
            s += ": ";
            s += e.detail;
        }
        break;
    }
    return s;
}

} // namespace aibatch
