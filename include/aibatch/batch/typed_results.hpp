// A batch's results read straight into T, one line at a time: the typed reader that
// batch<T>() uses, for callers who read results themselves.
//
//   aibatch::result_stream rs = co_await client.open_results(batch);
//   aibatch::typed_results<SpamResult> results(std::move(rs));
//   while (const aibatch::decoded_line<SpamResult>* line = co_await results.next())
//       if (line->output.value)
//           use(line->custom_id, *line->output.value);
//
// Each line is decoded once from its bytes (result_decoder<T>: no JSON tree on the
// success path); what it gives equals result_stream::next() followed by
// read_output<T>(). Resumes, the line cap, bad lines, a download failed for good and a
// canceled call behave as in result_stream::next().
// Use result_stream::next() when you want each line's raw message.
#pragma once

#include <aibatch/api/client.hpp>
#include <aibatch/typed/result_decoder.hpp>
#include <aibatch/typed/structured_output.hpp>

#include <optional>
#include <string>
#include <string_view>

namespace aibatch {

template <class T>
class typed_results {
public:
    explicit typed_results(result_stream rs, output_spec spec = output_spec::for_type<T>(),
                           const decode_options& opts = {})
        : rs_(std::move(rs)), dec_(std::move(spec), opts) {}

    /// The next line, or nullptr at the end; valid until the next call. A line that is
    /// not a result throws aibatch::error (errc::bad_response) with the message
    /// result_stream::next() gives, and is skipped: call next() again for the following
    /// line (stream().bad_line_custom_id() tells whose line it was).
    task<const decoded_line<T>*> next() {
        for (;;) {
            std::optional<std::string_view> text = detail::raw_results::buffered(rs_);
            if (!text) {
                text = co_await detail::raw_results::next(rs_);
                if (!text)
                    co_return nullptr;
            }
            std::optional<error> bad;
            try {
                dec_.decode(*text, line_);
            } catch (const error& e) {
                bad = dec_.not_json_why().empty()
                          ? detail::raw_results::not_a_result(rs_, *text, e)
                          : detail::raw_results::not_json(rs_, *text, dec_.not_json_why());
            }
            if (bad)
                throw *bad;
            if (detail::raw_results::deliver(rs_, line_.custom_id, line_.type,
                                             detail::answer_of(line_)))
                co_return &line_;
        }
    }

    result_stream& stream() noexcept { return rs_; }
    const output_spec& spec() const noexcept { return dec_.spec(); }

private:
    result_stream rs_;
    result_decoder<T> dec_;
    decoded_line<T> line_;
};

} // namespace aibatch
