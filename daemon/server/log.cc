// Logging implementation: level filter, journal priorities, whole-line writes.
#include "daemon/server/log.h"

#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <ctime>

namespace raftdns::server {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::info)};

bool to_journal() {
  static const bool journal = std::getenv("JOURNAL_STREAM") != nullptr;
  return journal;
}

// sd-daemon(3) priorities: err, warning, info, debug.
constexpr int kJournalPriority[] = {3, 4, 6, 7};

}  // namespace

std::optional<LogLevel> log_level_from_text(std::string_view text) {
  if (text == "error") return LogLevel::error;
  if (text == "warning" || text == "warn") return LogLevel::warning;
  if (text == "info") return LogLevel::info;
  if (text == "debug") return LogLevel::debug;
  return std::nullopt;
}

const char* log_level_text(LogLevel level) {
  switch (level) {
    case LogLevel::error:
      return "error";
    case LogLevel::warning:
      return "warning";
    case LogLevel::info:
      return "info";
    case LogLevel::debug:
      return "debug";
  }
  return "info";
}

void set_log_level(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel log_level() { return static_cast<LogLevel>(g_level.load()); }
bool log_enabled(LogLevel level) {
  return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed);
}

void log_line(LogLevel level, std::string_view message) {
  if (!log_enabled(level)) return;
  std::string line;
  line.reserve(message.size() + 48);
  if (to_journal()) {
    line += '<';
    line += static_cast<char>('0' + kJournalPriority[static_cast<int>(level)]);
    line += '>';
  } else {
    timespec now{};
    clock_gettime(CLOCK_REALTIME, &now);
    tm parts{};
    gmtime_r(&now.tv_sec, &parts);
    char stamp[40];
    size_t n = strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S", &parts);
    snprintf(stamp + n, sizeof(stamp) - n, ".%03ldZ ", now.tv_nsec / 1000000);
    line += stamp;
    line += log_level_text(level);
    line += ": ";
  }
  line.append(message);
  line += '\n';
  size_t written = 0;
  while (written < line.size()) {
    ssize_t r = ::write(STDERR_FILENO, line.data() + written, line.size() - written);
    if (r <= 0) break;
    written += static_cast<size_t>(r);
  }
}

}  // namespace raftdns::server
