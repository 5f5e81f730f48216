// ClusterNode: the node driver that joins the Raft core, the WAL, the store
// and the peer transport on the main event loop.
//
// ## The driver loop
//
// Inputs (a peer message, a proposal, a tick) only feed the core; the Ready is
// drained once per loop iteration from a deferred event, so proposals that
// arrive together become one log append and one fdatasync. For each Ready, in
// this order (DESIGN.md, "Durability order"):
//
//   1. snapshot data swapped into the store (it arrived in chunks before the
//      snap message was stepped), the WAL reset to the snapshot point; new
//      entries appended (a conflicting suffix truncated first), the hard state
//      written when term or vote changed; then ONE wal.sync() if must_sync;
//   2. messages sent (a snap message starts a chunked store copy instead);
//   3. committed entries applied to LMDB in one write transaction that also
//      records the applied index; conf changes applied to the core and their
//      membership recorded in the same transaction;
//   4. advance.
//
// The commit index is persisted lazily (with term/vote changes): after a
// restart it is at least the store's applied index, and the leader tells us
// the rest.
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
// reachable", never having entered the log.
//
// ## Restart
//
// The store (LMDB) holds the applied index and membership; the WAL holds the
// entries and hard state. At open, a WAL that ends before the store's applied
// index (a snapshot swapped in just before a crash) is reset to that point.
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
#include "common/result.h"
#include "wal/log.h"
#include "replication/transport.h"

struct event_base;

namespace raftdns::store {
class Store;
}

namespace raftdns::replication {

// Raft node ids are derived from the operator's string ids (FNV-1a 64, never 0).
uint64_t raft_id_of(const std::string& node_id);

// Counters and histograms the driver keeps for a metrics scraper on another
// thread. The driver (main loop) is the only writer; fields are relaxed
// atomics. Gauges such as term and role are not here: they are read through
// local_summary() on the loop and published from there.
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
  Key key;
  std::vector<PeerConfig> peers;
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
  // Bytes of a store copy per snapshot chunk.
  size_t snapshot_chunk = size_t{1} << 20;
  std::function<void(const std::string&)> log;
  // Optional; must outlive the node.
  DriverMetrics* metrics = nullptr;
};

struct PeerReport {
  std::string id;
  bool reachable = false;
  uint64_t match = 0;
  uint64_t lag = 0;
  int64_t last_heard_ms = -1;  // -1: never
};

struct NodeReport {
  std::string id;
  bool reachable = true;
  std::string error;
  std::string role;
  uint64_t term = 0;
  std::string leader;
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t wal_bytes = 0;
  uint64_t snapshot_index = 0;
  std::string digest;
  std::vector<PeerReport> peers;
};

class ClusterNode {
 public:
  using Clock = std::chrono::steady_clock;
  using Done = std::function<void(Status status, uint64_t index)>;

  // Opens the WAL, reconciles it with the store and builds the Raft core.
  // A brand-new node writes the bootstrap log (every configured member a
  // voter). Errors name the WAL directory or the inconsistency.
  static Result<std::unique_ptr<ClusterNode>> open(event_base* base, NodeConfig config,
                                                   store::Store& store);
  ~ClusterNode();
  ClusterNode(const ClusterNode&) = delete;
  ClusterNode& operator=(const ClusterNode&) = delete;

  // Starts the transport and the tick timer.
  [[nodiscard]] Status start();
  // Syncs the WAL, stops the transport and timers; pending requests fail.
  void stop();

  // Proposes an encoded store::Command (already checked against the local
  // store). `done` runs once, on the loop thread.
  void submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done);

  // Completes once every member has applied `index`, or at the deadline with
  // the members that have not.
  void wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                               std::function<void(Status)> done);

  NodeReport local_report() const;
  // local_report() without the store digest: cheap enough to call often.
  NodeReport local_summary() const;
  // This node's report followed by each peer's (unreachable ones marked).
  void cluster_report(Clock::time_point deadline,
                      std::function<void(std::vector<NodeReport>)> done);

  uint64_t applied_index() const;
  bool is_leader() const;

  class Impl;

 private:
  explicit ClusterNode(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace raftdns::replication
