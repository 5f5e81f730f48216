// Driver: the replication driver itself, without an event loop; ClusterNode runs it on libevent.
//
// The driver joins the Raft core, the WAL, a StateMachine and a PeerNetwork.
// It has no timers and no event_base of its own: its owner calls tick() on a
// timer, process_ready() when `wake` asks for it, and pump_snapshots() while
// `pump` says snapshot work is in flight. That is what lets the in-process
// tests (tests/driver) drive three of them by hand, deterministically, and
// cut the power at any point.
//
// Its code is split by concern:
//   driver_ready.cc     open and recovery, the Ready loop, apply, compaction
//   driver_requests.cc  submitted requests, routing to the leader, peer messages
//   driver_snapshot.cc  snapshot copy (on a thread), streaming, receive, install
//   driver_status.cc    node reports, cluster status, waiting for every member, read barriers
//   driver_apply.cc     the apply thread (NodeConfig::apply_thread)
//
// See node.h for the design.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "replication/apply_thread.h"
#include "replication/core/raft.h"
#include "replication/membership.h"
#include "replication/node.h"
#include "replication/peer_network.h"
#include "replication/state_machine.h"
#include "replication/wal_storage.h"
#include "wal/log.h"

namespace raftdns::replication {

// Message kinds on the peer network (opaque to the transport itself).
enum PeerMessageKind : uint8_t {
  kRaft = 1,            // an encoded raft::Message (never a snap: those travel as 2 and 3)
  kSnapshotChunk = 2,   // u64 snapshot index | u64 total size | u64 offset | bytes
  kSnapshotDone = 3,    // u64 total size | encoded raft::Message (type snap)
  kStatusRequest = 4,   // u64 request id (0: only the applied index is wanted)
                        // [| u8 kStatusNoDigest: the report without the store digest]
  kStatusReply = 5,     // u64 request id | NodeReport (binary, driver_status.cc)
  kForward = 6,         // an envelope for the leader to propose
  kForwardRefused = 7,  // u64 request id | reason (the envelope never entered the log)
  kForwardRetry = 8,    // u64 scan-from index | envelope: propose unless already in the log
  kForwardRejected = 9, // u64 request id | reason (refused for good: the request fails with it)
  kRemoved = 10,        // u64 index: the recipient was removed from the membership at that index
  kNotAMember = 11,     // u64 index: the sender's membership, applied through index, lacks the
                        // recipient (sent to a node that is not a peer; see notice_for_stranger)
};

// The flag after a status request's id: leave the digest out of the report.
inline constexpr uint8_t kStatusNoDigest = 1;

// A request as it travels to the leader and sits in the log: who submitted
// it, the submitter's request id, and the command. A membership change
// travels to the leader the same way (conf_change set, `command` an encoded
// raft::ConfChange); the leader proposes it as a conf change entry, whose
// context (MemberChange) carries the origin and request id instead.
struct Envelope {
  uint64_t origin = 0;
  uint64_t request = 0;
  bool conf_change = false;
  std::span<const uint8_t> command;
};
std::vector<uint8_t> encode_envelope(uint64_t origin, uint64_t request,
                                     std::span<const uint8_t> command,
                                     bool conf_change = false);
bool decode_envelope(std::span<const uint8_t> in, Envelope& out);

// The membership record's ConfState (for snapshot messages).
std::optional<raft::ConfState> decode_membership(std::span<const uint8_t> in);


class Driver {
 public:
  // A learner whose log is within this many entries of the commit index has
  // caught up: it may be promoted.
  static constexpr uint64_t kCaughtUpEntries = 64;

  using Clock = std::chrono::steady_clock;
  using Done = ClusterNode::Done;

  struct Hooks {
    // process_ready() should run soon; calls may be coalesced.
    std::function<void()> wake;
    // Snapshot work is in flight (true): call pump_snapshots() every few
    // milliseconds until it is not (false).
    std::function<void(bool)> pump;
  };

  Driver(NodeConfig config, StateMachine& sm, std::unique_ptr<PeerNetwork> network, Hooks hooks);
  ~Driver();
  Driver(const Driver&) = delete;
  Driver& operator=(const Driver&) = delete;

  // Opens the WAL, reconciles it with the state machine and builds the core.
  [[nodiscard]] Status open();
  // Starts the peer network.
  [[nodiscard]] Status start();
  void stop();

