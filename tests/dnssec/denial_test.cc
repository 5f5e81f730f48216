// Type bitmaps (RFC 4034 §4.1.2) and NSEC3/NSEC3PARAM RDATA (RFC 5155).
#include "daemon/dnssec/denial.h"

#include <gtest/gtest.h>

#include "daemon/dnssec/rrsig.h"
#include "tests/dnssec/test_util.h"

namespace raftdns::dnssec {
namespace {

using testing::hex;

// RFC 4034 §4.3: A MX RRSIG NSEC TYPE1234.
TEST(TypeBitmap, MatchesTheRfc4034Example) {
  EXPECT_EQ(type_bitmap({1234, kTypeNsec, 15, kTypeRrsig, 1, 15}),
            hex("0006 40 01 00 00 00 03"
                "041b 00000000 00000000 00000000 00000000 00000000 00000000 000020"));
}

TEST(TypeBitmap, MembershipFollowsTheEncoding) {
  auto bitmap = type_bitmap({2, 6, kTypeDnskey, kTypeNsec3param, kTypeRrsig, 257});
  for (uint16_t t : {2, 6, 46, 48, 51, 257}) EXPECT_TRUE(bitmap_has_type(bitmap, t)) << t;
  for (uint16_t t : {1, 47, 50, 256, 1234}) EXPECT_FALSE(bitmap_has_type(bitmap, t)) << t;
  EXPECT_TRUE(type_bitmap({}).empty());
}

TEST(Nsec3, Rfc9276ParametersEncode) {
  EXPECT_EQ(nsec3param_rdata(0, {}), hex("01 00 0000 00"));
  std::vector<uint8_t> next(20, 0xab);
  auto rdata = nsec3_rdata(kNsec3FlagOptOut, 0, {}, next, type_bitmap({1}));
  EXPECT_EQ(rdata, testing::concat({hex("01 01 0000 00 14"), next, hex("0001 40")}));
}

}  // namespace
}  // namespace raftdns::dnssec
