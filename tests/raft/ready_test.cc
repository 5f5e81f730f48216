// The Ready contract (what to persist, when to sync, what to send and apply) and loud invariants.
#include <gtest/gtest.h>

#include <memory>

#include "replication/core/raft.h"
#include "tests/raft/network.h"

namespace raftdns::raft {
namespace {

using testing::bytes;
using testing::Network;

Config config_for(uint64_t id, Storage* storage) {
  Config c;
  c.id = id;
  c.storage = storage;
  c.pre_vote = false;
  return c;
}

TEST(RaftReady, VoteIsPersistedAndSyncedBeforeTheGrantIsSent) {
  MemoryStorage storage(ConfState{{1, 2, 3}, {}});
  Node node(config_for(1, &storage));
  Message vote;
  vote.type = MessageType::vote;
  vote.from = 2;
  vote.to = 1;
  vote.term = 1;
  ASSERT_TRUE(node.step(vote).ok());
  Ready rd = node.ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_EQ(rd.hard_state->vote, 2u);
  EXPECT_EQ(rd.hard_state->term, 1u);
  EXPECT_TRUE(rd.must_sync) << "a vote must be durable before the grant leaves";
  ASSERT_EQ(rd.messages.size(), 1u);
  EXPECT_EQ(rd.messages[0].type, MessageType::vote_resp);
  node.advance(rd);
}

TEST(RaftReady, CommitOnlyChangeNeedsNoSync) {
  Network net({1, 2, 3});
  net.campaign(1);
  ASSERT_TRUE(net.node(1).propose(bytes("x")).ok());
  net.process(1);
  // Followers append (sync) and acknowledge; the leader's commit then moves alone.
  for (int i = 0; i < 2; ++i) {
    net.deliver_round();
    net.process(2);
    net.process(3);
  }
  net.deliver_round();
  ASSERT_TRUE(net.node(1).has_ready());
  Ready rd = net.node(1).ready();
  ASSERT_TRUE(rd.hard_state.has_value());
  EXPECT_TRUE(rd.entries.empty());
  EXPECT_FALSE(rd.must_sync) << "a lost commit index is re-learned from the leader";
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  net.node(1).advance(rd);
}

TEST(RaftReady, LeaderEntriesAreHandedOutForPersistenceWithTheirAppends) {
  Network net({1, 2, 3});
  net.campaign(1);
  ASSERT_TRUE(net.node(1).propose(bytes("x")).ok());
  Ready rd = net.node(1).ready();
  ASSERT_EQ(rd.entries.size(), 1u);
  EXPECT_EQ(testing::text(rd.entries[0].data), "x");
  EXPECT_TRUE(rd.must_sync);
  size_t appends = 0;
  for (const Message& m : rd.messages) appends += m.type == MessageType::app ? 1 : 0;
  EXPECT_EQ(appends, 2u);
  EXPECT_TRUE(rd.committed_entries.empty()) << "not committed before a follower has it";
  net.node(1).advance(rd);
}

TEST(RaftReady, ProposeBatchSendsOneAppendPerFollower) {
  Network net({1, 2, 3});
  net.campaign(1);
  ASSERT_TRUE(net.node(1).propose_batch({bytes("a"), bytes("b"), bytes("c")}).ok());
  Ready rd = net.node(1).ready();
  EXPECT_EQ(rd.entries.size(), 3u);
  ASSERT_EQ(rd.messages.size(), 2u);
  EXPECT_EQ(rd.messages[0].entries.size(), 3u);
  ASSERT_TRUE(net.storage(1).append(rd.entries).ok());
  for (const Message& m : rd.messages) net.enqueue(m);
  net.node(1).advance(rd);
  net.stabilize();
  EXPECT_EQ(net.peer(3).applied, (std::vector<std::string>{"a", "b", "c"}));
}

TEST(RaftReady, AppliedIndexFromConfigIsNotHandedOutAgain) {
  MemoryStorage storage(ConfState{{1}, {}});
  std::vector<Entry> ents;
  for (uint64_t i = 1; i <= 5; ++i) ents.push_back(Entry{i, 1, EntryType::normal, bytes("e")});
  ASSERT_TRUE(storage.append(ents).ok());
  storage.set_hard_state(HardState{1, 1, 5});
  Config c = config_for(1, &storage);
  c.applied = 3;
  Node node(c);
  Ready rd = node.ready();
  ASSERT_EQ(rd.committed_entries.size(), 2u);
  EXPECT_EQ(rd.committed_entries[0].index, 4u);
  node.advance(rd);
}

TEST(RaftReady, InvalidConfigIsReportedByName) {
  MemoryStorage storage;
  Config c = config_for(0, &storage);
  Status s = validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("id"), std::string::npos);
  c.id = 1;
  c.election_tick = 1;
  c.heartbeat_tick = 1;
  s = validate(c);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("election_tick"), std::string::npos);
}

