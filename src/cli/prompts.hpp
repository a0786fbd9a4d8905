// What `aibatch run` reads: the prompts file (one prompt a line) and whole input files.
#pragma once

#include "runtime.hpp"

#include <boost/json/value.hpp>

#include <string>
#include <vector>

namespace aibatch::cli {

/// One line of the prompts file.
struct prompt {
    boost::json::value id; ///< the input's "id", or null
    conversation messages;
};

/// The whole of an input file; usage_error naming `what` ("prompts", "schema") when it
/// cannot be read.
std::string read_file(const std::string& path, const char* what);

/// One prompt a line: "text", {"id":..., "text":"..."} or {"id":..., "messages":[...]};
/// usage_error naming the file and line of a line that is none of them.
std::vector<prompt> read_prompts(const std::string& file);

} // namespace aibatch::cli
