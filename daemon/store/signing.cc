// SigningState codec and the rollover question the leader and the apply share.
//
// Layout (big-endian): version u8 (1), params (algorithm u8, optout u8, ten
// u32 in SigningParams order), clock u32, walk started u32, phase u8, walk
// cursor (length u16, bytes), keys: count u16, then each: algorithm u8, flags u16,
// private key (length u16, bytes), state u8, published u32, active u32,
// retired u32, ds seen u32, cds u8, unused u8.
#include "daemon/store/signing.h"

#include "common/bytes.h"

namespace raftdns::store {
namespace {

constexpr uint8_t kStateVersion = 1;

class Writer {
 public:
  std::string out;
  void u8(uint8_t v) { out.push_back(static_cast<char>(v)); }
  void u16(uint16_t v) {
    u8(static_cast<uint8_t>(v >> 8));
    u8(static_cast<uint8_t>(v));
  }
  void u32(uint32_t v) {
    u16(static_cast<uint16_t>(v >> 16));
    u16(static_cast<uint16_t>(v));
  }
  void blob(std::span<const uint8_t> b) {
    u16(static_cast<uint16_t>(b.size()));
    out.append(reinterpret_cast<const char*>(b.data()), b.size());
  }
};

class Reader {
 public:
  explicit Reader(std::span<const uint8_t> in) : in_(in) {}
  bool ok = true;
  size_t left() const { return in_.size() - pos_; }
  uint8_t u8() {
    if (left() < 1) return bad();
    return in_[pos_++];
  }
  uint16_t u16() {
    uint16_t hi = u8();
    return static_cast<uint16_t>(hi << 8 | u8());
  }
  uint32_t u32() {
    uint32_t hi = u16();
    return hi << 16 | u16();
  }
  std::vector<uint8_t> blob() {
    size_t n = u16();
    if (left() < n) {
      bad();
      return {};
    }
    std::vector<uint8_t> b(in_.begin() + static_cast<std::ptrdiff_t>(pos_),
                           in_.begin() + static_cast<std::ptrdiff_t>(pos_ + n));
    pos_ += n;
    return b;
  }

