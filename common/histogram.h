// LatencyHistogram: fixed-bucket duration histogram, written on one thread,
// read from any thread (the metrics scraper).
//
// Why fixed buckets: the bounds are part of the exported metric (Prometheus
// `le` labels) and must not change between scrapes or nodes, and an
// observation must cost a handful of instructions on the loop that makes it
// (the WAL's fsync, the store's apply). The bounds span 50 us (a fast NVMe
// fdatasync) to 10 s (a stalled disk), roughly 2-2.5-2 steps apart.
//
// Every field is a relaxed atomic, so a reader never sees a torn value. A
// reader may see the sum a moment before or after the matching bucket; a
// scrape is a sample, and Prometheus tolerates that skew.
#pragma once

#include <array>
#include <atomic>
#include <chrono>
#include <cstdint>

namespace raftdns {

class LatencyHistogram {
 public:
  // Upper bounds in seconds; an implicit +Inf bucket follows.
  static constexpr std::array<double, 17> kBounds = {
      0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
      0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0};

  struct Snapshot {
    std::array<uint64_t, kBounds.size() + 1> buckets{};  // per bucket, not cumulative
    uint64_t count = 0;
    double sum_seconds = 0;
  };

  void observe(std::chrono::nanoseconds elapsed) noexcept {
    const double seconds = std::chrono::duration<double>(elapsed).count();
    size_t b = 0;
    while (b < kBounds.size() && seconds > kBounds[b]) ++b;
    buckets_[b].fetch_add(1, std::memory_order_relaxed);
    sum_ns_.fetch_add(static_cast<uint64_t>(elapsed.count() < 0 ? 0 : elapsed.count()),
                      std::memory_order_relaxed);
  }

  Snapshot snapshot() const noexcept {
    Snapshot s;
    for (size_t b = 0; b < buckets_.size(); ++b) {
      s.buckets[b] = buckets_[b].load(std::memory_order_relaxed);
      s.count += s.buckets[b];
    }
    s.sum_seconds = static_cast<double>(sum_ns_.load(std::memory_order_relaxed)) / 1e9;
    return s;
  }

 private:
  std::array<std::atomic<uint64_t>, kBounds.size() + 1> buckets_{};
  std::atomic<uint64_t> sum_ns_{0};
};

}  // namespace raftdns
