// Byte-order helpers (big-endian unless named _le) and FNV-1a, written once for every library.
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

inline void put_u64_be(std::vector<uint8_t>& out, uint64_t v) noexcept {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}

inline bool get_u64_be(std::span<const uint8_t>& in, uint64_t& v) noexcept {
  if (in.size() < 8) return false;
  v = 0;
  for (size_t i = 0; i < 8; ++i) v = (v << 8) | in[i];
  in = in.subspan(8);
  return true;
}

inline void store_u16(uint8_t* p, uint16_t v) noexcept {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}
inline uint16_t load_u16(const uint8_t* p) noexcept {
  return static_cast<uint16_t>((uint16_t{p[0]} << 8) | p[1]);
}
inline void store_u32(uint8_t* p, uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (24 - 8 * i));
}
inline uint32_t load_u32(const uint8_t* p) noexcept {
  return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3];
}
inline void store_u64(uint8_t* p, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (56 - 8 * i));
}
inline uint64_t load_u64(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | p[i];
  return v;
}

inline void store_u32_le(uint8_t* p, uint32_t v) noexcept {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint32_t load_u32_le(const uint8_t* p) noexcept {
  return uint32_t{p[0]} | (uint32_t{p[1]} << 8) | (uint32_t{p[2]} << 16) | (uint32_t{p[3]} << 24);
}
inline void store_u64_le(uint8_t* p, uint64_t v) noexcept {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}
inline uint64_t load_u64_le(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

// FNV-1a, 64 bits: a stable, seedless hash for ids and digests (not for a
// table whose keys an attacker chooses without a secret mixed in).
inline constexpr uint64_t kFnv64Offset = 0xcbf29ce484222325ull;
inline constexpr uint64_t kFnv64Prime = 0x100000001b3ull;
inline constexpr uint64_t fnv1a64_step(uint64_t h, uint8_t c) noexcept {
  return (h ^ c) * kFnv64Prime;
}
inline uint64_t fnv1a64(std::span<const uint8_t> data, uint64_t h = kFnv64Offset) noexcept {
  for (uint8_t c : data) h = fnv1a64_step(h, c);
  return h;
}

}  // namespace raftdns::bytes
