// The leader's signing clock: every tick_interval, a ZoneSigning tick for
// each zone signed online, carrying the leader's time (and a fresh key when
// an automatic rollover is due). The apply on every node then renews the
// signatures nearing expiry and takes the rollovers' timed steps, so time
// enters the replicated state only through the log (docs/ARCHITECTURE.md,
// "Online signing").
#pragma once

#include <event2/event.h>

#include <chrono>
#include <cstdint>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "common/libevent.h"
#include "common/result.h"
#include "daemon/server/proposer.h"

namespace raftdns::store {
class Store;
}

namespace raftdns::server {

class SigningClock {
 public:
  using Clock = std::function<uint32_t()>;  // seconds since the epoch (tests pin it)

  SigningClock(
      event_base* base, const store::Store& store, Proposer& proposer,
      std::chrono::seconds interval, std::function<bool()> is_leader,
      Clock now = [] { return static_cast<uint32_t>(std::time(nullptr)); });
  Status start();

  // One round, as the timer runs it: on the leader, a tick for every signed
  // zone that has none in flight. Never blocks; a key is made here when a
  // rollover needs one (microseconds). A big zone still being signed in
  // slices (SigningInfo::complete false) gets its next tick as soon as the
  // last one is applied, not an interval later.
  void tick_all() { tick(false); }
  // Any thread: zones changed (the store's change observer). A zone that
  // signing was just turned on for, or whose content was replaced, may
  // need its slices signed: look at once rather than an interval later.
  void zones_changed();
  // Zones whose tick is proposed and not yet answered.
  size_t in_flight() const { return in_flight_.size(); }

 private:
  void on_timer(evutil_socket_t, short);
  void on_soon(evutil_socket_t, short);
  void tick(bool incomplete_only);
  void finished(const std::string& zone, const Status& status);

  event_base* base_;
  const store::Store& store_;
  Proposer& proposer_;
  std::chrono::seconds interval_;
  std::function<bool()> is_leader_;
  Clock now_;
  EventPtr timer_, soon_;
  std::set<std::string> in_flight_;             // zone names (text)
  std::map<std::string, std::string> failing_;  // zone -> the error last logged
};

}  // namespace raftdns::server
