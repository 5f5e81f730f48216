// Property tests: random append/truncate/compact/reset/reopen/crash runs checked against a model.
//
// The default run uses a fixed set of seeds and takes a few seconds; set
// WAL_PROPERTY_SEEDS=N to run N seeds instead.
#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "tests/wal/fault_fs.h"
#include "tests/wal/harness.h"
#include "wal/log.h"

namespace raftdns::wal::testing {
namespace {

const std::string kDir = "/data/wal";

uint64_t seed_count() {
  if (const char* env = std::getenv("WAL_PROPERTY_SEEDS")) return std::strtoull(env, nullptr, 10);
  return 40;
}

Options options_for(FileSystem* fs) {
  Options o;
  o.segment_size = 4096;
  o.meta_size = 320;
  o.fs = fs;
  o.log = [](const std::string&) {};
  return o;
}

// Compares everything the Log exposes with the model's current state.
void expect_matches(const Log& log, const ModelState& m, std::mt19937_64& rng,
                    const std::string& where) {
  ASSERT_EQ(log.snapshot_index(), m.snap_index) << where;
  ASSERT_EQ(log.snapshot_term(), m.snap_term) << where;
  ASSERT_EQ(log.last_index(), m.last()) << where;
  ASSERT_EQ(log.first_index(), m.snap_index + 1) << where;
  ASSERT_EQ(log.hard_state(), m.hs) << where;
  ASSERT_EQ(*log.term(m.snap_index), m.snap_term) << where;
  for (int probe = 0; probe < 4 && !m.log.empty(); ++probe) {
    const uint64_t lo = m.snap_index + 1 + rng() % (m.last() - m.snap_index);
    const uint64_t hi = lo + 1 + rng() % (m.last() + 1 - lo);
    const uint64_t max_bytes = rng() % 2000;
    auto got = log.entries(lo, hi, max_bytes);
    ASSERT_TRUE(got.ok()) << where << ": " << got.error();
    // Expected: the longest prefix within max_bytes, but at least one entry.
    std::vector<Entry> want;
    uint64_t bytes = 0;
    for (uint64_t i = lo; i < hi; ++i) {
      const Entry& e = m.log.at(i);
      if (!want.empty() && bytes + e.payload.size() > max_bytes) break;
      bytes += e.payload.size();
      want.push_back(e);
    }
    ASSERT_EQ(*got, want) << where << " entries(" << lo << "," << hi << "," << max_bytes << ")";
    ASSERT_EQ(*log.term(lo), m.log.at(lo).term) << where;
  }
  if (m.snap_index > 0) {
    ASSERT_FALSE(log.entries(m.snap_index, m.last() + 1, UINT64_MAX).ok());
    ASSERT_EQ(log.last_error(), ErrorCode::compacted) << where;
  }
  ASSERT_FALSE(log.term(m.last() + 1).ok());
  ASSERT_EQ(log.last_error(), ErrorCode::unavailable) << where;
}

void run_seed(uint64_t seed) {
  std::mt19937_64 rng(seed);
  auto fs = std::make_unique<FaultFs>();
  auto opened = Log::open(kDir, options_for(fs.get()));
  ASSERT_TRUE(opened.ok()) << opened.error();
  auto log = std::move(*opened);
  auto h = std::make_unique<Harness>(log.get());
  uint64_t term = 1;

  for (int step = 0; step < 300; ++step) {
    const std::string where = "seed " + std::to_string(seed) + " step " + std::to_string(step);
    const int op = static_cast<int>(rng() % 100);
    const ModelState& m = h->current();
    bool ok = true;
    if (op < 40) {
      const uint64_t n = 1 + rng() % 12;
      std::vector<Entry> b;
      for (uint64_t i = 0; i < n; ++i) {
        b.push_back(make_entry(m.last() + 1 + i, term, rng() % 300));
      }
      ok = h->append(b);
    } else if (op < 60) {
      ok = h->sync();
    } else if (op < 68 && m.last() > m.snap_index) {
      const uint64_t from = m.snap_index + 1 + rng() % (m.last() - m.snap_index + 1);
      ++term;
      ok = h->truncate_suffix(from);
    } else if (op < 76 && m.last() > m.snap_index) {
      const uint64_t upto = m.snap_index + 1 + rng() % (m.last() - m.snap_index);
      ok = h->compact_prefix(upto, m.log.at(upto).term);
    } else if (op < 79) {
      ++term;
      ok = h->reset_to_snapshot(m.last() + rng() % 50, term);
    } else if (op < 86) {
      ok = h->set_hard_state({term, rng() % 5, m.snap_index + rng() % 10});
    } else if (op < 93) {
      // Clean reopen: nothing is lost, not even unsynced appends.
      const ModelState before = h->current();
      h.reset();
      log.reset();
      auto again = Log::open(kDir, options_for(fs.get()));
      ASSERT_TRUE(again.ok()) << where << ": " << again.error();
      log = std::move(*again);
      h = std::make_unique<Harness>(log.get());
      h->adopt(read_back(*log));
      ASSERT_EQ(h->current().log, before.log) << where;
    } else {
      // Power cut: unsynced bytes vanish; the acknowledged state must not.
      const Image image = fs->crash_image(CrashMode::lose_unsynced);
      auto next_fs = std::make_unique<FaultFs>(image);
      auto again = Log::open(kDir, options_for(next_fs.get()));
      ASSERT_TRUE(again.ok()) << where << ": " << again.error();
      const ModelState recovered = read_back(**again);
      ASSERT_EQ(h->check_recovered(recovered, false), "") << where;
      h.reset();
      log = std::move(*again);
      fs = std::move(next_fs);
      h = std::make_unique<Harness>(log.get());
      h->adopt(recovered);
    }
    ASSERT_TRUE(ok) << where << ": " << to_string(log->last_error());
    expect_matches(*log, h->current(), rng, where);
  }
}

TEST(WalProperty, RandomWorkloadsMatchTheModelAcrossReopensAndPowerCuts) {
  const uint64_t seeds = seed_count();
  for (uint64_t seed = 1; seed <= seeds; ++seed) {
    run_seed(seed);
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace raftdns::wal::testing
