// ECDSA P-256/SHA-256 with RFC 6979 nonces, on libcrypto's EC arithmetic.
//
// libcrypto picks a random nonce unless the caller hands ECDSA_do_sign_ex a
// precomputed k^-1 and r. That call and EC_KEY are deprecated in OpenSSL 3.0
// (the EVP interface offers no way to pass a nonce) but still present and
// constant-time, so this one file silences the deprecation and keeps the
// EC_KEY use behind the functions of ecdsa_p256.h.
#define OPENSSL_SUPPRESS_DEPRECATED 1

#include "daemon/dnssec/ecdsa_p256.h"

#include <openssl/bn.h>
#include <openssl/ec.h>
#include <openssl/ecdsa.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/obj_mac.h>
#include <openssl/sha.h>

#include <cstring>
#include <memory>

namespace raftdns::dnssec {
namespace {

// The order n of the P-256 base point, big-endian (SEC 2 §2.4.2).
constexpr uint8_t kOrder[32] = {0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff,
                                0xff, 0xff, 0xff, 0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17,
                                0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51};

struct BnDeleter {
  void operator()(BIGNUM* p) const noexcept { BN_clear_free(p); }
};
struct BnCtxDeleter {
  void operator()(BN_CTX* p) const noexcept { BN_CTX_free(p); }
};
struct PointDeleter {
  void operator()(EC_POINT* p) const noexcept { EC_POINT_clear_free(p); }
};
struct KeyDeleter {
  void operator()(EC_KEY* p) const noexcept { EC_KEY_free(p); }
};
struct SigDeleter {
  void operator()(ECDSA_SIG* p) const noexcept { ECDSA_SIG_free(p); }
};
using Bn = std::unique_ptr<BIGNUM, BnDeleter>;
using BnCtx = std::unique_ptr<BN_CTX, BnCtxDeleter>;
using Point = std::unique_ptr<EC_POINT, PointDeleter>;
using Key = std::unique_ptr<EC_KEY, KeyDeleter>;
using Sig = std::unique_ptr<ECDSA_SIG, SigDeleter>;

// The curve is immutable once built and libcrypto's group operations take it
// const, so one instance serves every thread.
const EC_GROUP* p256() noexcept {
  static const EC_GROUP* group = EC_GROUP_new_by_curve_name(NID_X9_62_prime256v1);
  return group;
}

bool is_zero(const uint8_t* p, size_t n) noexcept {
  uint8_t acc = 0;
  for (size_t i = 0; i < n; ++i) acc |= p[i];
  return acc == 0;
}

// True when the big-endian 32-octet a is < n.
bool below_order(const uint8_t* a) noexcept { return std::memcmp(a, kOrder, sizeof kOrder) < 0; }

// a -= n (a >= n), big-endian.
void subtract_order(uint8_t* a) noexcept {
  int borrow = 0;
  for (int i = 31; i >= 0; --i) {
    int v = int{a[i]} - int{kOrder[i]} - borrow;
    borrow = v < 0;
    a[i] = static_cast<uint8_t>(v + (borrow ? 256 : 0));
  }
}

// HMAC-SHA-256 over the concatenation of up to four parts.
void hmac(const uint8_t key[32], std::initializer_list<std::span<const uint8_t>> parts,
          uint8_t out[32]) noexcept {
  uint8_t buf[32 + 1 + 32 + 32];
  size_t n = 0;
  for (auto part : parts) {
    std::memcpy(buf + n, part.data(), part.size());
    n += part.size();
  }
  unsigned int len = 0;
  HMAC(EVP_sha256(), key, 32, buf, n, out, &len);
  OPENSSL_cleanse(buf, sizeof buf);
}

Key key_with_private(std::span<const uint8_t, kP256PrivateSize> d) noexcept {
  Key key(EC_KEY_new());
  Bn priv(BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr));
  if (!key || !priv || EC_KEY_set_group(key.get(), p256()) != 1 ||
      EC_KEY_set_private_key(key.get(), priv.get()) != 1) {
    return nullptr;
  }
  return key;
}

}  // namespace

bool p256_private_key_valid(std::span<const uint8_t, kP256PrivateSize> d) noexcept {
  return !is_zero(d.data(), d.size()) && below_order(d.data());
}

bool p256_public_key(std::span<const uint8_t, kP256PrivateSize> d,
                     std::span<uint8_t, kP256PublicSize> public_key) noexcept {
  if (!p256_private_key_valid(d) || p256() == nullptr) return false;
  BnCtx ctx(BN_CTX_new());
  Bn scalar(BN_bin2bn(d.data(), static_cast<int>(d.size()), nullptr));
  Point point(EC_POINT_new(p256()));
  Bn x(BN_new()), y(BN_new());
  if (!ctx || !scalar || !point || !x || !y) return false;
  BN_set_flags(scalar.get(), BN_FLG_CONSTTIME);
  return EC_POINT_mul(p256(), point.get(), scalar.get(), nullptr, nullptr, ctx.get()) == 1 &&
         EC_POINT_get_affine_coordinates(p256(), point.get(), x.get(), y.get(), ctx.get()) == 1 &&
         BN_bn2binpad(x.get(), public_key.data(), 32) == 32 &&
         BN_bn2binpad(y.get(), public_key.data() + 32, 32) == 32;
}