TEST(RaftReady, MessagesForAnotherNodeOrFromStrangersAreRefused) {
  MemoryStorage storage(ConfState{{1, 2, 3}, {}});
  Node node(config_for(1, &storage));
  Message m;
  m.type = MessageType::heartbeat;
  m.from = 2;
  m.to = 5;
  m.term = 1;
  EXPECT_FALSE(node.step(m).ok());
  m.to = 1;
  m.type = MessageType::app_resp;
  m.from = 9;
  Status s = node.step(m);
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("not a member"), std::string::npos) << s.error();
}

TEST(RaftReadyDeathTest, ReadyTwiceWithoutAdvanceAborts) {
  MemoryStorage storage(ConfState{{1}, {}});
  Node node(config_for(1, &storage));
  ASSERT_TRUE(node.campaign().ok());
  Ready rd = node.ready();
  EXPECT_DEATH((void)node.ready(),
               "raft invariant broken at .*ready\\(\\) called again before advance");
}

TEST(RaftReadyDeathTest, CommitIndexBeyondTheLogAborts) {
  MemoryStorage storage(ConfState{{1, 2, 3}, {}});
  ASSERT_TRUE(storage.append({Entry{1, 1, EntryType::normal, {}}}).ok());
  storage.set_hard_state(HardState{1, 0, 9});  // the log lost synced entries
  EXPECT_DEATH(Node node(config_for(1, &storage)), "commit index 9 is beyond the last log index 1");
}

TEST(RaftReadyDeathTest, HeartbeatCommittingPastTheLogAborts) {
  // A leader only ever sends min(match, commit); anything else means corrupt state.
  MemoryStorage storage(ConfState{{1, 2, 3}, {}});
  ASSERT_TRUE(
      storage.append({Entry{1, 1, EntryType::normal, {}}, Entry{2, 1, EntryType::normal, {}}})
          .ok());
  storage.set_hard_state(HardState{1, 0, 0});
  Node node(config_for(1, &storage));
  Message hb;
  hb.type = MessageType::heartbeat;
  hb.from = 2;
  hb.to = 1;
  hb.term = 1;
  hb.commit = 9;
  EXPECT_DEATH((void)node.step(hb), "commit index 9 is beyond the last index 2");
}

TEST(RaftSnapshot, FailedSnapshotIsRetriedAfterTheNextHeartbeat) {
  Network net({1, 2, 3});
  net.campaign(1);
  net.isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.propose(1, "e" + std::to_string(i)).ok());
  net.compact(1, net.node(1).committed());
  net.heal();
  // The first snapshot is lost in transit; the leader hears about it and tries again.
  int snaps = 0;
  net.set_drop([&snaps](const Message& m) { return m.type == MessageType::snap && snaps++ == 0; });
  net.tick_all(3);
  EXPECT_GE(snaps, 2);
  EXPECT_EQ(net.storage(3).snapshot().value().index, net.node(1).committed());
  EXPECT_EQ(net.node(3).last_index(), net.node(1).last_index());
}

}  // namespace
}  // namespace raftdns::raft
