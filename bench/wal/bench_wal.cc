// bench_wal: group-commit throughput of raftdns::wal, 100-byte entries, 1..1000 entries per sync.
//
// Each configuration appends fresh entries in batches of N and calls sync()
// after every batch, in a new log each run, and reports the median run.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <unistd.h>

#include "wal/log.h"

namespace {

using raftdns::wal::Entry;
using raftdns::wal::Log;

struct RunResult {
  double seconds = 0;
  double append_seconds = 0;  // of which inside append(): encoding, CRC, pwrite
  uint64_t entries = 0;
  uint64_t batches = 0;
  uint64_t fsyncs = 0;
};

RunResult run_once(const std::string& dir, uint64_t per_sync, uint64_t batches,
                   std::size_t payload) {
  std::filesystem::remove_all(dir);
  auto opened = Log::open(dir);
  if (!opened) {
    std::fprintf(stderr, "bench_wal: %s\n", opened.error().c_str());
    std::exit(1);
  }
  auto& log = **opened;
  // Build every batch up front so the timing covers only the WAL.
  std::vector<std::vector<Entry>> work(batches);
  uint64_t index = 1;
  uint32_t x = 12345;
  for (auto& batch : work) {
    batch.resize(per_sync);
    for (auto& e : batch) {
      e.index = index++;
      e.term = 1;
      e.payload.resize(payload);
      for (auto& b : e.payload) b = static_cast<uint8_t>(x = x * 1103515245u + 12345u);
    }
  }
  const uint64_t fsyncs_before = log.fsync_count();
  const auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::duration in_append{};
  for (const auto& batch : work) {
    const auto before_append = std::chrono::steady_clock::now();
    if (auto s = log.append(batch); !s) {
      std::fprintf(stderr, "bench_wal: %s\n", s.error().c_str());
      std::exit(1);
    }
    in_append += std::chrono::steady_clock::now() - before_append;
    if (auto s = log.sync(); !s) {
      std::fprintf(stderr, "bench_wal: %s\n", s.error().c_str());
      std::exit(1);
    }
  }
  const auto stop = std::chrono::steady_clock::now();
  RunResult r;
  r.seconds = std::chrono::duration<double>(stop - start).count();
  r.append_seconds = std::chrono::duration<double>(in_append).count();
  r.entries = per_sync * batches;
  r.batches = batches;
  r.fsyncs = log.fsync_count() - fsyncs_before;
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string base = argc > 1 ? argv[1] : "/var/tmp";
  const int runs = argc > 2 ? std::atoi(argv[2]) : 5;
  const std::size_t payload = 100;
  const std::string dir = base + "/bench_wal." + std::to_string(::getpid());
  // Batches per configuration: enough for a stable rate, few enough that one
  // run stays inside one 64 MiB segment (no roll-over syncs in the count).
  struct Config {
    uint64_t per_sync;
    uint64_t batches;
  };
  const Config configs[] = {{1, 300}, {10, 300}, {100, 300}, {1000, 200}};

  std::printf(
      "| entries/sync | batches | fsyncs | entries/s | MB/s (payload) | us/batch | "
      "us/batch in append() | entries/s excl. fdatasync |\n");
  std::printf("|---:|---:|---:|---:|---:|---:|---:|---:|\n");
  bool fsyncs_match = true;
  for (const auto& c : configs) {
    std::vector<RunResult> results;
    for (int r = 0; r < runs; ++r) results.push_back(run_once(dir, c.per_sync, c.batches, payload));
    std::sort(results.begin(), results.end(),
              [](const RunResult& a, const RunResult& b) { return a.seconds < b.seconds; });
    const RunResult& m = results[results.size() / 2];
    for (const auto& r : results) fsyncs_match &= r.fsyncs == r.batches;
    const double eps = static_cast<double>(m.entries) / m.seconds;
    const double batches = static_cast<double>(m.batches);
    std::printf(
        "| %llu | %llu | %llu | %.0f | %.2f | %.0f | %.1f | %.0f |\n",
        static_cast<unsigned long long>(c.per_sync), static_cast<unsigned long long>(m.batches),
        static_cast<unsigned long long>(m.fsyncs), eps, eps * static_cast<double>(payload) / 1e6,
        m.seconds * 1e6 / batches, m.append_seconds * 1e6 / batches,
        static_cast<double>(m.entries) / m.append_seconds);
  }
  std::filesystem::remove_all(dir);
  std::printf("\nmedian of %d runs per row; fsyncs counted by Log::fsync_count() %s\n", runs,
              fsyncs_match ? "equal the number of batches in every run"
                           : "DIFFER from the number of batches");
  return fsyncs_match ? 0 : 1;
}
