// RDATA for authenticated denial of existence: type bitmaps (RFC 4034
// §4.1.2), NSEC3 and NSEC3PARAM (RFC 5155 §3.2, §4.2).
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace raftdns::dnssec {

// NSEC3 flags (RFC 5155 §3.1.2).
inline constexpr uint8_t kNsec3FlagOptOut = 0x01;

// The window-block encoding of a set of types (any order, duplicates allowed).
std::vector<uint8_t> type_bitmap(std::vector<uint16_t> types);

// True when the bitmap lists `type`; false also on a malformed bitmap.
bool bitmap_has_type(std::span<const uint8_t> bitmap, uint16_t type) noexcept;

// NSEC3 RDATA with SHA-1 hashing: flags, iterations, salt, the next hashed
// owner (raw hash octets) and the type bitmap.
std::vector<uint8_t> nsec3_rdata(uint8_t flags, uint16_t iterations, std::span<const uint8_t> salt,
                                 std::span<const uint8_t> next_hash,
                                 std::span<const uint8_t> bitmap);

// The fields of NSEC3 RDATA, as views into it.
struct Nsec3Fields {
  uint8_t algorithm = 0;
  uint8_t flags = 0;
  uint16_t iterations = 0;
  std::span<const uint8_t> salt;
  std::span<const uint8_t> next_hash;
  std::span<const uint8_t> bitmap;
};
// False when the RDATA is too short for the lengths it gives.
bool parse_nsec3(std::span<const uint8_t> rdata, Nsec3Fields& out) noexcept;

// NSEC3PARAM RDATA with SHA-1 hashing and flags 0 (RFC 5155 §4.1.2).
std::vector<uint8_t> nsec3param_rdata(uint16_t iterations, std::span<const uint8_t> salt);

}  // namespace raftdns::dnssec
