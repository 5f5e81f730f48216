// Behaviour of the Log API that the Raft driver relies on, on a real disk and the fault layer.
#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>

#include "tests/wal/fault_fs.h"
#include "tests/wal/model.h"
#include "wal/log.h"

namespace raftdns::wal::testing {
namespace {

namespace fs = std::filesystem;

// A fresh directory under /tmp, removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "wal_test.XXXXXX").string();
    path_ = ::mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path_); }
  std::string wal() const { return path_ + "/wal"; }
  std::size_t count(const std::string& suffix) const {
    std::size_t n = 0;
    for (const auto& e : fs::directory_iterator(wal())) n += e.path().string().ends_with(suffix);
    return n;
  }

 private:
  std::string path_;
};

Options quiet(uint64_t segment_size = 1ull << 20) {
  Options o;
  o.segment_size = segment_size;
  o.log = [](const std::string&) {};
  return o;
}

std::vector<Entry> batch(uint64_t first, uint64_t count, uint64_t term, std::size_t size = 100) {
  std::vector<Entry> out;
  for (uint64_t i = first; i < first + count; ++i) out.push_back(make_entry(i, term, size));
  return out;
}

std::unique_ptr<Log> open_ok(const std::string& dir, Options o) {
  auto log = Log::open(dir, std::move(o));
  EXPECT_TRUE(log.ok()) << log.error();
  return log.ok() ? std::move(*log) : nullptr;
}

TEST(WalLog, FreshLogIsEmptyAtIndexZero) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  EXPECT_EQ(log->first_index(), 1u);
  EXPECT_EQ(log->last_index(), 0u);
  EXPECT_EQ(*log->term(0), 0u);
  EXPECT_EQ(log->hard_state(), HardState{});
}

TEST(WalLog, SyncedEntriesAndHardStateReadBackAfterReopen) {
  TempDir dir;
  const auto entries = batch(1, 50, 3);
  {
    auto log = open_ok(dir.wal(), quiet());
    ASSERT_TRUE(log->append(entries).ok());
    ASSERT_TRUE(log->sync().ok());
    ASSERT_TRUE(log->set_hard_state({3, 2, 40}).ok());
  }
  auto log = open_ok(dir.wal(), quiet());
  EXPECT_EQ(log->last_index(), 50u);
  EXPECT_EQ(log->hard_state(), (HardState{3, 2, 40}));
  auto back = log->entries(1, 51, UINT64_MAX);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(*back, entries);
}

TEST(WalLog, SyncIsOneFdatasyncForAWholeBatchAndFreeWhenNothingIsPending) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  const uint64_t before = log->fsync_count();
  ASSERT_TRUE(log->append(batch(1, 1000, 1)).ok());
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->fsync_count() - before, 1u);
  ASSERT_TRUE(log->sync().ok());
  EXPECT_EQ(log->fsync_count() - before, 1u);
}

TEST(WalLog, AppendRejectsAnIndexThatDoesNotFollowTheLastOne) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  ASSERT_TRUE(log->append(batch(1, 3, 1)).ok());
  EXPECT_FALSE(log->append(batch(5, 1, 1)).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::invalid_argument);
  EXPECT_FALSE(log->append(batch(3, 1, 1)).ok());
  auto gappy = batch(4, 1, 1);
  gappy.push_back(make_entry(6, 1, 10));
  EXPECT_FALSE(log->append(gappy).ok());
  EXPECT_EQ(log->last_index(), 3u);
  EXPECT_TRUE(log->append(batch(4, 1, 1)).ok());  // still usable
  EXPECT_FALSE(log->poisoned());
}

TEST(WalLog, EntriesStopAtMaxBytesButAlwaysReturnOne) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  ASSERT_TRUE(log->append(batch(1, 10, 1, 100)).ok());
  auto one = log->entries(1, 11, 0);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one->size(), 1u);
  auto three = log->entries(2, 11, 350);
  ASSERT_TRUE(three.ok());
  ASSERT_EQ(three->size(), 3u);
  EXPECT_EQ((*three)[0].index, 2u);
  auto all = log->entries(1, 11, 1000);
  ASSERT_TRUE(all.ok());
  EXPECT_EQ(all->size(), 10u);
}

TEST(WalLog, EntriesBudgetEndingAtASegmentBoundaryStopsThere) {
  FaultFs fault;
  Options o = quiet(4096);
  o.fs = &fault;
  auto log = open_ok("/data/wal", o);
  ASSERT_TRUE(log->append(batch(1, 60, 1, 100)).ok());
  // 136-byte records after a 64-byte header: entries 1..29 fill the first segment.
  auto got = log->entries(1, 61, 29 * 100);
  ASSERT_TRUE(got.ok()) << got.error();
  ASSERT_EQ(got->size(), 29u);
  EXPECT_EQ(got->back(), make_entry(29, 1, 100));
  auto across = log->entries(20, 61, 20 * 100);
  ASSERT_TRUE(across.ok()) << across.error();
  EXPECT_EQ(*across, batch(20, 20, 1, 100));
}

