// Raft: the protocol state machine behind Node (roles, elections, replication, reads).
#pragma once

#include <cstdint>
#include <deque>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "replication/core/log.h"
#include "replication/core/progress.h"
#include "replication/core/raft.h"

namespace raftdns::raft {

// Pending ReadIndex requests on a leader, each waiting for a quorum of heartbeat acks
// (thesis §6.4). Requests are answered in arrival order.
class ReadOnlyQueue {
 public:
  // Orders contexts as byte strings. Spelled out rather than relying on
  // vector's operator<, whose inlined memcmp makes GCC 12 at -O3 report a
  // spurious -Wstringop-overread.
  struct ContextLess {
    bool operator()(const std::vector<uint8_t>& a, const std::vector<uint8_t>& b) const {
      const size_t n = a.size() < b.size() ? a.size() : b.size();
      for (size_t i = 0; i < n; ++i) {
        if (a[i] != b[i]) return a[i] < b[i];
      }
      return a.size() < b.size();
    }
  };

  struct Request {
    uint64_t index = 0;
    uint64_t from = kNoNode;  // this node for a local request
    std::vector<uint8_t> context;
    std::set<uint64_t> acks;
  };

  void add(uint64_t index, uint64_t from, const std::vector<uint8_t>& context);
  // Records an ack; returns the request's acks, or nullptr for an unknown context.
  const std::set<uint64_t>* ack(uint64_t from, const std::vector<uint8_t>& context);
  // Removes and returns every request up to and including the one tagged `context`.
  std::vector<Request> release_through(const std::vector<uint8_t>& context);
  const std::vector<uint8_t>* last_context() const;
  void clear();

 private:
  std::map<std::vector<uint8_t>, Request, ContextLess> pending_;
  std::deque<std::vector<uint8_t>> order_;
};

class Raft {
 public:
  explicit Raft(const Config& config);

  void tick() { (this->*tick_fn_)(); }
  Status step(const Message& m);
  Status propose(std::vector<uint8_t> data);
  Status propose_batch(std::vector<std::vector<uint8_t>> commands);
  Status propose_conf_change(const ConfChange& change);
  ConfState apply_conf_change(const ConfChange& change);
  Status campaign_now();
  Status transfer_leadership(uint64_t transferee);
  Status read_index(std::vector<uint8_t> context);
  void report_unreachable(uint64_t id);
  void report_snapshot(uint64_t id, bool success);

  uint64_t id() const { return id_; }
  uint64_t term() const { return term_; }
  uint64_t vote() const { return vote_; }
  uint64_t lead() const { return lead_; }
  Role role() const { return role_; }
  uint64_t lead_transferee() const { return lead_transferee_; }
  HardState hard_state() const { return {term_, vote_, log_.committed()}; }
  SoftState soft_state() const { return {lead_, role_}; }
  RaftLog& log() { return log_; }
  const RaftLog& log() const { return log_; }
  const ProgressTracker& tracker() const { return tracker_; }
  std::vector<Message>& outbox() { return outbox_; }
  std::vector<ReadState>& read_states() { return read_states_; }

 private:
  enum class CampaignKind { pre_election, election, transfer };
  using StepFn = void (Raft::*)(const Message&);
  using TickFn = void (Raft::*)();

  // Role transitions. Each swaps in the role's step and tick functions.
  void become_follower(uint64_t term, uint64_t lead);
  void become_pre_candidate();
  void become_candidate();
  void become_leader();
  void reset(uint64_t term);
  void reset_randomized_election_timeout();

  void tick_election();
  void tick_heartbeat();
  void step_follower(const Message& m);
  void step_candidate(const Message& m);
  void step_leader(const Message& m);

  void handle_vote_request(const Message& m);
  void handle_append(const Message& m);
  void handle_heartbeat(const Message& m);
  void handle_snapshot(const Message& m);
  void handle_append_response(const Message& m);
  void handle_heartbeat_response(const Message& m);
  void leader_read_index(uint64_t from, const std::vector<uint8_t>& context);
  void leader_transfer(uint64_t transferee);
  void leader_append_proposal(std::vector<Entry> entries);

  void hup(CampaignKind kind);
  void campaign(CampaignKind kind);
  void on_vote_result(ProgressTracker::VoteResult result);
  bool promotable() const;
  bool has_unapplied_conf_change() const;
  bool past_election_timeout() const { return election_elapsed_ >= randomized_election_timeout_; }
  bool committed_entry_in_current_term() const;

  void append_entries(std::vector<Entry> entries);
  bool maybe_commit();
  void after_commit();
  void bcast_append();
  void bcast_heartbeat(const std::vector<uint8_t>& context);
  void send_append(uint64_t to) { maybe_send_append(to, true); }
  bool maybe_send_append(uint64_t to, bool send_if_empty);
  bool send_snapshot(uint64_t to, Progress& pr);
  void send_heartbeat(uint64_t to, const std::vector<uint8_t>& context);
  void send_read_index_response(const ReadOnlyQueue::Request& request);
  void abort_leader_transfer() { lead_transferee_ = kNoNode; }
  bool restore(const SnapshotMeta& snapshot);
  void switch_to_config(const ConfState& conf);
  void send(Message m);
  uint64_t next_random();
  Error fail(const std::string& what) const;

  uint64_t id_;
  uint64_t term_ = 0;
  uint64_t vote_ = kNoNode;
  uint64_t lead_ = kNoNode;
  Role role_ = Role::follower;
  RaftLog log_;
  ProgressTracker tracker_;
  std::vector<Message> outbox_;
  std::vector<ReadState> read_states_;
  ReadOnlyQueue read_only_;
  // ReadIndex requests that arrived before this leader committed an entry of its term;
  // its commit index is not yet known to be current (thesis §6.4 step 1).
  std::vector<Message> deferred_reads_;

  int election_elapsed_ = 0;
  int heartbeat_elapsed_ = 0;
  int election_timeout_;
  int heartbeat_timeout_;
  int randomized_election_timeout_ = 0;
  bool check_quorum_;
  bool pre_vote_;
  uint64_t max_msg_size_;
  uint64_t lead_transferee_ = kNoNode;
  // The leader accepts no new configuration change until the log is applied past this.
  uint64_t pending_conf_index_ = 0;
  uint64_t rng_state_;

  StepFn step_fn_ = nullptr;
  TickFn tick_fn_ = nullptr;
};

}  // namespace raftdns::raft
