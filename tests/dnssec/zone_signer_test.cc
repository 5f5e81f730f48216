// Whole-zone signing: what is signed, what is hashed, and that the result is
// the same bytes every time.
#include "daemon/dnssec/zone_signer.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <set>

#include "daemon/dnssec/denial.h"
#include "daemon/dnssec/rrsig.h"
#include "daemon/wire/nsec3.h"
#include "tests/dnssec/test_util.h"

namespace raftdns::dnssec {
namespace {

using testing::concat;
using testing::hex;
using testing::name;
using testing::name_wire;
using testing::rr;


std::vector<wire::Record> test_zone() {
  return {
      rr("example.", 6,
         concat({name_wire("ns1.example."), name_wire("host.example."),
                 hex("00000001 00000e10 00000258 00093a80 0000012c")})),
      rr("example.", 2, name_wire("ns1.example.")),
      rr("ns1.example.", 1, hex("c0000201")),
      rr("www.example.", 1, hex("c0000202")),
      rr("www.example.", 1, hex("c0000203")),
      rr("host.deep.below.example.", 16,
         hex("03616263")),  // below and deep are empty non-terminals
      rr("*.wild.example.", 1, hex("c0000204")),
      rr("secure.example.", 2, name_wire("ns.secure.example.")),
      rr("secure.example.", 43,
         hex("1234 0d 02 00112233445566778899aabbccddeeff00112233445566778899aabbccddeeff")),
      rr("ns.secure.example.", 1, hex("c0000205")),  // glue
      rr("insecure.example.", 2, name_wire("ns.elsewhere.")),
  };
}

struct Signed {
  std::vector<ZoneKey> keys;
  std::vector<wire::Record> records;
};

Signed sign(bool optout = false) {
  Signed s;
  ZoneKey ksk{*generate_key(algorithm::kEcdsaP256Sha256, kKskFlags), true, true, false, true};
  ZoneKey zsk{*generate_key(algorithm::kEcdsaP256Sha256, kZskFlags), true, false, true, false};
  s.keys = {ksk, zsk};
  SigningPolicy policy;
  policy.inception = 1000;
  policy.expiration = 100000;
  policy.jitter = 5000;
  policy.nsec3_optout = optout;
  auto out = sign_zone(name("example."), test_zone(), s.keys, policy);
  EXPECT_TRUE(out) << out.error();
  if (out) s.records = std::move(*out);
  return s;
}

using RRsets = std::map<std::pair<std::string, uint16_t>, std::vector<std::vector<uint8_t>>>;

RRsets group(const std::vector<wire::Record>& records, bool sigs) {
  RRsets out;
  for (const auto& r : records) {
    if ((r.type == kTypeRrsig) != sigs) continue;
    uint16_t t = sigs ? static_cast<uint16_t>(r.rdata[0] << 8 | r.rdata[1]) : r.type;
    out[{r.owner.canonical_key(), t}].push_back(r.rdata);
  }
  return out;
}

TEST(SignZone, EveryAuthoritativeRRsetVerifiesAndGlueIsUnsigned) {
  auto s = sign();
  auto rrsets = group(s.records, false);
  auto sigs = group(s.records, true);
  auto ksk_key = dnskey_rdata(s.keys[0].key), zsk_key = dnskey_rdata(s.keys[1].key);
  auto dnskeys = rrsets[std::make_pair(name("example.").canonical_key(), kTypeDnskey)];
  std::sort(dnskeys.begin(), dnskeys.end());
  auto want = std::vector<std::vector<uint8_t>>{ksk_key, zsk_key};
  std::sort(want.begin(), want.end());
  EXPECT_EQ(dnskeys, want) << "both keys are published";
  for (const auto& [key, rdatas] : rrsets) {
    auto owner = *wire::Name::from_canonical_key(key.first);
    bool delegation_only = (owner == name("secure.example.") && key.second == 2) ||
                           owner == name("insecure.example.") ||
                           owner == name("ns.secure.example.");
    auto it = sigs.find(key);
    if (delegation_only) {
      EXPECT_TRUE(it == sigs.end())
          << owner.to_text() << " type " << key.second << " must be unsigned";
      continue;
    }
    ASSERT_TRUE(it != sigs.end()) << owner.to_text() << " type " << key.second << " is unsigned";
    ASSERT_EQ(it->second.size(), 1u);
    uint32_t ttl = 0;
    for (const auto& r : s.records) {
      if (r.owner == owner && r.type == key.second) ttl = r.ttl;
    }
    bool key_set =
        key.second == kTypeDnskey || key.second == kTypeCds || key.second == kTypeCdnskey;
    const auto& signer = key_set ? ksk_key : zsk_key;
    EXPECT_TRUE(verify_rrsig(RRsetView{owner, key.second, 1, ttl, rdatas}, it->second.front(),
                             signer, 5000))
        << owner.to_text() << " type " << key.second;
    auto fields = parse_rrsig(it->second.front());
    EXPECT_LE(fields->expiration, 100000u);
    EXPECT_GE(fields->expiration, 95000u);
  }
}

// Walks the chain: each NSEC3's next hash is the following owner's hash,
// the last points back to the first, and the hashed names are exactly the
// authoritative names and empty non-terminals.
std::set<std::string> chain_names(const std::vector<wire::Record>& records, uint8_t want_flags) {
  std::map<std::string, std::vector<uint8_t>> chain;  // base32hex label -> rdata
  for (const auto& r : records) {
    if (r.type != kTypeNsec3) continue;
    auto label = r.owner.label(0);
    chain[std::string(label.begin(), label.end())] = r.rdata;
    EXPECT_EQ(r.rdata[1], want_flags);
    EXPECT_EQ(r.ttl, 300u) << "NSEC3 TTL is min(SOA TTL, SOA MINIMUM)";
  }
  std::vector<std::string> labels;
  for (const auto& [label, rdata] : chain) labels.push_back(label);
  for (size_t i = 0; i < labels.size(); ++i) {
    const auto& rdata = chain[labels[i]];
    std::span<const uint8_t> next(rdata.data() + 6, 20);
    EXPECT_EQ(wire::base32hex_encode(next), labels[(i + 1) % labels.size()]);
  }
  std::set<std::string> names;
  for (const char* n : {"example.", "ns1.example.", "www.example.", "host.deep.below.example.",
                        "deep.below.example.", "below.example.", "*.wild.example.", "wild.example.",
                        "secure.example.", "insecure.example.", "ns.secure.example."}) {
    uint8_t h[20];
    wire::nsec3_hash(name(n), {}, 0, h);
    if (chain.count(wire::base32hex_encode(h)) != 0) names.insert(n);
  }
  EXPECT_EQ(names.size(), chain.size()) << "an NSEC3 for a name outside the zone's names";
  return names;
}

TEST(SignZone, Nsec3ChainCoversAuthoritativeNamesAndEmptyNonTerminals) {
  auto s = sign();
  auto names = chain_names(s.records, 0);
  EXPECT_EQ(names, (std::set<std::string>{"example.", "ns1.example.", "www.example.",
                                          "host.deep.below.example.", "deep.below.example.",
                                          "below.example.", "*.wild.example.", "wild.example.",
                                          "secure.example.", "insecure.example."}));
  for (const auto& r : s.records) {
    if (r.type != kTypeNsec3) continue;
    uint8_t h[20];
    std::span<const uint8_t> bitmap(r.rdata.data() + 26, r.rdata.size() - 26);
    wire::nsec3_hash(name("example."), {}, 0, h);
    if (r.owner.label(0).size() == 32 &&
        wire::base32hex_encode(h) ==
            std::string(r.owner.label(0).begin(), r.owner.label(0).end())) {
      for (uint16_t t : {2, 6, 46, 48, 51}) EXPECT_TRUE(bitmap_has_type(bitmap, t)) << t;
    }
    wire::nsec3_hash(name("insecure.example."), {}, 0, h);
    if (wire::base32hex_encode(h) ==
        std::string(r.owner.label(0).begin(), r.owner.label(0).end())) {
      EXPECT_EQ(bitmap.size(), type_bitmap({2}).size());
      EXPECT_TRUE(bitmap_has_type(bitmap, 2));
      EXPECT_FALSE(bitmap_has_type(bitmap, kTypeRrsig)) << "an insecure delegation has no RRSIG";
    }
    wire::nsec3_hash(name("below.example."), {}, 0, h);
    if (wire::base32hex_encode(h) ==
        std::string(r.owner.label(0).begin(), r.owner.label(0).end())) {
      EXPECT_TRUE(bitmap.empty()) << "an empty non-terminal has an empty bitmap";
    }
  }
}

TEST(SignZone, OptOutLeavesInsecureDelegationsOutOfTheChain) {
  auto s = sign(true);
  auto names = chain_names(s.records, kNsec3FlagOptOut);
  EXPECT_EQ(names.count("insecure.example."), 0u);
  EXPECT_EQ(names.count("secure.example."), 1u);
}

TEST(SignZone, SameInputGivesTheSameBytes) {
  auto s = sign();
  SigningPolicy policy;
  policy.inception = 1000;
  policy.expiration = 100000;
  policy.jitter = 5000;
  auto again = sign_zone(name("example."), test_zone(), s.keys, policy);
  ASSERT_TRUE(again);
  EXPECT_EQ(*again, s.records);
}

TEST(SignZone, RejectsZonesItCannotSign) {
  auto key = *generate_key(algorithm::kEd25519, kKskFlags);
  std::vector<ZoneKey> csk = {ZoneKey{key, true, true, true, false}};
  std::vector<ZoneKey> ksk_only = {ZoneKey{key, true, true, false, false}};
  auto zone = test_zone();
  SigningPolicy policy;
  EXPECT_TRUE(sign_zone(name("example."), zone, csk, policy));
  auto no_zsk = sign_zone(name("example."), zone, ksk_only, policy);
  ASSERT_FALSE(no_zsk);
  EXPECT_NE(no_zsk.error().find("example."), std::string::npos);
  std::vector<wire::Record> no_soa(zone.begin() + 1, zone.end());
  auto e = sign_zone(name("example."), no_soa, csk, policy);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("no SOA"), std::string::npos);
  zone.push_back(rr("other.", 1, hex("c0000201")));
  e = sign_zone(name("example."), zone, csk, policy);
  ASSERT_FALSE(e);
  EXPECT_NE(e.error().find("other."), std::string::npos);
}

TEST(SignZone, CdsAndCdnskeyArePublishedForMarkedKeys) {
  auto key = *generate_key(algorithm::kEd25519, kKskFlags);
  std::vector<ZoneKey> keys = {ZoneKey{key, true, true, true, true}};
  auto out = sign_zone(name("example."), test_zone(), keys, SigningPolicy{});
  ASSERT_TRUE(out);
  auto sets = group(*out, false);
  auto apex = name("example.").canonical_key();
  std::vector<std::vector<uint8_t>> cdnskey = {dnskey_rdata(key)};
  std::vector<std::vector<uint8_t>> cds = {ds_rdata(name("example."), dnskey_rdata(key))};
  EXPECT_EQ(sets[std::make_pair(apex, kTypeCdnskey)], cdnskey);
  EXPECT_EQ(sets[std::make_pair(apex, kTypeCds)], cds);
  EXPECT_EQ(group(*out, true).count(std::make_pair(apex, kTypeCds)), 1u);
}

}  // namespace
}  // namespace raftdns::dnssec

