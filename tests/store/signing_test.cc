// Online signing in the store: the apply keeps a zone signed through every
// kind of change, and what it keeps is exactly what a whole-zone signing of
// the same content gives (dnssec::sign_zone) at the same clock; renewals,
// ZSK and KSK rollovers, unsigning, refusals, and the same bytes on two
// stores fed the same commands.
#include <gtest/gtest.h>
#include <sys/stat.h>

#include <algorithm>
#include <map>
#include <set>

#include "daemon/dnssec/rrsig.h"
#include "daemon/dnssec/zone_check.h"
#include "daemon/dnssec/zone_signer.h"
#include "daemon/store/store.h"
#include "tests/store/test_records.h"

namespace raftdns::store {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;
constexpr uint32_t kStart = 1'800'000'000;  // 2027-01-15

wire::Record DS(const std::string& owner, uint16_t tag) {
  std::vector<uint8_t> rd = {static_cast<uint8_t>(tag >> 8), static_cast<uint8_t>(tag), 13, 2};
  for (int i = 0; i < 32; ++i) rd.push_back(static_cast<uint8_t>(i * 7 + tag));
  return rr(owner, 3600, dnssec::kTypeDs, rd);
}

class SigningTest : public ::testing::Test {
 protected:
  void SetUp() override { open(store_, "a"); }

  void open(std::unique_ptr<Store>& s, const std::string& name) {
    auto opened = Store::open(dir_.sub(name));
    ASSERT_TRUE(opened) << opened.error();
    s = std::move(*opened);
  }

  Status apply(const Command& c) {
    auto st = apply_to(*store_, c, ++index_);
    if (twin_) {
      EXPECT_EQ(static_cast<bool>(apply_to(*twin_, c, index_)), static_cast<bool>(st));
    }
    return st;
  }
  static Status apply_to(Store& s, const Command& c, uint64_t index) {
    auto bytes = encode_command(c);
    ApplyItem item{index, 1, bytes};
    std::vector<Status> outcomes;
    auto st = s.apply(std::span(&item, 1), &outcomes);
    EXPECT_TRUE(st) << st.error();
    return outcomes.empty() ? Status(make_error("no outcome")) : std::move(outcomes[0]);
  }

  PutZone zone() {
    return PutZone{N("example.com."),
                   {SOA("example.com.", 10), NS("example.com.", "ns1.example.com."),
                    A("ns1.example.com.", "192.0.2.1"), A("www.example.com.", "192.0.2.10"),
                    AAAA("www.example.com.", "2001:db8::10"),
                    A("*.wild.example.com.", "192.0.2.20"),
                    CNAME("alias.example.com.", "www.example.com."),
                    A("deep.ent.example.com.", "192.0.2.30"),
                    NS("secure.example.com.", "ns.secure.example.com."),
                    A("ns.secure.example.com.", "192.0.2.40"), DS("secure.example.com.", 4242),
                    NS("insecure.example.com.", "ns.elsewhere.net."),
                    MX("example.com.", 10, "mail.example.com."),
                    A("mail.example.com.", "192.0.2.50")}};
  }

  ZoneSigning sign_command(uint8_t algorithm = 13, bool optout = false) {
    ZoneSigning z;
    z.action = ZoneSigning::Action::sign;
    z.zone = N("example.com.");
    z.now = kStart;
    z.params.algorithm = algorithm;
    z.params.nsec3_optout = optout;
    auto ksk = make_new_key(algorithm, dnssec::kKskFlags);
    auto zsk = make_new_key(algorithm, dnssec::kZskFlags);
    EXPECT_TRUE(ksk && zsk);
    z.keys = {*ksk, *zsk};
    return z;
  }

  ZoneSigning tick(uint32_t now, std::vector<NewKey> keys = {}) {
    ZoneSigning z;
    z.action = ZoneSigning::Action::tick;
    z.zone = N("example.com.");
    z.now = now;
    z.keys = std::move(keys);
    return z;
  }

  std::vector<wire::Record> records() {
    auto r = store_->zone_records(N("example.com."));
    EXPECT_TRUE(r) << r.error();
    return r ? *r : std::vector<wire::Record>{};
  }

