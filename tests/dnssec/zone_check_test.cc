// The signed-zone self-check accepts what sign_zone builds and names the
// first thing wrong in a damaged copy.
#include "daemon/dnssec/zone_check.h"

#include <gtest/gtest.h>

#include "daemon/dnssec/rrsig.h"
#include "daemon/dnssec/zone_signer.h"
#include "tests/dnssec/test_util.h"

namespace raftdns::dnssec {
namespace {

using testing::concat;
using testing::hex;
using testing::name;
using testing::name_wire;
using testing::rr;


class ZoneCheck : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    std::vector<wire::Record> zone = {
        rr("example.", 6,
           concat({name_wire("ns1.example."), name_wire("host.example."),
                   hex("00000001 00000e10 00000258 00093a80 0000012c")})),
        rr("example.", 2, name_wire("ns1.example.")),
        rr("ns1.example.", 1, hex("c0000201")),
        rr("www.example.", 1, hex("c0000202")),
        rr("x.y.example.", 16, hex("03616263")),
        rr("sub.example.", 2, name_wire("ns.sub.example.")),
        rr("ns.sub.example.", 1, hex("c0000205")),
    };
    keys_ = {{*generate_key(algorithm::kEcdsaP256Sha256, kKskFlags), true, true, false, false},
             {*generate_key(algorithm::kEcdsaP256Sha256, kZskFlags), true, false, true, false}};
    policy_.inception = 1000;
    policy_.expiration = 100000;
    policy_.nsec3_optout = GetParam();
    auto out = sign_zone(name("example."), zone, keys_, policy_);
    ASSERT_TRUE(out) << out.error();
    signed_ = std::move(*out);
  }

  std::string problem(const std::vector<wire::Record>& records, uint32_t now = 5000) {
    auto s = check_signed_zone(name("example."), records, now);
    return s ? "" : s.error();
  }

  std::vector<ZoneKey> keys_;
  SigningPolicy policy_;
  std::vector<wire::Record> signed_;
};

TEST_P(ZoneCheck, AcceptsWhatSignZoneBuilds) { EXPECT_EQ(problem(signed_), ""); }

TEST_P(ZoneCheck, NamesAnAlteredRecord) {
  for (auto& r : signed_) {
    if (r.type == 1 && r.owner == name("www.example.")) r.rdata.back() ^= 1;
  }
  EXPECT_NE(problem(signed_).find("www.example. A: no valid RRSIG"), std::string::npos)
      << problem(signed_);
}

TEST_P(ZoneCheck, RefusesSignaturesOutsideTheirValidity) {
  EXPECT_NE(problem(signed_, 999).find("no valid RRSIG"), std::string::npos);
  EXPECT_NE(problem(signed_, 100001).find("no valid RRSIG"), std::string::npos);
}

TEST_P(ZoneCheck, NamesAMissingOrBrokenNsec3) {
  auto missing = signed_;
  auto it = std::find_if(missing.begin(), missing.end(),
                         [](const wire::Record& r) { return r.type == kTypeNsec3; });
  ASSERT_NE(it, missing.end());
  missing.erase(it);
  EXPECT_NE(problem(missing).find("no NSEC3"), std::string::npos) << problem(missing);

  // A wrong next hashed owner, validly signed: the chain itself is checked.
  auto broken = signed_;
  auto nsec3 = std::find_if(broken.begin(), broken.end(),
                            [](const wire::Record& r) { return r.type == kTypeNsec3; });
  nsec3->rdata[6] ^= 0x80;  // the first octet of the next hashed owner
  std::vector<std::vector<uint8_t>> rdatas = {nsec3->rdata};
  auto sigs =
      sign_rrset(name("example."), keys_, policy_, nsec3->owner, kTypeNsec3, 1, nsec3->ttl, rdatas);
  ASSERT_TRUE(sigs);
  for (auto& r : broken) {
    if (r.type == kTypeRrsig && r.owner == nsec3->owner) r.rdata = sigs->front();
  }
  EXPECT_NE(problem(broken).find("next hashed owner"), std::string::npos) << problem(broken);
}

TEST_P(ZoneCheck, RefusesASignedDelegation) {
  auto zone = signed_;
  for (const auto& r : signed_) {
    if (r.type == kTypeRrsig && r.owner == name("www.example.")) {
      auto glue = r;
      glue.owner = name("ns.sub.example.");
      zone.push_back(glue);
    }
  }
  EXPECT_NE(problem(zone).find("not authoritative"), std::string::npos) << problem(zone);
}

INSTANTIATE_TEST_SUITE_P(OptOut, ZoneCheck, ::testing::Bool());

}  // namespace
}  // namespace raftdns::dnssec
