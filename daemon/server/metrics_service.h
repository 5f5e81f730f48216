// MetricsService: what /metrics, /healthz and /readyz answer, assembled on
// the metrics thread without stopping anyone.
//
// Two kinds of source, chosen by who may touch them:
//   - counters that the DNS workers, the Raft driver and the WAL keep as
//     relaxed atomics (DnsMetrics, WorkerCounters, DriverMetrics): read
//     directly at scrape time and summed over workers;
//   - state that only the main loop may read (the Raft status, store
//     figures, the zone list, control request counts): the main loop copies
//     it into a LoopSnapshot on a timer and publishes it with one atomic
//     pointer swap. A scrape reads the newest snapshot; it never waits for
//     the main loop, and the main loop never waits for a scrape.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "daemon/server/control_service.h"
#include "daemon/server/metrics_http.h"
#include "daemon/server/update_service.h"
#include "daemon/store/store.h"
#include "replication/node.h"

namespace raftdns::server {

class DnsWorker;

struct LoopSnapshot {
  std::chrono::steady_clock::time_point taken;
  bool has_cluster = false;
  replication::NodeReport node;  // local_report(): no digest
  store::StoreStats store;
  std::vector<store::ZoneInfo> zones;
  ControlService::RequestCounts control;
};

class MetricsService {
 public:
  struct Sources {
    std::string node_id;
    std::vector<const DnsWorker*> workers;
    const store::Store* store = nullptr;
    const replication::DriverMetrics* driver = nullptr;
    const UpdateCounters* updates = nullptr;  // RFC 2136 UPDATE outcomes
    uint64_t applied_at_start = 0;  // the store's applied index when it opened
    // /healthz fails once the main loop has published nothing for this long.
    std::chrono::milliseconds loop_stall_limit{10000};
  };
  explicit MetricsService(Sources sources);

  // Main loop: the newest state. `snapshot` must not be changed afterwards.
  void publish(std::shared_ptr<const LoopSnapshot> snapshot);
  // Set once the DNS workers are serving from the store.
  void set_serving() { serving_.store(true, std::memory_order_release); }

  // Metrics thread (or any thread).
  HttpAnswer metrics() const;
  HttpAnswer healthz() const;
  HttpAnswer readyz() const;
  std::string render() const;

 private:
  std::shared_ptr<const LoopSnapshot> latest() const {
    return snapshot_.load(std::memory_order_acquire);
  }
  Sources sources_;
  std::atomic<std::shared_ptr<const LoopSnapshot>> snapshot_;
  std::atomic<bool> serving_{false};
};

// How many voters this node reaches, itself included, out of how many
// (its configured peers plus itself).
struct QuorumView {
  size_t reachable = 1;
  size_t voters = 1;
  bool has_quorum() const { return reachable * 2 > voters; }
};
QuorumView quorum_view(const replication::NodeReport& node);

}  // namespace raftdns::server
