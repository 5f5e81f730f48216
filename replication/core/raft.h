// raftdns::raft: a pure, deterministic Raft state machine driven through tick/step/ready/advance.
//
// ## Design
//
// This library is Raft and nothing else. It does no I/O, reads no clock, starts no
// thread and draws no global randomness. Everything that happens to it arrives through
// five doors, and everything it wants done leaves through one:
//
//   in:  tick()               one unit of logical time (the driver decides how long)
//        step(message)        a message from a peer, already decoded
//        propose(...) etc.    requests from the local application
//        advance(ready)       "I have done what the last Ready asked"
//        Storage reads        the durable log, through an interface the driver implements
//   out: ready()              a batch of work: state to persist, messages to send,
//                             entries to apply, a snapshot to install
//
// Because time is a counter and randomness comes from Config::seed, a run is a pure
// function of its inputs. The tests exploit that: the paper tests and scenario scripts
// assert exact message sequences, and the simulator in tests/sim replays any failure
// from its seed number. The driver in replication/ owns the clock, the sockets, the WAL
// and LMDB, and loops: wait for input -> feed it in -> drain ready() -> advance().
//
// ## The Ready contract (the order matters for safety)
//
// A Ready lists work in the order it must be done. For each Ready, the driver:
//
//   1. Installs `snapshot` (if any) into storage, then appends `entries` to the log
//      (replacing any existing suffix from entries.front().index on), and records
//      `hard_state` (if any). These writes are one batch.
//   2. If `must_sync`, makes that batch durable (one fdatasync) BEFORE step 3. A vote
//      or an append acknowledgement in `messages` vouches for exactly this data; sending
//      it first and then losing the data in a crash lets two leaders share a term, or
//      a committed entry vanish.
//   3. Sends `messages`, in any order, over any transport (they may be lost, duplicated
//      or reordered: the protocol tolerates it).
//   4. Applies `committed_entries`, in order, to the state machine. For each conf_change
//      entry, it decodes the ConfChange and calls apply_conf_change(). Committed entries
//      may also appear in this Ready's `entries`; step 1 has persisted them by now.
//   5. Calls advance(ready) with the same Ready. Until then ready() must not be called.
//
// `read_states` (ReadIndex answers) may be served once the state machine has applied
// up to their index. `soft_state` (leader, role) is informational and needs no
// persistence.
//
// ## Roles
//
// Each role is a (step, tick) function pair that a transition swaps in: a follower
// counts towards an election, a leader counts towards heartbeats and its CheckQuorum
// round. A transition that Raft forbids (a leader becoming a candidate) aborts.
//
// ## Choices and why
//
// - PreVote (thesis §9.6): a node first asks "would you vote for me?" without raising
//   any term, so a partitioned node that rejoins cannot depose a healthy leader.
// - CheckQuorum (thesis §6.2): a leader that has not heard from a quorum for an election
//   timeout steps down, and followers that hear from a leader ignore vote requests for an
//   election timeout (the lease), so a node reaching only some peers cannot keep
//   deposing the leader.
// - Commitment follows Figure 8 (§5.4.2): the leader commits by counting replicas only
//   an entry of its own term; older entries commit with it.
// - Flow control per follower: probe (one append per round trip, until the match point
//   is found), replicate (a window of at most max_inflight_msgs appends and
//   max_inflight_bytes bytes) and snapshot (wait for the driver's report). A rejection
//   carries a (index, term) hint so the leader skips a whole mismatching term at once.
// - Membership changes one server at a time (thesis §4.1): add a voter, remove one,
//   add a learner, promote a learner. A change takes effect when applied. A leader
//   accepts a new change only when the previous one is applied and it has committed
//   an entry of its own term (the fix to the single-server bug the thesis errata
//   describe). A leader that applies its own removal steps down.
// - ReadIndex (thesis §6.4): the leader records its commit index, confirms with a
//   heartbeat round that it still leads, and answers once a quorum has replied.
// - Leadership transfer (thesis §3.10): the leader stops taking proposals, brings the
//   target up to date and sends it timeout_now; it gives up after an election timeout.
// - Snapshots: when a follower needs compacted entries, the leader asks Storage for the
//   latest snapshot metadata and sends a snap message; the driver streams the data. The
//   follower's Ready carries the snapshot to install. The leader then waits for
//   report_snapshot() before it sends that follower anything else.
// - Bootstrapping: a new cluster's log should start with bootstrap_entries(voters) so
//   that a node that joins later learns the initial membership by replaying the log.
//
// ## What aborts
//
// RAFT_INVARIANT (invariant.h) guards states that can only come from a bug or corrupt
// storage: a commit index beyond the log, a conflict with a committed entry, a forbidden
// role transition, ready() called twice without advance(). It prints file, line and
// reason and aborts; continuing could apply the wrong entries.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "replication/core/progress.h"
#include "replication/core/storage.h"
#include "replication/core/types.h"