  void tick();
  void process_ready();
  void pump_snapshots();
  // A snapshot copy thread is still running (an outgoing one, or one given up).
  bool snapshot_copy_running() const;
  // A digest is being computed on its thread.
  bool digest_running() const { return !digests_.empty(); }
  // The apply thread holds runs of entries not yet applied.
  bool apply_running() const;

  void submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done);
  // Submits a membership change; `done` runs once it is applied here, or
  // with the one-line reason it was refused (nothing changed then).
  void change_membership(const MemberRequest& request, Clock::time_point deadline, Done done);
  // Hands leadership to `target` (empty: the most up-to-date other voter);
  // `done` runs once that node leads, or with the reason it did not.
  void transfer_leadership(const std::string& target, Clock::time_point deadline,
                           std::function<void(Status)> done);
  // The applied membership, with addresses.
  const Membership& membership() const { return members_; }
  // This node learnt that it is no longer a member.
  bool removed() const { return removed_; }
  void wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                               std::function<void(Status)> done);
  // Completes, with this node's applied index, once the node has applied
  // every entry committed anywhere in the cluster before the call: the
  // leader vouches for its commit index with a round of heartbeats (Raft's
  // ReadIndex) and this node applies through it. Fails at the deadline with
  // why: no leader, no quorum, or not applied yet. A lone voter answers at
  // once.
  void read_barrier(Clock::time_point deadline, std::function<void(Status, uint64_t)> done);
  // This node's state, all but the digest of the store (see digest()).
  NodeReport local_report() const;
  // The digest of the state as applied now. The state machine computes it on
  // another thread (a big store takes seconds, and the loop must keep its
  // heartbeats going); `done` runs on the loop when it is ready.
  void digest(std::function<void(std::string)> done);
  // This node's report followed by each member's; with `digests`, each one
  // carries the digest of its store at the applied index it reports.
  void cluster_report(Clock::time_point deadline, std::function<void(std::vector<NodeReport>)> done,
                      bool digests = true);

  DriverMetrics* metrics() const { return cfg_.metrics; }
  uint64_t applied_index() const { return applied_; }
  bool is_leader() const;
  const raft::Node& core() const { return *node_; }
  const wal::Log& wal() const { return *wal_; }

 private:
  // ---- driver_ready.cc ----
  Status open_wal();
  Status check_membership();
  Status force_new_cluster();
  void refresh_peers();
  // `when_how`: "at index 12 (applied its removal)" or the like.
  void note_removed(const std::string& when_how);
  void note_not_a_member(const std::string& peer, uint64_t index);
  std::optional<StrangerNotice> notice_for_stranger(const std::string& node) const;
  void on_key_mismatch(const std::string& peer, const std::string& address);
  bool conf_change_in_flight();
  Status reconcile_wal_with_state();
  Status bootstrap_if_new();
  void persist_entries(const std::vector<raft::Entry>& entries);
  void persist_hard_state(const raft::HardState& hs);
  void apply_committed(const std::vector<raft::Entry>& entries);
  struct ConfApplied {
    uint64_t index;
    Membership before;
    raft::ConfChange change;
  };
  void on_conf_applied(const std::vector<ConfApplied>& changes);
  void maybe_compact();
  void on_role_change(const raft::SoftState& ss);
  raft::SnapshotMeta snapshot_meta() const;
  [[noreturn]] void fatal(const std::string& what) const;
  void log(const std::string& line) const;
  void wake();

  // ---- driver_requests.cc ----
  void on_message(const std::string& peer, uint8_t kind, std::span<const uint8_t> payload);
  void on_peer_state(const std::string& peer, bool up);
  void on_forward(const std::string& peer, std::span<const uint8_t> payload, bool retry);
  bool retry_can_be_judged() const;
  bool log_holds_request(uint64_t from, uint64_t origin, uint64_t request) const;
  void step(const raft::Message& m);
  void send_message(raft::Message m);
  std::pair<size_t, size_t> reachable_voters() const;
  bool peer_reachable(uint64_t id) const;
  std::string no_quorum_reason() const;
  // no_quorum_reason(), with ", no leader" while no leader is known.
  std::string no_leader_reason() const;
  void try_propose(uint64_t id);
  enum class Proposal { proposed, retry, refused };
  Proposal propose_envelope(std::span<const uint8_t> envelope, std::string& why);
  Proposal propose_member_change(const Envelope& env, std::string& why);
  uint64_t best_transferee() const;
  void maybe_promote_learners();
  void check_transfers(bool expired);
  void complete_request(uint64_t request, Status outcome, uint64_t index);
  void expire_requests();
  // The leader's proposals wait here until the Ready loop runs, so that the
  // requests of one turn of the event loop (every connection's) enter the
  // log as one append: one message to each follower, one acknowledgement
  // back, instead of one per request. Membership changes do not wait.
  struct Queued {
    std::vector<uint8_t> envelope;
    uint64_t local = 0;        // a request submitted here (pending_), or
    std::string peer;          // the follower that forwarded it,
    uint64_t request = 0;      // with its request id
  };
  void queue_proposal(Queued q);
  // Proposes what is queued as one batch. Not the leader any more: local
  // requests go back to waiting (forwarded on), forwards are refused.
  void flush_proposals();

  // ---- driver_snapshot.cc ----
  void start_snapshot_send(const std::string& peer, raft::Message m);
  void finish_snapshot_copy(const std::string& peer);
  void abort_snapshot_send(const std::string& peer, const std::string& why);
  void end_snapshot_send(const std::string& peer, bool success);
  void on_snapshot_chunk(const std::string& peer, std::span<const uint8_t> payload);
  void on_snapshot_done(const std::string& peer, std::span<const uint8_t> payload);
  void install_snapshot(const raft::SnapshotMeta& meta);
  void reset_incoming();
  void update_pump();
  std::string incoming_dir() const { return cfg_.snapshot_dir + "/in"; }

  // ---- driver_apply.cc ----
  // The item for a committed entry that is not a conf change: its command,
  // or nothing (a leader's empty entry; a malformed envelope, logged).
  // `request` gets the request id of a command submitted on this node.
  ApplyItem command_item(const raft::Entry& e, std::optional<uint64_t>& request);
  // Hands a run of committed entries (no conf change among them) to the
  // apply thread; the requests submitted here complete when it is applied.
  void hand_to_applier(const std::vector<raft::Entry>& entries);
  // Takes what the apply thread finished: moves the applied position and
  // completes the requests. Rethrows what the state machine threw there.
  void collect_applied();
  // Waits until the apply thread has applied everything handed to it, then
  // collects it. Before anything that needs the state machine to itself.
  void drain_applier();

  // ---- driver_status.cc ----
  std::vector<std::string> peer_names() const;  // the members but this node
  void on_status_request(const std::string& peer, std::span<const uint8_t> payload);
  void on_status_reply(const std::string& peer, std::span<const uint8_t> payload);
  std::vector<std::string> members_behind(uint64_t index) const;
  struct AllWait {
    uint64_t index;
    Clock::time_point deadline;
    std::function<void(Status)> done;
  };
  bool check_wait(AllWait& w, bool expired);
  void check_waits(bool expire_now);
  void poll_peers_for_waits();
  struct ReportRequest {
    Clock::time_point deadline;
    std::vector<NodeReport> reports;  // [0] is ours
    bool own_digest_pending = false;
    std::map<std::string, size_t> slot;
    std::function<void(std::vector<NodeReport>)> done;
  };
  void expire_reports(Clock::time_point now);
  void maybe_finish_report(uint64_t id);
  struct Barrier {
    Clock::time_point deadline;
    std::function<void(Status, uint64_t)> done;
    uint64_t index = 0;     // the leader's read index, once it answered
    bool answered = false;
    int wait_ticks = 0;     // before asking the leader again
  };
  // Asks (again) for the barriers the leader has not answered: a request
  // to a leader that has just lost its place, or a lost message, gets none.
  void ask_read_index();
  void on_read_states(const std::vector<raft::ReadState>& states);
  // Completes the barriers applied through their read index; with
  // `expire_now`, fails those past their deadline.
  void check_barriers(bool expire_now);

  struct Pending {
    Done done;
    Clock::time_point deadline;
    std::vector<uint8_t> envelope;
    bool proposed = false;
    // Set once a forward was lost with its connection, or the leader changed
    // before it applied: the leader must look for the envelope in its log
    // (from `scan_from` on) before proposing it again, so that a retry never
    // applies a command twice.
    bool retry = false;
    uint64_t scan_from = 0;
    std::string forwarded_to;
    // Refused for good (a membership change that does not fit): fails with
    // this at the next tick.
    std::string rejection;
  };

  struct SnapshotSend {
    raft::Message msg;
    std::string dir;
    std::future<Result<SnapshotFile>> copy;  // valid while the copy thread runs
    std::unique_ptr<wal::File> file;
    uint64_t size = 0, offset = 0;
  };

  struct SnapshotReceive {
    std::string from;
    uint64_t index = 0, total = 0, received = 0;
    std::unique_ptr<wal::File> file;
  };
  // A complete, durable snapshot file whose snap message has been stepped;
  // installed when the core hands it back in a Ready.
  struct ReceivedSnapshot {
    uint64_t index = 0;
    std::string path;
  };

  NodeConfig cfg_;
  StateMachine& sm_;
  wal::FileSystem& fs_;
  Hooks hooks_;
  uint64_t self_;
  std::map<uint64_t, std::string> names_;
  // The applied membership with addresses (applied_conf_ is its ConfState).
  Membership members_;
  bool removed_ = false;
  // A joining node whose handshakes fail on the MAC: its cluster key is not the
  // cluster's. Given up on (on_fatal) after kKeyMismatchAttempts failures over at
  // least kKeyMismatchWindow with no peer accepting the key in between, since a
  // peer restarted with a new key file may only be a moment from being fixed.
  static constexpr int kKeyMismatchAttempts = 5;
  static constexpr std::chrono::seconds kKeyMismatchWindow{10};
  int key_mismatches_ = 0;
  Clock::time_point first_key_mismatch_{};
  bool fatal_ = false;
  bool told_not_added_ = false;
  // Members removed a moment ago stay dialable for a few ticks, so that the
  // removed node hears of its removal.
  std::map<std::string, std::pair<std::string, int>> lingering_;  // name -> (address, ticks left)
  struct TransferWait {
    uint64_t target;
    Clock::time_point deadline;
    std::function<void(Status)> done;
    int wait_ticks;  // before asking again, on a follower
  };
  std::vector<TransferWait> transfers_;
  std::unique_ptr<PeerNetwork> network_;
  std::unique_ptr<wal::Log> wal_;
  std::unique_ptr<WalStorage> storage_;
  std::unique_ptr<raft::Node> node_;
  raft::ConfState applied_conf_;
  uint64_t applied_ = 0, applied_term_ = 0;
  uint64_t persisted_term_ = 0, persisted_vote_ = 0;
  uint64_t wal_bytes_after_compact_ = 0;
  uint64_t next_request_ = 0;
  uint64_t last_lead_ = raft::kNoNode;  // for DriverMetrics::leader_changes
  uint64_t seen_lead_ = raft::kNoNode;  // the leader as of the last SoftState (none included)
  bool started_ = false, stopped_ = false;
  std::map<uint64_t, Pending> pending_;
  std::vector<Queued> queued_;
  std::vector<AllWait> waits_;
  std::map<uint64_t, Barrier> barriers_;
  uint64_t next_barrier_ = 0;
  std::map<std::string, uint64_t> peer_applied_;
  std::map<uint64_t, ReportRequest> reports_;
  std::map<std::string, SnapshotSend> sending_;
  // Copies whose transfer was given up while the copy thread still ran: the
  // loop never waits for one (pump_snapshots() reaps them), except before a
  // snapshot replaces the state underneath them.
  struct AbandonedCopy {
    std::string dir;
    std::future<Result<SnapshotFile>> copy;
  };
  std::vector<AbandonedCopy> abandoned_;
  void reap_abandoned(bool wait);
  // Digests being computed off the loop, each with what to do with it.
  struct DigestJob {
    std::future<std::string> result;
    std::function<void(std::string)> done;
  };
  std::vector<DigestJob> digests_;
  void reap_digests();
  // Files on their way out (see discard_files), unlinked on threads.
  std::string trash_dir() const { return cfg_.snapshot_dir + "/trash"; }
  void discard_files(const std::string& dir);
  void reap_removals(bool wait);
  std::vector<std::future<void>> removals_;
  uint64_t trash_seq_ = 0;
  // A received snapshot whose file is being made durable on a thread; its
  // snap message is stepped once that is done.
  struct SnapshotSync {
    raft::Message msg;
    uint64_t total = 0;
    std::future<Status> durable;
  };
  std::optional<SnapshotSync> syncing_;
  void finish_snapshot_sync();
  SnapshotReceive receiving_;
  std::optional<ReceivedSnapshot> received_;
  // Membership by applied index (conf changes are rare), so a snapshot
  // copied at a later index than the core asked for carries the right one.
  std::map<uint64_t, raft::ConfState> conf_history_;
  // The apply thread (cfg_.apply_thread), and the last index handed to it:
  // applied_ trails it until the thread has committed the run.
  std::unique_ptr<ApplyThread> applier_;
  uint64_t handed_ = 0;
};

}  // namespace raftdns::replication
