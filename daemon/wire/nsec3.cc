#include "daemon/wire/nsec3.h"

#include <openssl/sha.h>

#include <cstring>

namespace raftdns::wire {

void nsec3_hash(const Name& name, std::span<const uint8_t> salt, uint16_t iterations,
                uint8_t out[kNsec3HashSize]) noexcept {
  // One buffer holds x || salt for the first round, then digest || salt.
  uint8_t buf[kMaxNameLength + 255];
  Name lower = name.lowercased();
  auto wire = lower.wire();
  size_t salt_len = salt.size() > 255 ? 255 : salt.size();
  std::memcpy(buf, wire.data(), wire.size());
  // An empty salt (RFC 9276) may come with a null data pointer, which
  // memcpy must not be given even for zero bytes.
  if (salt_len > 0) std::memcpy(buf + wire.size(), salt.data(), salt_len);
  SHA1(buf, wire.size() + salt_len, out);
  for (uint16_t i = 0; i < iterations; ++i) {
    std::memcpy(buf, out, kNsec3HashSize);
    if (salt_len > 0) std::memcpy(buf + kNsec3HashSize, salt.data(), salt_len);
    SHA1(buf, kNsec3HashSize + salt_len, out);
  }
}

namespace {
constexpr char kAlphabet[] = "0123456789abcdefghijklmnopqrstuv";

int decode_char(char c) noexcept {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'v') return c - 'a' + 10;
  if (c >= 'A' && c <= 'V') return c - 'A' + 10;
  return -1;
}
}  // namespace

size_t base32hex_encode(std::span<const uint8_t> in, char* out) noexcept {
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (uint8_t b : in) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out[n++] = kAlphabet[(acc >> bits) & 0x1f];
    }
  }
  if (bits > 0) out[n++] = kAlphabet[(acc << (5 - bits)) & 0x1f];
  return n;
}

std::string base32hex_encode(std::span<const uint8_t> in) {
  std::string s(base32hex_encoded_size(in.size()), '\0');
  s.resize(base32hex_encode(in, s.data()));
  return s;
}

std::optional<size_t> base32hex_decode(std::string_view text, uint8_t* out) noexcept {
  size_t n = 0;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : text) {
    int v = decode_char(c);
    if (v < 0) return std::nullopt;
    acc = (acc << 5) | static_cast<uint32_t>(v);
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = static_cast<uint8_t>(acc >> bits);
    }
  }
  // Leftover bits are padding and must be zero (RFC 4648 §3.5).
  if (bits >= 5 || (acc & ((1u << bits) - 1)) != 0) return std::nullopt;
  return n;
}

}  // namespace raftdns::wire
