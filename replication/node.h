// ClusterNode: the replication driver on the main event loop.
//
// The driver joins the Raft core, the WAL, a StateMachine (the daemon binds
// its LMDB store) and the peer transport. The work itself is done by Driver
// (replication/driver.h), which has no event loop of its own; ClusterNode
// gives it libevent timers. The in-process tests drive Driver directly.
//
// ## The driver loop
//
// Inputs (a peer message, a proposal, a tick) only feed the core; the Ready is
// drained once per loop iteration from a deferred event, so proposals that
// arrive together become one log append and one fdatasync. For each Ready, in
// this order (docs/ARCHITECTURE.md, "Durability order"):
//
//   1. a snapshot the core accepted is installed into the state machine
//      (its file arrived in chunks and was made durable before the snap
//      message was stepped), then the WAL is reset to the snapshot point;
//   2. new entries appended (a conflicting suffix truncated first) and, if
//      must_sync, the segment fdatasynced: the Ready's one sync;
//   3. the hard state written when term or vote changed (the WAL's meta
//      file, its own fdatasync). It comes after the entries because its
//      commit index may cover them: a commit index must never be durable
//      before the entries it commits;
//   4. messages sent (a snap message starts a store copy on a thread, then a
//      chunked stream);
//   5. committed entries applied in one state machine step that also records
//      the applied index; conf changes applied to the core and their
//      membership recorded in the same step;
//   6. advance.
//
// The commit index is persisted lazily (with term/vote changes): after a
// restart it is at least the state machine's applied index, and the leader
// tells us the rest.
//
// ## Requests
//
// A command proposed on this node travels in an envelope (origin node,
// request id, command). A follower forwards the envelope to the leader, which
// proposes it. Every node applies every entry; the origin completes its own
// pending request when it applies the entry, so the caller's answer means
// "committed and applied here". A proposal is attempted only while this node
// sees a leader and (on the leader) a reachable quorum; otherwise it waits
// for one until its deadline and then fails with "no quorum: k of n voters
// reachable", never having entered the log. A forward lost with its
// connection is sent again (to whoever leads then), flagged so the leader
// first looks for it in its log: a retry never applies a command twice.
//
// ## Restart
//
// The state machine holds the applied index and membership; the WAL holds
// the entries and hard state. At open, a WAL that ends before the applied
// index (a snapshot installed just before a crash) is reset to that point;
// a state machine behind the WAL's compaction point (its data lost) is
// refused, naming both.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "common/node_report.h"
#include "common/result.h"
#include "wal/log.h"
#include "replication/transport.h"

struct event_base;

namespace raftdns::wal {
class FileSystem;
}

