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

} // namespace aibatch