 private:
  uint8_t bad() {
    ok = false;
    pos_ = in_.size();
    return 0;
  }
  std::span<const uint8_t> in_;
  size_t pos_ = 0;
};

}  // namespace

const char* key_state_name(KeyState s) noexcept {
  switch (s) {
    case KeyState::published: return "published";
    case KeyState::active: return "active";
    case KeyState::retired: return "retired";
  }
  return "?";
}

std::string SigningState::encode() const {
  Writer w;
  w.u8(kStateVersion);
  w.u8(params.algorithm);
  w.u8(params.nsec3_optout ? 1 : 0);
  for (uint32_t v : {params.validity, params.refresh, params.jitter, params.inception_offset,
                     params.dnskey_ttl, params.publish_wait, params.retire_wait, params.ds_wait,
                     params.zsk_lifetime, params.ksk_lifetime}) {
    w.u32(v);
  }
  w.u32(clock);
  w.u32(walk_started_at);
  w.u8(phase);
  w.blob(walk_cursor);
  w.u16(static_cast<uint16_t>(keys.size()));
  for (const auto& k : keys) {
    w.u8(k.key.algorithm);
    w.u16(k.key.flags);
    w.blob(k.key.private_key.bytes());
    w.u8(static_cast<uint8_t>(k.state));
    w.u32(k.published_at);
    w.u32(k.active_at);
    w.u32(k.retired_at);
    w.u32(k.ds_seen_at);
    w.u8(k.cds ? 1 : 0);
    w.u8(k.unused ? 1 : 0);
  }
  return std::move(w.out);
}

Result<SigningState> SigningState::decode(std::span<const uint8_t> bytes) {
  Reader r(bytes);
  SigningState s;
  if (r.u8() != kStateVersion) return make_error("signing state: unknown version");
  auto& p = s.params;
  p.algorithm = r.u8();
  p.nsec3_optout = r.u8() != 0;
  for (uint32_t* v : {&p.validity, &p.refresh, &p.jitter, &p.inception_offset, &p.dnskey_ttl,
                      &p.publish_wait, &p.retire_wait, &p.ds_wait, &p.zsk_lifetime,
                      &p.ksk_lifetime}) {
    *v = r.u32();
  }
  s.clock = r.u32();
  s.walk_started_at = r.u32();
  s.phase = r.u8();
  if (s.phase > SigningState::kChain) return make_error("signing state: bad phase");
  s.walk_cursor = r.blob();
  size_t n = r.u16();
  for (size_t i = 0; i < n && r.ok; ++i) {
    uint8_t algorithm = r.u8();
    uint16_t flags = r.u16();
    auto secret = r.blob();
    StoredKey k;
    uint8_t state = r.u8();
    k.published_at = r.u32();
    k.active_at = r.u32();
    k.retired_at = r.u32();
    k.ds_seen_at = r.u32();
    k.cds = r.u8() != 0;
    k.unused = r.u8() != 0;
    if (!r.ok) break;
    if (state < 1 || state > 3) return make_error("signing state: bad key state");
    k.state = static_cast<KeyState>(state);
    auto pair = dnssec::key_from_private(algorithm, flags, secret);
    std::fill(secret.begin(), secret.end(), uint8_t{0});
    if (!pair) return make_error("signing state: key: " + pair.error());
    k.key = std::move(*pair);
    k.tag = dnssec::key_tag(dnssec::dnskey_rdata(k.key));
    s.keys.push_back(std::move(k));
  }
  if (!r.ok) return make_error("signing state: truncated");
  if (r.left() != 0) return make_error("signing state: trailing bytes");
  return s;
}

std::string signing_meta_key(std::span<const uint8_t> zone_key) {
  std::string k(kSigningMetaPrefix);
  k.append(reinterpret_cast<const char*>(zone_key.data()), zone_key.size());
  return k;
}

SigningInfo signing_info(const wire::Name& zone, const SigningState& state) {
  SigningInfo info;
  info.zone = zone;
  info.params = state.params;
  info.clock = state.clock;
  info.complete = state.phase == SigningState::kComplete;
  for (const auto& k : state.keys) {
    SigningKeyInfo ki;
    ki.tag = k.tag;
    ki.algorithm = k.key.algorithm;
    ki.flags = k.key.flags;
    ki.state = k.state;
    ki.published_at = k.published_at;
    ki.active_at = k.active_at;
    ki.retired_at = k.retired_at;
    ki.ds_seen_at = k.ds_seen_at;
    ki.cds = k.cds;
    ki.dnskey = dnssec::dnskey_rdata(k.key);
    info.keys.push_back(std::move(ki));
  }
  return info;
}

std::optional<uint16_t> signing_key_needed(const SigningInfo& info, uint32_t now) {
  if (!info.complete) return std::nullopt;  // no rollover before the zone is signed
  const uint32_t clock = std::max(info.clock, now);
  size_t ksks = 0, zsks = 0;
  const SigningKeyInfo* active_zsk = nullptr;
  const SigningKeyInfo* active_ksk = nullptr;
  for (const auto& k : info.keys) {
    const bool ksk = (k.flags & dnssec::flag::kSep) != 0;
    if (ksk) {
      ++ksks;
      if (k.state == KeyState::active && active_ksk == nullptr) active_ksk = &k;
    } else {
      if (k.state != KeyState::retired) ++zsks;
      if (k.state == KeyState::active) active_zsk = &k;
    }
  }
  const auto& p = info.params;
  // One rollover of each kind at a time: a ZSK rollover starts once no
  // successor is waiting (a retired key may still be on its way out).
  if (p.zsk_lifetime != 0 && zsks == 1 && active_zsk != nullptr &&
      clock - active_zsk->active_at >= p.zsk_lifetime) {
    return dnssec::kZskFlags;
  }
  if (p.ksk_lifetime != 0 && ksks == 1 && active_ksk != nullptr &&
      clock - active_ksk->active_at >= p.ksk_lifetime) {
    return dnssec::kKskFlags;
  }
  return std::nullopt;
}

Result<NewKey> make_new_key(uint8_t algorithm, uint16_t flags) {
  auto pair = dnssec::generate_key(algorithm, flags);
  if (!pair) return std::move(pair).take_error();
  NewKey k;
  k.algorithm = algorithm;
  k.flags = flags;
  auto b = pair->private_key.bytes();
  k.private_key.assign(b.begin(), b.end());
  return k;
}

}  // namespace raftdns::store
