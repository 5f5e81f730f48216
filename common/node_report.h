// NodeReport: one node's replication state as status output shows it, shared by the driver and the control protocol.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace raftdns {

// One peer as a node sees it.
struct PeerReport {
  std::string id;
  bool reachable = false;
  uint64_t match = 0;          // leader only: the peer's replicated index
  uint64_t lag = 0;            // leader only: entries the peer is behind
  int64_t last_heard_ms = -1;  // -1: never

  friend bool operator==(const PeerReport&, const PeerReport&) = default;
};

// One node's replication state (dnsadm status, status --cluster).
struct NodeReport {
  std::string id;
  bool reachable = true;  // false: the node did not answer (see error)
  std::string error;
  std::string role;  // follower, pre_candidate, candidate, leader
  uint64_t term = 0;
  std::string leader;  // empty: none known
  uint64_t commit = 0;
  uint64_t applied = 0;
  uint64_t wal_bytes = 0;
  uint64_t snapshot_index = 0;
  std::string digest;  // state digest at `applied`
  std::vector<PeerReport> peers;

  friend bool operator==(const NodeReport&, const NodeReport&) = default;
};

}  // namespace raftdns