TEST(WalLog, ReadsBelowTheSnapshotAreCompactedAndPastTheEndUnavailable) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  ASSERT_TRUE(log->append(batch(1, 20, 2)).ok());
  ASSERT_TRUE(log->compact_prefix(10, 2).ok());
  EXPECT_EQ(log->first_index(), 11u);
  EXPECT_EQ(log->snapshot_term(), 2u);

  auto below = log->entries(10, 12, UINT64_MAX);
  ASSERT_FALSE(below.ok());
  EXPECT_EQ(log->last_error(), ErrorCode::compacted);
  EXPECT_EQ(below.error().rfind("wal: compacted:", 0), 0u) << below.error();

  auto past = log->entries(15, 22, UINT64_MAX);
  ASSERT_FALSE(past.ok());
  EXPECT_EQ(log->last_error(), ErrorCode::unavailable);
  EXPECT_EQ(past.error().rfind("wal: unavailable:", 0), 0u) << past.error();

  EXPECT_EQ(*log->term(10), 2u);  // the snapshot's own index still has a term
  EXPECT_FALSE(log->term(9).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::compacted);
  EXPECT_FALSE(log->term(21).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::unavailable);
  EXPECT_TRUE(log->entries(11, 21, UINT64_MAX).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::ok);
}

TEST(WalLog, TruncatedSuffixStaysGoneAfterReopenAndIsReplaced) {
  TempDir dir;
  {
    auto log = open_ok(dir.wal(), quiet(8192));
    ASSERT_TRUE(log->append(batch(1, 200, 1)).ok());  // several segments
    ASSERT_TRUE(log->sync().ok());
    ASSERT_TRUE(log->truncate_suffix(30).ok());
    EXPECT_EQ(log->last_index(), 29u);
    ASSERT_TRUE(log->append(batch(30, 5, 2)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open_ok(dir.wal(), quiet(8192));
  EXPECT_EQ(log->last_index(), 34u);
  EXPECT_EQ(*log->term(29), 1u);
  EXPECT_EQ(*log->term(30), 2u);
  auto e = log->entries(30, 35, UINT64_MAX);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(*e, batch(30, 5, 2));
}

TEST(WalLog, TruncateBelowTheSnapshotIsRefused) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  ASSERT_TRUE(log->append(batch(1, 10, 1)).ok());
  ASSERT_TRUE(log->compact_prefix(5, 1).ok());
  EXPECT_FALSE(log->truncate_suffix(5).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::compacted);
  EXPECT_FALSE(log->truncate_suffix(12).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::unavailable);
  EXPECT_TRUE(log->truncate_suffix(6).ok());
  EXPECT_EQ(log->last_index(), 5u);
}

TEST(WalLog, CompactionDeletesWholeSegmentsOnlyAndSurvivesReopen) {
  TempDir dir;
  {
    auto log = open_ok(dir.wal(), quiet(8192));
    ASSERT_TRUE(log->append(batch(1, 300, 1)).ok());
    const std::size_t segments = dir.count(".wal");
    ASSERT_GE(segments, 4u);
    const uint64_t bytes = log->size_bytes();
    ASSERT_TRUE(log->compact_prefix(150, 1).ok());
    EXPECT_LT(dir.count(".wal"), segments);
    EXPECT_GT(dir.count(".wal"), 1u);
    EXPECT_LT(log->size_bytes(), bytes);
  }
  auto log = open_ok(dir.wal(), quiet(8192));
  EXPECT_EQ(log->snapshot_index(), 150u);
  EXPECT_EQ(log->first_index(), 151u);
  EXPECT_EQ(log->last_index(), 300u);
  auto e = log->entries(151, 301, UINT64_MAX);
  ASSERT_TRUE(e.ok()) << e.error();
  EXPECT_EQ(*e, batch(151, 150, 1));
}

TEST(WalLog, CompactionWithTheWrongTermIsRefused) {
  TempDir dir;
  auto log = open_ok(dir.wal(), quiet());
  ASSERT_TRUE(log->append(batch(1, 10, 4)).ok());
  EXPECT_FALSE(log->compact_prefix(5, 3).ok());
  EXPECT_EQ(log->last_error(), ErrorCode::invalid_argument);
  EXPECT_EQ(log->snapshot_index(), 0u);
}

TEST(WalLog, ResetToSnapshotDropsEverythingAndContinuesAfterIt) {
  TempDir dir;
  {
    auto log = open_ok(dir.wal(), quiet(8192));
    ASSERT_TRUE(log->append(batch(1, 200, 1)).ok());
    ASSERT_TRUE(log->reset_to_snapshot(1000, 7).ok());
    EXPECT_EQ(dir.count(".wal"), 1u);
    EXPECT_EQ(log->first_index(), 1001u);
    EXPECT_EQ(log->last_index(), 1000u);
    EXPECT_EQ(*log->term(1000), 7u);
    EXPECT_FALSE(log->append(batch(201, 1, 1)).ok());
    ASSERT_TRUE(log->append(batch(1001, 3, 7)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open_ok(dir.wal(), quiet(8192));
  EXPECT_EQ(log->snapshot_index(), 1000u);
  EXPECT_EQ(log->last_index(), 1003u);
  EXPECT_EQ(*log->entries(1001, 1004, UINT64_MAX), batch(1001, 3, 7));
}

TEST(WalLog, HardStateKeepsItsNewestValueAcrossManyUpdatesAndMetaRewrites) {
  TempDir dir;
  Options o = quiet();
  o.meta_size = 512;  // seven records per file: forces rewrites
  {
    auto log = open_ok(dir.wal(), o);
    for (uint64_t t = 1; t <= 40; ++t) ASSERT_TRUE(log->set_hard_state({t, t % 3, t * 2}).ok());
  }
  auto log = open_ok(dir.wal(), o);
  EXPECT_EQ(log->hard_state(), (HardState{40, 1, 80}));
  EXPECT_EQ(dir.count(".tmp"), 0u);
}

TEST(WalLog, EntryLargerThanASegmentGetsASegmentOfItsOwn) {
  TempDir dir;
  std::vector<Entry> entries{make_entry(1, 1, 10), make_entry(2, 1, 20000), make_entry(3, 1, 10)};
  {
    auto log = open_ok(dir.wal(), quiet(8192));
    ASSERT_TRUE(log->append(entries).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  auto log = open_ok(dir.wal(), quiet(8192));
  EXPECT_EQ(*log->entries(1, 4, UINT64_MAX), entries);
}

TEST(WalLog, FailedFsyncPoisonsTheLogAndIsNeverRetried) {
  FaultFs fault;
  Options o = quiet(8192);
  o.fs = &fault;
  auto log = open_ok("/data/wal", o);
  ASSERT_TRUE(log->append(batch(1, 5, 1)).ok());
  fault.arm_sync_error(fault.points() + 1);  // the point after the append's pwrite... is sync's
  ASSERT_TRUE(log->append(batch(6, 1, 1)).ok());
  auto s = log->sync();
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("Input/output error"), std::string::npos) << s.error();
  EXPECT_TRUE(log->poisoned());
  EXPECT_FALSE(log->sync().ok());
  EXPECT_EQ(log->last_error(), ErrorCode::poisoned);
  EXPECT_FALSE(log->append(batch(7, 1, 1)).ok());
  EXPECT_FALSE(log->set_hard_state({1, 1, 1}).ok());
  EXPECT_FALSE(log->entries(1, 2, 100).ok());
  EXPECT_FALSE(log->term(1).ok());
  EXPECT_EQ(fault.syncs_after_error(), 0u);
}

TEST(WalLog, OpenFailsWhenTheMetaFileIsMissingButSegmentsExist) {
  TempDir dir;
  {
    auto log = open_ok(dir.wal(), quiet());
    ASSERT_TRUE(log->append(batch(1, 3, 1)).ok());
  }
  fs::remove(dir.wal() + "/meta");
  auto log = Log::open(dir.wal(), quiet());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().find("meta file is missing"), std::string::npos) << log.error();
}

TEST(WalLog, CorruptionOnRealDiskNamesFileOffsetAndReason) {
  TempDir dir;
  std::string segment;
  {
    auto log = open_ok(dir.wal(), quiet());
    ASSERT_TRUE(log->append(batch(1, 3, 1, 100)).ok());
    ASSERT_TRUE(log->append(batch(4, 3, 1, 100)).ok());
    ASSERT_TRUE(log->sync().ok());
  }
  for (const auto& e : fs::directory_iterator(dir.wal())) {
    if (e.path().string().ends_with(".wal")) segment = e.path().string();
  }
  {
    // Flip one bit in the payload of the second record (offset 64 + 136).
    FILE* f = std::fopen(segment.c_str(), "r+b");
    ASSERT_NE(f, nullptr);
    std::fseek(f, 64 + 136 + 40, SEEK_SET);
    int c = std::fgetc(f);
    std::fseek(f, 64 + 136 + 40, SEEK_SET);
    std::fputc(c ^ 0x20, f);
    std::fclose(f);
  }
  auto log = Log::open(dir.wal(), quiet());
  ASSERT_FALSE(log.ok());
  EXPECT_NE(log.error().find(segment), std::string::npos) << log.error();
  EXPECT_NE(log.error().find("offset 200"), std::string::npos) << log.error();
  EXPECT_NE(log.error().find("payload checksum mismatch (index 2)"), std::string::npos)
      << log.error();
}

}  // namespace
}  // namespace raftdns::wal::testing
