// ClusterNode: runs the Driver on the main libevent loop (tick timer, deferred Ready, snapshot pump).
#include "replication/node.h"

#include <event2/event.h>

#include "replication/driver.h"
#include "common/libevent.h"

namespace raftdns::replication {

class ClusterNode::Loop {
 public:
  Loop(event_base* base, NodeConfig cfg, StateMachine& sm) : base_(base) {
    std::unique_ptr<PeerNetwork> network;
    if (!cfg.peers.empty() || !cfg.listen.empty() || cfg.join) {
      TransportConfig tc;
      tc.self_id = cfg.self_id;
      tc.listen = cfg.listen;
      tc.key = cfg.key;
      tc.peers = cfg.peers;
      auto log = cfg.log;
      tc.log = [log](const std::string& l) {
        if (log) log("peer: " + l);
      };
      network = make_tcp_network(base, std::move(tc));
    }
    Driver::Hooks hooks;
    hooks.wake = [this] {
      if (ready_ev_) event_active(ready_ev_.get(), 0, 0);
    };
    hooks.pump = [this](bool on) {
      if (!pump_ev_) return;
      if (on && !event_pending(pump_ev_.get(), EV_TIMEOUT, nullptr)) {
        timeval tv{0, 2000};
        event_add(pump_ev_.get(), &tv);
      } else if (!on) {
        event_del(pump_ev_.get());
      }
    };
    tick_ = cfg.tick;
    election_ = cfg.tick * cfg.election_ticks;
    log_ = cfg.log;
    driver_ = std::make_unique<Driver>(std::move(cfg), sm, std::move(network), std::move(hooks));
  }

  Status open() { return driver_->open(); }

  Status start() {
    tick_ev_.reset(event_new(base_, -1, EV_PERSIST, forward_to<&Loop::on_tick>, this));
    ready_ev_.reset(event_new(base_, -1, 0, forward_to<&Loop::on_ready>, this));
    pump_ev_.reset(event_new(base_, -1, EV_PERSIST, forward_to<&Loop::on_pump>, this));
    const auto us = std::chrono::duration_cast<std::chrono::microseconds>(tick_).count();
    timeval tv{static_cast<time_t>(us / 1000000), static_cast<suseconds_t>(us % 1000000)};
    event_add(tick_ev_.get(), &tv);
    return driver_->start();
  }

  void stop() {
    driver_->stop();
    tick_ev_.reset();
    ready_ev_.reset();
    pump_ev_.reset();
  }

  Driver& driver() { return *driver_; }
  const Driver& driver() const { return *driver_; }

 private:
  // A tick far later than its interval means the loop was held (by work on
  // it, or by the machine): heartbeats and votes waited as long. Worth a line,
  // since a hold past the election timeout costs the cluster its leader.
  void on_tick(evutil_socket_t, short) {
    const auto now = std::chrono::steady_clock::now();
    const auto late = now - last_tick_ - tick_;
    if (last_tick_.time_since_epoch().count() != 0 && late > election_ / 2 && log_) {
      log_("the loop was held " +
           std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(late).count()) +
           " ms past a tick (the election timeout is " + std::to_string(election_.count()) +
           " ms)");
    }
    last_tick_ = now;
    driver_->tick();
  }
  void on_ready(evutil_socket_t, short) { driver_->process_ready(); }
  void on_pump(evutil_socket_t, short) { driver_->pump_snapshots(); }

  event_base* base_;
  std::chrono::milliseconds tick_, election_;
  std::chrono::steady_clock::time_point last_tick_{};
  std::function<void(const std::string&)> log_;
  std::unique_ptr<Driver> driver_;
  EventPtr tick_ev_, ready_ev_, pump_ev_;
};

ClusterNode::ClusterNode(std::unique_ptr<Loop> loop) : loop_(std::move(loop)) {}
ClusterNode::~ClusterNode() {
  if (loop_) loop_->stop();
}

Result<std::unique_ptr<ClusterNode>> ClusterNode::open(event_base* base, NodeConfig config,
                                                       StateMachine& state) {
  auto loop = std::make_unique<Loop>(base, std::move(config), state);
  if (auto s = loop->open(); !s) return std::move(s).take_error();
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(loop)));
}

Status ClusterNode::start() { return loop_->start(); }
void ClusterNode::stop() { loop_->stop(); }
void ClusterNode::submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done) {
  if (DriverMetrics* m = loop_->driver().metrics()) {
    m->proposals.fetch_add(1, std::memory_order_relaxed);
    done = [m, done = std::move(done)](Status status, uint64_t index) {
      if (!status) m->proposal_failures.fetch_add(1, std::memory_order_relaxed);
      done(std::move(status), index);
    };
  }
  loop_->driver().submit(std::move(command), deadline, std::move(done));
}
void ClusterNode::wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                                          std::function<void(Status)> done) {
  loop_->driver().wait_applied_everywhere(index, deadline, std::move(done));
}
void ClusterNode::read_barrier(Clock::time_point deadline,
                               std::function<void(Status, uint64_t)> done) {
  loop_->driver().read_barrier(deadline, std::move(done));
}
NodeReport ClusterNode::local_report() const { return loop_->driver().local_report(); }
void ClusterNode::digest(std::function<void(std::string)> done) {
  loop_->driver().digest(std::move(done));
}
void ClusterNode::cluster_report(Clock::time_point deadline,
                                 std::function<void(std::vector<NodeReport>)> done, bool digests) {
  loop_->driver().cluster_report(deadline, std::move(done), digests);
}
uint64_t ClusterNode::applied_index() const { return loop_->driver().applied_index(); }
bool ClusterNode::is_leader() const { return loop_->driver().is_leader(); }
void ClusterNode::change_membership(const MemberRequest& request, Clock::time_point deadline,
                                    Done done) {
  loop_->driver().change_membership(request, deadline, std::move(done));
}
void ClusterNode::transfer_leadership(const std::string& target, Clock::time_point deadline,
                                      std::function<void(Status)> done) {
  loop_->driver().transfer_leadership(target, deadline, std::move(done));
}
const Membership& ClusterNode::membership() const { return loop_->driver().membership(); }

}  // namespace raftdns::replication
