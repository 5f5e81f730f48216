// Byte-order helpers: fixed-width integers to and from byte buffers, big- and little-endian.
//
// Every reader takes a span by reference and consumes what it read; it
// returns false (consuming nothing) when the span is too short, so a parser
// checks once per field and never reads past its input.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace raftdns::bytes {

inline void put_u64_be(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

inline bool get_u64_be(std::span<const uint8_t>& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | in[i];
  in = in.subspan(8);
  return true;
}

inline void store_u16_be(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint16_t load_u16_be(const uint8_t* p) {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
inline void store_u32_be(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline uint32_t load_u32_be(const uint8_t* p) {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store_u64_be(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
inline uint64_t load_u64_be(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

inline void store_u32_le(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t load_u32_le(const uint8_t* p) {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline void store_u64_le(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t load_u64_le(const uint8_t* p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// FNV-1a, 64 bits: a stable, seedless hash for ids and digests (not for
// anything an attacker chooses against a table).
inline constexpr uint64_t kFnv64Offset = 1469598103934665603ull;
inline constexpr uint64_t kFnv64Prime = 1099511628211ull;
inline uint64_t fnv1a64(std::span<const uint8_t> data, uint64_t h = kFnv64Offset) {
  for (uint8_t c : data) {
    h ^= c;
    h *= kFnv64Prime;
  }
  return h;
}

}  // namespace raftdns::bytes
