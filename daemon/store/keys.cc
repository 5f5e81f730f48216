// Canonical key construction (no allocation) and rrsets key splitting.
#include "daemon/store/keys.h"

#include <string_view>

#include "daemon/wire/nsec3.h"

namespace raftdns::store {

void NameKey::assign(const wire::Name& n) noexcept {
  auto wire = n.wire();
  // Label offsets left to right, then emit them right to left.
  uint8_t starts[wire::kMaxLabels];
  size_t count = 0;
  for (size_t pos = 0; pos < wire.size() && wire[pos] != 0 && count < wire::kMaxLabels;
       pos += 1 + wire[pos]) {
    starts[count++] = static_cast<uint8_t>(pos);
  }
  size_t len = 0;
  ends_[0] = 0;
  for (size_t i = 0; i < count; ++i) {
    size_t at = starts[count - 1 - i];
    size_t label_len = wire[at];
    for (size_t j = 0; j < label_len; ++j) {
      uint8_t b = wire[at + 1 + j];
      if (b <= 1) {
        bytes_[len++] = 1;
        bytes_[len++] = static_cast<uint8_t>(b + 1);
      } else {
        bytes_[len++] = (b >= 'A' && b <= 'Z') ? static_cast<uint8_t>(b + 32) : b;
      }
    }
    bytes_[len++] = 0;
    ends_[i + 1] = static_cast<uint16_t>(len);
  }
  len_ = static_cast<uint16_t>(len);
  labels_ = static_cast<uint8_t>(count);
}

bool split_rrset_key(std::span<const uint8_t> key, RRsetKeyParts& out) noexcept {
  if (key.size() < 4) return false;
  // The zone key ends at the first 0x00 that is not a label separator: label
  // separators are always followed by a label byte (>= 1) or by that 0x00.
  size_t i = 0;
  const size_t body = key.size() - 2;
  while (i < body && key[i] != 0) {
    while (i < body && key[i] != 0) ++i;  // one label
    if (i >= body) return false;
    ++i;  // its separator
  }
  if (i >= body) return false;
  out.zone_key = key.first(i);
  if (body < i + 1 + kGenerationSize) return false;
  out.generation = load_u32(key.data() + i + 1);
  size_t rel_start = i + 1 + kGenerationSize;
  if (key[body - 1] != 0 || body - 1 < rel_start) return false;
  out.owner_rel = key.subspan(rel_start, body - 1 - rel_start);
  out.type = load_u16(key.data() + body);
  return true;
}

size_t nsec3_owner_hash(std::span<const uint8_t> owner_rel, uint8_t out[kMaxNsec3Hash]) noexcept {
  // One label: its bytes, then the 0x00 that ends it, and nothing after.
  if (owner_rel.size() < 2 || owner_rel.size() > 64 || owner_rel.back() != 0) return 0;
  std::string_view label(reinterpret_cast<const char*>(owner_rel.data()), owner_rel.size() - 1);
  if (label.find('\0') != std::string_view::npos) return 0;
  auto n = wire::base32hex_decode(label, out);
  return n ? *n : 0;
}

}  // namespace raftdns::store
