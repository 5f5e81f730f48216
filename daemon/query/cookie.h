// DNS Cookies (RFC 7873) with the interoperable server cookie of RFC 9018:
// Version 1 | Reserved (3) | Timestamp (4) | SipHash-2-4 (8) over the client
// cookie, those first 8 octets and the client's address, keyed with a
// 16-octet secret. Every node of a cluster derives the same secret from the
// cluster key, so a cookie one node gave is valid at all of them (anycast).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <span>

namespace raftdns::query {

inline constexpr size_t kClientCookieSize = 8;
inline constexpr size_t kServerCookieSize = 16;
using CookieSecret = std::array<uint8_t, 16>;

// RFC 9018 §4.3: a server cookie is good for an hour, and one from up to
// five minutes in the future is taken (clocks of anycast nodes differ).
inline constexpr uint32_t kCookieLifetime = 3600;
inline constexpr uint32_t kCookieClockSkew = 300;

// The server cookie for `client_cookie` from `client_ip` (4 or 16 octets)
// at `now` (seconds since the epoch, mod 2^32).
void make_server_cookie(const CookieSecret& secret, const uint8_t* client_cookie,
                        std::span<const uint8_t> client_ip, uint32_t now,
                        uint8_t out[kServerCookieSize]) noexcept;

// Whether `server_cookie` is one this secret made for this client and
// address, and is neither expired nor from too far ahead.
bool server_cookie_valid(const CookieSecret& secret, const uint8_t* client_cookie,
                         std::span<const uint8_t> server_cookie, std::span<const uint8_t> client_ip,
                         uint32_t now) noexcept;

}  // namespace raftdns::query
