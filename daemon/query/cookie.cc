// RFC 9018 server cookies (see cookie.h).
#include "daemon/query/cookie.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>

namespace raftdns::query {
namespace {

constexpr uint8_t kVersion = 1;

void hash(const CookieSecret& secret, const uint8_t* client_cookie, const uint8_t* head,
          std::span<const uint8_t> client_ip, uint8_t out[8]) noexcept {
  uint8_t input[kClientCookieSize + 8 + 16];
  const size_t ip = std::min<size_t>(client_ip.size(), 16);
  std::memcpy(input, client_cookie, kClientCookieSize);
  std::memcpy(input + kClientCookieSize, head, 8);
  if (ip) std::memcpy(input + kClientCookieSize + 8, client_ip.data(), ip);
  static_assert(crypto_shorthash_siphash24_BYTES == 8 && crypto_shorthash_siphash24_KEYBYTES == 16);
  crypto_shorthash_siphash24(out, input, kClientCookieSize + 8 + ip, secret.data());
}

}  // namespace

void make_server_cookie(const CookieSecret& secret, const uint8_t* client_cookie,
                        std::span<const uint8_t> client_ip, uint32_t now,
                        uint8_t out[kServerCookieSize]) noexcept {
  out[0] = kVersion;
  out[1] = out[2] = out[3] = 0;
  out[4] = static_cast<uint8_t>(now >> 24);
  out[5] = static_cast<uint8_t>(now >> 16);
  out[6] = static_cast<uint8_t>(now >> 8);
  out[7] = static_cast<uint8_t>(now);
  hash(secret, client_cookie, out, client_ip, out + 8);
}

bool server_cookie_valid(const CookieSecret& secret, const uint8_t* client_cookie,
                         std::span<const uint8_t> server_cookie, std::span<const uint8_t> client_ip,
                         uint32_t now) noexcept {
  if (server_cookie.size() != kServerCookieSize || server_cookie[0] != kVersion) return false;
  const uint32_t stamp = uint32_t{server_cookie[4]} << 24 | uint32_t{server_cookie[5]} << 16 |
                         uint32_t{server_cookie[6]} << 8 | server_cookie[7];
  // Serial-number arithmetic (RFC 1982): the age may be negative.
  const auto age = static_cast<int32_t>(now - stamp);
  if (age > static_cast<int32_t>(kCookieLifetime) || age < -static_cast<int32_t>(kCookieClockSkew))
    return false;
  uint8_t expected[8];
  hash(secret, client_cookie, server_cookie.data(), client_ip, expected);
  return sodium_memcmp(expected, server_cookie.data() + 8, 8) == 0;
}

}  // namespace raftdns::query
