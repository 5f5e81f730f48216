// NSEC3 owner hashing and base32hex, against the published examples.
#include "daemon/wire/nsec3.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

namespace raftdns::wire {
namespace {

std::string hash_label(const char* name, std::vector<uint8_t> salt, uint16_t iterations) {
  auto n = Name::from_text(name);
  EXPECT_TRUE(n.ok());
  uint8_t h[kNsec3HashSize];
  nsec3_hash(*n, salt, iterations, h);
  return base32hex_encode(std::span<const uint8_t>(h, sizeof h));
}

// RFC 5155 Appendix A: salt aabbccdd, 12 additional iterations.
TEST(Nsec3Hash, MatchesTheRfc5155ExampleZone) {
  std::vector<uint8_t> salt = {0xaa, 0xbb, 0xcc, 0xdd};
  EXPECT_EQ(hash_label("example.", salt, 12), "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom");
  EXPECT_EQ(hash_label("a.example.", salt, 12), "35mthgpgcu1qg68fab165klnsnk3dpvl");
  EXPECT_EQ(hash_label("ns1.example.", salt, 12), "2t7b4g4vsa5smi47k61mv5bv1a22bojr");
  EXPECT_EQ(hash_label("*.w.example.", salt, 12), "r53bq7cc2uvmubfu5ocmm6pers9tk9en");
}

TEST(Nsec3Hash, IgnoresTheCaseOfTheName) {
  EXPECT_EQ(hash_label("WwW.Example.", {}, 0), hash_label("www.example.", {}, 0));
  EXPECT_NE(hash_label("www.example.", {}, 0), hash_label("www.example.", {}, 1));
  EXPECT_NE(hash_label("www.example.", {}, 0), hash_label("www.example.", {0x01}, 0));
}

// RFC 4648 §10 test vectors, written lowercase without padding.
TEST(Base32Hex, EncodesTheRfc4648Vectors) {
  const std::array<std::pair<std::string, std::string>, 7> vectors = {{
      {"", ""}, {"f", "co"}, {"fo", "cpng"}, {"foo", "cpnmu"}, {"foob", "cpnmuog"},
      {"fooba", "cpnmuoj1"}, {"foobar", "cpnmuoj1e8"},
  }};
  for (const auto& [plain, coded] : vectors) {
    std::span<const uint8_t> in(reinterpret_cast<const uint8_t*>(plain.data()), plain.size());
    EXPECT_EQ(base32hex_encode(in), coded) << plain;
    uint8_t out[16];
    auto n = base32hex_decode(coded, out);
    ASSERT_TRUE(n.has_value()) << coded;
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(out), *n), plain);
  }
}

TEST(Base32Hex, DecodingRefusesBadInput) {
  uint8_t out[32];
  EXPECT_FALSE(base32hex_decode("cw", out).has_value());       // 'w' is outside the alphabet
  EXPECT_FALSE(base32hex_decode("cp=g", out).has_value());     // padding is not accepted
  EXPECT_FALSE(base32hex_decode("cp", out).has_value());       // non-zero trailing bits
  EXPECT_TRUE(base32hex_decode("CPNMUOJ1", out).has_value());  // upper case is accepted
}

}  // namespace
}  // namespace raftdns::wire