  // The zone as a whole-zone signing of its unsigned content would make it
  // at the same clock, with the same keys.
  std::vector<wire::Record> resigned_whole(const ZoneSigning& sign, uint32_t clock) {
    std::vector<wire::Record> unsigned_records;
    for (auto& r : records()) {
      if (dnssec::is_signer_managed_type(r.type) || r.type == dnssec::kTypeDnskey ||
          r.type == dnssec::kTypeCds || r.type == dnssec::kTypeCdnskey) {
        continue;
      }
      unsigned_records.push_back(r);
    }
    std::vector<dnssec::ZoneKey> keys;
    for (const auto& k : sign.keys) {
      auto pair = dnssec::key_from_private(k.algorithm, k.flags, k.private_key);
      EXPECT_TRUE(pair);
      dnssec::ZoneKey zk;
      zk.key = *pair;
      zk.signs_keys = pair->is_ksk();
      zk.signs_zone = !pair->is_ksk();
      zk.publish_cds = pair->is_ksk();
      keys.push_back(zk);
    }
    dnssec::SigningPolicy policy;
    policy.inception = clock - sign.params.inception_offset;
    policy.expiration = clock + sign.params.validity;
    policy.jitter = sign.params.jitter;
    policy.dnskey_ttl = sign.params.dnskey_ttl;
    policy.nsec3_optout = sign.params.nsec3_optout;
    auto out = dnssec::sign_zone(N("example.com."), unsigned_records, keys, policy);
    EXPECT_TRUE(out) << out.error();
    return out ? *out : std::vector<wire::Record>{};
  }

  // Records as comparable text; RRSIG TTLs left out (the store keeps one TTL
  // per owner's RRSIG RRset, answers use the covered RRset's).
  static std::multiset<std::string> as_set(const std::vector<wire::Record>& rs) {
    std::multiset<std::string> out;
    for (auto r : rs) {
      if (r.type == dnssec::kTypeRrsig) r.ttl = 0;
      out.insert(wire::record_to_text(r));
    }
    return out;
  }

  void expect_valid(uint32_t at) {
    auto st = dnssec::check_signed_zone(N("example.com."), records(), at);
    EXPECT_TRUE(st) << st.error();
  }

  size_t count_type(uint16_t type) {
    size_t n = 0;
    for (const auto& r : records()) n += r.type == type ? 1 : 0;
    return n;
  }

  std::set<uint16_t> signing_tags(uint16_t covered) {
    std::set<uint16_t> tags;
    for (const auto& r : records()) {
      if (r.type != dnssec::kTypeRrsig) continue;
      auto f = dnssec::parse_rrsig(r.rdata);
      if (f && f->type_covered == covered) tags.insert(f->key_tag);
    }
    return tags;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_, twin_;
  uint64_t index_ = 0;
};

TEST_F(SigningTest, SignMatchesWholeZoneSigningAndValidates) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command();
  ASSERT_TRUE(apply(sign));
  expect_valid(kStart);
  EXPECT_EQ(as_set(records()), as_set(resigned_whole(sign, kStart)));
  auto info = store_->signing(N("example.com."));
  ASSERT_TRUE(info);
  EXPECT_EQ(info->keys.size(), 2u);
  EXPECT_EQ(store_->signed_zones().size(), 1u);
  EXPECT_EQ(count_type(dnssec::kTypeCds), 1u);  // the first KSK's hand-off
}

TEST_F(SigningTest, EveryKindOfChangeKeepsTheZoneEqualToAWholeSigning) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command();
  ASSERT_TRUE(apply(sign));
  struct Step {
    const char* what;
    Command command;
  };
  std::vector<Step> steps = {
      {"add to an RRset", AddRecords{{A("www.example.com.", "192.0.2.11")}}},
      {"a new name under new empty non-terminals",
       AddRecords{{TXT("x.y.z.example.com.", "deep")}}},
      {"remove the last record of a name", RemoveRecords{{A("mail.example.com.", "192.0.2.50")}}},
      {"remove the name that made the non-terminals", RemoveRRset{N("x.y.z.example.com."), T::TXT}},
      {"a delegation over existing names", AddRecords{{NS("ent.example.com.", "ns.other.net.")}}},
      {"the delegation goes again", RemoveRRset{N("ent.example.com."), T::NS}},
      {"a DS at an insecure delegation", AddRecords{{DS("insecure.example.com.", 7)}}},
      {"a wildcard removed", RemoveRRset{N("*.wild.example.com."), T::A}},
      {"a batch", Batch{{AddRecords{{A("b1.example.com.", "192.0.2.61")}},
                         AddRecords{{A("b2.example.com.", "192.0.2.62")}},
                         RemoveRecords{{A("b1.example.com.", "192.0.2.61")}}}}},
      {"an UPDATE",
       Update{N("example.com."), {}, {A("upd.example.com.", "192.0.2.70")}}},
      {"the apex changes", AddRecords{{TXT("example.com.", "v=spf1 -all")}}},
  };
  for (const auto& step : steps) {
    auto st = apply(step.command);
    ASSERT_TRUE(st) << step.what << ": " << st.error();
    expect_valid(kStart);
    EXPECT_EQ(as_set(records()), as_set(resigned_whole(sign, kStart))) << step.what;
  }
}