void rfc6979_nonce_p256_sha256(std::span<const uint8_t, kP256PrivateSize> d,
                               std::span<const uint8_t, 32> h1, unsigned attempt,
                               std::span<uint8_t, 32> k) noexcept {
  // bits2octets(h1): with qlen = hlen the integer is h1 itself, and one
  // subtraction reduces it mod q since h1 < 2^256 < 2q.
  uint8_t h[32];
  std::memcpy(h, h1.data(), sizeof h);
  if (!below_order(h)) subtract_order(h);

  static constexpr uint8_t kZero[1] = {0x00}, kOne[1] = {0x01};
  uint8_t v[32], key[32];
  std::memset(v, 0x01, sizeof v);      // step b
  std::memset(key, 0x00, sizeof key);  // step c
  hmac(key, {v, kZero, d, h}, key);    // step d
  hmac(key, {v}, v);                   // step e
  hmac(key, {v, kOne, d, h}, key);     // step f
  hmac(key, {v}, v);                   // step g
  for (;;) {
    hmac(key, {v}, v);  // step h.2: one round gives qlen bits
    if (!is_zero(v, sizeof v) && below_order(v)) {
      if (attempt == 0) break;
      --attempt;
    }
    hmac(key, {v, kZero}, key);  // step h.3
    hmac(key, {v}, v);
  }
  std::memcpy(k.data(), v, sizeof v);
  OPENSSL_cleanse(v, sizeof v);
  OPENSSL_cleanse(key, sizeof key);
  OPENSSL_cleanse(h, sizeof h);
}

bool p256_sign(std::span<const uint8_t, kP256PrivateSize> d, std::span<const uint8_t> message,
               std::span<uint8_t, kP256SignatureSize> signature) noexcept {
  if (!p256_private_key_valid(d) || p256() == nullptr) return false;
  uint8_t digest[32];
  SHA256(message.data(), message.size(), digest);
  Key key = key_with_private(d);
  BnCtx ctx(BN_CTX_new());
  if (!key || !ctx) return false;
  const BIGNUM* order = EC_GROUP_get0_order(p256());

  // A zero r or s makes RFC 6979 draw the next candidate; with a 256-bit
  // order that happens with probability about 2^-256, so a few tries bound it.
  for (unsigned attempt = 0; attempt < 4; ++attempt) {
    uint8_t k_bytes[32];
    rfc6979_nonce_p256_sha256(d, digest, attempt, k_bytes);
    Bn k(BN_bin2bn(k_bytes, sizeof k_bytes, nullptr));
    OPENSSL_cleanse(k_bytes, sizeof k_bytes);
    Point point(EC_POINT_new(p256()));
    Bn x(BN_new()), r(BN_new()), kinv(BN_new());
    if (!k || !point || !x || !r || !kinv) return false;
    BN_set_flags(k.get(), BN_FLG_CONSTTIME);
    if (EC_POINT_mul(p256(), point.get(), k.get(), nullptr, nullptr, ctx.get()) != 1 ||
        EC_POINT_get_affine_coordinates(p256(), point.get(), x.get(), nullptr, ctx.get()) != 1 ||
        BN_nnmod(r.get(), x.get(), order, ctx.get()) != 1) {
      return false;
    }
    if (BN_is_zero(r.get())) continue;
    if (BN_mod_inverse(kinv.get(), k.get(), order, ctx.get()) == nullptr) return false;
    Sig sig(ECDSA_do_sign_ex(digest, sizeof digest, kinv.get(), r.get(), key.get()));
    if (!sig) continue;  // s was 0: libcrypto asks for new setup values
    const BIGNUM *sig_r = nullptr, *sig_s = nullptr;
    ECDSA_SIG_get0(sig.get(), &sig_r, &sig_s);
    return BN_bn2binpad(sig_r, signature.data(), 32) == 32 &&
           BN_bn2binpad(sig_s, signature.data() + 32, 32) == 32;
  }
  return false;
}

bool p256_verify(std::span<const uint8_t> public_key, std::span<const uint8_t> message,
                 std::span<const uint8_t> signature) noexcept {
  if (public_key.size() != kP256PublicSize || signature.size() != kP256SignatureSize ||
      p256() == nullptr) {
    return false;
  }
  BnCtx ctx(BN_CTX_new());
  Key key(EC_KEY_new());
  Point point(EC_POINT_new(p256()));
  Bn x(BN_bin2bn(public_key.data(), 32, nullptr));
  Bn y(BN_bin2bn(public_key.data() + 32, 32, nullptr));
  if (!ctx || !key || !point || !x || !y || EC_KEY_set_group(key.get(), p256()) != 1 ||
      EC_POINT_set_affine_coordinates(p256(), point.get(), x.get(), y.get(), ctx.get()) != 1 ||
      EC_KEY_set_public_key(key.get(), point.get()) != 1) {
    return false;
  }
  Sig sig(ECDSA_SIG_new());
  BIGNUM* r = BN_bin2bn(signature.data(), 32, nullptr);
  BIGNUM* s = BN_bin2bn(signature.data() + 32, 32, nullptr);
  if (!sig || !r || !s || ECDSA_SIG_set0(sig.get(), r, s) != 1) {
    BN_free(r);
    BN_free(s);
    return false;
  }
  uint8_t digest[32];
  SHA256(message.data(), message.size(), digest);
  return ECDSA_do_verify(digest, sizeof digest, sig.get(), key.get()) == 1;
}

}  // namespace raftdns::dnssec