namespace raftdns::replication {

class StateMachine;
class Driver;
struct MemberRequest;
struct Membership;

// Raft node ids are derived from the operator's string ids (FNV-1a 64, never 0).
uint64_t raft_id_of(const std::string& node_id);

// Counters and histograms the driver keeps for a metrics scraper on another
// thread. The driver (main loop) is the only writer; fields are relaxed
// atomics. Gauges such as term and role are not here: they are read through
// local_report() on the loop and published from there.
struct DriverMetrics {
  wal::LogMetrics wal;
  LatencyHistogram apply_seconds;  // one store write transaction per run of entries
  std::atomic<uint64_t> leader_changes{0};  // a different leader seen (not "none")
  std::atomic<uint64_t> proposals{0};       // writes submitted on this node
  std::atomic<uint64_t> proposal_failures{0};
  std::atomic<uint64_t> snapshots_made{0};  // store copies made to send
  std::atomic<uint64_t> snapshots_sent{0};
  std::atomic<uint64_t> snapshot_bytes_sent{0};
  std::atomic<uint64_t> snapshots_received{0};  // installed
  std::atomic<uint64_t> snapshot_bytes_received{0};
};

struct NodeConfig {
  std::string self_id;
  std::string listen;
  // The address the other members dial to reach this node, recorded in the
  // bootstrap membership; empty: `listen`.
  std::string advertise;
  Key key;
  // The bootstrap membership (with this node): read on a node's first start
  // only. Afterwards the replicated membership rules, and a list that
  // disagrees with it is only worth a warning.
  std::vector<PeerConfig> peers;
  // A new node joining a running cluster: it never bootstraps a log of its
  // own, but waits for the leader to add it and send its snapshot. A data
  // directory that holds another cluster's state is refused.
  bool join = false;
  // Restart as a one-voter cluster of this node, keeping every entry in its
  // log (disaster recovery after losing a quorum for good).
  bool force_new_cluster = false;
  // Called (on the loop) once this node learns it was removed from the
  // membership; it should stop serving. The driver itself stops proposing.
  std::function<void(const std::string& why)> on_removed;
  // Called (on the loop) with one line when this node cannot go on and no
  // retry would help: a joining node whose cluster key none of its peers
  // accepts. It should exit with an error. The driver stops proposing.
  std::function<void(const std::string& why)> on_fatal;
  std::string wal_dir;
  // Scratch space for snapshot copies; must be on the store's file system.
  std::string snapshot_dir;
  std::chrono::milliseconds tick{50};
  int election_ticks = 10;
  int heartbeat_ticks = 1;
  // Compact the WAL once this many entries have been applied past the last
  // compaction point, or the WAL has grown by this many bytes since; the
  // newest compact_entries/2 entries are kept for followers that lag a little.
  uint64_t compact_entries = 10000;
  uint64_t compact_bytes = uint64_t{64} << 20;
  // Size of a WAL segment file (preallocated); tests shrink it.
  uint64_t wal_segment_bytes = uint64_t{64} << 20;
  // Bytes of a store copy per snapshot chunk.
  size_t snapshot_chunk = size_t{1} << 20;
  std::function<void(const std::string&)> log;
  // The file system for the WAL and the snapshot files (nullptr: the real
  // one). Tests pass a fault-injecting one.
  wal::FileSystem* fs = nullptr;
  // Called when the node cannot go on (a failed write or fsync, a broken
  // invariant). It must not return; the default logs and aborts.
  std::function<void(const std::string&)> fatal;
  // Optional; must outlive the node.
  DriverMetrics* metrics = nullptr;
  // Apply committed entries on a thread of their own (the daemon does): the
  // loop goes on persisting and replicating while the state machine commits,
  // and the runs committed meanwhile are applied together, in one step. Off,
  // the loop applies each run itself (the in-process tests' default: fully
  // deterministic).
  bool apply_thread = false;
  // With the apply thread: how long a run no request here waits for may
  // wait for more (ApplyThread). It delays a follower's answers by as much.
  std::chrono::milliseconds apply_linger{0};
};

// The status structs are shared with the control protocol (common/).
using raftdns::NodeReport;
using raftdns::PeerReport;

class ClusterNode {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(Status status, uint64_t index)>;

  // Opens the WAL, reconciles it with the store and builds the Raft core.
  // A brand-new node writes the bootstrap log (every configured member a
  // voter). Errors name the WAL directory or the inconsistency.
  static Result<std::unique_ptr<ClusterNode>> open(event_base* base, NodeConfig config,
                                                   StateMachine& state);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts the transport and the tick timer.
  [[nodiscard]] Status start();
  // Syncs the WAL, stops the transport and timers; pending requests fail.
  void stop();

  // Proposes a command (opaque bytes the state machine understands). `done`
  // runs once, on the loop thread, when the command is applied here (with
  // the state machine's verdict), or fails.
  void submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done);

  // Completes once every member has applied `index`, or at the deadline with
  // the members that have not.
  void wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                               std::function<void(Status)> done);

  // Completes, with the applied index, once this node has applied every
  // change committed anywhere before the call (see Driver::read_barrier).
  void read_barrier(Clock::time_point deadline, std::function<void(Status, uint64_t)> done);

  // This node's state without the store digest: cheap enough to call often.
  NodeReport local_report() const;
  // The store digest as applied now, computed off the loop; `done` runs on
  // the loop.
  void digest(std::function<void(std::string)> done);
  // This node's report followed by each peer's (unreachable ones marked),
  // with each store's digest if `digests`.
  void cluster_report(Clock::time_point deadline, std::function<void(std::vector<NodeReport>)> done,
                      bool digests = true);

  uint64_t applied_index() const;
  bool is_leader() const;

  // Membership changes and leadership transfer (see Driver).
  void change_membership(const MemberRequest& request, Clock::time_point deadline,
                         Done done);
  void transfer_leadership(const std::string& target, Clock::time_point deadline,
                           std::function<void(Status)> done);
  const Membership& membership() const;

  class Loop;

 private:
  explicit ClusterNode(std::unique_ptr<Loop> loop);
  std::unique_ptr<Loop> loop_;
};

}  // namespace raftdns::replication