TEST_F(SigningTest, ABigZoneIsSignedInSlicesOverTicksWhileItTakesChanges) {
  auto big = zone();
  for (size_t i = 0; i < kWholeSigningLimit + 1000; ++i) {
    big.records.push_back(A("h" + std::to_string(i) + ".example.com.", "192.0.2.77"));
  }
  ASSERT_TRUE(apply(big));
  auto sign = sign_command(15);
  ASSERT_TRUE(apply(sign));
  ASSERT_FALSE(store_->signing(N("example.com."))->complete);
  // No key rollover and no DS hand-off before the zone is whole.
  auto info = *store_->signing(N("example.com."));
  EXPECT_FALSE(signing_key_needed(info, kStart + 365 * 86400));
  ZoneSigning seen;
  seen.action = ZoneSigning::Action::ds_seen;
  seen.zone = N("example.com.");
  seen.now = kStart;
  seen.key_tag = info.keys.at(0).tag;
  EXPECT_FALSE(apply(seen));
  int ticks = 0;
  ASSERT_TRUE(apply(tick(kStart)));
  ++ticks;
  ASSERT_TRUE(apply(AddRecords{{A("during.example.com.", "192.0.2.78")}}));
  ASSERT_TRUE(apply(RemoveRRset{N("h3.example.com."), T::A}));
  while (!store_->signing(N("example.com."))->complete && ticks < 100) {
    ASSERT_TRUE(apply(tick(kStart)));
    ++ticks;
  }
  ASSERT_TRUE(store_->signing(N("example.com."))->complete);
  // Names in slices of kSigningSliceNames, then the chain: a few ticks.
  EXPECT_GE(ticks, 4);
  EXPECT_LE(ticks, 8);
  expect_valid(kStart);
  EXPECT_EQ(as_set(records()), as_set(resigned_whole(sign, kStart)));
}

TEST_F(SigningTest, OptOutLeavesInsecureDelegationsOutOfTheChain) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command(15, true);
  ASSERT_TRUE(apply(sign));
  expect_valid(kStart);
  EXPECT_EQ(as_set(records()), as_set(resigned_whole(sign, kStart)));
  ASSERT_TRUE(apply(AddRecords{{NS("late.example.com.", "ns.other.net.")}}));
  ASSERT_TRUE(apply(AddRecords{{DS("insecure.example.com.", 9)}}));
  EXPECT_EQ(as_set(records()), as_set(resigned_whole(sign, kStart)));
}

TEST_F(SigningTest, ReplacingTheZoneSignsTheNewContentAndRemovingItForgetsTheKeys) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command();
  ASSERT_TRUE(apply(sign));
  auto fresh = zone();
  fresh.records.push_back(A("new.example.com.", "192.0.2.99"));
  fresh.records.push_back(rr("example.com.", 300, dnssec::kTypeDnskey,
                             dnssec::dnskey_rdata(256, 13, std::vector<uint8_t>(64, 1))));
  ASSERT_TRUE(apply(fresh));
  expect_valid(kStart);
  // The imported DNSKEY is not ours: the zone's keys replace it.
  EXPECT_EQ(as_set(records()), as_set(resigned_whole(sign, kStart)));
  ASSERT_TRUE(apply(RemoveZone{N("example.com.")}));
  EXPECT_FALSE(store_->signing(N("example.com.")));
  ASSERT_TRUE(apply(zone()));
  EXPECT_EQ(count_type(dnssec::kTypeRrsig), 0u);
}

