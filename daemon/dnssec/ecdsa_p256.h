// ECDSA over P-256 with SHA-256 (DNSSEC algorithm 13, RFC 6605) with
// deterministic nonces (RFC 6979), so that every node of the cluster that
// signs the same RRset with the same key produces the same bytes.
//
// Keys and signatures use the DNSSEC encodings: a private key is the 32-octet
// big-endian scalar d, a public key the 64 octets x || y of the point, a
// signature the 64 octets r || s (RFC 6605 §4).
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

namespace raftdns::dnssec {

inline constexpr size_t kP256PrivateSize = 32;
inline constexpr size_t kP256PublicSize = 64;
inline constexpr size_t kP256SignatureSize = 64;

// True when 1 <= d < n, the group order.
bool p256_private_key_valid(std::span<const uint8_t, kP256PrivateSize> d) noexcept;

// The public point d·G as x || y. False if d is not a valid private key.
bool p256_public_key(std::span<const uint8_t, kP256PrivateSize> d,
                     std::span<uint8_t, kP256PublicSize> public_key) noexcept;

// The RFC 6979 §3.2 nonce for private key d and message digest h1 (SHA-256,
// so qlen = hlen = 256 and bits2int is the identity). `attempt` 0 gives the
// first candidate; attempt i gives the one the HMAC-DRBG yields after i
// rejected candidates (RFC 6979 §3.2 step h.3), for the case r or s is 0.
void rfc6979_nonce_p256_sha256(std::span<const uint8_t, kP256PrivateSize> d,
                               std::span<const uint8_t, 32> h1, unsigned attempt,
                               std::span<uint8_t, 32> k) noexcept;

// Signs SHA-256(message). False only if d is invalid or libcrypto fails.
bool p256_sign(std::span<const uint8_t, kP256PrivateSize> d, std::span<const uint8_t> message,
               std::span<uint8_t, kP256SignatureSize> signature) noexcept;

// Verifies a signature over SHA-256(message); false on any malformed input.
bool p256_verify(std::span<const uint8_t> public_key, std::span<const uint8_t> message,
                 std::span<const uint8_t> signature) noexcept;

}  // namespace raftdns::dnssec
