#include "fault_plan.hpp"

namespace aibatch::emulator {

fault_decision fault_plan::take_for_request(const std::string& endpoint, rng& draw) {
    fault_decision d;
    for (auto& f : faults_) {
        if (!f.endpoint.empty() && f.endpoint != endpoint)
            continue;
        bool request_fault = f.what == fault::kind::status || f.what == fault::kind::drop ||
                             f.what == fault::kind::drop_after || f.what == fault::kind::delay;
        if (!request_fault)
            continue;
        if (f.what == fault::kind::status && f.fraction > 0) {
            if (!d.status && static_cast<double>(draw.below(1'000'000)) < f.fraction * 1e6)
                d.status = f.status;
            continue;
        }
        if (f.count == 0)
            continue;
        bool used = false;
        switch (f.what) {
        case fault::kind::status:
            if (!d.status) {
                d.status = f.status;
                used = true;
            }
            break;
        case fault::kind::drop:
            if (!d.drop) {
                d.drop = true;
                used = true;
            }
            break;
        case fault::kind::drop_after:
            if (!d.drop_after) {
                d.drop_after = true;
                used = true;
            }
            break;
        case fault::kind::delay:
            if (d.delay.count() == 0) {
                d.delay = f.delay;
                used = true;
            }
            break;
        default:
            break;
        }
        if (used)
            --f.count;
    }
    forget_used();
    return d;
}

std::optional<std::uint64_t> fault_plan::take_cut(const std::string& endpoint) {
    for (auto& f : faults_)
        if (f.what == fault::kind::cut_request && f.count > 0 &&
            (f.endpoint.empty() || f.endpoint == endpoint)) {
            --f.count;
            const std::uint64_t bytes = f.bytes;
            forget_used();
            return bytes;
        }
    return std::nullopt;
}

std::optional<fault> fault_plan::take(fault::kind k) {
    for (auto& f : faults_)
        if (f.what == k && f.count > 0) {
            --f.count;
            fault copy = f;
            forget_used();
            return copy;
        }
    return std::nullopt;
}

void fault_plan::forget_used() {
    std::erase_if(faults_, [](const fault& f) { return f.count == 0 && f.fraction == 0; });
}

const char* status_error_type(unsigned status) {
    switch (status) {
    case 400:
        return "invalid_request_error";
    case 401:
        return "authentication_error";
    case 402:
        return "billing_error";
    case 403:
        return "permission_error";
    case 404:
        return "not_found_error";
    case 413:
        return "request_too_large";
    case 429:
        return "rate_limit_error";
    case 504:
        return "timeout_error";
    case 529:
        return "overloaded_error";
    default:
        return "api_error";
    }
}

const char* status_error_message(unsigned status) {
    switch (status) {
    case 429:
        return "Number of requests has exceeded your rate limit. Please try again later.";
    case 529:
        return "Overloaded";
    case 500:
        return "Internal server error";
    case 504:
        return "Request timed out";
    default:
        return "Error injected by aibatch-emulator";
    }
}

} // namespace aibatch::emulator
