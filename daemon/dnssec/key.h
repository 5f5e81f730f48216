// DNSSEC key pairs (algorithms 13 and 15), their DNSKEY RDATA, key tags and
// the DS/CDS/CDNSKEY records that point at them (RFC 4034 §2, §5, App. B;
// RFC 6605; RFC 8080; RFC 7344).
//
// The private half lives in SecretBytes, which wipes itself when freed; it is
// never formatted as text by anything in this library.
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/wire/name.h"

namespace raftdns::dnssec {

namespace algorithm {
inline constexpr uint8_t kEcdsaP256Sha256 = 13, kEd25519 = 15;
}  // namespace algorithm

// The only DS digest type produced: SHA-256 (RFC 4509).
inline constexpr uint8_t kDigestSha256 = 2;

// DNSKEY flags (RFC 4034 §2.1.1): every zone key has ZONE; a KSK also SEP.
namespace flag {
inline constexpr uint16_t kZone = 0x0100, kSep = 0x0001, kRevoke = 0x0080;
}  // namespace flag
inline constexpr uint16_t kZskFlags = flag::kZone;               // 256
inline constexpr uint16_t kKskFlags = flag::kZone | flag::kSep;  // 257

bool algorithm_supported(uint8_t algorithm) noexcept;
// "ECDSAP256SHA256", "ED25519", or the number.
std::string algorithm_name(uint8_t algorithm);

// Bytes wiped on destruction and on reassignment.
class SecretBytes {
 public:
  SecretBytes() = default;
  explicit SecretBytes(std::span<const uint8_t> bytes) : bytes_(bytes.begin(), bytes.end()) {}
  SecretBytes(const SecretBytes& other) : bytes_(other.bytes_) {}
  SecretBytes(SecretBytes&& other) noexcept : bytes_(std::move(other.bytes_)) {}
  SecretBytes& operator=(const SecretBytes& other);
  SecretBytes& operator=(SecretBytes&& other) noexcept;
  ~SecretBytes();

  std::span<const uint8_t> bytes() const noexcept { return bytes_; }
  size_t size() const noexcept { return bytes_.size(); }
  friend bool operator==(const SecretBytes& a, const SecretBytes& b) {
    return a.bytes_ == b.bytes_;
  }

 private:
  void wipe() noexcept;
  std::vector<uint8_t> bytes_;
};

struct KeyPair {
  uint8_t algorithm = 0;
  uint16_t flags = 0;
  // Algorithm 13: the 32-octet scalar d. Algorithm 15: the 32-octet seed of
  // RFC 8032 §5.1.5.
  SecretBytes private_key;
  // The DNSKEY public key field (RFC 6605 §4, RFC 8080 §3).
  std::vector<uint8_t> public_key;

  bool is_ksk() const noexcept { return (flags & flag::kSep) != 0; }
};

// A fresh key pair from libsodium's system randomness.
Result<KeyPair> generate_key(uint8_t algorithm, uint16_t flags);

// Rebuilds the pair from its private half (derives the public key). Fails on
// an unsupported algorithm or a private key of the wrong size or out of range.
Result<KeyPair> key_from_private(uint8_t algorithm, uint16_t flags,
                                 std::span<const uint8_t> private_key);

// DNSKEY RDATA: flags, protocol 3, algorithm, public key (RFC 4034 §2.1).
std::vector<uint8_t> dnskey_rdata(uint16_t flags, uint8_t algorithm,
                                  std::span<const uint8_t> public_key);
inline std::vector<uint8_t> dnskey_rdata(const KeyPair& key) {
  return dnskey_rdata(key.flags, key.algorithm, key.public_key);
}

// The key tag of a DNSKEY RDATA (RFC 4034 Appendix B; algorithm 1 is not
// used here and gets the generic sum too).
uint16_t key_tag(std::span<const uint8_t> dnskey_rdata) noexcept;

// DS (and CDS) RDATA with a SHA-256 digest of owner | DNSKEY RDATA
// (RFC 4034 §5.1.4, RFC 4509 §2.1).
std::vector<uint8_t> ds_rdata(const wire::Name& owner, std::span<const uint8_t> dnskey_rdata);

// A signature over `data` (the RRSIG signature field). Deterministic for both
// algorithms: the same key and data give the same bytes.
Result<std::vector<uint8_t>> sign(const KeyPair& key, std::span<const uint8_t> data);

// Checks `signature` over `data` with a DNSKEY public key field.
bool verify(uint8_t algorithm, std::span<const uint8_t> public_key, std::span<const uint8_t> data,
            std::span<const uint8_t> signature) noexcept;

}  // namespace raftdns::dnssec
