// Control service: turns control requests into store reads and proposals,
// and serves them on the Unix control socket from the main event loop.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <unordered_map>

#include "common/libevent.h"
#include "common/result.h"
#include "common/unique_fd.h"
#include "daemon/control/protocol.h"
#include "daemon/server/proposer.h"
#include "daemon/store/command.h"

namespace raftdns::store {
class Store;
}

namespace raftdns::server {

// Request handling without sockets (so it can be tested and reused). Reads
// answer at once; writes go through the Proposer and answer from its
// callback, on the main loop thread.
class ControlService {
 public:
  using Reply = std::function<void(control::Response)>;
  using StatusSource = std::function<control::StatusInfo()>;
  // Asks every cluster member for its state; answers asynchronously.
  using ClusterStatusSource = std::function<void(
      std::chrono::steady_clock::time_point deadline,
      std::function<void(std::vector<control::NodeInfo>)> done)>;

  // Membership and leadership (dnsadm member ..., leader transfer); the
  // daemon binds them to the replication driver.
  struct ClusterAdmin {
    using Deadline = std::chrono::steady_clock::time_point;
    std::function<void(Deadline, std::function<void(std::vector<control::MemberInfo>)>)> list;
    std::function<void(const control::Request&, Deadline, std::function<void(Status, uint64_t)>)>
        change;
    std::function<void(const std::string& target, Deadline, std::function<void(Status)>)> transfer;
    // dnsadm backup: one chunk of a consistent store copy per request.
    std::function<void(const control::Request&, Reply)> backup;
  };

  ControlService(store::Store& store, Proposer& proposer, StatusSource status);
  void handle(const control::Request& request, Reply reply);
  void set_cluster_status(ClusterStatusSource source) { cluster_status_ = std::move(source); }
  // The store digest for `status`, computed off the loop: the status waits
  // for it, while the loop goes on serving the cluster.
  using DigestSource = std::function<void(std::function<void(std::string)>)>;
  void set_status_digest(DigestSource source) { status_digest_ = std::move(source); }
  void set_cluster_admin(ClusterAdmin admin) { admin_ = std::move(admin); }
  // The [dnssec] policy `zone sign` starts from (the request overrides it
  // value by value), and the clock a signing command carries.
  void set_signing_defaults(const store::SigningParams& defaults) { signing_defaults_ = defaults; }
  void set_clock(std::function<uint32_t()> now) { now_ = std::move(now); }

  // Requests answered so far, by operation and whether the answer was a
  // success. Read on the main loop thread (the metrics snapshot).
  using RequestCounts = std::map<std::pair<control::Op, bool>, uint64_t>;
  const RequestCounts& request_counts() const { return request_counts_; }

 private:
  void dispatch(const control::Request& request, Reply reply);
  // zone_sign, zone_unsign, zone_roll, zone_ds_seen and zone_keys.
  void signing(const control::Request& request, Reply reply);
  // Proposes `command` and replies once it is applied (or refused). The
  // owners and types in `added` (records the change adds) are checked for
  // occlusion against the applied store, and a warning line is returned for
  // each zone that holds some: the data is kept but never served.
  void propose(store::Command command, const control::Request& request, Reply reply,
               std::vector<std::pair<wire::Name, uint16_t>> added = {});
  store::Store& store_;
  Proposer& proposer_;
  StatusSource status_;
  ClusterStatusSource cluster_status_;
  DigestSource status_digest_;
  ClusterAdmin admin_;
  store::SigningParams signing_defaults_;
  std::function<uint32_t()> now_;
  RequestCounts request_counts_;
};

// Resolves a group given by name (read from /etc/group, since a static
// binary must not use NSS) or by number.
Result<gid_t> resolve_group(const std::string& group, const std::string& group_file = "/etc/group");

// The listening Unix socket and its connections. Each connection handles one
// request at a time, in order: while a write is being proposed its later
// frames wait in its buffer.
class ControlListener {
 public:
  ControlListener(event_base* base, ControlService& service);
  ~ControlListener();

  // Creates the socket at `path` (mode 0660, group `group` when not empty).
  // A stale socket left by a crashed daemon is replaced; one that a live
  // daemon answers on is an error.
  Status open(const std::string& path, const std::string& group);
  // Stops accepting, drops connections and removes the socket file.
  void close();

 private:
  struct Connection;
  void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* addr, int len);
  void on_read(Connection& conn);
  void on_event(Connection& conn, short what);
  void process(const std::shared_ptr<Connection>& conn);
  void flush(Connection& conn);
  void drop(Connection& conn);

  event_base* base_;
  ControlService& service_;
  ListenerPtr listener_;
  std::string path_;
  std::unordered_map<Connection*, std::shared_ptr<Connection>> connections_;
};

}  // namespace raftdns::server
