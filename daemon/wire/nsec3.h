// NSEC3 owner hashing (RFC 5155 §5) and the base32hex alphabet its owner
// labels are written in (RFC 4648 §7, lowercase, no padding). Shared by the
// query path (finding the NSEC3 that matches or covers a name) and the
// signer (building the chain); allocation-free.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

#include "daemon/wire/name.h"

namespace raftdns::wire {

// The only NSEC3 hash algorithm defined (RFC 5155 §11).
inline constexpr uint8_t kNsec3Sha1 = 1;
inline constexpr size_t kNsec3HashSize = 20;
// Hash owner labels are 32 base32hex characters for SHA-1.
inline constexpr size_t kNsec3LabelSize = 32;

// IH(salt, x, k) of RFC 5155 §5: H(x || salt) iterated `iterations` more
// times, x being the lowercased wire form of `name`.
void nsec3_hash(const Name& name, std::span<const uint8_t> salt, uint16_t iterations,
                uint8_t out[kNsec3HashSize]) noexcept;

// base32hex of `in` into `out` (lowercase, no padding); returns the length
// written, which is ceil(8 * in.size() / 5). `out` must hold that many bytes.
size_t base32hex_encode(std::span<const uint8_t> in, char* out) noexcept;
std::string base32hex_encode(std::span<const uint8_t> in);
inline constexpr size_t base32hex_encoded_size(size_t n) noexcept { return (8 * n + 4) / 5; }

// Decodes base32hex (either case, no padding) into `out`, which must hold
// text.size() * 5 / 8 bytes; returns the decoded length, or nullopt on a
// character outside the alphabet or non-zero trailing bits.
std::optional<size_t> base32hex_decode(std::string_view text, uint8_t* out) noexcept;

}  // namespace raftdns::wire
