// Paper tests: one test per claim of the Raft paper (Ongaro & Ousterhout 2014), citing the section.
#include <gtest/gtest.h>

#include <memory>
#include <set>
#include <vector>

#include "replication/core/raft.h"
#include "tests/raft/network.h"

namespace raftdns::raft {
namespace {

using testing::Network;

std::vector<Entry> log_with_terms(const std::vector<uint64_t>& terms) {
  std::vector<Entry> out;
  for (size_t i = 0; i < terms.size(); ++i)
    out.push_back(Entry{i + 1, terms[i], EntryType::normal, {}});
  return out;
}

Message msg(MessageType type, uint64_t from, uint64_t to, uint64_t term) {
  Message m;
  m.type = type;
  m.from = from;
  m.to = to;
  m.term = term;
  return m;
}

// One node driven by hand: the test plays every peer.
struct Solo {
  MemoryStorage storage;
  std::unique_ptr<Node> node;

  Solo(uint64_t id, const std::vector<uint64_t>& voters, const std::vector<uint64_t>& terms = {},
       HardState hs = {}, bool pre_vote = false, bool check_quorum = false)
      : storage(ConfState{voters, {}}) {
    EXPECT_TRUE(storage.append(log_with_terms(terms)).ok());
    storage.set_hard_state(hs);
    Config c;
    c.id = id;
    c.storage = &storage;
    c.pre_vote = pre_vote;
    c.check_quorum = check_quorum;
    c.seed = 7;
    node = std::make_unique<Node>(c);
  }

  // One Ready cycle under the contract; returns the messages sent.
  std::vector<Message> drain() {
    std::vector<Message> out;
    while (node->has_ready()) {
      Ready rd = node->ready();
      EXPECT_TRUE(storage.append(rd.entries).ok());
      if (rd.hard_state) storage.set_hard_state(*rd.hard_state);
      out.insert(out.end(), rd.messages.begin(), rd.messages.end());
      node->advance(rd);
    }
    return out;
  }

  void step(const Message& m) { ASSERT_TRUE(node->step(m).ok()); }

  // Elects this node in a 3-voter cluster with peer 2's vote.
  void elect() {
    ASSERT_TRUE(node->campaign().ok());
    drain();
    Message grant = msg(MessageType::vote_resp, 2, node->id(), node->term());
    step(grant);
    ASSERT_EQ(node->role(), Role::leader);
    drain();
  }

