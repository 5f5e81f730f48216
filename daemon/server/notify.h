// NOTIFY sender (RFC 1996): after this node applies a change to a zone, tell
// the [[transfer.notify]] targets, over UDP, on the main loop.
//
// Every node sends for the changes it applies, so a secondary hears from
// each primary it lists; secondaries dedupe by serial. One NOTIFY is in
// flight per (zone, target): a newer change replaces an unanswered one (its
// serial is what counts). An unanswered NOTIFY is sent again after 1, 2, 4,
// 8 and 16 seconds, then given up with a log line; the secondary's own
// refresh timer still catches it up. Nothing here blocks: the sockets are
// non-blocking and the retries are timers.
#pragma once

#include <event2/event.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "daemon/server/config.h"
#include "common/libevent.h"
#include "common/unique_fd.h"
#include "daemon/tsig/tsig.h"

namespace raftdns::store {
class Store;
}

namespace raftdns::server {

struct NotifyCounters {
  uint64_t sent = 0;       // NOTIFY messages sent, retries included
  uint64_t answered = 0;   // acknowledged by the target
  uint64_t given_up = 0;   // unanswered after every retry
};

class NotifySender {
 public:
  NotifySender(event_base* base, const store::Store& store, std::vector<NotifyTarget> targets,
               tsig::KeyRing keys);
  ~NotifySender();
  NotifySender(const NotifySender&) = delete;
  NotifySender& operator=(const NotifySender&) = delete;

  // Opens the UDP sockets (one per address family the targets use).
  Status open();
  // Any thread: these zones changed. The sends happen on the loop.
  void zones_changed(const std::vector<wire::Name>& zones);

  NotifyCounters counters() const { return counters_; }

 private:
  struct Pending {
    wire::Name zone;
    size_t target = 0;
    uint32_t serial = 0;
    uint16_t id = 0;
    unsigned attempts = 0;
    std::vector<uint8_t> message;
    std::vector<uint8_t> request_mac;
    EventPtr timer;
    NotifySender* owner = nullptr;
    void on_timer(evutil_socket_t, short) { owner->send(*this); }
  };
  using PendingKey = std::pair<std::string, size_t>;  // zone text, target index

  void on_wakeup(evutil_socket_t, short);
  void on_readable(evutil_socket_t fd, short);
  void start(const wire::Name& zone);
  void send(Pending& p);
  bool wanted(const NotifyTarget& t, const wire::Name& zone) const;

  event_base* base_;
  const store::Store& store_;
  std::vector<NotifyTarget> targets_;
  tsig::KeyRing keys_;
  UniqueFd v4_, v6_;
  EventPtr v4_event_, v6_event_, wakeup_;
  std::mutex queue_mutex_;
  std::vector<wire::Name> queue_;  // zones changed, from any thread
  std::map<PendingKey, std::unique_ptr<Pending>> pending_;
  std::map<std::string, bool> warned_;  // targets whose failure was logged
  NotifyCounters counters_;
  uint16_t next_id_;
};

}  // namespace raftdns::server