TEST_F(SigningTest, SignerRecordsAreRefusedAndUnsignRestoresTheUnsignedZone) {
  ASSERT_TRUE(apply(zone()));
  auto before = records();
  ASSERT_TRUE(apply(sign_command()));
  auto bad = apply(AddRecords{{rr("example.com.", 300, dnssec::kTypeDnskey,
                                  dnssec::dnskey_rdata(256, 13, std::vector<uint8_t>(64, 1)))}});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("signed online"), std::string::npos) << bad.error();
  EXPECT_FALSE(apply(RemoveRRset{N("www.example.com."), dnssec::kTypeRrsig}));
  EXPECT_FALSE(apply(sign_command()));  // already signed
  ZoneSigning unsign;
  unsign.action = ZoneSigning::Action::unsign;
  unsign.zone = N("example.com.");
  ASSERT_TRUE(apply(unsign));
  auto after = records();
  // Everything but the SOA (its serial moved twice) is as before.
  ASSERT_EQ(after.size(), before.size());
  for (size_t i = 1; i < after.size(); ++i) EXPECT_EQ(after[i], before[i]);
  EXPECT_FALSE(store_->signing(N("example.com.")));
  ZoneSigning tick_unsigned = tick(kStart + 10);
  EXPECT_FALSE(apply(tick_unsigned));
}

TEST_F(SigningTest, TicksRenewSignaturesBeforeTheyExpire) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command();
  sign.params.zsk_lifetime = 0;
  ASSERT_TRUE(apply(sign));
  // Not yet due: nothing changes.
  auto serial_before = serial_of(store_->get(N("example.com."), T::SOA).at(0));
  ASSERT_TRUE(apply(tick(kStart + 60)));
  EXPECT_EQ(serial_of(store_->get(N("example.com."), T::SOA).at(0)), serial_before);
  // The first signatures are gone by the end of the validity period...
  EXPECT_FALSE(dnssec::check_signed_zone(N("example.com."), records(),
                                         kStart + sign.params.validity + 60));
  // ...but past validity - refresh, a tick makes every signature again.
  const uint32_t later = kStart + sign.params.validity - sign.params.refresh + 1;
  ASSERT_TRUE(apply(tick(later)));
  expect_valid(later + sign.params.refresh - 1);
  auto st = dnssec::check_signed_zone(N("example.com."), records(),
                                      kStart + sign.params.validity + 60);
  EXPECT_TRUE(st) << "signatures were not renewed: " << st.error();
  // A clock from the past never moves the zone's clock back.
  ASSERT_TRUE(apply(tick(kStart)));
  EXPECT_EQ(store_->signing(N("example.com."))->clock, later);
}

TEST_F(SigningTest, ZskRolloverPublishesSwitchesAndRetires) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command();
  sign.params.zsk_lifetime = 1000;
  sign.params.publish_wait = 100;
  sign.params.retire_wait = 100;
  ASSERT_TRUE(apply(sign));
  auto info = *store_->signing(N("example.com."));
  uint16_t old_zsk = 0;
  for (const auto& k : info.keys)
    if (k.flags == dnssec::kZskFlags) old_zsk = k.tag;
  EXPECT_FALSE(signing_key_needed(info, kStart + 999));
  auto needed = signing_key_needed(info, kStart + 1000);
  ASSERT_TRUE(needed);
  EXPECT_EQ(*needed, dnssec::kZskFlags);
  auto key = make_new_key(13, *needed);
  ASSERT_TRUE(key);
  ASSERT_TRUE(apply(tick(kStart + 1000, {*key})));
  // Published, not signing yet.
  EXPECT_EQ(count_type(dnssec::kTypeDnskey), 3u);
  EXPECT_EQ(signing_tags(T::A), std::set<uint16_t>{old_zsk});
  expect_valid(kStart + 1000);
  ASSERT_TRUE(apply(tick(kStart + 1100)));
  auto tags = signing_tags(T::A);
  ASSERT_EQ(tags.size(), 1u);
  EXPECT_NE(*tags.begin(), old_zsk);
  EXPECT_EQ(count_type(dnssec::kTypeDnskey), 3u);  // the old one stays a while
  expect_valid(kStart + 1100);
  ASSERT_TRUE(apply(tick(kStart + 1200)));
  EXPECT_EQ(count_type(dnssec::kTypeDnskey), 2u);
  expect_valid(kStart + 1200);
  auto after = *store_->signing(N("example.com."));
  for (const auto& k : after.keys) EXPECT_NE(k.tag, old_zsk);
}

