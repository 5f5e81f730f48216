// Daemon: wires the store, proposer, DNS workers and control socket
// together, and runs the main loop with its signals and sd_notify.
//
// Start-up order: open the store, bind every DNS socket and the control
// socket (any failure stops start-up with a message naming it), start the
// workers, then READY=1. SIGTERM/SIGINT: STOPPING=1, stop accepting control
// requests, stop the workers, close LMDB, remove the socket. SIGHUP re-reads
// the config file and applies the keys that can change at run time.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include "common/result.h"
#include "daemon/server/config.h"
#include "common/libevent.h"
#include "common/unique_fd.h"
#include "daemon/server/control_service.h"
#include "daemon/server/store_state_machine.h"

namespace raftdns::store {
class Store;
}
namespace raftdns::replication {
class ClusterNode;
struct DriverMetrics;
}
namespace raftdns::xfr {
class RefusalLog;
}

namespace raftdns::server {

class ConnectionLimiter;
class ControlListener;
class ControlService;
class CatalogKeeper;
class DnsWorker;
class MetricsHttpServer;
class MetricsService;
struct LoopSnapshot;
class NotifySender;
class Inbox;
class UpdateService;
class Proposer;
class ServingSettings;
class SigningClock;

class Daemon {
 public:
  explicit Daemon(Config config);
  ~Daemon();

  Status start();
  // Runs the main loop until SIGTERM or SIGINT, then shuts down cleanly.
  void run();
  // The process exit status after run(): 0, kExitRemoved when this node
  // was removed from the cluster, or 1 after a fatal condition (a joining
  // node whose cluster key no peer accepts).
  int exit_status() const { return exit_status_; }
  static constexpr int kExitRemoved = 3;

 private:
  void on_terminate(evutil_socket_t signal, short what);
  void on_reload(evutil_socket_t signal, short what);
  void shutdown();
  Status open_cluster();
  ControlService::ClusterAdmin cluster_admin();
  void backup_chunk(const control::Request& request, ControlService::Reply reply);
  void forget_backup();
  Status open_metrics();
  void publish_metrics(evutil_socket_t = -1, short = 0);
  // One bounded slice of Store::reclaim(), re-armed soon while there is more.
  void reclaim_slice(evutil_socket_t = -1, short = 0);
  uint64_t queries_served() const;

  Config config_;
  std::chrono::steady_clock::time_point started_;
  EventBasePtr base_;
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<StoreStateMachine> state_machine_;  // binds store_ to the driver
  std::unique_ptr<replication::ClusterNode> cluster_;
  std::unique_ptr<Proposer> proposer_;
  std::unique_ptr<ServingSettings> settings_;
  std::unique_ptr<ConnectionLimiter> limiter_;
  std::unique_ptr<xfr::RefusalLog> refusals_;  // outlives the workers that share it
  std::shared_ptr<Inbox> main_inbox_;  // work handed to the main loop by other threads
  std::unique_ptr<UpdateService> updates_;
  std::vector<std::unique_ptr<DnsWorker>> workers_;
  std::unique_ptr<NotifySender> notify_;
  std::unique_ptr<CatalogKeeper> catalog_;  // when [catalog] zone is set
  std::unique_ptr<SigningClock> signing_clock_;  // ticks the zones signed online (leader)
  std::unique_ptr<ControlService> control_service_;
  std::unique_ptr<ControlListener> control_;
  std::vector<EventPtr> signal_events_;
  // Metrics ([metrics] listen): the driver's counters always exist; the
  // service, its HTTP thread and the publishing timer only when enabled.
  std::unique_ptr<replication::DriverMetrics> driver_metrics_;
  std::unique_ptr<MetricsService> metrics_;
  std::unique_ptr<MetricsHttpServer> metrics_http_;
  EventPtr metrics_timer_;
  EventPtr reclaim_timer_;
  uint64_t applied_at_start_ = 0;
  int exit_status_ = 0;
  // dnsadm backup: the store copy being read, and the thread making one.
  struct BackupCopy {
    std::string id, dir, path;
    uint64_t index = 0, term = 0, size = 0;
  };
  std::optional<BackupCopy> backup_;
  std::thread backup_thread_;
  bool backup_running_ = false;
  // The last published snapshot: its store figures and zone list are reused
  // until the applied index moves (they take a scan of the zones table).
  std::shared_ptr<const LoopSnapshot> last_snapshot_;
};

}  // namespace raftdns::server
