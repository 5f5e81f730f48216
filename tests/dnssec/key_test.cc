// Keys, key tags, DS and deterministic signatures against the published
// vectors: RFC 6979 Appendix A.2.5 (ECDSA P-256, SHA-256), RFC 6605 §6.1
// and RFC 8080 §6.
#include "daemon/dnssec/key.h"

#include <gtest/gtest.h>

#include "daemon/dnssec/ecdsa_p256.h"
#include "daemon/dnssec/rrsig.h"
#include "tests/dnssec/test_util.h"

namespace raftdns::dnssec {
namespace {

using testing::base64;
using testing::hex;
using testing::name;

// RFC 6979 A.2.5: the P-256 key.
const auto kRfc6979Private =
    hex("C9AFA9D845BA75166B5C215767B1D6934E50C3DB36E89B127B8A622B120F6721");

std::array<uint8_t, 32> sha256(std::string_view text) {
  std::array<uint8_t, 32> out{};
  crypto_hash_sha256(out.data(), reinterpret_cast<const uint8_t*>(text.data()), text.size());
  return out;
}

TEST(Rfc6979, PublicKeyMatchesAppendixA25) {
  std::array<uint8_t, 64> pub{};
  ASSERT_TRUE(p256_public_key(std::span<const uint8_t, 32>(kRfc6979Private.data(), 32), pub));
  EXPECT_EQ(std::vector<uint8_t>(pub.begin(), pub.end()),
            hex("60FED4BA255A9D31C961EB74C6356D68C049B8923B61FA6CE669622E60F29FB6"
                "7903FE1008B8BC99A41AE9E95628BC64F2F1B20C2D7E9F5177A3C294D4462299"));
}

struct Rfc6979Case {
  const char* message;
  const char* k;
  const char* r;
  const char* s;
};

// A.2.5, "With SHA-256" for both messages.
const Rfc6979Case kCases[] = {
    {"sample", "A6E3C57DD01ABE90086538398355DD4C3B17AA873382B0F24D6129493D8AAD60",
     "EFD48B2AACB6A8FD1140DD9CD45E81D69D2C877B56AAF991C34D0EA84EAF3716",
     "F7CB1C942D657C41D436C7A1B6E29F65F3E900DBB9AFF4064DC4AB2F843ACDA8"},
    {"test", "D16B6AE827F17175E040871A1C7EC3500192C4C92677336EC2537ACAEE0008E0",
     "F1ABB023518351CD71D881567B1EA663ED3EFCF6C5132B354F28D3B0B7D38367",
     "019F4113742A2B14BD25926B49C649155F267E60D3814B4C0CC84250E46F0083"},
};

TEST(Rfc6979, NonceMatchesAppendixA25) {
  for (const auto& c : kCases) {
    auto h = sha256(c.message);
    std::array<uint8_t, 32> k{};
    rfc6979_nonce_p256_sha256(std::span<const uint8_t, 32>(kRfc6979Private.data(), 32), h, 0, k);
    EXPECT_EQ(std::vector<uint8_t>(k.begin(), k.end()), hex(c.k)) << c.message;
  }
}

TEST(Rfc6979, SignatureMatchesAppendixA25AndVerifies) {
  for (const auto& c : kCases) {
    std::string_view msg = c.message;
    std::span<const uint8_t> data(reinterpret_cast<const uint8_t*>(msg.data()), msg.size());
    std::array<uint8_t, 64> sig{};
    ASSERT_TRUE(p256_sign(std::span<const uint8_t, 32>(kRfc6979Private.data(), 32), data, sig));
    EXPECT_EQ(std::vector<uint8_t>(sig.begin(), sig.end()), testing::concat({hex(c.r), hex(c.s)}))
        << c.message;
    std::array<uint8_t, 64> pub{};
    ASSERT_TRUE(p256_public_key(std::span<const uint8_t, 32>(kRfc6979Private.data(), 32), pub));
    EXPECT_TRUE(p256_verify(pub, data, sig));
    sig[10] ^= 1;
    EXPECT_FALSE(p256_verify(pub, data, sig));
  }
}

TEST(Rfc6979, LaterAttemptsGiveOtherNonces) {
  auto h = sha256("sample");
  std::array<uint8_t, 32> k0{}, k1{};
  std::span<const uint8_t, 32> d(kRfc6979Private.data(), 32);
  rfc6979_nonce_p256_sha256(d, h, 0, k0);
  rfc6979_nonce_p256_sha256(d, h, 1, k1);
  EXPECT_NE(k0, k1);
}

TEST(P256, RejectsPrivateKeysOutsideTheGroupOrder) {
  std::vector<uint8_t> zero(32, 0);
  EXPECT_FALSE(key_from_private(algorithm::kEcdsaP256Sha256, kKskFlags, zero));
  auto order = hex("FFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551");
  EXPECT_FALSE(key_from_private(algorithm::kEcdsaP256Sha256, kKskFlags, order));
  EXPECT_FALSE(key_from_private(algorithm::kEcdsaP256Sha256, kKskFlags, hex("01")));
  order.back() = 0x50;
  EXPECT_TRUE(key_from_private(algorithm::kEcdsaP256Sha256, kKskFlags, order));
}

// RFC 6605 §6.1: the P-256 KSK of example.net., its tag, DS, and an RRSIG
// made with a random nonce that must still verify here.
TEST(Rfc6605, KeyTagDsAndRrsigOfTheExample) {
  auto key = key_from_private(algorithm::kEcdsaP256Sha256, kKskFlags,
                              base64("GU6SnQ/Ou+xC5RumuIUIuJZteXT2z0O/ok1s38Et6mQ="));
  ASSERT_TRUE(key) << key.error();
  auto dnskey = dnskey_rdata(*key);
  EXPECT_EQ(dnskey, testing::concat(
                        {hex("0101030d"), base64("GojIhhXUN/u4v54ZQqGSnyhWJwaubCvTmeexv7bR6edb"
                                                 "krSqQpF64cYbcB7wNcP+e+MAnLr+Wi9xMWyQLc8NAA==")}));
  EXPECT_EQ(key_tag(dnskey), 55648);
  EXPECT_EQ(
      ds_rdata(name("example.net."), dnskey),
      testing::concat({hex("d9600d02"),
                       hex("b4c8c1fe2e7477127b27115656ad6256f424625bf5c1e2770ce6d6e37df61d17")}));

  auto www = name("www.example.net.");
  std::vector<std::vector<uint8_t>> a = {hex("c0000201")};
  RRsetView rrset{www, 1, 1, 3600, a};
  auto rrsig = testing::concat({hex("0001 0d 03 00000e10"), hex("4c88b137"), hex("4c63c737"),
                                hex("d960"), testing::name_wire("example.net."),
                                base64("qx6wLYqmh+l9oCKTN6qIc+bw6ya+KJ8oMz0YP107epXAyGmt+"
                                       "3SNruPFKG7tZoLBLlUzGGus7ZwmwWep666VCw==")});
  auto verified = verify_rrsig(rrset, rrsig, dnskey, 1282000000);
  EXPECT_TRUE(verified) << verified.error();
  EXPECT_FALSE(verify_rrsig(rrset, rrsig, dnskey, 1290000000)) << "expired";
  std::vector<std::vector<uint8_t>> other = {hex("c0000202")};
  EXPECT_FALSE(verify_rrsig(RRsetView{www, 1, 1, 3600, other}, rrsig, dnskey, 1282000000));
}

struct Rfc8080Case {
  const char* private_key;
  const char* public_key;
  uint16_t tag;
  const char* digest;
  const char* signature;
};

// RFC 8080 §6.1, examples 1 and 2: MX RRset of example.com. signed by a KSK.
const Rfc8080Case kEd25519Cases[] = {
    {"ODIyNjAzODQ2MjgwODAxMjI2NDUxOTAyMDQxNDIyNjI=", "l02Woi0iS8Aa25FQkUd9RMzZHJpBoRQwAQEX1SxZJA4=",
     3613, "3aa5ab37efce57f737fc1627013fee07bdf241bd10f3b1964ab55c78e79a304b",
     "oL9krJun7xfBOIWcGHi7mag5/hdZrKWw15jPGrHpjQeRAvTdszaPD+QLs3fx8A4M3e23mRZ9VrbpMngwcrqNAg=="},
    {"DSSF3o0s0f+ElWzj9E/Osxw8hLpk55chkmx0LYN5WiY=", "zPnZ/QwEe7S8C5SPz2OfS5RR40ATk2/rYnE9xHIEijs=",
     35217, "401781b934e392de492ec77ae2e15d70f6575a1c0bc59c5275c04ebe80c6614c",
     "zXQ0bkYgQTEFyfLyi9QoiY6D8ZdYo4wyUhVioYZXFdT410QPRITQSqJSnzQoSm5poJ7gD7AQR0O7KuI5k2pcBg=="},
};

TEST(Rfc8080, Ed25519ExamplesAreReproducedExactly) {
  auto apex = name("example.com.");
  std::vector<std::vector<uint8_t>> mx = {
      testing::concat({hex("000a"), testing::name_wire("mail.example.com.")})};
  RRsetView rrset{apex, 15, 1, 3600, mx};
  for (const auto& c : kEd25519Cases) {
    auto key = key_from_private(algorithm::kEd25519, kKskFlags, base64(c.private_key));
    ASSERT_TRUE(key) << key.error();
    EXPECT_EQ(key->public_key, base64(c.public_key));
    auto dnskey = dnskey_rdata(*key);
    EXPECT_EQ(key_tag(dnskey), c.tag);
    std::vector<uint8_t> ds = {static_cast<uint8_t>(c.tag >> 8), static_cast<uint8_t>(c.tag), 15,
                               2};
    EXPECT_EQ(ds_rdata(apex, dnskey), testing::concat({ds, hex(c.digest)}));

    auto rrsig = make_rrsig(*key, c.tag, apex, rrset, 1438207200, 1440021600);
    ASSERT_TRUE(rrsig) << rrsig.error();
    std::span<const uint8_t> signature;
    auto fields = parse_rrsig(*rrsig, &signature);
    ASSERT_TRUE(fields);
    EXPECT_EQ(fields->labels, 2);
    EXPECT_EQ(fields->key_tag, c.tag);
    EXPECT_EQ(std::vector<uint8_t>(signature.begin(), signature.end()), base64(c.signature));
    EXPECT_TRUE(verify_rrsig(rrset, *rrsig, dnskey, 1439000000));
  }
}

TEST(Keys, GeneratedKeysSignAndVerifyDeterministically) {
  for (uint8_t alg : {algorithm::kEcdsaP256Sha256, algorithm::kEd25519}) {
    auto key = generate_key(alg, kZskFlags);
    ASSERT_TRUE(key) << key.error();
    auto again = key_from_private(alg, kZskFlags, key->private_key.bytes());
    ASSERT_TRUE(again);
    EXPECT_EQ(again->public_key, key->public_key);
    auto data = hex("0102030405");
    auto s1 = sign(*key, data), s2 = sign(*again, data);
    ASSERT_TRUE(s1 && s2);
    EXPECT_EQ(*s1, *s2) << "signing must not depend on randomness";
    EXPECT_TRUE(verify(alg, key->public_key, data, *s1));
    data[0] ^= 1;
    EXPECT_FALSE(verify(alg, key->public_key, data, *s1));
  }
  EXPECT_FALSE(generate_key(8, kZskFlags));
}

}  // namespace
}  // namespace raftdns::dnssec
