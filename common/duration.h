// Durations as the config file and dnsadm write them: a number of seconds,
// or numbers each followed by a unit, largest first ("90", "90s", "2h",
// "1d12h", "14d"). Units: w, d, h, m, s.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raftdns {

// The seconds `text` stands for, or nullopt when it is not a duration or is
// above `max` seconds.
inline std::optional<uint64_t> parse_duration(std::string_view text,
                                              uint64_t max = UINT32_MAX) noexcept {
  if (text.empty()) return std::nullopt;
  uint64_t total = 0;
  int last_rank = 5;  // units must come largest first, each at most once
  size_t at = 0;
  while (at < text.size()) {
    if (text[at] < '0' || text[at] > '9') return std::nullopt;
    uint64_t number = 0;
    while (at < text.size() && text[at] >= '0' && text[at] <= '9') {
      number = number * 10 + static_cast<uint64_t>(text[at] - '0');
      if (number > max) return std::nullopt;
      ++at;
    }
    uint64_t unit = 1;
    int rank = 0;
    if (at < text.size()) {
      switch (text[at]) {
        case 'w':
          unit = 7 * 86400, rank = 4;
          break;
        case 'd':
          unit = 86400, rank = 3;
          break;
        case 'h':
          unit = 3600, rank = 2;
          break;
        case 'm':
          unit = 60, rank = 1;
          break;
        case 's':
          unit = 1, rank = 0;
          break;
        default:
          return std::nullopt;
      }
      ++at;
    } else if (last_rank != 5) {
      return std::nullopt;  // "1h30": a bare number only stands alone
    }
    if (rank >= last_rank) return std::nullopt;
    last_rank = rank;
    if (number > (max - total) / unit) return std::nullopt;
    total += number * unit;
  }
  return total;
}

// The shortest text parse_duration reads back as `seconds` ("0s", "90s",
// "1d12h").
inline std::string format_duration(uint64_t seconds) {
  if (seconds == 0) return "0s";
  std::string out;
  for (auto [unit, suffix] : {std::pair<uint64_t, char>{7 * 86400, 'w'},
                              {86400, 'd'},
                              {3600, 'h'},
                              {60, 'm'},
                              {1, 's'}}) {
    if (seconds >= unit) {
      out += std::to_string(seconds / unit) + suffix;
      seconds %= unit;
    }
  }
  return out;
}

}  // namespace raftdns
