// Address prefixes, transfer rules and the once-a-minute refusal log.
#include "daemon/xfr/policy.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <charconv>
#include <cstring>

namespace raftdns::xfr {

Result<Cidr> Cidr::parse(std::string_view text) {
  Cidr c;
  std::string address(text);
  int prefix = -1;
  if (size_t slash = text.find('/'); slash != std::string_view::npos) {
    address = std::string(text.substr(0, slash));
    std::string_view p = text.substr(slash + 1);
    auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
    if (ec != std::errc() || end != p.data() + p.size() || p.empty()) {
      return make_error("\"" + std::string(text) + "\" has no valid prefix length");
    }
  }
  if (inet_pton(AF_INET, address.c_str(), c.bytes) == 1) {
    c.family = AF_INET;
    if (prefix < 0) prefix = 32;
    if (prefix > 32) return make_error("\"" + std::string(text) + "\": an IPv4 prefix is 0-32");
  } else if (inet_pton(AF_INET6, address.c_str(), c.bytes) == 1) {
    c.family = AF_INET6;
    if (prefix < 0) prefix = 128;
    if (prefix > 128) return make_error("\"" + std::string(text) + "\": an IPv6 prefix is 0-128");
  } else {
    return make_error("\"" + std::string(text) + "\" is not an address or address/prefix");
  }
  c.prefix = static_cast<uint8_t>(prefix);
  // Host bits set below the prefix are almost always a typo for another
  // network: refuse rather than guess.
  const size_t total = c.family == AF_INET ? 4 : 16;
  for (size_t bit = c.prefix; bit < total * 8; ++bit) {
    if (c.bytes[bit / 8] & (0x80 >> (bit % 8))) {
      return make_error("\"" + std::string(text) + "\" has host bits set below /" +
                        std::to_string(prefix));
    }
  }
  return c;
}

bool Cidr::contains(const sockaddr* address) const noexcept {
  uint8_t bytes[16];
  size_t size = 0;
  if (address->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(address);
    std::memcpy(bytes, &a->sin_addr, 4);
    size = 4;
  } else if (address->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(address);
    std::memcpy(bytes, &a->sin6_addr, 16);
    size = 16;
    // An IPv4 client on a dual-stack socket arrives as ::ffff:a.b.c.d.
    if (family == AF_INET && IN6_IS_ADDR_V4MAPPED(&a->sin6_addr)) {
      std::memmove(bytes, bytes + 12, 4);
      size = 4;
    }
  }
  if (size != (family == AF_INET ? 4u : 16u)) return false;
  const size_t whole = prefix / 8;
  if (std::memcmp(bytes, this->bytes, whole) != 0) return false;
  if (prefix % 8 == 0) return true;
  const uint8_t mask = static_cast<uint8_t>(0xff << (8 - prefix % 8));
  return (bytes[whole] & mask) == (this->bytes[whole] & mask);
}

std::string Cidr::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(family, bytes, buf, sizeof(buf));
  return std::string(buf) + "/" + std::to_string(prefix);
}

bool TransferPolicy::allows(const sockaddr* client, const tsig::Key* key,
                            const wire::Name& zone) const noexcept {
  for (const AllowRule& r : rules_) {
    if (r.from && !r.from->contains(client)) continue;
    if (r.key && (!key || key->name != *r.key)) continue;
    if (!r.zones.empty()) {
      bool listed = false;
      for (const wire::Name& z : r.zones) listed = listed || z == zone;
      if (!listed) continue;
    }
    return true;
  }
  return false;
}

std::string address_text(const sockaddr* address) {
  char buf[INET6_ADDRSTRLEN] = {};
  if (address->sa_family == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(address)->sin_addr, buf, sizeof(buf));
  } else if (address->sa_family == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(address)->sin6_addr, buf,
              sizeof(buf));
  } else {
    return "?";
  }
  return buf;
}

bool RefusalLog::should_log(const sockaddr* client, uint64_t now_seconds) {
  constexpr uint64_t kPeriod = 60;
  constexpr size_t kMaxClients = 4096;
  std::string who = address_text(client);
  std::lock_guard lock(mutex_);
  if (last_.size() >= kMaxClients) {
    // Forget the clients that are quiet; a flood of distinct sources cannot
    // grow the table without bound.
    for (auto it = last_.begin(); it != last_.end();) {
      it = now_seconds - it->second >= kPeriod ? last_.erase(it) : std::next(it);
    }
    if (last_.size() >= kMaxClients) return false;
  }
  auto [it, fresh] = last_.try_emplace(who, now_seconds);
  if (fresh) return true;
  if (now_seconds - it->second < kPeriod) return false;
  it->second = now_seconds;
  return true;
}

}  // namespace raftdns::xfr