namespace raftdns::raft {

enum class Role : uint8_t { follower, pre_candidate, candidate, leader };
const char* to_string(Role role);

struct Config {
  uint64_t id = kNoNode;
  // A follower that hears nothing for a randomized time in [election_tick,
  // 2 * election_tick) ticks starts an election. Must exceed heartbeat_tick.
  int election_tick = 10;
  // A leader sends heartbeats every heartbeat_tick ticks.
  int heartbeat_tick = 1;
  // Not owned; must outlive the Node. The driver writes to it between ready/advance.
  Storage* storage = nullptr;
  // Bytes of entries per append message (at least one entry is always sent).
  uint64_t max_size_per_msg = 1024 * 1024;
  // Bytes of committed entries handed out per Ready (at least one).
  uint64_t max_committed_size_per_ready = 64 * 1024 * 1024;
  // Appends in flight per follower in replicate state.
  size_t max_inflight_msgs = 256;
  // Bytes in flight per follower (0 = no byte limit).
  uint64_t max_inflight_bytes = 0;
  bool pre_vote = true;
  bool check_quorum = true;
  // Seeds the election-timeout randomization; runs are reproducible from it.
  uint64_t seed = 0;
  // The index the state machine has applied (after a restart); earlier committed
  // entries are not handed out again.
  uint64_t applied = 0;
};

// Checks a Config; the Node constructor aborts on one that fails this.
Status validate(const Config& config);

struct SoftState {
  uint64_t lead = kNoNode;
  Role role = Role::follower;
  bool operator==(const SoftState&) const = default;
};

// A linearizable-read answer: once the state machine has applied `index`, a read for the
// request tagged `context` reflects every write committed before the request was made.
struct ReadState {
  uint64_t index = 0;
  std::vector<uint8_t> context;
};

// One batch of work for the driver; see "The Ready contract" above for the order.
struct Ready {
  // Changed leader or role, if any. Informational.
  std::optional<SoftState> soft_state;
  // Term, vote or commit changed: persist (step 1) before sending messages.
  std::optional<HardState> hard_state;
  // Append to the log (step 1) before sending messages.
  std::vector<Entry> entries;
  // Install into storage and the state machine (step 1), before the entries.
  std::optional<SnapshotMeta> snapshot;
  // True when the persisted data must be synced before messages go out (step 2): new
  // entries, a snapshot, or a changed term or vote. A commit-only change need not be.
  bool must_sync = false;
  // Send after persisting (step 3).
  std::vector<Message> messages;
  // Apply in order after persisting (step 4).
  std::vector<Entry> committed_entries;
  std::vector<ReadState> read_states;
};

struct PeerProgress {
  uint64_t id = kNoNode;
  uint64_t match = 0;
  uint64_t next = 0;
  ProgressState state = ProgressState::probe;
  bool recent_active = false;
  bool is_learner = false;
  size_t inflight = 0;
};

struct NodeStatus {
  uint64_t id = kNoNode;
  uint64_t term = 0;
  uint64_t vote = kNoNode;
  Role role = Role::follower;
  uint64_t lead = kNoNode;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t last_index = 0;
  uint64_t lead_transferee = kNoNode;
  ConfState conf;
  std::vector<PeerProgress> progress;  // filled on the leader only
};

// The entries that start a new cluster's log: one add_voter per initial voter at term 1,
// indexes 1..n. Every initial member persists them with HardState{term 1, vote 0,
// commit n}; a node added later replays them and so learns the whole membership.
std::vector<Entry> bootstrap_entries(const std::vector<uint64_t>& voters);

class Raft;

// A Raft participant. Single-threaded: call every method from one thread.
class Node {
 public:
  explicit Node(const Config& config);
  ~Node();
  Node(const Node&) = delete;
  Node& operator=(const Node&) = delete;

  // Advances logical time by one tick.
  void tick();
  // Feeds a message from a peer. Fails (and changes nothing) for a message addressed to
  // another node or a response from a node outside the membership.
  Status step(const Message& message);

  // Appends a command to the log (leader only). Fails when this node is not the leader
  // or a leadership transfer is in progress; the error says which.
  Status propose(std::vector<uint8_t> data);
  // Appends several commands as consecutive entries with one round of append messages
  // (group commit). All or none are appended.
  Status propose_batch(std::vector<std::vector<uint8_t>> commands);
  // Appends a membership change (leader only). Fails while another change is not yet
  // applied, before the leader has committed an entry of its term, or if the change is
  // invalid for the current membership.
  Status propose_conf_change(const ConfChange& change);
  // Applies a committed membership change (from a conf_change entry, in log order) and
  // returns the resulting membership, which the driver persists with the applied index.
  ConfState apply_conf_change(const ConfChange& change);

  // Starts an election now (used at bootstrap and by tests).
  Status campaign();
  // Asks the leader to hand leadership to `transferee` (forwarded when not leader).
  Status transfer_leadership(uint64_t transferee);
  // Requests a linearizable read; the answer arrives as a ReadState carrying `context`.
  Status read_index(std::vector<uint8_t> context);

  bool has_ready() const;
  Ready ready();
  void advance(const Ready& ready);

  NodeStatus status() const;
  // The transport could not deliver to `id`: the leader stops streaming to it.
  void report_unreachable(uint64_t id);
  // The snapshot sent to `id` was installed (true) or failed (false).
  void report_snapshot(uint64_t id, bool success);

  uint64_t id() const;
  uint64_t term() const;
  Role role() const;
  uint64_t lead() const;
  // The term of the entry at `index` if this node's log holds it (tests, checkers).
  std::optional<uint64_t> log_term(uint64_t index) const;
  uint64_t last_index() const;
  uint64_t committed() const;

 private:
  std::unique_ptr<Raft> raft_;
  SoftState prev_soft_;
  HardState prev_hard_;
  bool ready_outstanding_ = false;
};

}  // namespace raftdns::raft
