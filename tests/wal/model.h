// An in-memory model of the WAL's contents and the checks that a recovered Log matches it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "wal/log.h"

namespace raftdns::wal::testing {

struct ModelState {
  std::map<uint64_t, Entry> log;  // live entries, all > snap_index
  uint64_t snap_index = 0;
  uint64_t snap_term = 0;
  HardState hs;

  uint64_t last() const { return log.empty() ? snap_index : log.rbegin()->first; }
  void truncate_from(uint64_t from) { log.erase(log.lower_bound(from), log.end()); }
  void compact_to(uint64_t upto, uint64_t term) {
    log.erase(log.begin(), log.upper_bound(upto));
    snap_index = upto;
    snap_term = term;
  }
};

// Deterministic payload bytes for (index, term), `size` long.
inline std::vector<uint8_t> payload_for(uint64_t index, uint64_t term, std::size_t size) {
  std::vector<uint8_t> p(size);
  uint64_t x = index * 0x9E3779B97F4A7C15ull ^ term * 0xC2B2AE3D27D4EB4Full;
  for (auto& b : p) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    b = static_cast<uint8_t>(x);
  }
  return p;
}

inline Entry make_entry(uint64_t index, uint64_t term, std::size_t size) {
  return Entry{index, term, payload_for(index, term, size)};
}

// Reads everything a Log holds back through its public API.
inline ModelState read_back(const Log& log) {
  ModelState m;
  m.snap_index = log.snapshot_index();
  m.snap_term = log.snapshot_term();
  m.hs = log.hard_state();
  if (log.last_index() >= log.first_index()) {
    auto es = log.entries(log.first_index(), log.last_index() + 1, UINT64_MAX);
    if (es) {
      for (auto& e : *es) m.log[e.index] = e;
    } else {
      m.log[0] = Entry{0, 0, {}};  // marks "unreadable"; never equal to a real state
    }
  }
  return m;
}

inline std::string describe(const ModelState& m) {
  return "snapshot " + std::to_string(m.snap_index) + "/" + std::to_string(m.snap_term) +
         ", entries " +
         (m.log.empty() ? std::string("none")
                        : std::to_string(m.log.begin()->first) + ".." + std::to_string(m.last())) +
         ", hard state " + std::to_string(m.hs.term) + "/" + std::to_string(m.hs.vote) + "/" +
         std::to_string(m.hs.commit);
}

// Is `r` a state that may be recovered when everything in `lower` was
// acknowledged as durable and everything in `upper` had been handed to the
// log? Returns "" if yes, else the reason.
inline std::string check_between(const ModelState& r, const ModelState& lower,
                                 const ModelState& upper) {
  if (r.snap_index != lower.snap_index || r.snap_term != lower.snap_term) return "snapshot differs";
  if (!(r.hs == lower.hs)) return "hard state differs";
  for (const auto& [i, e] : lower.log) {
    if (i <= r.snap_index) continue;
    auto it = r.log.find(i);
    if (it == r.log.end()) return "acknowledged entry " + std::to_string(i) + " missing";
    if (!(it->second == e)) return "acknowledged entry " + std::to_string(i) + " differs";
  }
  for (const auto& [i, e] : r.log) {
    if (i <= lower.last()) continue;
    auto it = upper.log.find(i);
    if (it == upper.log.end() || !(it->second == e)) {
      return "entry " + std::to_string(i) + " was never appended in this form";
    }
  }
  return "";
}

struct Candidate {
  ModelState lower;
  ModelState upper;
};

}  // namespace raftdns::wal::testing
