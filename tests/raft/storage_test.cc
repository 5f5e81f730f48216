// MemoryStorage contracts (half-open ranges, named errors) and the flow-control window.
#include <gtest/gtest.h>

#include "replication/core/progress.h"
#include "replication/core/storage.h"

namespace raftdns::raft {
namespace {

MemoryStorage storage_with(uint64_t n) {
  MemoryStorage s;
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= n; ++i) ents.push_back(Entry{i, i, EntryType::normal, {}});
  EXPECT_TRUE(s.append(ents).ok());
  return s;
}

TEST(RaftStorage, EntriesIsHalfOpenAndNamesItsErrors) {
  MemoryStorage s = storage_with(5);
  auto got = s.entries(2, 4, UINT64_MAX);
  ASSERT_TRUE(got.ok());
  ASSERT_EQ(got.value().size(), 2u);
  EXPECT_EQ(got.value()[0].index, 2u);
  EXPECT_EQ(got.value()[1].index, 3u);
  EXPECT_EQ(s.entries(3, 7, UINT64_MAX).error(), StorageError::unavailable);
  ASSERT_TRUE(s.create_snapshot(3, ConfState{{1}, {}}).ok());
  ASSERT_TRUE(s.compact(3).ok());
  EXPECT_EQ(s.entries(3, 5, UINT64_MAX).error(), StorageError::compacted);
  EXPECT_EQ(s.term(2).error(), StorageError::compacted);
  EXPECT_EQ(s.term(3).value(), 3u) << "the compaction point's term is remembered";
  EXPECT_EQ(s.first_index(), 4u);
  EXPECT_EQ(s.last_index(), 5u);
}

TEST(RaftStorage, EntriesRespectsByteLimitButReturnsAtLeastOne) {
  MemoryStorage s = storage_with(5);
  auto one = s.entries(1, 6, 0);
  ASSERT_TRUE(one.ok());
  EXPECT_EQ(one.value().size(), 1u);
  auto two = s.entries(1, 6, 2 * entry_size(Entry{}));
  EXPECT_EQ(two.value().size(), 2u);
}

TEST(RaftStorage, AppendReplacesConflictingSuffixAndRefusesGaps) {
  MemoryStorage s = storage_with(5);
  ASSERT_TRUE(s.append({Entry{3, 9, EntryType::normal, {}}}).ok());
  EXPECT_EQ(s.last_index(), 3u);
  EXPECT_EQ(s.term(3).value(), 9u);
  EXPECT_FALSE(s.append({Entry{6, 9, EntryType::normal, {}}}).ok());
}

TEST(RaftStorage, CompactingPastTheSnapshotIsRefused) {
  MemoryStorage s = storage_with(5);
  EXPECT_FALSE(s.compact(2).ok()) << "no snapshot covers index 2 yet";
  ASSERT_TRUE(s.create_snapshot(2, ConfState{}).ok());
  EXPECT_TRUE(s.compact(2).ok());
}

TEST(RaftStorage, ApplySnapshotReplacesTheLog) {
  MemoryStorage s = storage_with(5);
  ASSERT_TRUE(s.apply_snapshot(SnapshotMeta{10, 4, ConfState{{1, 2}, {}}}).ok());
  EXPECT_EQ(s.first_index(), 11u);
  EXPECT_EQ(s.last_index(), 10u);
  EXPECT_EQ(s.term(10).value(), 4u);
  EXPECT_EQ(s.initial_state().conf_state.voters, (std::vector<uint64_t>{1, 2}));
  EXPECT_FALSE(s.apply_snapshot(SnapshotMeta{9, 4, {}}).ok()) << "older snapshots are refused";
}

TEST(RaftInflights, WindowFillsByCountAndBytesAndFreesInOrder) {
  Inflights by_count(3, 0);
  by_count.add(1, 10);
  by_count.add(2, 10);
  EXPECT_FALSE(by_count.full());
  by_count.add(5, 10);
  EXPECT_TRUE(by_count.full());
  by_count.free_le(2);
  EXPECT_EQ(by_count.count(), 1u);
  EXPECT_FALSE(by_count.full());

  Inflights by_bytes(100, 25);
  by_bytes.add(1, 10);
  EXPECT_FALSE(by_bytes.full());
  by_bytes.add(2, 20);
  EXPECT_TRUE(by_bytes.full());
  by_bytes.free_first_one();
  EXPECT_EQ(by_bytes.bytes(), 20u);
}

TEST(RaftProgress, ProbeSendsOneAppendPerRoundTrip) {
  Progress pr(5, 10, 0, false);
  EXPECT_FALSE(pr.is_paused());
  pr.sent_entries(3, 7, 30);
  EXPECT_TRUE(pr.is_paused());
  EXPECT_EQ(pr.next, 5u) << "probing does not advance next optimistically";
  EXPECT_TRUE(pr.maybe_update(7));
  pr.become_replicate();
  EXPECT_EQ(pr.next, 8u);
  pr.sent_entries(2, 9, 20);
  EXPECT_EQ(pr.next, 10u) << "replicating streams ahead";
}

TEST(RaftProgress, StaleRejectionsAreIgnored) {
  Progress pr(10, 10, 0, false);
  pr.match = 4;
  EXPECT_FALSE(pr.maybe_decrease_to(5, 3)) << "probe state: only the last probe (at 9) counts";
  EXPECT_TRUE(pr.maybe_decrease_to(9, 6));
  EXPECT_EQ(pr.next, 7u);
  pr.become_replicate();
  EXPECT_FALSE(pr.maybe_decrease_to(4, 0)) << "rejection at or below match is stale";
}

}  // namespace
}  // namespace raftdns::raft
