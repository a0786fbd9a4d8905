// Reading .env files: KEY=VALUE lines as docker-compose and python-dotenv read them.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace aibatch {

/// The variables of one .env file, in file order.
using dotenv_entries = std::vector<std::pair<std::string, std::string>>;

/// Parses the text of a .env file.
///
/// Rules: a UTF-8 byte order mark at the start is skipped; blank lines and lines whose first
/// non-blank character is '#' are skipped; an optional `export ` prefix is dropped; `KEY=VALUE`
/// with blanks around '=' allowed; unquoted values are trimmed and end at ` #` (an inline comment);
/// 'single quotes' keep their content literally; "double quotes" understand \n \r \t \" \\ and may
/// span lines; `KEY=` is the empty value.
/// Throws aibatch::error (errc::dotenv_syntax) naming the line and the problem.
/// Values never appear in error messages (a .env holds secrets).
dotenv_entries parse_dotenv(std::string_view text);

/// Reads and parses a .env file; std::nullopt when the file does not exist.
/// Throws aibatch::error when it exists but cannot be read or parsed.
std::optional<dotenv_entries> read_dotenv(const std::filesystem::path& file);

} // namespace aibatch
