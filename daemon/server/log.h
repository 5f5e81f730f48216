// Logging to stderr with a level that SIGHUP may change at run time.
//
// Lines are written with one write(2) each, so lines from worker threads do
// not interleave. Under systemd (JOURNAL_STREAM set) each line carries a
// "<N>" priority prefix for the journal instead of a timestamp.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace raftdns::server {

enum class LogLevel : int { error = 0, warning = 1, info = 2, debug = 3 };

std::optional<LogLevel> log_level_from_text(std::string_view text);
const char* log_level_text(LogLevel level);

void set_log_level(LogLevel level);
LogLevel log_level();
bool log_enabled(LogLevel level);

void log_line(LogLevel level, std::string_view message);

inline void log_error(std::string_view m) { log_line(LogLevel::error, m); }
inline void log_warning(std::string_view m) { log_line(LogLevel::warning, m); }
inline void log_info(std::string_view m) { log_line(LogLevel::info, m); }
inline void log_debug(std::string_view m) {
  if (log_enabled(LogLevel::debug)) log_line(LogLevel::debug, m);
}

}  // namespace raftdns::server
