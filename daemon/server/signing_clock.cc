// The leader's signing clock (see signing_clock.h).
#include "daemon/server/signing_clock.h"

#include <algorithm>
#include <optional>
#include <utility>

#include "daemon/server/log.h"
#include "daemon/store/signing.h"
#include "daemon/store/store.h"

namespace raftdns::server {

SigningClock::SigningClock(event_base* base, const store::Store& store, Proposer& proposer,
                           std::chrono::seconds interval, std::function<bool()> is_leader,
                           Clock now)
    : base_(base),
      store_(store),
      proposer_(proposer),
      interval_(interval),
      is_leader_(std::move(is_leader)),
      now_(std::move(now)) {}

Status SigningClock::start() {
  timer_.reset(event_new(base_, -1, EV_PERSIST, forward_to<&SigningClock::on_timer>, this));
  soon_.reset(event_new(base_, -1, 0, forward_to<&SigningClock::on_soon>, this));
  if (!timer_ || !soon_) return make_error("cannot create the signing clock's timer");
  const timeval every{static_cast<time_t>(interval_.count()), 0};
  event_add(timer_.get(), &every);
  return {};
}

void SigningClock::zones_changed() {
  // event_active is safe from any thread once libevent's locking is on
  // (the daemon turns it on first), and a burst of changes runs it once.
  if (soon_) event_active(soon_.get(), EV_TIMEOUT, 0);
}

void SigningClock::on_timer(evutil_socket_t, short) { tick(false); }

void SigningClock::on_soon(evutil_socket_t, short) { tick(true); }

void SigningClock::tick(bool incomplete_only) {
  if (!is_leader_()) return;
  for (const wire::Name& zone : store_.signed_zones()) {
    std::string name = zone.to_text();
    if (in_flight_.contains(name)) continue;  // a slow apply: one tick at a time per zone
    std::optional<store::SigningInfo> info = store_.signing(zone);
    if (!info) continue;  // unsigned since the list was read
    if (incomplete_only && info->complete) continue;
    const uint32_t now = now_();
    store::ZoneSigning command;
    command.action = store::ZoneSigning::Action::tick;
    command.zone = zone;
    command.now = now;
    // The apply reads the same rule (signing_key_needed) at the same
    // `now`: a key travels only with the tick that starts a rollover.
    if (std::optional<uint16_t> flags = store::signing_key_needed(*info, now)) {
      auto key = store::make_new_key(info->params.algorithm, *flags);
      if (!key) {
        finished(name, make_error("cannot make a key for its rollover: " + key.error()));
        continue;
      }
      command.keys.push_back(std::move(*key));
    }
    in_flight_.insert(name);
    ProposalOptions options;
    // A tick is retried next interval anyway; never wait much longer.
    options.deadline = std::chrono::steady_clock::now() +
                       std::max<std::chrono::seconds>(interval_, std::chrono::seconds(10));
    proposer_.submit(std::move(command), options, [this, zone, name](Status status, uint64_t) {
      in_flight_.erase(name);
      finished(name, status);
      // The next slice of a zone being signed whole: from the loop, not
      // from inside this callback, so a proposer that answers at once
      // cannot recurse.
      if (status && soon_ && !event_pending(soon_.get(), EV_TIMEOUT, nullptr)) {
        std::optional<store::SigningInfo> now_info = store_.signing(zone);
        if (now_info && !now_info->complete) {
          const timeval at_once{0, 0};
          event_add(soon_.get(), &at_once);
        }
      }
    });
  }
}

void SigningClock::finished(const std::string& zone, const Status& status) {
  auto it = failing_.find(zone);
  if (status) {
    if (it != failing_.end()) {
      log_info("signing clock: zone " + zone + " ticks again");
      failing_.erase(it);
    }
    return;
  }
  // Logged once per reason, not every interval while it persists.
  if (it != failing_.end() && it->second == status.error()) return;
  log_warning("signing clock: tick of zone " + zone + " failed (retried every " +
              std::to_string(interval_.count()) + " s): " + status.error());
  failing_[zone] = status.error();
}

}  // namespace raftdns::server
