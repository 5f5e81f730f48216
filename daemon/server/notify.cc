// NOTIFY sender: UDP sends, retries with backoff, acknowledgements.
#include "daemon/server/notify.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "daemon/server/log.h"
#include "daemon/store/store.h"
#include "daemon/wire/message.h"
#include "daemon/xfr/responder.h"

namespace raftdns::server {
namespace {

constexpr unsigned kMaxAttempts = 6;  // the first send and five retries
constexpr size_t kMaxMessage = 65535;

uint64_t wall_seconds() { return static_cast<uint64_t>(std::time(nullptr)); }

bool same_address(const sockaddr_storage& a, socklen_t alen, const SocketAddress& b) {
  if (a.ss_family != b.family()) return false;
  if (a.ss_family == AF_INET) {
    const auto* x = reinterpret_cast<const sockaddr_in*>(&a);
    const auto* y = reinterpret_cast<const sockaddr_in*>(&b.storage);
    return x->sin_port == y->sin_port && x->sin_addr.s_addr == y->sin_addr.s_addr;
  }
  const auto* x = reinterpret_cast<const sockaddr_in6*>(&a);
  const auto* y = reinterpret_cast<const sockaddr_in6*>(&b.storage);
  (void)alen;
  return x->sin6_port == y->sin6_port &&
         std::memcmp(&x->sin6_addr, &y->sin6_addr, sizeof(x->sin6_addr)) == 0;
}

}  // namespace

NotifySender::NotifySender(event_base* base, const store::Store& store,
                           std::vector<NotifyTarget> targets, tsig::KeyRing keys)
    : base_(base), store_(store), targets_(std::move(targets)), keys_(std::move(keys)) {
  std::random_device entropy;
  next_id_ = static_cast<uint16_t>(entropy());
}

NotifySender::~NotifySender() {
  pending_.clear();
  v4_event_.reset();
  v6_event_.reset();
  wakeup_.reset();
}

Status NotifySender::open() {
  wakeup_.reset(event_new(base_, -1, 0, forward_to<&NotifySender::on_wakeup>, this));
  if (!wakeup_) return make_error("cannot create the NOTIFY wake-up event");
  for (const NotifyTarget& t : targets_) {
    UniqueFd& fd = t.address.family() == AF_INET ? v4_ : v6_;
    EventPtr& ev = t.address.family() == AF_INET ? v4_event_ : v6_event_;
    if (fd) continue;
    fd = UniqueFd(::socket(t.address.family(), SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
    if (!fd) return make_error(std::string("cannot open a NOTIFY socket: ") + std::strerror(errno));
    ev.reset(event_new(base_, fd.get(), EV_READ | EV_PERSIST,
                       forward_to<&NotifySender::on_readable>, this));
    event_add(ev.get(), nullptr);
  }
  return {};
}

bool NotifySender::wanted(const NotifyTarget& t, const wire::Name& zone) const {
  if (t.zones.empty()) return true;
  for (const auto& z : t.zones)
    if (z == zone) return true;
  return false;
}

void NotifySender::zones_changed(const std::vector<wire::Name>& zones) {
  if (targets_.empty() || zones.empty()) return;
  {
    std::lock_guard lock(queue_mutex_);
    queue_.insert(queue_.end(), zones.begin(), zones.end());
  }
  if (wakeup_) event_active(wakeup_.get(), EV_TIMEOUT, 0);
}

void NotifySender::on_wakeup(evutil_socket_t, short) {
  std::vector<wire::Name> zones;
  {
    std::lock_guard lock(queue_mutex_);
    zones.swap(queue_);
  }
  for (const auto& z : zones) start(z);
}

void NotifySender::start(const wire::Name& zone) {
  auto soa = store_.get(zone, wire::rrtype::SOA);
  if (soa.empty()) {
    // Removed: nothing to announce (a catalog zone tells secondaries).
    for (size_t i = 0; i < targets_.size(); ++i) pending_.erase({zone.to_text(), i});
    return;
  }
  const auto fields = wire::soa_fields(soa.front().rdata);
  for (size_t i = 0; i < targets_.size(); ++i) {
    const NotifyTarget& t = targets_[i];
    if (!wanted(t, zone)) continue;
    auto& slot = pending_[{zone.to_text(), i}];
    if (!slot) {
      slot = std::make_unique<Pending>();
      slot->owner = this;
      slot->timer.reset(event_new(base_, -1, 0, forward_to<&Pending::on_timer>, slot.get()));
    }
    Pending& p = *slot;
    p.zone = zone;
    p.target = i;
    p.serial = fields ? fields->serial : 0;
    p.attempts = 0;
    p.id = next_id_++;
    p.message.assign(kMaxMessage, 0);
    const tsig::Key* key = t.key ? keys_.find(*t.key) : nullptr;
    size_t n = xfr::make_notify(p.message, p.id, zone, soa.front().rdata, soa.front().ttl, key,
                                wall_seconds(), &p.request_mac);
    p.message.resize(n);
    send(p);
  }
}

void NotifySender::send(Pending& p) {
  const NotifyTarget& t = targets_[p.target];
  const std::string what = "NOTIFY for " + p.zone.to_text() + " serial " +
                           std::to_string(p.serial) + " to " + t.address.to_text();
  if (p.attempts >= kMaxAttempts) {
    ++counters_.given_up;
    log_warning(what + ": no answer after " + std::to_string(kMaxAttempts) + " tries; giving up");
    pending_.erase({p.zone.to_text(), p.target});  // frees `p`
    return;
  }
  const UniqueFd& fd = t.address.family() == AF_INET ? v4_ : v6_;
  if (::sendto(fd.get(), p.message.data(), p.message.size(), 0, t.address.get(),
               t.address.length) < 0 &&
      !warned_[t.address.to_text()]) {
    warned_[t.address.to_text()] = true;
    log_warning(what + ": " + std::strerror(errno));
  }
  ++counters_.sent;
  // 1, 2, 4, 8, 16 s: RFC 1996 §3.6 leaves the schedule to us.
  timeval wait{static_cast<time_t>(1u << p.attempts), 0};
  ++p.attempts;
  event_add(p.timer.get(), &wait);
  if (p.attempts == 1) log_debug("sent " + what);
}

void NotifySender::on_readable(evutil_socket_t fd, short) {
  uint8_t buf[4096];
  for (int i = 0; i < 64; ++i) {
    sockaddr_storage from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = ::recvfrom(fd, buf, sizeof(buf), 0, reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) return;
    if (n < static_cast<ssize_t>(wire::kHeaderSize) || !(buf[2] & 0x80)) continue;
    const uint16_t id = static_cast<uint16_t>(buf[0] << 8 | buf[1]);
    for (auto it = pending_.begin(); it != pending_.end(); ++it) {
      Pending& p = *it->second;
      const NotifyTarget& t = targets_[p.target];
      if (p.id != id || !same_address(from, from_len, t.address)) continue;
      const uint8_t rcode = buf[3] & 0xf;
      std::string problem;
      if (rcode != 0) {
        problem = "it answered " + wire::rcode_to_text(rcode);
      } else if (t.key) {
        if (const tsig::Key* key = keys_.find(*t.key)) {
          tsig::ResponseVerifier verifier(*key, p.request_mac);
          if (auto s = verifier.next({buf, static_cast<size_t>(n)}, wall_seconds()); !s) {
            problem = s.error();
          }
        }
      }
      if (!problem.empty()) {
        // A refusal will not change by asking again.
        if (!warned_[t.address.to_text() + "/" + problem]) {
          warned_[t.address.to_text() + "/" + problem] = true;
          log_warning("NOTIFY for " + p.zone.to_text() + " to " + t.address.to_text() + ": " +
                      problem);
        }
      } else {
        ++counters_.answered;
      }
      pending_.erase(it);
      break;
    }
  }
}

}  // namespace raftdns::server
