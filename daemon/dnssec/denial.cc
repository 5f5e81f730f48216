// Type bitmaps and NSEC3/NSEC3PARAM RDATA.
#include "daemon/dnssec/denial.h"

#include <algorithm>

#include "daemon/wire/nsec3.h"

namespace raftdns::dnssec {

std::vector<uint8_t> type_bitmap(std::vector<uint16_t> types) {
  std::sort(types.begin(), types.end());
  types.erase(std::unique(types.begin(), types.end()), types.end());
  std::vector<uint8_t> out;
  size_t i = 0;
  while (i < types.size()) {
    uint8_t window = static_cast<uint8_t>(types[i] >> 8);
    uint8_t bits[32] = {};
    size_t length = 0;
    for (; i < types.size() && (types[i] >> 8) == window; ++i) {
      uint8_t low = static_cast<uint8_t>(types[i]);
      bits[low / 8] |= static_cast<uint8_t>(0x80 >> (low % 8));
      length = low / 8 + 1u;
    }
    out.push_back(window);
    out.push_back(static_cast<uint8_t>(length));
    out.insert(out.end(), bits, bits + length);
  }
  return out;
}

bool bitmap_has_type(std::span<const uint8_t> bitmap, uint16_t type) noexcept {
  size_t pos = 0;
  while (pos + 2 <= bitmap.size()) {
    uint8_t window = bitmap[pos];
    uint8_t length = bitmap[pos + 1];
    if (length == 0 || length > 32 || bitmap.size() - pos - 2 < length) return false;
    if (window == (type >> 8)) {
      uint8_t low = static_cast<uint8_t>(type);
      if (low / 8u >= length) return false;
      return (bitmap[pos + 2 + low / 8] & (0x80 >> (low % 8))) != 0;
    }
    pos += 2u + length;
  }
  return false;
}

std::vector<uint8_t> nsec3_rdata(uint8_t flags, uint16_t iterations, std::span<const uint8_t> salt,
                                 std::span<const uint8_t> next_hash,
                                 std::span<const uint8_t> bitmap) {
  std::vector<uint8_t> out;
  out.reserve(6 + salt.size() + next_hash.size() + bitmap.size());
  out.push_back(wire::kNsec3Sha1);
  out.push_back(flags);
  out.push_back(static_cast<uint8_t>(iterations >> 8));
  out.push_back(static_cast<uint8_t>(iterations));
  out.push_back(static_cast<uint8_t>(salt.size()));
  out.insert(out.end(), salt.begin(), salt.end());
  out.push_back(static_cast<uint8_t>(next_hash.size()));
  out.insert(out.end(), next_hash.begin(), next_hash.end());
  out.insert(out.end(), bitmap.begin(), bitmap.end());
  return out;
}

bool parse_nsec3(std::span<const uint8_t> rd, Nsec3Fields& out) noexcept {
  if (rd.size() < 6) return false;
  const size_t salt = rd[4];
  if (rd.size() < 6 + salt) return false;
  const size_t hash = rd[5 + salt];
  if (rd.size() < 6 + salt + hash) return false;
  out.algorithm = rd[0];
  out.flags = rd[1];
  out.iterations = static_cast<uint16_t>(rd[2] << 8 | rd[3]);
  out.salt = rd.subspan(5, salt);
  out.next_hash = rd.subspan(6 + salt, hash);
  out.bitmap = rd.subspan(6 + salt + hash);
  return true;
}

std::vector<uint8_t> nsec3param_rdata(uint16_t iterations, std::span<const uint8_t> salt) {
  std::vector<uint8_t> out;
  out.push_back(wire::kNsec3Sha1);
  out.push_back(0);
  out.push_back(static_cast<uint8_t>(iterations >> 8));
  out.push_back(static_cast<uint8_t>(iterations));
  out.push_back(static_cast<uint8_t>(salt.size()));
  out.insert(out.end(), salt.begin(), salt.end());
  return out;
}

}  // namespace raftdns::dnssec
