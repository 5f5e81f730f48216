// Canonical RRset form and RRSIG verification (RFC 4034 §3.1.8.1, §6).
#include "daemon/dnssec/rrsig.h"

#include <gtest/gtest.h>

#include "tests/dnssec/test_util.h"

namespace raftdns::dnssec {
namespace {

using testing::concat;
using testing::hex;
using testing::name;
using testing::name_wire;

TEST(CanonicalRdata, LowercasesEmbeddedNamesOfTheListedTypes) {
  auto mx = concat({hex("000a"), name_wire("Mail.Example.COM.")});
  EXPECT_EQ(canonical_rdata(15, mx), concat({hex("000a"), name_wire("mail.example.com.")}));
  auto soa = concat({name_wire("NS1.Example."), name_wire("Host.Example."),
                     hex("00000001 00000002 00000003 00000004 00000005")});
  EXPECT_EQ(canonical_rdata(6, soa), concat({name_wire("ns1.example."), name_wire("host.example."),
                                             hex("00000001 00000002 00000003 00000004 00000005")}));
  auto naptr = concat({hex("0001 0002 01 53 00 00"), name_wire("X.Example.")});
  EXPECT_EQ(canonical_rdata(35, naptr),
            concat({hex("0001 0002 01 53 00 00"), name_wire("x.example.")}));
}

TEST(CanonicalRdata, LeavesOtherTypesAlone) {
  auto txt = hex("03 41 42 43");  // "ABC"
  EXPECT_EQ(canonical_rdata(16, txt), txt);
  // RFC 6840 §5.1: NSEC's next name keeps its case.
  auto nsec = concat({name_wire("A.Example."), hex("0006 40000000 0003")});
  EXPECT_EQ(canonical_rdata(kTypeNsec, nsec), nsec);
}

TEST(SignatureInput, SortsAndDropsDuplicateRdata) {
  auto owner = name("WWW.example.");
  std::vector<std::vector<uint8_t>> a = {hex("c0000202"), hex("c0000201"), hex("c0000202")};
  RrsigFields f;
  f.type_covered = 1;
  f.algorithm = 13;
  f.labels = 2;
  f.original_ttl = 300;
  f.signer = name("Example.");
  auto input = signature_input(f, RRsetView{owner, 1, 1, 300, a});
  auto fields = concat({hex("0001 0d 02 0000012c 00000000 00000000 0000"), name_wire("example.")});
  auto rr = [&](const char* addr) {
    return concat({name_wire("www.example."), hex("0001 0001 0000012c 0004"), hex(addr)});
  };
  EXPECT_EQ(input, concat({fields, rr("c0000201"), rr("c0000202")}));
}

TEST(Rrsig, WildcardSignatureVerifiesForAnExpandedOwner) {
  auto key = generate_key(algorithm::kEd25519, kZskFlags);
  ASSERT_TRUE(key);
  auto dnskey = dnskey_rdata(*key);
  auto wildcard = name("*.example.");
  std::vector<std::vector<uint8_t>> a = {hex("c0000201")};
  auto sig = make_rrsig(*key, key_tag(dnskey), name("example."), RRsetView{wildcard, 1, 1, 60, a},
                        1000, 2000);
  ASSERT_TRUE(sig);
  EXPECT_EQ(parse_rrsig(*sig)->labels, 1);
  auto expanded = name("host.sub.example.");
  EXPECT_TRUE(verify_rrsig(RRsetView{expanded, 1, 1, 60, a}, *sig, dnskey, 1500));
  EXPECT_TRUE(verify_rrsig(RRsetView{wildcard, 1, 1, 60, a}, *sig, dnskey, 1500));
}

TEST(Rrsig, VerificationRejectsMismatches) {
  auto key = generate_key(algorithm::kEcdsaP256Sha256, kZskFlags);
  auto other = generate_key(algorithm::kEcdsaP256Sha256, kZskFlags);
  ASSERT_TRUE(key && other);
  auto dnskey = dnskey_rdata(*key);
  auto owner = name("a.example.");
  std::vector<std::vector<uint8_t>> a = {hex("c0000201")};
  RRsetView rrset{owner, 1, 1, 60, a};
  auto sig = make_rrsig(*key, key_tag(dnskey), name("example."), rrset, 1000, 2000);
  ASSERT_TRUE(sig);
  EXPECT_TRUE(verify_rrsig(rrset, *sig, dnskey, 1000));
  EXPECT_FALSE(verify_rrsig(rrset, *sig, dnskey, 999)) << "before inception";
  EXPECT_FALSE(verify_rrsig(rrset, *sig, dnskey, 2001)) << "after expiration";
  EXPECT_FALSE(verify_rrsig(rrset, *sig, dnskey_rdata(*other), 1500)) << "another key";
  EXPECT_FALSE(verify_rrsig(RRsetView{owner, 28, 1, 60, a}, *sig, dnskey, 1500)) << "another type";
  // The original TTL comes from the RRSIG: a decremented TTL still verifies.
  EXPECT_TRUE(verify_rrsig(RRsetView{owner, 1, 1, 61, a}, *sig, dnskey, 1500));
  auto upper = name("A.EXAMPLE.");
  EXPECT_TRUE(verify_rrsig(RRsetView{upper, 1, 1, 60, a}, *sig, dnskey, 1500)) << "owner case";
  EXPECT_FALSE(parse_rrsig(hex("0001 0d")));

  // RFC 4035 §5.3.1: a key without the ZONE flag never validates zone data.
  KeyPair not_zone = *key;
  not_zone.flags = 0;
  auto not_zone_key = dnskey_rdata(not_zone);
  auto sig2 = make_rrsig(not_zone, key_tag(not_zone_key), name("example."), rrset, 1000, 2000);
  ASSERT_TRUE(sig2);
  auto refused = verify_rrsig(rrset, *sig2, not_zone_key, 1500);
  ASSERT_FALSE(refused);
  EXPECT_EQ(refused.error(), "DNSKEY is not a zone key");
}

}  // namespace
}  // namespace raftdns::dnssec