namespace raftdns::dnssec {
namespace {

// The per-name rules an incremental signer applies to one changed name.
TEST(NodeRules, WhatIsSignedAndHashedAtEachKindOfName) {
  EXPECT_TRUE(is_signed_rrset(NodeKind::kAuthoritative, 1));
  EXPECT_TRUE(is_signed_rrset(NodeKind::kAuthoritative, 2));
  EXPECT_FALSE(is_signed_rrset(NodeKind::kDelegation, 2)) << "NS at a cut is not authoritative";
  EXPECT_TRUE(is_signed_rrset(NodeKind::kDelegation, kTypeDs));
  EXPECT_FALSE(is_signed_rrset(NodeKind::kOccluded, 1)) << "glue is unsigned";

  std::vector<uint16_t> insecure = {2}, secure = {2, kTypeDs}, host = {1, 28};
  EXPECT_EQ(nsec3_bitmap(NodeKind::kDelegation, insecure), type_bitmap({2}));
  EXPECT_EQ(nsec3_bitmap(NodeKind::kDelegation, secure), type_bitmap({2, kTypeDs, kTypeRrsig}));
  EXPECT_EQ(nsec3_bitmap(NodeKind::kAuthoritative, host), type_bitmap({1, 28, kTypeRrsig}));
  EXPECT_TRUE(nsec3_bitmap(NodeKind::kAuthoritative, {}).empty());

  EXPECT_TRUE(has_nsec3(NodeKind::kDelegation, insecure, false));
  EXPECT_FALSE(has_nsec3(NodeKind::kDelegation, insecure, true));
  EXPECT_TRUE(has_nsec3(NodeKind::kDelegation, secure, true));
  EXPECT_FALSE(has_nsec3(NodeKind::kOccluded, host, false));
  EXPECT_TRUE(has_nsec3(NodeKind::kAuthoritative, {}, true));
}

TEST(SignRrset, KeysSignByRole) {
  ZoneKey ksk{*generate_key(algorithm::kEd25519, kKskFlags), true, true, false, false};
  ZoneKey zsk{*generate_key(algorithm::kEd25519, kZskFlags), true, false, true, false};
  std::vector<ZoneKey> keys = {ksk, zsk};
  SigningPolicy policy;
  policy.inception = 10;
  policy.expiration = 1000;
  auto apex = name("example.");
  std::vector<std::vector<uint8_t>> dnskeys = {dnskey_rdata(ksk.key), dnskey_rdata(zsk.key)};
  auto key_sigs = sign_rrset(apex, keys, policy, apex, kTypeDnskey, 1, 3600, dnskeys);
  ASSERT_TRUE(key_sigs);
  ASSERT_EQ(key_sigs->size(), 1u);
  EXPECT_EQ(parse_rrsig(key_sigs->front())->key_tag, key_tag(dnskey_rdata(ksk.key)));

  std::vector<std::vector<uint8_t>> a = {hex("c0000201")};
  auto www = name("www.example.");
  auto sigs = sign_rrset(apex, keys, policy, www, 1, 1, 60, a);
  ASSERT_TRUE(sigs);
  ASSERT_EQ(sigs->size(), 1u);
  EXPECT_EQ(parse_rrsig(sigs->front())->key_tag, key_tag(dnskey_rdata(zsk.key)));
  EXPECT_TRUE(verify_rrsig(RRsetView{www, 1, 1, 60, a}, sigs->front(), dnskey_rdata(zsk.key), 500));
}

}  // namespace
}  // namespace raftdns::dnssec