TEST_F(SigningTest, KskRolloverWaitsForTheOperatorsWordOnTheDs) {
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command();
  sign.params.publish_wait = 100;
  sign.params.ds_wait = 50;
  ASSERT_TRUE(apply(sign));
  uint16_t old_ksk = store_->signing(N("example.com."))->keys.at(0).tag;
  ZoneSigning roll;
  roll.action = ZoneSigning::Action::roll;
  roll.zone = N("example.com.");
  roll.now = kStart + 10;
  roll.keys = {*make_new_key(13, dnssec::kKskFlags)};
  ASSERT_TRUE(apply(roll));
  EXPECT_FALSE(apply(roll)) << "a second KSK rollover must wait for the first";
  EXPECT_EQ(signing_tags(dnssec::kTypeDnskey).size(), 2u);  // both KSKs sign the key set
  expect_valid(kStart + 10);
  uint16_t new_ksk = 0;
  auto rolling = *store_->signing(N("example.com."));
  for (const auto& k : rolling.keys) {
    if (k.flags == dnssec::kKskFlags && k.tag != old_ksk) new_ksk = k.tag;
  }
  ZoneSigning seen;
  seen.action = ZoneSigning::Action::ds_seen;
  seen.zone = N("example.com.");
  seen.now = kStart + 20;
  seen.key_tag = new_ksk;
  EXPECT_FALSE(apply(seen)) << "the new KSK is not active yet";
  ASSERT_TRUE(apply(tick(kStart + 110)));
  // Active now, and its CDS (only its) is published.
  auto cds = store_->get(N("example.com."), dnssec::kTypeCds);
  ASSERT_EQ(cds.size(), 1u);
  EXPECT_EQ((cds[0].rdata[0] << 8) | cds[0].rdata[1], new_ksk);
  seen.now = kStart + 120;
  ASSERT_TRUE(apply(seen));
  ASSERT_TRUE(apply(tick(kStart + 130)));
  EXPECT_EQ(signing_tags(dnssec::kTypeDnskey).size(), 2u);  // ds_wait not over
  ASSERT_TRUE(apply(tick(kStart + 171)));
  EXPECT_EQ(signing_tags(dnssec::kTypeDnskey), std::set<uint16_t>{new_ksk});
  EXPECT_EQ(count_type(dnssec::kTypeCds), 0u);
  EXPECT_EQ(count_type(dnssec::kTypeDnskey), 2u);
  expect_valid(kStart + 171);
}

TEST_F(SigningTest, TwoStoresFedTheSameCommandsHoldTheSameBytes) {
  open(twin_, "b");
  ASSERT_TRUE(apply(zone()));
  auto sign = sign_command(13);
  sign.params.zsk_lifetime = 500;
  sign.params.publish_wait = 10;
  sign.params.retire_wait = 10;
  ASSERT_TRUE(apply(sign));
  ASSERT_TRUE(apply(AddRecords{{A("n1.example.com.", "192.0.2.1")}}));
  ASSERT_TRUE(apply(tick(kStart + 500, {*make_new_key(13, dnssec::kZskFlags)})));
  ASSERT_TRUE(apply(tick(kStart + 520)));
  ASSERT_TRUE(apply(RemoveRRset{N("n1.example.com."), T::A}));
  EXPECT_EQ(store_->digest(), twin_->digest());
  auto a = store_->zone_records(N("example.com."));
  auto b = twin_->zone_records(N("example.com."));
  ASSERT_TRUE(a && b);
  EXPECT_EQ(*a, *b);
}

TEST_F(SigningTest, TheStoreAndItsSnapshotCopiesAreReadableByTheOwnerOnly) {
  // They hold private keys once a zone is signed online.
  ASSERT_TRUE(apply(zone()));
  ASSERT_TRUE(apply(sign_command()));
  struct stat st {};
  ASSERT_EQ(::stat((store_->directory() + "/data.mdb").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  auto copy = store_->copy_to(dir_.sub("copy"));
  ASSERT_TRUE(copy) << copy.error();
  ASSERT_EQ(::stat(copy->file.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
}

TEST_F(SigningTest, CommandsRoundTripWithoutShowingKeys) {
  auto sign = sign_command(15);
  sign.params.validity = 1234567;
  auto bytes = encode_command(sign);
  auto back = decode_command(bytes);
  ASSERT_TRUE(back) << back.error();
  auto* z = std::get_if<ZoneSigning>(&*back);
  ASSERT_NE(z, nullptr);
  EXPECT_EQ(z->params, sign.params);
  ASSERT_EQ(z->keys.size(), 2u);
  EXPECT_EQ(z->keys[1].private_key, sign.keys[1].private_key);
  auto text = describe(sign);
  EXPECT_EQ(text, "signing sign zone example.com. (2 new keys)");
  bytes[1] = 13;
  bytes[2] = 9;  // an unknown action
  EXPECT_FALSE(decode_command(bytes));
}

}  // namespace
}  // namespace raftdns::store