  void tick(int n) {
    for (int i = 0; i < n; ++i) node->tick();
  }
};

std::vector<Message> of_type(const std::vector<Message>& msgs, MessageType t) {
  std::vector<Message> out;
  for (const auto& m : msgs) {
    if (m.type == t) out.push_back(m);
  }
  return out;
}

// §5.1: "If a server receives a request with a stale term number, it rejects the request."
TEST(RaftPaper, StaleTermAppendIsRejected) {
  Solo n(1, {1, 2, 3}, {1, 1}, HardState{3, 0, 0});
  Message app = msg(MessageType::app, 2, 1, 2);
  app.index = 2;
  app.log_term = 1;
  app.entries = {Entry{3, 2, EntryType::normal, testing::bytes("stale")}};
  n.step(app);
  n.drain();
  EXPECT_EQ(n.node->last_index(), 2u);
  EXPECT_EQ(n.node->term(), 3u);
  EXPECT_EQ(n.node->lead(), kNoNode);
}

// §5.1: "If one server's current term is smaller than the other's, then it updates its
// current term to the larger value. If a candidate or leader discovers that its term is
// out of date, it immediately reverts to follower state."
TEST(RaftPaper, LeaderSeeingHigherTermRevertsToFollower) {
  Solo n(1, {1, 2, 3});
  n.elect();
  const uint64_t term = n.node->term();
  n.step(msg(MessageType::heartbeat, 3, 1, term + 2));
  EXPECT_EQ(n.node->role(), Role::follower);
  EXPECT_EQ(n.node->term(), term + 2);
  EXPECT_EQ(n.node->lead(), 3u);
}

TEST(RaftPaper, CandidateSeeingHigherTermVoteRequestRevertsToFollower) {
  Solo n(1, {1, 2, 3});
  ASSERT_TRUE(n.node->campaign().ok());
  n.drain();
  ASSERT_EQ(n.node->role(), Role::candidate);
  Message vote = msg(MessageType::vote, 3, 1, 5);
  n.step(vote);
  EXPECT_EQ(n.node->role(), Role::follower);
  EXPECT_EQ(n.node->term(), 5u);
}

// §5.2: "To begin an election, a follower increments its current term and transitions to
// candidate state. It then votes for itself and issues RequestVote RPCs in parallel."
TEST(RaftPaper, FollowerStartsElectionAfterElectionTimeout) {
  Solo n(1, {1, 2, 3});
  n.tick(2 * 10);  // beyond any randomized timeout in [10, 20)
  auto msgs = n.drain();
  EXPECT_EQ(n.node->role(), Role::candidate);
  EXPECT_EQ(n.node->term(), 1u);
  EXPECT_EQ(n.node->status().vote, 1u);
  auto votes = of_type(msgs, MessageType::vote);
  ASSERT_EQ(votes.size(), 2u);
  EXPECT_EQ(votes[0].to, 2u);
  EXPECT_EQ(votes[1].to, 3u);
  EXPECT_EQ(votes[0].term, 1u);
}

// §5.2: "Raft uses randomized election timeouts ... chosen randomly from a fixed
// interval." Here the interval is [election_tick, 2 * election_tick).
TEST(RaftPaper, ElectionTimeoutIsRandomizedWithinInterval) {
  std::set<int> seen;
  for (uint64_t seed = 0; seed < 200; ++seed) {
    MemoryStorage storage(ConfState{{1, 2, 3}, {}});
    Config c;
    c.id = 1;
    c.storage = &storage;
    c.pre_vote = false;
    c.seed = seed;
    Node node(c);
    int ticks = 0;
    while (node.role() == Role::follower && ticks < 100) {
      node.tick();
      ++ticks;
    }
    EXPECT_GE(ticks, 10);
    EXPECT_LT(ticks, 20);
    seen.insert(ticks);
  }
  EXPECT_GT(seen.size(), 5u) << "timeouts should spread over the interval";
}

// §5.2: "Each server will vote for at most one candidate in a given term, on a
// first-come-first-served basis."
TEST(RaftPaper, OneVotePerTerm) {
  Solo n(1, {1, 2, 3});
  Message from2 = msg(MessageType::vote, 2, 1, 1);
  n.step(from2);
  auto r1 = of_type(n.drain(), MessageType::vote_resp);
  ASSERT_EQ(r1.size(), 1u);
  EXPECT_FALSE(r1[0].reject);

  n.step(msg(MessageType::vote, 3, 1, 1));
  auto r2 = of_type(n.drain(), MessageType::vote_resp);
  ASSERT_EQ(r2.size(), 1u);
  EXPECT_TRUE(r2[0].reject) << "second candidate in the same term must be refused";

  n.step(from2);  // a retransmitted request from the same candidate is granted again
  auto r3 = of_type(n.drain(), MessageType::vote_resp);
  ASSERT_EQ(r3.size(), 1u);
  EXPECT_FALSE(r3[0].reject);
  EXPECT_EQ(n.storage.hard_state().vote, 2u) << "the vote is persisted";
}

// §5.2: "A candidate wins an election if it receives votes from a majority of the servers
// in the full cluster for the same term."
TEST(RaftPaper, CandidateWinsWithMajorityAndLosesWithMajorityAgainst) {
  Solo win(1, {1, 2, 3, 4, 5});
  ASSERT_TRUE(win.node->campaign().ok());
  win.drain();
  win.step(msg(MessageType::vote_resp, 2, 1, 1));
  EXPECT_EQ(win.node->role(), Role::candidate) << "2 of 5 is not a majority";
  win.step(msg(MessageType::vote_resp, 3, 1, 1));
  EXPECT_EQ(win.node->role(), Role::leader);

  Solo lose(1, {1, 2, 3, 4, 5});
  ASSERT_TRUE(lose.node->campaign().ok());
  lose.drain();
  for (uint64_t from : {2, 3, 4}) {
    Message no = msg(MessageType::vote_resp, from, 1, 1);
    no.reject = true;
    lose.step(no);
  }
  EXPECT_EQ(lose.node->role(), Role::follower);
}

// §5.2: "While waiting for votes, a candidate may receive an AppendEntries RPC from another
// server claiming to be leader. If the leader's term is at least as large as the
// candidate's current term, then the candidate recognizes the leader as legitimate and
// returns to follower state."
TEST(RaftPaper, CandidateFallsBackOnAppendFromLeaderOfSameTerm) {
  Solo n(1, {1, 2, 3});
  ASSERT_TRUE(n.node->campaign().ok());
  n.drain();
  ASSERT_EQ(n.node->role(), Role::candidate);
  Message app = msg(MessageType::app, 2, 1, n.node->term());
  n.step(app);
  EXPECT_EQ(n.node->role(), Role::follower);
  EXPECT_EQ(n.node->lead(), 2u);
  EXPECT_EQ(n.node->term(), 1u);
}

// §5.4.1: "The voter denies its vote if its own log is more up-to-date than that of the
// candidate ... If the logs have last entries with different terms, then the log with the
// later term is more up-to-date. If the logs end with the same term, then whichever log is
// longer is more up-to-date."
TEST(RaftPaper, VoteDeniedToCandidateWithLessUpToDateLog) {
  struct Case {
    uint64_t last_index, last_term;
    bool granted;
  };
  // The voter's log ends at index 3 with term 2.
  const Case cases[] = {
      {3, 1, false}, {4, 1, false},  // older last term loses whatever its length
      {2, 2, false},                 // same term, shorter
      {3, 2, true},  {4, 2, true},   // same term, as long or longer
      {1, 3, true},                  // newer last term wins even when shorter
  };
  for (const Case& c : cases) {
    Solo n(1, {1, 2, 3}, {1, 2, 2}, HardState{2, 0, 0});
    Message vote = msg(MessageType::vote, 2, 1, 3);
    vote.index = c.last_index;
    vote.log_term = c.last_term;
    n.step(vote);
    auto resp = of_type(n.drain(), MessageType::vote_resp);
    ASSERT_EQ(resp.size(), 1u);
    EXPECT_EQ(!resp[0].reject, c.granted)
        << "candidate last " << c.last_index << "/" << c.last_term;
  }
}

// §5.3: "When sending an AppendEntries RPC, the leader includes the index and term of the
// entry in its log that immediately precedes the new entries. If the follower does not
// find an entry in its log with the same index and term, then it refuses the new entries."
TEST(RaftPaper, FollowerRefusesAppendWhosePreviousEntryDoesNotMatch) {
  Solo n(1, {1, 2, 3}, {1, 1, 2}, HardState{2, 0, 0});
  Message app = msg(MessageType::app, 2, 1, 3);
  app.index = 3;
  app.log_term = 3;  // we hold term 2 at index 3
  app.entries = {Entry{4, 3, EntryType::normal, testing::bytes("x")}};
  n.step(app);
  auto resp = of_type(n.drain(), MessageType::app_resp);
  ASSERT_EQ(resp.size(), 1u);
  EXPECT_TRUE(resp[0].reject);
  EXPECT_EQ(resp[0].index, 3u);
  // The hint names the last index whose term is <= the leader's: index 3, term 2.
  EXPECT_EQ(resp[0].reject_hint, 3u);
  EXPECT_EQ(resp[0].log_term, 2u);
  EXPECT_EQ(n.node->last_index(), 3u);
}

// §5.3: "If an existing entry conflicts with a new one (same index but different terms),
// delete the existing entry and all that follow it."
TEST(RaftPaper, FollowerReplacesConflictingSuffix) {
  Solo n(1, {1, 2, 3}, {1, 1, 1, 1}, HardState{1, 0, 1});
  Message app = msg(MessageType::app, 2, 1, 2);
  app.index = 1;
  app.log_term = 1;
  app.entries = {Entry{2, 2, EntryType::normal, {}}};
  n.step(app);
  n.drain();
  EXPECT_EQ(n.node->last_index(), 2u);
  EXPECT_EQ(n.node->log_term(2), 2u);
  EXPECT_EQ(n.storage.last_index(), 2u) << "the stale suffix is gone from storage too";
}

// §5.3 Figure 7: whatever a follower's log looks like, the leader brings it to match its own.
TEST(RaftPaper, Figure7LeaderReconcilesEveryFollowerLog) {
  const std::vector<uint64_t> leader_log = {1, 1, 1, 4, 4, 5, 5, 6, 6, 6};
  const std::vector<std::vector<uint64_t>> followers = {
      {1, 1, 1, 4, 4, 5, 5, 6, 6},           // (a) missing one entry
      {1, 1, 1, 4},                          // (b) missing many
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 6},     // (c) an extra uncommitted entry
      {1, 1, 1, 4, 4, 5, 5, 6, 6, 6, 7, 7},  // (d) extra entries of a later term
      {1, 1, 1, 4, 4, 4, 4},                 // (e) missing, plus extra of term 4
      {1, 1, 1, 2, 2, 2, 3, 3, 3, 3, 3},     // (f) a leader of terms 2 and 3
  };
  for (size_t f = 0; f < followers.size(); ++f) {
    Network net({1, 2, 3}, [](Config& c) { c.pre_vote = false; });
    ASSERT_TRUE(net.storage(1).append(log_with_terms(leader_log)).ok());
    net.storage(1).set_hard_state(HardState{8, 0, 0});
    net.restart(1);
    ASSERT_TRUE(net.storage(2).append(log_with_terms(followers[f])).ok());
    net.storage(2).set_hard_state(HardState{7, 0, 0});
    net.restart(2);
    net.isolate(3);
    // Node 3 (absent) is played by hand: it grants the vote that makes 1 leader of term 9.
    ASSERT_TRUE(net.node(1).campaign().ok());
    net.process(1);
    ASSERT_TRUE(net.node(1).step(msg(MessageType::vote_resp, 3, 1, 9)).ok());
    ASSERT_EQ(net.node(1).role(), Role::leader) << "follower " << char('a' + f);
    net.stabilize();
    ASSERT_EQ(net.node(2).last_index(), net.node(1).last_index()) << "follower " << char('a' + f);
    for (uint64_t i = 1; i <= net.node(1).last_index(); ++i) {
      EXPECT_EQ(net.node(2).log_term(i), net.node(1).log_term(i))
          << "follower " << char('a' + f) << " index " << i;
    }
  }
}

// §5.3: "A log entry is committed once the leader that created the entry has replicated
// it on a majority of the servers."
TEST(RaftPaper, LeaderCommitsEntryReplicatedOnMajority) {
  Solo n(1, {1, 2, 3, 4, 5});
  ASSERT_TRUE(n.node->campaign().ok());
  n.drain();
  n.step(msg(MessageType::vote_resp, 2, 1, 1));
  n.step(msg(MessageType::vote_resp, 3, 1, 1));
  ASSERT_EQ(n.node->role(), Role::leader);
  n.drain();
  ASSERT_TRUE(n.node->propose(testing::bytes("x")).ok());
  n.drain();
  const uint64_t idx = n.node->last_index();
  Message ack = msg(MessageType::app_resp, 2, 1, 1);
  ack.index = idx;
  n.step(ack);
  EXPECT_LT(n.node->committed(), idx) << "2 of 5 replicas is not a majority";
  ack.from = 3;
  n.step(ack);
  EXPECT_EQ(n.node->committed(), idx);
}

// §5.4.2 (Figure 8): "Raft never commits log entries from previous terms by counting
// replicas. Only log entries from the leader's current term are committed by counting
// replicas; once an entry from the current term has been committed in this way, then all
// prior entries are committed indirectly."
TEST(RaftPaper, Figure8OldTermEntryIsNotCommittedByCountingReplicas) {
  Solo n(1, {1, 2, 3}, {1, 2}, HardState{2, 0, 0});
  n.elect();  // term 3; appends its empty entry at index 3
  ASSERT_EQ(n.node->term(), 3u);
  ASSERT_EQ(n.node->last_index(), 3u);
  Message ack = msg(MessageType::app_resp, 2, 1, 3);
  ack.index = 2;  // node 2 holds the term-2 entry: a majority has it
  n.step(ack);
  EXPECT_EQ(n.node->committed(), 0u) << "an entry of term 2 must not commit by counting in term 3";
  ack.index = 3;
  n.step(ack);
  EXPECT_EQ(n.node->committed(), 3u) << "the term-3 entry commits, and index 2 with it";
}

// §5.3: "Once a follower learns that a log entry is committed, it applies the entry to its
// local state machine" — and it never commits past the entries it has from this leader.
TEST(RaftPaper, FollowerCommitFollowsLeaderCommitWithinMatchedEntries) {
  Solo n(1, {1, 2, 3});
  Message app = msg(MessageType::app, 2, 1, 1);
  app.index = 0;
  app.log_term = 0;
  app.entries = {Entry{1, 1, EntryType::normal, testing::bytes("a")},
                 Entry{2, 1, EntryType::normal, testing::bytes("b")}};
  app.commit = 1;
  n.step(app);
  Ready rd = n.node->ready();
  ASSERT_EQ(rd.committed_entries.size(), 1u);
  EXPECT_EQ(testing::text(rd.committed_entries[0].data), "a");
  EXPECT_TRUE(n.storage.append(rd.entries).ok());
  n.node->advance(rd);

  Message later = msg(MessageType::app, 2, 1, 1);
  later.index = 1;
  later.log_term = 1;
  later.commit = 5;  // leader has committed more than it sends here
  n.step(later);
  EXPECT_EQ(n.node->committed(), 1u)
      << "the append vouches only for index 1; entry 2 may still differ from the leader's";
  later.index = 2;
  n.step(later);
  EXPECT_EQ(n.node->committed(), 2u);
}

// §5.4.3 / Leader Completeness via §8: a new leader appends a no-op of its term at once,
// so that entries of earlier terms can commit without waiting for a client request.
TEST(RaftPaper, NewLeaderAppendsEmptyEntryOfItsTerm) {
  Solo n(1, {1, 2, 3}, {1}, HardState{1, 0, 0});
  n.elect();
  EXPECT_EQ(n.node->last_index(), 2u);
  EXPECT_EQ(n.node->log_term(2), n.node->term());
}

// §5.3: the leader retries and backs up: "After a rejection, the leader decrements
// nextIndex and retries." With the hint it jumps over a whole conflicting term.
TEST(RaftPaper, LeaderBacksUpPastConflictingTermInOneStep) {
  // Leader log: terms 1 1 1 4 4 4 4 (index 1..7), elected in term 8 (entry 8).
  Solo n(1, {1, 2, 3}, {1, 1, 1, 4, 4, 4, 4}, HardState{7, 0, 0});
  n.elect();
  ASSERT_EQ(n.node->term(), 8u);
  // Follower 3 holds 1 1 1 2 2 2 2 2 2 and rejects the probe at index 7 (term 4).
  Message reject = msg(MessageType::app_resp, 3, 1, 8);
  reject.reject = true;
  reject.index = 7;
  reject.reject_hint = 7;
  reject.log_term = 2;
  n.step(reject);
  auto apps = of_type(n.drain(), MessageType::app);
  ASSERT_EQ(apps.size(), 1u);
  EXPECT_EQ(apps[0].to, 3u);
  EXPECT_EQ(apps[0].index, 3u) << "the next probe skips every term-4 entry at once";
  EXPECT_EQ(apps[0].log_term, 1u);
}

}  // namespace
}  // namespace raftdns::raft
