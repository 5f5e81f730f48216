// How much of an exhaustive sweep (simulator seeds, WAL crash tears) a test run covers.
//
// The plain test run covers every seed and every tear. The sanitizer run in CI
// sets RAFTDNS_SWEEP_SCALE (a fraction in (0, 1]) to cover a share of them: its
// purpose is to catch memory and undefined-behaviour errors, and those show up
// on the code paths every seed and tear walks, not on one rare seed; the plain
// run, without instrumentation and ten times faster, keeps the full sweep for
// the safety properties themselves.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace raftdns::testing {

// The share of a sweep to run: RAFTDNS_SWEEP_SCALE, or 1 when it is unset.
// A malformed or out-of-range value aborts the run rather than silently
// running everything or nothing.
inline double sweep_scale() {
  const char* text = std::getenv("RAFTDNS_SWEEP_SCALE");
  if (text == nullptr || *text == '\0') return 1.0;
  char* end = nullptr;
  const double scale = std::strtod(text, &end);
  if (*end != '\0' || !(scale > 0.0 && scale <= 1.0)) {
    std::fprintf(stderr, "RAFTDNS_SWEEP_SCALE=%s: want a fraction in (0, 1]\n", text);
    std::abort();
  }
  return scale;
}

// How many of `count` items a sweep covers: at least one.
inline uint64_t swept(uint64_t count) {
  const auto n = static_cast<uint64_t>(static_cast<double>(count) * sweep_scale() + 0.5);
  return n == 0 ? 1 : n;
}

// The stride that covers about sweep_scale() of a range (1 in the full run).
inline uint64_t sweep_stride() {
  const auto stride = static_cast<uint64_t>(1.0 / sweep_scale() + 0.5);
  return stride == 0 ? 1 : stride;
}

}  // namespace raftdns::testing
