// DNSSEC key pairs, DNSKEY/DS RDATA and key tags.
#include "daemon/dnssec/key.h"

#include <openssl/sha.h>
#include <sodium.h>

#include <stdexcept>

#include "daemon/dnssec/ecdsa_p256.h"

namespace raftdns::dnssec {
namespace {

void ensure_sodium() {
  static const bool ready = sodium_init() >= 0;
  if (!ready) throw std::runtime_error("libsodium cannot be initialised");
}

constexpr size_t kEd25519SeedSize = crypto_sign_SEEDBYTES;
constexpr size_t kEd25519PublicSize = crypto_sign_PUBLICKEYBYTES;

}  // namespace

SecretBytes& SecretBytes::operator=(const SecretBytes& other) {
  if (this != &other) {
    wipe();
    bytes_ = other.bytes_;
  }
  return *this;
}

SecretBytes& SecretBytes::operator=(SecretBytes&& other) noexcept {
  if (this != &other) {
    wipe();
    bytes_ = std::move(other.bytes_);
  }
  return *this;
}

SecretBytes::~SecretBytes() { wipe(); }

void SecretBytes::wipe() noexcept {
  if (!bytes_.empty()) sodium_memzero(bytes_.data(), bytes_.size());
}

bool algorithm_supported(uint8_t algorithm) noexcept {
  return algorithm == algorithm::kEcdsaP256Sha256 || algorithm == algorithm::kEd25519;
}

std::string algorithm_name(uint8_t algorithm) {
  switch (algorithm) {
    case algorithm::kEcdsaP256Sha256:
      return "ECDSAP256SHA256";
    case algorithm::kEd25519:
      return "ED25519";
    default:
      return std::to_string(algorithm);
  }
}

Result<KeyPair> generate_key(uint8_t algorithm, uint16_t flags) {
  ensure_sodium();
  uint8_t secret[32];
  switch (algorithm) {
    case algorithm::kEcdsaP256Sha256:
      // Rejection sampling gives a uniform scalar in [1, n).
      do {
        randombytes_buf(secret, sizeof secret);
      } while (!p256_private_key_valid(std::span<const uint8_t, 32>(secret)));
      break;
    case algorithm::kEd25519:
      randombytes_buf(secret, sizeof secret);
      break;
    default:
      return make_error("DNSSEC algorithm " + std::to_string(algorithm) +
                        " is not supported (13 ECDSAP256SHA256 or 15 ED25519)");
  }
  auto key = key_from_private(algorithm, flags, secret);
  sodium_memzero(secret, sizeof secret);
  return key;
}

Result<KeyPair> key_from_private(uint8_t algorithm, uint16_t flags,
                                 std::span<const uint8_t> private_key) {
  ensure_sodium();
  KeyPair key;
  key.algorithm = algorithm;
  key.flags = flags;
  switch (algorithm) {
    case algorithm::kEcdsaP256Sha256: {
      if (private_key.size() != kP256PrivateSize) {
        return make_error("ECDSAP256SHA256 private key must be 32 octets");
      }
      std::span<const uint8_t, kP256PrivateSize> d(private_key.data(), kP256PrivateSize);
      key.public_key.resize(kP256PublicSize);
      if (!p256_public_key(d, std::span<uint8_t, kP256PublicSize>(key.public_key))) {
        return make_error("ECDSAP256SHA256 private key is out of range");
      }
      break;
    }
    case algorithm::kEd25519: {
      if (private_key.size() != kEd25519SeedSize) {
        return make_error("ED25519 private key must be a 32-octet seed");
      }
      uint8_t sk[crypto_sign_SECRETKEYBYTES];
      key.public_key.resize(kEd25519PublicSize);
      crypto_sign_seed_keypair(key.public_key.data(), sk, private_key.data());
      sodium_memzero(sk, sizeof sk);
      break;
    }
    default:
      return make_error("DNSSEC algorithm " + std::to_string(algorithm) +
                        " is not supported (13 ECDSAP256SHA256 or 15 ED25519)");
  }
  key.private_key = SecretBytes(private_key);
  return key;
}

std::vector<uint8_t> dnskey_rdata(uint16_t flags, uint8_t algorithm,
                                  std::span<const uint8_t> public_key) {
  std::vector<uint8_t> out;
  out.reserve(4 + public_key.size());
  out.push_back(static_cast<uint8_t>(flags >> 8));
  out.push_back(static_cast<uint8_t>(flags));
  out.push_back(3);  // protocol (RFC 4034 §2.1.2)
  out.push_back(algorithm);
  out.insert(out.end(), public_key.begin(), public_key.end());
  return out;
}

uint16_t key_tag(std::span<const uint8_t> rdata) noexcept {
  uint32_t ac = 0;
  for (size_t i = 0; i < rdata.size(); ++i) ac += (i & 1) ? rdata[i] : uint32_t{rdata[i]} << 8;
  ac += (ac >> 16) & 0xffff;
  return static_cast<uint16_t>(ac & 0xffff);
}

std::vector<uint8_t> ds_rdata(const wire::Name& owner, std::span<const uint8_t> dnskey) {
  const wire::Name lower = owner.lowercased();
  auto name = lower.wire();
  std::vector<uint8_t> input(name.begin(), name.end());
  input.insert(input.end(), dnskey.begin(), dnskey.end());
  std::vector<uint8_t> out(4 + SHA256_DIGEST_LENGTH);
  uint16_t tag = key_tag(dnskey);
  out[0] = static_cast<uint8_t>(tag >> 8);
  out[1] = static_cast<uint8_t>(tag);
  out[2] = dnskey.size() > 3 ? dnskey[3] : 0;
  out[3] = kDigestSha256;
  SHA256(input.data(), input.size(), out.data() + 4);
  return out;
}

Result<std::vector<uint8_t>> sign(const KeyPair& key, std::span<const uint8_t> data) {
  auto secret = key.private_key.bytes();
  switch (key.algorithm) {
    case algorithm::kEcdsaP256Sha256: {
      if (secret.size() != kP256PrivateSize) return make_error("ECDSAP256SHA256 key is malformed");
      std::vector<uint8_t> sig(kP256SignatureSize);
      if (!p256_sign(std::span<const uint8_t, kP256PrivateSize>(secret.data(), kP256PrivateSize),
                     data, std::span<uint8_t, kP256SignatureSize>(sig))) {
        return make_error("ECDSAP256SHA256 signing failed");
      }
      return sig;
    }
    case algorithm::kEd25519: {
      ensure_sodium();
      if (secret.size() != kEd25519SeedSize) return make_error("ED25519 key is malformed");
      uint8_t pk[crypto_sign_PUBLICKEYBYTES], sk[crypto_sign_SECRETKEYBYTES];
      crypto_sign_seed_keypair(pk, sk, secret.data());
      std::vector<uint8_t> sig(crypto_sign_BYTES);
      crypto_sign_detached(sig.data(), nullptr, data.data(), data.size(), sk);
      sodium_memzero(sk, sizeof sk);
      return sig;
    }
    default:
      return make_error("DNSSEC algorithm " + std::to_string(key.algorithm) + " is not supported");
  }
}

bool verify(uint8_t algorithm, std::span<const uint8_t> public_key, std::span<const uint8_t> data,
            std::span<const uint8_t> signature) noexcept {
  switch (algorithm) {
    case algorithm::kEcdsaP256Sha256:
      return p256_verify(public_key, data, signature);
    case algorithm::kEd25519:
      if (public_key.size() != kEd25519PublicSize || signature.size() != crypto_sign_BYTES) {
        return false;
      }
      if (sodium_init() < 0) return false;
      return crypto_sign_verify_detached(signature.data(), data.data(), data.size(),
                                         public_key.data()) == 0;
    default:
      return false;
  }
}

}  // namespace raftdns::dnssec
