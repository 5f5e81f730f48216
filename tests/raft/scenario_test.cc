// Scenario tests: scripted cluster interactions that read like the paper's figures.
#include <gtest/gtest.h>

#include <string>

#include "replication/core/raft.h"
#include "tests/raft/network.h"

namespace raftdns::raft {
namespace {

using testing::bytes;
using testing::Network;

Network::Tweak no_pre_vote_no_check_quorum = [](Config& c) {
  c.pre_vote = false;
  c.check_quorum = false;
};
Network::Tweak no_pre_vote = [](Config& c) { c.pre_vote = false; };

// Elects `id` and lets the cluster settle.
void elect(Network& net, uint64_t id) {
  net.campaign(id);
  ASSERT_EQ(net.node(id).role(), Role::leader);
}

// Ticks every node until some node leads, or fails after `max_ticks`.
uint64_t tick_until_leader(Network& net, int max_ticks = 200) {
  for (int i = 0; i < max_ticks; ++i) {
    if (uint64_t l = net.leader(); l != kNoNode) return l;
    net.tick_all(1);
  }
  return net.leader();
}

TEST(RaftScenario, DisruptiveRejoiningNodeDeposesLeaderWithoutPreVote) {
  Network net({1, 2, 3}, no_pre_vote_no_check_quorum);
  elect(net, 1);
  const uint64_t term = net.node(1).term();

  net.isolate(3);
  net.tick(3, 100);  // alone, node 3 keeps campaigning and its term keeps rising
  net.stabilize();
  EXPECT_GT(net.node(3).term(), term + 1);

  net.heal();
  net.tick(3, 40);  // its next vote request reaches the others at its inflated term
  net.stabilize();
  EXPECT_NE(net.node(1).role(), Role::leader) << "the healthy leader was deposed";
  EXPECT_GT(net.node(1).term(), term);
}

TEST(RaftScenario, DisruptiveRejoiningNodeIsHarmlessWithPreVote) {
  Network net({1, 2, 3});
  elect(net, 1);
  const uint64_t term = net.node(1).term();
  ASSERT_TRUE(net.propose(1, "while 3 is connected").ok());

  net.isolate(3);
  net.tick(3, 100);  // pre-elections fail without raising node 3's term
  net.stabilize();
  EXPECT_EQ(net.node(3).term(), term);

  net.heal();
  net.tick_all(40);
  EXPECT_EQ(net.leader(), 1u);
  EXPECT_EQ(net.node(1).term(), term) << "no election happened";
  EXPECT_EQ(net.node(3).lead(), 1u);
}

TEST(RaftScenario, LeaderStepsDownWhenItCannotReachQuorum) {
  Network net({1, 2, 3});
  elect(net, 1);
  net.isolate(1);
  // The first CheckQuorum round still counts the answers from before the partition.
  net.tick(1, 10);
  net.stabilize();
  EXPECT_EQ(net.node(1).role(), Role::leader) << "heard from a quorum this round";
  net.tick(1, 10);
  net.stabilize();
  EXPECT_EQ(net.node(1).role(), Role::follower)
      << "CheckQuorum: no quorum heard from for a whole election timeout";
  EXPECT_FALSE(net.node(1).propose(bytes("x")).ok());
}

TEST(RaftScenario, StuckCandidateWithInflatedTermIsFreed) {
  // CheckQuorum without PreVote: the isolated node's term runs ahead, and the leases make
  // the others ignore its vote requests. The leader's stale-term append gets an answer
  // at the higher term, which unsticks everyone.
  Network net({1, 2, 3}, no_pre_vote);
  elect(net, 1);
  net.isolate(3);
  ASSERT_TRUE(net.propose(1, "3 misses this").ok());
  net.tick(3, 60);
  net.stabilize();
  const uint64_t inflated = net.node(3).term();
  ASSERT_EQ(net.node(3).role(), Role::candidate);
  ASSERT_GT(inflated, net.node(1).term());

  net.heal();
  net.tick_all(1);  // a heartbeat reaches 3, whose answer carries the inflated term
  EXPECT_GE(net.node(1).term(), inflated) << "the leader learned the higher term";
  const uint64_t leader = tick_until_leader(net);
  ASSERT_NE(leader, kNoNode);
  EXPECT_NE(leader, 3u) << "3's log is behind: it cannot win";
  net.tick_all(5);
  EXPECT_EQ(net.node(3).role(), Role::follower);
  EXPECT_EQ(net.node(3).lead(), leader);
  EXPECT_EQ(net.node(3).last_index(), net.node(leader).last_index());
}

TEST(RaftScenario, NodeReachingOnlySomePeersDoesNotDeposeHealthyLeader) {
  // 3 can talk to 2 but not to 1. It stops hearing the leader and starts pre-elections,
  // but 2 still hears the leader and ignores them.
  Network net({1, 2, 3});
  elect(net, 1);
  const uint64_t term = net.node(1).term();
  net.cut_both(1, 3);
  for (int round = 0; round < 10; ++round) {
    net.tick_all(20);
    ASSERT_TRUE(net.propose(1, "write " + std::to_string(round)).ok());
  }
  EXPECT_EQ(net.leader(), 1u);
  EXPECT_EQ(net.node(1).term(), term);
  EXPECT_EQ(net.peer(2).applied.size(), 10u) << "the leader and 2 keep committing";
}

TEST(RaftScenario, LeaderTransferToSlowFollowerCatchesItUpFirst) {
  Network net({1, 2, 3});
  elect(net, 1);
  net.isolate(3);
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(net.propose(1, "e" + std::to_string(i)).ok());
  ASSERT_LT(net.node(3).last_index(), net.node(1).last_index());
  net.heal();

  ASSERT_TRUE(net.node(1).transfer_leadership(3).ok());
  EXPECT_FALSE(net.node(1).propose(bytes("during transfer")).ok())
      << "proposals are refused while leadership moves";
  net.stabilize();
  EXPECT_EQ(net.leader(), 3u);
  EXPECT_EQ(net.node(1).lead(), 3u);
  EXPECT_EQ(net.peer(3).applied.size(), 5u);
  ASSERT_TRUE(net.propose(3, "after transfer").ok());
}

TEST(RaftScenario, LeaderTransferTimesOutAndServiceResumes) {
  Network net({1, 2, 3});
  elect(net, 1);
  net.isolate(3);
  ASSERT_TRUE(net.node(1).transfer_leadership(3).ok());
  EXPECT_EQ(net.node(1).status().lead_transferee, 3u);
  EXPECT_FALSE(net.node(1).propose(bytes("x")).ok());
  net.tick(1, 10);  // one election timeout
  net.stabilize();
  EXPECT_EQ(net.node(1).role(), Role::leader);
  EXPECT_EQ(net.node(1).status().lead_transferee, kNoNode);
  EXPECT_TRUE(net.propose(1, "after the transfer gave up").ok());
}

TEST(RaftScenario, FollowerBehindCompactionCatchesUpFromSnapshot) {
  Network net({1, 2, 3});
  elect(net, 1);
  net.isolate(3);
  for (int i = 0; i < 10; ++i) ASSERT_TRUE(net.propose(1, "e" + std::to_string(i)).ok());
  const uint64_t compact_at = net.node(1).committed();
  net.compact(1, compact_at);
  ASSERT_GT(net.storage(1).first_index(), net.node(3).last_index() + 1);

  net.heal();
  net.tick_all(3);
  EXPECT_EQ(net.storage(3).snapshot().value().index, compact_at) << "3 installed the snapshot";
  ASSERT_TRUE(net.propose(1, "after").ok());
  EXPECT_EQ(net.node(3).last_index(), net.node(1).last_index());
  ASSERT_FALSE(net.peer(3).applied.empty());
  EXPECT_EQ(net.peer(3).applied.back(), "after");
  EXPECT_EQ(net.peer(3).applied_index, net.node(1).committed());
}

TEST(RaftScenario, LearnerReplicatesButDoesNotVoteUntilPromoted) {
  Network net({1, 2, 3});
  elect(net, 1);
  ASSERT_TRUE(net.propose(1, "before 4").ok());
  net.add(4, ConfState{{1, 2, 3}, {}});
  ASSERT_TRUE(net.node(1).propose_conf_change({ConfChange::add_learner, 4, {}}).ok());
  net.stabilize();
  EXPECT_EQ(net.peer(1).conf.learners, std::vector<uint64_t>{4});
  EXPECT_EQ(net.peer(4).conf.learners, std::vector<uint64_t>{4});
  ASSERT_TRUE(net.propose(1, "with learner").ok());
  EXPECT_EQ(net.peer(4).applied, (std::vector<std::string>{"before 4", "with learner"}));

  // A learner never campaigns, however long it waits...
  const uint64_t term = net.node(4).term();
  net.isolate(4);
  net.tick(4, 100);
  net.stabilize();
  EXPECT_EQ(net.node(4).role(), Role::follower);
  EXPECT_EQ(net.node(4).term(), term);
  EXPECT_FALSE(net.node(4).campaign().ok());
  net.heal();

  // ...and its acknowledgements do not count towards commitment: with 2 and 3 gone, the
  // leader and the learner are not a quorum.
  net.crash(2);
  net.crash(3);
  ASSERT_TRUE(net.propose(1, "no quorum").ok());
  EXPECT_EQ(net.node(4).last_index(), net.node(1).last_index()) << "the learner has the entry";
  EXPECT_LT(net.node(1).committed(), net.node(1).last_index()) << "but it is not committed";
  net.restart(2);
  net.restart(3);
  net.tick_all(3);
  EXPECT_EQ(net.node(1).committed(), net.node(1).last_index());

  ASSERT_TRUE(net.node(1).propose_conf_change({ConfChange::promote_learner, 4, {}}).ok());
  net.stabilize();
  EXPECT_EQ(net.peer(4).conf.voters, (std::vector<uint64_t>{1, 2, 3, 4}));
  ASSERT_TRUE(net.node(1).transfer_leadership(4).ok());
  net.stabilize();
  EXPECT_EQ(net.leader(), 4u) << "promoted, it can lead";
}

TEST(RaftScenario, AddVoterThenRemoveVoter) {
  Network net({1, 2, 3});
  elect(net, 1);
  net.add(4, ConfState{{1, 2, 3}, {}});
  ASSERT_TRUE(net.node(1).propose_conf_change({ConfChange::add_voter, 4, {}}).ok());
  EXPECT_FALSE(net.node(1).propose_conf_change({ConfChange::add_voter, 5, {}}).ok())
      << "one change at a time: the first is not applied yet";
  net.stabilize();
  for (uint64_t id : {1, 2, 3, 4}) {
    EXPECT_EQ(net.peer(id).conf.voters, (std::vector<uint64_t>{1, 2, 3, 4})) << "node " << id;
  }
  // With four voters a quorum is three: 1 and 4 alone cannot commit.
  net.crash(2);
  net.crash(3);
  ASSERT_TRUE(net.propose(1, "needs three").ok());
  EXPECT_LT(net.node(1).committed(), net.node(1).last_index());
  net.restart(2);
  net.tick_all(2);
  EXPECT_EQ(net.node(1).committed(), net.node(1).last_index());

  ASSERT_TRUE(net.node(1).propose_conf_change({ConfChange::remove_voter, 3, {}}).ok());
  net.stabilize();
  EXPECT_EQ(net.peer(1).conf.voters, (std::vector<uint64_t>{1, 2, 4}));
  ASSERT_TRUE(net.propose(1, "three voters again").ok());
  EXPECT_EQ(net.peer(4).applied.back(), "three voters again");
}

TEST(RaftScenario, RemovedLeaderStepsDownAndTheRestElectASuccessor) {
  Network net({1, 2, 3});
  elect(net, 1);
  ASSERT_TRUE(net.node(1).propose_conf_change({ConfChange::remove_voter, 1, {}}).ok());
  net.stabilize();
  EXPECT_EQ(net.node(1).role(), Role::follower) << "a removed leader steps down";
  EXPECT_EQ(net.peer(2).conf.voters, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(net.peer(3).conf.voters, (std::vector<uint64_t>{2, 3}));
  const uint64_t leader = tick_until_leader(net);
  ASSERT_TRUE(leader == 2 || leader == 3) << "leader " << leader;
  ASSERT_TRUE(net.propose(leader, "after removal").ok());
  EXPECT_EQ(net.peer(2).applied.back(), "after removal");
  net.tick_all(50);
  EXPECT_NE(net.node(1).role(), Role::leader) << "the removed node never campaigns";
}

TEST(RaftScenario, ConfChangeWaitsForLeaderToCommitInItsTerm) {
  Network net({1, 2, 3});
  ASSERT_TRUE(net.node(1).campaign().ok());
  // Deliver the votes but not the appends: node 1 leads without having committed its
  // term's first entry.
  net.set_drop([](const Message& m) { return m.type == MessageType::app_resp; });
  net.stabilize();
  ASSERT_EQ(net.node(1).role(), Role::leader);
  Status s = net.node(1).propose_conf_change({ConfChange::remove_voter, 3, {}});
  EXPECT_FALSE(s.ok());
  EXPECT_NE(s.error().find("committed an entry of its term"), std::string::npos) << s.error();
  net.heal();
  net.tick_all(1);
  EXPECT_TRUE(net.node(1).propose_conf_change({ConfChange::remove_voter, 3, {}}).ok());
}

TEST(RaftScenario, ReadIndexOnLeaderAndFollowerAnswersAtCommitIndex) {
  Network net({1, 2, 3});
  elect(net, 1);
  ASSERT_TRUE(net.propose(1, "x").ok());
  ASSERT_TRUE(net.node(1).read_index(bytes("leader-read")).ok());
  net.stabilize();
  ASSERT_EQ(net.peer(1).reads.size(), 1u);
  EXPECT_EQ(testing::text(net.peer(1).reads[0].context), "leader-read");
  EXPECT_EQ(net.peer(1).reads[0].index, net.node(1).committed());

  ASSERT_TRUE(net.node(2).read_index(bytes("follower-read")).ok());
  net.stabilize();
  ASSERT_EQ(net.peer(2).reads.size(), 1u);
  EXPECT_EQ(net.peer(2).reads[0].index, net.node(1).committed());
}

TEST(RaftScenario, ReadIndexIsNotAnsweredByPartitionedLeader) {
  Network net({1, 2, 3});
  elect(net, 1);
  net.isolate(1);
  ASSERT_TRUE(net.node(1).read_index(bytes("r")).ok());
  net.stabilize();
  EXPECT_TRUE(net.peer(1).reads.empty()) << "no quorum confirmed the leadership";
  net.heal();
  net.tick_all(1);
  EXPECT_EQ(net.peer(1).reads.size(), 1u) << "the next heartbeat round confirms it";
}

TEST(RaftScenario, ProposalOnFollowerFailsNamingTheLeader) {
  Network net({1, 2, 3});
  elect(net, 1);
  Status s = net.node(2).propose(bytes("x"));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().find("not the leader"), std::string::npos);
  EXPECT_NE(s.error().find("node 1"), std::string::npos) << s.error();
}

TEST(RaftScenario, RestartedNodeKeepsTermVoteAndLog) {
  Network net({1, 2, 3});
  elect(net, 1);
  ASSERT_TRUE(net.propose(1, "durable").ok());
  const auto st = net.node(2).status();
  net.restart(2);
  EXPECT_EQ(net.node(2).term(), st.term);
  EXPECT_EQ(net.node(2).status().vote, st.vote);
  EXPECT_EQ(net.node(2).last_index(), st.last_index);
  net.tick_all(2);
  EXPECT_EQ(net.peer(2).applied.back(), "durable") << "re-applied from the log after restart";
}

TEST(RaftScenario, ForwardedProposalAndTransferRequestReachTheLeader) {
  Network net({1, 2, 3});
  net.campaign(1);
  // A driver on a follower may forward a client's command as a prop message.
  Message prop;
  prop.type = MessageType::prop;
  prop.from = 2;
  prop.to = 1;
  prop.entries = {Entry{0, 0, EntryType::normal, testing::bytes("forwarded")}};
  ASSERT_TRUE(net.node(1).step(prop).ok());
  net.stabilize();
  EXPECT_EQ(net.peer(3).applied.back(), "forwarded");

  // A transfer requested on a follower is forwarded to the leader.
  ASSERT_TRUE(net.node(2).transfer_leadership(2).ok());
  net.stabilize();
  EXPECT_EQ(net.leader(), 2u);
}

}  // namespace
}  // namespace raftdns::raft
