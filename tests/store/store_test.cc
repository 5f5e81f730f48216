// Store unit tests: apply of every command, rejections, atomicity, SOA serial
// bumps, canonical export order, persistence, schema check, digest, snapshots.
#include "daemon/store/store.h"

#include <gtest/gtest.h>
#include <lmdb.h>

#include <algorithm>

#include "daemon/store/keys.h"
#include "daemon/store/read_txn.h"
#include "daemon/wire/nsec3.h"
#include "tests/store/test_records.h"

namespace raftdns::store {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;

// Applies one command to `s` at log index `index`; returns its outcome.
Status apply_to(Store& s, const Command& c, uint64_t index) {
  auto bytes = encode_command(c);
  ApplyItem item{index, 1, bytes};
  std::vector<Status> outcomes;
  auto st = s.apply(std::span(&item, 1), &outcomes);
  EXPECT_TRUE(st) << st.error();
  EXPECT_EQ(outcomes.size(), 1u);
  return outcomes.empty() ? Status(make_error("no outcome")) : std::move(outcomes[0]);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override { reopen(); }

  void reopen() {
    store_.reset();
    auto s = Store::open(dir_.sub("store"));
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
  }

  // Applies one command at the next index; returns its outcome.
  Status apply(const Command& c) { return apply_to(*store_, c, ++index_); }

  PutZone example_zone(uint32_t serial = 100) {
    return PutZone{N("example.com."),
                   {SOA("example.com.", serial), NS("example.com.", "ns1.example.com."),
                    A("ns1.example.com.", "192.0.2.1"), A("www.example.com.", "192.0.2.10")}};
  }

  uint32_t serial(const std::string& zone = "example.com.") {
    auto recs = store_->get(N(zone), T::SOA);
    EXPECT_EQ(recs.size(), 1u);
    return recs.empty() ? 0 : serial_of(recs[0]);
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  uint64_t index_ = 0;
};

TEST(NameKeyTest, MatchesWireCanonicalKey) {
  for (const char* text : {".", "com.", "Example.COM.", "a.b.c.example.com.", "\\000.x.",
                           "\\001a.x.", "*.example.com."}) {
    auto n = N(text);
    NameKey key(n);
    std::string mine(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
    EXPECT_EQ(mine, n.canonical_key()) << text;
  }
}

TEST(NameKeyTest, OrderFollowsRfc4034CanonicalOrder) {
  // RFC 4034 §6.1's example, in order.
  std::vector<std::string> names = {"example.",         "a.example.",      "yljkjljk.a.example.",
                                    "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
                                    "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
  for (size_t i = 1; i < names.size(); ++i) {
    NameKey a(N(names[i - 1])), b(N(names[i]));
    auto ka = a.bytes(), kb = b.bytes();
    EXPECT_TRUE(std::lexicographical_compare(ka.begin(), ka.end(), kb.begin(), kb.end()))
        << names[i - 1] << " < " << names[i];
  }
}

TEST(CommandCodecTest, EveryCommandRoundTrips) {
  Batch batch{{AddRecords{{A("a.example.com.", "192.0.2.1")}},
               RemoveRecords{{TXT("b.example.com.", "x")}}, RemoveRRset{N("c.example.com."), T::MX},
               RemoveZone{N("old.example.")}, SetMembership{{1, 2, 3}},
               PutZone{N("example.com."), {SOA("example.com.", 7)}},
               ImportBegin{0x0123456789abcdefull, N("example.com.")},
               ImportChunk{7, 3, {A("a.example.com.", "192.0.2.1"), SOA("example.com.", 9)}},
               ImportCommit{7, 4}, ImportAbort{~0ull}}};
  Command c = Batch{{batch}};
  auto bytes = encode_command(c);
  EXPECT_EQ(bytes[0], kCommandVersion);
  auto back = decode_command(bytes);
  ASSERT_TRUE(back) << back.error();
  EXPECT_EQ(encode_command(*back), bytes);
  EXPECT_EQ(describe(c), "batch of 1 command");
  EXPECT_EQ(describe(ImportChunk{0xab, 2, {A("a.example.com.", "192.0.2.1")}}),
            "import 00000000000000ab chunk 2 (1 record)");
}

TEST(CommandCodecTest, DecodeRefusesTruncationTrailingBytesAndUnknownVersion) {
  auto bytes = encode_command(AddRecords{{A("a.example.com.", "192.0.2.1")}});
  for (size_t n = 0; n < bytes.size(); ++n) {
    EXPECT_FALSE(decode_command(std::span(bytes.data(), n))) << "prefix of " << n;
  }
  auto longer = bytes;
  longer.push_back(0);
  auto r = decode_command(longer);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("trailing"), std::string::npos);
  auto other = bytes;
  other[0] = 99;
  r = decode_command(other);
  ASSERT_FALSE(r);
  EXPECT_NE(r.error().find("version 99"), std::string::npos);
}

TEST(CommandCodecTest, DecodeRefusesHugeCountsAndDeepNesting) {
  std::vector<uint8_t> huge = {kCommandVersion, 1, 0xff, 0xff, 0xff, 0xff};
  EXPECT_FALSE(decode_command(huge));
  std::vector<uint8_t> deep = {kCommandVersion};
  for (int i = 0; i < 10; ++i) deep.insert(deep.end(), {7, 0, 0, 0, 1});
  deep.insert(deep.end(), {5, 1, 0});
  EXPECT_FALSE(decode_command(deep));
}

TEST(CommandCodecTest, DecodeSurvivesMutatedInput) {
  Command c = Batch{{AddRecords{{A("a.example.com.", "192.0.2.1"), TXT("t.example.com.", "x")}},
                     PutZone{N("example.com."), {SOA("example.com.", 7)}},
                     RemoveRRset{N("c.example.com."), T::MX}}};
  const auto good = encode_command(c);
  std::mt19937 rng(1234);
  for (int i = 0; i < 3000; ++i) {
    auto bytes = good;
    for (int flips = 1 + static_cast<int>(rng() % 4); flips > 0; --flips) {
      bytes[rng() % bytes.size()] = static_cast<uint8_t>(rng());
    }
    if (rng() % 4 == 0) bytes.resize(rng() % bytes.size());
    auto r = decode_command(bytes);
    // Whatever decodes must encode back to the same bytes.
    if (r) {
      EXPECT_EQ(encode_command(*r), bytes);
    }
  }
}

TEST_F(StoreTest, PutZoneCreatesZoneWithItsSerial) {
  ASSERT_TRUE(apply(example_zone(100)));
  auto zones = store_->zones();
  ASSERT_EQ(zones.size(), 1u);
  EXPECT_EQ(zones[0].name, N("example.com."));
  EXPECT_EQ(zones[0].serial, 100u);
  EXPECT_EQ(zones[0].records, 4u);
  EXPECT_EQ(serial(), 100u);
  auto st = store_->stats();
  EXPECT_EQ(st.zones, 1u);
  EXPECT_EQ(st.records, 4u);
  EXPECT_EQ(st.applied_index, 1u);
}

TEST_F(StoreTest, AddRecordsGoIntoEnclosingZoneAndBumpSerial) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(
      AddRecords{{A("www.example.com.", "192.0.2.11"), AAAA("www.example.com.", "2001:db8::1")}}));
  EXPECT_EQ(store_->get(N("www.example.com."), T::A).size(), 2u);
  EXPECT_EQ(store_->get(N("www.example.com."), 0).size(), 3u);
  EXPECT_EQ(serial(), 101u);
  EXPECT_EQ(store_->zones()[0].records, 6u);
}

TEST_F(StoreTest, NewestTtlAppliesToWholeRRset) {
  ASSERT_TRUE(apply(example_zone()));
  ASSERT_TRUE(apply(AddRecords{{A("www.example.com.", "192.0.2.11", 60)}}));
  for (const auto& r : store_->get(N("www.example.com."), T::A)) EXPECT_EQ(r.ttl, 60u);
}

TEST_F(StoreTest, AddingExistingRecordChangesNothing) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(AddRecords{{A("www.example.com.", "192.0.2.10")}}));
  EXPECT_EQ(serial(), 100u);
  EXPECT_EQ(store_->get(N("www.example.com."), T::A).size(), 1u);
}

TEST_F(StoreTest, AddOutsideEveryZoneIsRejectedNamingTheRecord) {
  ASSERT_TRUE(apply(example_zone()));
  auto s = apply(AddRecords{{A("www.example.org.", "192.0.2.1")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("www.example.org."), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("no zone"), std::string::npos) << s.error();
}

TEST_F(StoreTest, RemoveRecordsDeletesOnlyTheMatchingRdata) {
  ASSERT_TRUE(apply(example_zone(5)));
  ASSERT_TRUE(apply(AddRecords{{A("www.example.com.", "192.0.2.11")}}));
  ASSERT_TRUE(apply(RemoveRecords{{A("www.example.com.", "192.0.2.10", 1)}}));  // TTL ignored
  auto left = store_->get(N("www.example.com."), T::A);
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0], A("www.example.com.", "192.0.2.11"));
  EXPECT_EQ(serial(), 7u);
}

TEST_F(StoreTest, RemoveMatchesNamesInRdataIgnoringCase) {
  ASSERT_TRUE(apply(example_zone()));
  ASSERT_TRUE(apply(AddRecords{{MX("example.com.", 10, "Mail.Example.COM.")}}));
  ASSERT_TRUE(apply(RemoveRecords{{MX("example.com.", 10, "mail.example.com.")}}));
  EXPECT_TRUE(store_->get(N("example.com."), T::MX).empty());
}

TEST_F(StoreTest, RemovingAMissingRecordIsRejected) {
  ASSERT_TRUE(apply(example_zone()));
  auto s = apply(RemoveRecords{{A("www.example.com.", "192.0.2.99")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("no such record"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("192.0.2.99"), std::string::npos) << s.error();
}

TEST_F(StoreTest, RemoveRRsetDropsTheWholeSet) {
  ASSERT_TRUE(apply(example_zone()));
  ASSERT_TRUE(apply(AddRecords{{A("www.example.com.", "192.0.2.11")}}));
  ASSERT_TRUE(apply(RemoveRRset{N("www.example.com."), T::A}));
  EXPECT_TRUE(store_->get(N("www.example.com."), 0).empty());
  EXPECT_FALSE(apply(RemoveRRset{N("www.example.com."), T::A}));
}

TEST_F(StoreTest, RemovingTheApexSoaIsRejected) {
  ASSERT_TRUE(apply(example_zone()));
  auto s = apply(RemoveRRset{N("example.com."), T::SOA});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("SOA of zone example.com."), std::string::npos) << s.error();
  EXPECT_FALSE(apply(RemoveRecords{{SOA("example.com.", 100)}}));
  EXPECT_EQ(store_->get(N("example.com."), T::SOA).size(), 1u);
}

TEST_F(StoreTest, CnameCannotCoexistWithOtherData) {
  ASSERT_TRUE(apply(example_zone()));
  auto s = apply(AddRecords{{CNAME("www.example.com.", "other.example.com.")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("CNAME at www.example.com."), std::string::npos) << s.error();
  ASSERT_TRUE(apply(AddRecords{{CNAME("alias.example.com.", "www.example.com.")}}));
  s = apply(AddRecords{{TXT("alias.example.com.", "hello")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("alias.example.com. TXT"), std::string::npos) << s.error();
  EXPECT_FALSE(apply(AddRecords{{CNAME("alias.example.com.", "ftp.example.com.")}}));
}

// Occluded data is accepted and kept, as the zone file validator accepts
// it: below a cut, beside a cut's NS, and under a cut added later. The
// answer engine never serves it (tests/query).
TEST_F(StoreTest, OccludedDataIsKeptAsTheZoneFileKeepsIt) {
  ASSERT_TRUE(apply(example_zone()));
  ASSERT_TRUE(apply(AddRecords{
      {NS("sub.example.com.", "ns.sub.example.com."), A("ns.sub.example.com.", "192.0.2.53")}}));
  auto s = apply(AddRecords{{TXT("x.sub.example.com.", "hidden")}});
  ASSERT_TRUE(s) << s.error();
  s = apply(AddRecords{{TXT("sub.example.com.", "at the cut")}});
  ASSERT_TRUE(s) << s.error();
  ASSERT_TRUE(apply(AddRecords{{TXT("y.later.example.com.", "data")}}));
  s = apply(AddRecords{{NS("later.example.com.", "ns.elsewhere.net.")}});
  ASSERT_TRUE(s) << s.error();
  EXPECT_EQ(store_->get(N("x.sub.example.com."), T::TXT).size(), 1u);
  EXPECT_EQ(store_->get(N("sub.example.com."), T::TXT).size(), 1u);
  EXPECT_EQ(store_->get(N("y.later.example.com."), T::TXT).size(), 1u);
  // The CNAME rule still holds below a cut.
  ASSERT_TRUE(apply(AddRecords{{CNAME("c.sub.example.com.", "www.example.com.")}}));
  EXPECT_FALSE(apply(AddRecords{{TXT("c.sub.example.com.", "clash")}}));
}

TEST_F(StoreTest, SoaOutsideTheApexIsRejected) {
  ASSERT_TRUE(apply(example_zone()));
  auto s = apply(AddRecords{{SOA("www.example.com.", 1)}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("not at the zone apex"), std::string::npos) << s.error();
}

TEST_F(StoreTest, PutZoneWithoutExactlyOneSoaIsRejected) {
  auto s = apply(PutZone{N("example.com."), {NS("example.com.", "ns1.example.com.")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("0 SOA"), std::string::npos) << s.error();
  s = apply(PutZone{N("example.com."), {SOA("example.com.", 1), A("www.example.org.", "1.2.3.4")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("outside zone example.com."), std::string::npos) << s.error();
  EXPECT_TRUE(store_->zones().empty());
}

TEST_F(StoreTest, PutZoneReplacesContentsAndKeepsGreaterImportedSerial) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(
      PutZone{N("example.com."), {SOA("example.com.", 500), A("new.example.com.", "192.0.2.77")}}));
  EXPECT_TRUE(store_->get(N("www.example.com."), 0).empty());
  EXPECT_EQ(store_->get(N("new.example.com."), T::A).size(), 1u);
  EXPECT_EQ(serial(), 500u);
  EXPECT_EQ(store_->zones()[0].records, 2u);
}

TEST_F(StoreTest, PutZoneWithOlderSerialBumpsPastExisting) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(example_zone(50)));
  EXPECT_EQ(serial(), 101u);
  EXPECT_EQ(store_->zones()[0].serial, 101u);
}

TEST_F(StoreTest, SerialBumpWrapsAroundPerRfc1982) {
  ASSERT_TRUE(apply(example_zone(0xffffffffu)));
  ASSERT_TRUE(apply(AddRecords{{A("a.example.com.", "192.0.2.1")}}));
  EXPECT_EQ(serial(), 0u);
  ASSERT_TRUE(apply(AddRecords{{A("b.example.com.", "192.0.2.2")}}));
  EXPECT_EQ(serial(), 1u);
  // An imported serial "greater" in RFC 1982 terms across the wrap is kept.
  ASSERT_TRUE(apply(example_zone(0x70000000u)));
  EXPECT_EQ(serial(), 0x70000000u);
}

TEST_F(StoreTest, NewSoaWithLowerSerialStillMovesForward) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(AddRecords{{SOA("example.com.", 3)}}));
  EXPECT_EQ(serial(), 101u);
  EXPECT_EQ(store_->get(N("example.com."), T::SOA).size(), 1u);
}

TEST_F(StoreTest, RemoveZoneDropsEverythingAndUnknownZoneIsRejected) {
  ASSERT_TRUE(apply(example_zone()));
  ASSERT_TRUE(apply(RemoveZone{N("example.com.")}));
  EXPECT_TRUE(store_->zones().empty());
  EXPECT_TRUE(store_->get(N("www.example.com."), 0).empty());
  EXPECT_EQ(store_->stats().records, 0u);
  auto s = apply(RemoveZone{N("example.com.")});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("no zone example.com."), std::string::npos) << s.error();
}

TEST_F(StoreTest, BatchIsAllOrNothing) {
  ASSERT_TRUE(apply(example_zone(100)));
  auto before = store_->digest();
  auto s = apply(Batch{{AddRecords{{A("a.example.com.", "192.0.2.1")}},
                        RemoveRecords{{A("nothere.example.com.", "192.0.2.2")}}}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("batch command 2"), std::string::npos) << s.error();
  EXPECT_TRUE(store_->get(N("a.example.com."), 0).empty());
  EXPECT_EQ(serial(), 100u);
  // Only the applied index moved; the data, and so the digest, did not.
  EXPECT_EQ(store_->digest(), before);
  EXPECT_EQ(store_->stats().applied_index, 2u);

  ASSERT_TRUE(apply(Batch{{AddRecords{{A("a.example.com.", "192.0.2.1")}},
                           AddRecords{{A("b.example.com.", "192.0.2.2")}},
                           RemoveRecords{{A("www.example.com.", "192.0.2.10")}}}}));
  EXPECT_EQ(store_->get(N("a.example.com."), 0).size(), 1u);
  EXPECT_EQ(store_->get(N("b.example.com."), 0).size(), 1u);
  EXPECT_EQ(serial(), 101u);  // one change, one bump
}

TEST_F(StoreTest, RejectedCommandStillAdvancesAppliedIndex) {
  EXPECT_FALSE(apply(AddRecords{{A("www.example.com.", "192.0.2.1")}}));
  EXPECT_EQ(store_->applied_index(), 1u);
  ApplyItem garbage{2, 3, std::span<const uint8_t>()};
  std::vector<Status> outcomes;
  ASSERT_TRUE(store_->apply(std::span(&garbage, 1), &outcomes));
  ASSERT_EQ(outcomes.size(), 1u);
  EXPECT_FALSE(outcomes[0]);
  EXPECT_EQ(store_->stats().applied_index, 2u);
  EXPECT_EQ(store_->stats().applied_term, 3u);
}

TEST_F(StoreTest, OneApplyCallCoversARunOfEntries) {
  auto a = encode_command(example_zone());
  auto b = encode_command(AddRecords{{A("x.example.com.", "192.0.2.5")}});
  auto c = encode_command(AddRecords{{A("x.example.org.", "192.0.2.5")}});
  ApplyItem items[] = {{1, 1, a}, {2, 1, b}, {3, 2, c}};
  std::vector<Status> outcomes;
  ASSERT_TRUE(store_->apply(items, &outcomes));
  ASSERT_EQ(outcomes.size(), 3u);
  EXPECT_TRUE(outcomes[0]);
  EXPECT_TRUE(outcomes[1]);
  EXPECT_FALSE(outcomes[2]);
  EXPECT_EQ(store_->stats().applied_index, 3u);
  EXPECT_EQ(store_->stats().applied_term, 2u);
}

TEST_F(StoreTest, ReplayedIndexIsSkipped) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply_to(*store_, AddRecords{{A("a.example.com.", "192.0.2.1")}}, 1));
  EXPECT_TRUE(store_->get(N("a.example.com."), 0).empty());
  EXPECT_EQ(serial(), 100u);
}

TEST_F(StoreTest, CheckAppliesTheRulesWithoutWriting) {
  ASSERT_TRUE(apply(example_zone(100)));
  auto before = store_->digest();
  EXPECT_TRUE(store_->check(AddRecords{{A("a.example.com.", "192.0.2.1")}}));
  auto s = store_->check(AddRecords{{CNAME("www.example.com.", "a.example.com.")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("CNAME"), std::string::npos);
  EXPECT_EQ(store_->digest(), before);
  EXPECT_TRUE(store_->get(N("a.example.com."), 0).empty());
}

TEST_F(StoreTest, ExportIsInCanonicalOrderWithSoaFirst) {
  ASSERT_TRUE(apply(PutZone{N("example.com."),
                            {A("z.example.com.", "192.0.2.1"), A("A.example.com.", "192.0.2.2"),
                             TXT("b.a.example.com.", "t"), NS("example.com.", "ns.example.com."),
                             SOA("example.com.", 1), A("example.com.", "192.0.2.3")}}));
  auto recs = store_->zone_records(N("example.com."));
  ASSERT_TRUE(recs) << recs.error();
  std::vector<std::string> got;
  for (const auto& r : *recs) got.push_back(r.owner.to_text() + " " + wire::type_to_text(r.type));
  EXPECT_EQ(got, (std::vector<std::string>{"example.com. SOA", "example.com. A", "example.com. NS",
                                           "a.example.com. A", "b.a.example.com. TXT",
                                           "z.example.com. A"}));
  EXPECT_FALSE(store_->zone_records(N("example.net.")));
}

TEST_F(StoreTest, DataAndAppliedIndexSurviveReopen) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(AddRecords{{A("a.example.com.", "192.0.2.1")}}));
  ASSERT_TRUE(apply(SetMembership{{9, 8, 7}}));
  auto digest = store_->digest();
  ASSERT_TRUE(store_->sync());
  reopen();
  EXPECT_EQ(store_->applied_index(), 3u);
  EXPECT_EQ(store_->get(N("a.example.com."), T::A).size(), 1u);
  EXPECT_EQ(store_->membership(), (std::vector<uint8_t>{9, 8, 7}));
  EXPECT_EQ(store_->digest(), digest);
}

TEST_F(StoreTest, SchemaVersionMismatchNamesTheDirectory) {
  store_.reset();
  {
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    ASSERT_EQ(mdb_env_open(env, dir_.sub("store").c_str(), 0, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    uint8_t v[4] = {0, 0, 0, 99};
    MDB_val k{14, const_cast<char*>("schema_version")}, val{4, v};
    ASSERT_EQ(mdb_put(txn, meta, &k, &val, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto s = Store::open(dir_.sub("store"));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find(dir_.sub("store")), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("schema version 99"), std::string::npos) << s.error();
}

TEST_F(StoreTest, DigestIsEqualForSameCommandsAndDiffersOtherwise) {
  auto second = Store::open(dir_.sub("second"));
  ASSERT_TRUE(second) << second.error();
  auto third = Store::open(dir_.sub("third"));
  ASSERT_TRUE(third) << third.error();
  std::vector<Command> cmds = {example_zone(10), AddRecords{{A("a.example.com.", "192.0.2.1")}},
                               RemoveRRset{N("www.example.com."), T::A}};
  uint64_t i = 0;
  for (const auto& c : cmds) {
    ++i;
    ASSERT_TRUE(apply_to(*store_, c, i));
    ASSERT_TRUE(apply_to(**second, c, i));
    ASSERT_TRUE(apply_to(**third, c, i));
  }
  EXPECT_EQ(store_->digest(), (*second)->digest());
  EXPECT_EQ(store_->digest().size(), 16u);
  ASSERT_TRUE(apply_to(**third, AddRecords{{A("b.example.com.", "192.0.2.2")}}, 4));
  ASSERT_TRUE(apply_to(*store_, AddRecords{{A("b.example.com.", "192.0.2.3")}}, 4));
  EXPECT_NE(store_->digest(), (*third)->digest());
}

TEST_F(StoreTest, CopyToThenReplaceWithSwapsInTheSnapshot) {
  ASSERT_TRUE(apply(example_zone(100)));
  ASSERT_TRUE(apply(AddRecords{{A("snap.example.com.", "192.0.2.1")}}));
  const std::string copy = dir_.sub("copy");
  ASSERT_TRUE(store_->copy_to(copy));
  const auto snapshot_digest = store_->digest();

  auto follower = Store::open(dir_.sub("follower"));
  ASSERT_TRUE(follower) << follower.error();
  ASSERT_TRUE(apply_to(**follower, PutZone{N("other.org."), {SOA("other.org.", 1)}}, 1));
  auto old_view = (*follower)->begin_read();
  ASSERT_NE(old_view, nullptr);

  ASSERT_TRUE((*follower)->replace_with(copy));
  EXPECT_FALSE(std::filesystem::exists(copy));
  EXPECT_EQ((*follower)->digest(), snapshot_digest);
  EXPECT_EQ((*follower)->applied_index(), 2u);
  EXPECT_EQ((*follower)->get(N("snap.example.com."), T::A).size(), 1u);
  EXPECT_TRUE((*follower)->get(N("other.org."), T::SOA).empty());

  // A view begun before the swap still reads the old data, then asks to be replaced.
  ZoneRef z;
  NameKey other(N("other.org."));
  EXPECT_TRUE(old_view->find_zone(other, z));
  EXPECT_FALSE(old_view->renew());
  old_view.reset();

  // The swapped-in store persists.
  follower->reset();
  auto again = Store::open(dir_.sub("follower"));
  ASSERT_TRUE(again) << again.error();
  EXPECT_EQ((*again)->digest(), snapshot_digest);
}

TEST_F(StoreTest, ReadTxnFindsZonesNodesAndCuts) {
  ASSERT_TRUE(apply(example_zone()));
  ASSERT_TRUE(apply(PutZone{N("child.example.com."), {SOA("child.example.com.", 1)}}));
  ASSERT_TRUE(apply(
      AddRecords{{NS("sub.example.com.", "ns.sub.example.com."),
                  A("ns.sub.example.com.", "192.0.2.53"), TXT("a.b.c.example.com.", "deep")}}));
  auto view = store_->begin_read();
  ASSERT_NE(view, nullptr);
  ZoneRef z;
  NameKey deep(N("x.child.example.com."));
  ASSERT_TRUE(view->find_zone(deep, z));
  EXPECT_EQ(z.apex_labels, 3u);
  NameKey www(N("WWW.example.com."));
  ASSERT_TRUE(view->find_zone(www, z));
  EXPECT_EQ(z.apex_labels, 2u);
  RRsetView a;
  ASSERT_TRUE(view->get_rrset(z, www.bytes(), T::A, a));
  EXPECT_EQ(a.count, 1u);
  EXPECT_EQ((*a.begin()).size(), 4u);

  // An empty non-terminal exists (it has descendants) and holds no data.
  NameKey ent(N("b.c.example.com."));
  NodeView node;
  view->load_node(z, ent.bytes(), node);
  EXPECT_TRUE(node.exists());
  EXPECT_TRUE(node.has_descendants);
  EXPECT_FALSE(node.has_data);
  NameKey missing(N("q.b.c.example.com."));
  view->load_node(z, missing.bytes(), node);
  EXPECT_FALSE(node.exists());

  // The delegation below the apex is an NS RRset at sub.example.com.
  NameKey below(N("x.y.sub.example.com."));
  RRsetView ns;
  EXPECT_TRUE(view->get_rrset(z, below.prefix(3), T::NS, ns));
  EXPECT_FALSE(view->get_rrset(z, www.bytes(), T::NS, ns));
  NameKey none(N("www.example.net."));
  EXPECT_FALSE(view->find_zone(none, z));
  EXPECT_TRUE(view->renew());

  // Zones come and go at any depth; lookups follow after a renew.
  ASSERT_TRUE(apply(RemoveZone{N("child.example.com.")}));
  ASSERT_TRUE(apply(PutZone{N("a.b.c.d.example.com."), {SOA("a.b.c.d.example.com.", 1)}}));
  ASSERT_TRUE(view->renew());
  ASSERT_TRUE(view->find_zone(deep, z));
  EXPECT_EQ(z.apex_labels, 2u);
  NameKey deeper(N("x.a.b.c.d.example.com."));
  ASSERT_TRUE(view->find_zone(deeper, z));
  EXPECT_EQ(z.apex_labels, 6u);
}

TEST_F(StoreTest, ZoneRefTracksCutsDnamesWildcardsAndSoa) {
  ASSERT_TRUE(apply(example_zone()));
  auto flags = [&] {
    auto view = store_->begin_read();
    ZoneRef z;
    NameKey apex(N("example.com."));
    EXPECT_TRUE(view->find_zone(apex, z));
    EXPECT_EQ(z.soa.count, 1u);
    return std::to_string(z.has_cuts) + std::to_string(z.has_dnames) +
           std::to_string(z.has_wildcards);
  };
  EXPECT_EQ(flags(), "000");
  ASSERT_TRUE(apply(AddRecords{{NS("sub.example.com.", "ns.elsewhere.net."),
                                DNAME("old.example.com.", "example.net."),
                                TXT("a.*.example.com.", "under a wildcard")}}));
  EXPECT_EQ(flags(), "111");
  ASSERT_TRUE(apply(RemoveRRset{N("sub.example.com."), T::NS}));
  ASSERT_TRUE(apply(RemoveRRset{N("old.example.com."), T::DNAME}));
  ASSERT_TRUE(apply(RemoveRRset{N("a.*.example.com."), T::TXT}));
  EXPECT_EQ(flags(), "000");
}

}  // namespace
}  // namespace raftdns::store

namespace raftdns::store {
namespace {

using namespace raftdns::testing;

// The IXFR journal (RFC 1995): one entry per changing command, written in
// the apply, holding the net difference with the SOAs leading each list.
struct JournalEntry {
  uint32_t from = 0, to = 0, deletions = 0, additions = 0;
  std::vector<std::string> owners_and_types;  // "owner type" in order
};

std::vector<JournalEntry> read_journal(const Store& s, const std::string& zone) {
  std::vector<JournalEntry> out;
  auto view = s.begin_read();
  NameKey key(N(zone));
  JournalCursor cursor(*view, key.bytes());
  std::span<const uint8_t> e;
  while (cursor.next(e)) {
    JournalEntry j;
    j.from = load_u32(e.data());
    j.to = load_u32(e.data() + 4);
    j.deletions = load_u32(e.data() + 8);
    j.additions = load_u32(e.data() + 12);
    for (size_t p = 16; p < e.size();) {
      size_t len = load_u16(e.data() + p);
      auto owner = wire::Name::from_wire(e.subspan(p + 2, len));
      uint16_t type = load_u16(e.data() + p + 2 + len);
      size_t rdlen = load_u16(e.data() + p + 2 + len + 8);
      j.owners_and_types.push_back(owner->to_text() + " " + wire::type_to_text(type));
      p += 2 + len + 10 + rdlen;
    }
    out.push_back(std::move(j));
  }
  return out;
}

class JournalTest : public ::testing::Test {
 protected:
  void open(uint32_t entries) {
    StoreOptions o;
    o.journal_entries = entries;
    auto s = Store::open(dir_.sub("store"), o);
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
  }
  Status apply(const Command& c) {
    auto bytes = encode_command(c);
    ApplyItem item{++index_, 1, bytes};
    std::vector<Status> outcomes;
    EXPECT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
    return outcomes.empty() ? Status(make_error("none")) : std::move(outcomes[0]);
  }
  PutZone zone() {
    return PutZone{N("example.com."),
                   {SOA("example.com.", 10), NS("example.com.", "ns1.example.com."),
                    A("ns1.example.com.", "192.0.2.1"), A("www.example.com.", "192.0.2.10")}};
  }
  TempDir dir_;
  std::unique_ptr<Store> store_;
  uint64_t index_ = 0;
};

TEST_F(JournalTest, EachChangeIsOneEntryWithTheNetDifference) {
  open(10);
  ASSERT_TRUE(apply(zone()));
  EXPECT_TRUE(read_journal(*store_, "example.com.").empty());  // a new zone has no history
  ASSERT_TRUE(apply(AddRecords{{A("www.example.com.", "192.0.2.11")}}));
  // Removing one record and adding another in one batch is one change.
  ASSERT_TRUE(apply(Batch{{RemoveRecords{{A("www.example.com.", "192.0.2.10")}},
                           AddRecords{{A("mail.example.com.", "192.0.2.25")}}}}));
  // Adding and removing the same record in one batch changes nothing but the serial.
  ASSERT_TRUE(apply(Batch{{AddRecords{{A("tmp.example.com.", "192.0.2.99")}},
                           RemoveRecords{{A("tmp.example.com.", "192.0.2.99")}}}}));
  auto j = read_journal(*store_, "example.com.");
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j[0].from, 10u);
  EXPECT_EQ(j[0].to, 11u);
  EXPECT_EQ(j[0].deletions, 1u);  // the old SOA
  EXPECT_EQ(j[0].additions, 2u);  // the new SOA and the A
  EXPECT_EQ(j[0].owners_and_types,
            (std::vector<std::string>{"example.com. SOA", "example.com. SOA", "www.example.com. A"}));
  EXPECT_EQ(j[1].from, 11u);
  EXPECT_EQ(j[1].to, 12u);
  EXPECT_EQ(j[1].owners_and_types,
            (std::vector<std::string>{"example.com. SOA", "www.example.com. A", "example.com. SOA",
                                      "mail.example.com. A"}));
  EXPECT_EQ(j[2].owners_and_types,
            (std::vector<std::string>{"example.com. SOA", "example.com. SOA"}));
}

TEST_F(JournalTest, TheOldestEntriesGoPastTheBoundAndAnImportStartsOver) {
  open(3);
  ASSERT_TRUE(apply(zone()));
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(apply(AddRecords{{A("h" + std::to_string(i) + ".example.com.", "192.0.2.1")}}));
  }
  auto j = read_journal(*store_, "example.com.");
  ASSERT_EQ(j.size(), 3u);
  EXPECT_EQ(j.front().from, 12u);  // 10 -> 11 and 11 -> 12 were dropped
  EXPECT_EQ(j.back().to, 15u);
  // A refused command writes nothing.
  EXPECT_FALSE(apply(RemoveRecords{{A("nothere.example.com.", "192.0.2.1")}}));
  EXPECT_EQ(read_journal(*store_, "example.com.").size(), 3u);
  // Importing the zone again starts a new history.
  ASSERT_TRUE(apply(zone()));
  EXPECT_TRUE(read_journal(*store_, "example.com.").empty());
  ASSERT_TRUE(apply(RemoveZone{N("example.com.")}));
  EXPECT_TRUE(read_journal(*store_, "example.com.").empty());
}

TEST_F(JournalTest, TwoStoresApplyingTheSameCommandsHoldTheSameJournal) {
  open(5);
  TempDir other_dir;
  StoreOptions o;
  o.journal_entries = 5;
  auto other = Store::open(other_dir.sub("store"), o);
  ASSERT_TRUE(other);
  std::vector<Command> commands = {zone(), AddRecords{{A("a.example.com.", "192.0.2.2")}},
                                   RemoveRRset{N("www.example.com."), wire::rrtype::A},
                                   AddRecords{{A("a.example.com.", "192.0.2.3")}}};
  for (auto& c : commands) {
    ASSERT_TRUE(apply(c));
    auto bytes = encode_command(c);
    ApplyItem item{index_, 1, bytes};
    ASSERT_TRUE((*other)->apply(std::span(&item, 1), nullptr));
  }
  auto a = read_journal(*store_, "example.com."), b = read_journal(**other, "example.com.");
  ASSERT_EQ(a.size(), 3u);
  ASSERT_EQ(b.size(), 3u);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_EQ(a[i].owners_and_types, b[i].owners_and_types);
    EXPECT_EQ(a[i].to, b[i].to);
  }
}

}  // namespace
}  // namespace raftdns::store

namespace raftdns::store {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;

// Staged imports (ImportBegin, ImportChunk, ImportCommit, ImportAbort) and
// the reclaiming of content nothing reads any more.
class ImportTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.sub("store"));
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
  }
  Status apply(const Command& c) { return apply_at(c, ++index_); }
  Status apply_at(const Command& c, uint64_t index) {
    index_ = index;
    return apply_to(*store_, c, index);
  }
  // Reclaims everything, a few RRsets per call; returns how many went.
  uint64_t reclaim_all(size_t slice = 3) {
    uint64_t total = 0;
    for (int i = 0; i < 10000; ++i) {
      auto p = store_->reclaim(slice);
      EXPECT_TRUE(p) << p.error();
      if (!p) break;
      EXPECT_LE(p->deleted, slice);
      total += p->deleted;
      if (p->done) return total;
    }
    ADD_FAILURE() << "reclaim never finished";
    return total;
  }
  std::vector<wire::Record> big_zone(uint32_t serial, size_t hosts, const std::string& net) {
    std::vector<wire::Record> out = {SOA("example.com.", serial),
                                     NS("example.com.", "ns1.example.com.")};
    for (size_t i = 0; i < hosts; ++i) {
      out.push_back(A("h" + std::to_string(i) + ".example.com.", net + std::to_string(i % 250)));
    }
    return out;
  }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  uint64_t index_ = 0;
};

TEST_F(ImportTest, CommitSwitchesTheWholeZoneAtOnceAndTheOldContentIsReclaimed) {
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(100, 20, "192.0.2.")}));
  ASSERT_TRUE(apply(ImportBegin{42, N("example.com.")}));
  auto fresh = big_zone(200, 30, "198.51.100.");
  ASSERT_TRUE(apply(ImportChunk{42, 0, {fresh.begin(), fresh.begin() + 12}}));
  ASSERT_TRUE(apply(ImportChunk{42, 1, {fresh.begin() + 12, fresh.end()}}));

  // Staged, not served: the old zone is whole, and the new records are
  // counted as staged.
  EXPECT_EQ(store_->get(N("h5.example.com."), T::A).at(0).rdata, A("x.", "192.0.2.5").rdata);
  EXPECT_TRUE(store_->get(N("h25.example.com."), T::A).empty());
  EXPECT_EQ(store_->zones().at(0).serial, 100u);
  EXPECT_EQ(store_->zones().at(0).records, 22u);
  auto st = store_->stats();
  EXPECT_EQ(st.imports, 1u);
  EXPECT_EQ(st.staged_records, 32u);

  ASSERT_TRUE(apply(ImportCommit{42, 2}));
  EXPECT_EQ(store_->get(N("h5.example.com."), T::A).at(0).rdata, A("x.", "198.51.100.5").rdata);
  EXPECT_EQ(store_->get(N("h25.example.com."), T::A).size(), 1u);
  EXPECT_EQ(store_->zones().at(0).serial, 200u);
  EXPECT_EQ(store_->zones().at(0).records, 32u);
  st = store_->stats();
  EXPECT_EQ(st.imports, 0u);
  EXPECT_EQ(st.staged_records, 0u);
  EXPECT_EQ(st.reclaim_pending, 1u);

  // The old generation (22 records in 22 RRsets) goes in bounded slices,
  // and reclaiming changes nothing anyone can read.
  const std::string digest = store_->digest();
  auto records = store_->zone_records(N("example.com."));
  ASSERT_TRUE(records);
  EXPECT_EQ(reclaim_all(), 22u);
  EXPECT_EQ(store_->stats().reclaim_pending, 0u);
  EXPECT_EQ(store_->digest(), digest);
  EXPECT_EQ(store_->zone_records(N("example.com."))->size(), records->size());
}

// An import's chunks are written by their own path (stage_records); what it
// stores must be what one PutZone of the same records stores, byte for byte,
// however the records are cut into chunks: RRsets split across chunks (the
// last record's TTL holds), duplicates in two chunks, names differing in
// case only, cuts, a DNAME, a wildcard, an NSEC3 (and its index).
TEST_F(ImportTest, ChunkedImportStoresExactlyWhatOnePutZoneStores) {
  const std::string hash_owner = "0p9mhaveqvm6t7vbl5lop2u3t2rp3tom.example.com.";
  std::vector<wire::Record> zone = {
      SOA("example.com.", 42), NS("example.com.", "ns1.example.com."),
      A("split.example.com.", "192.0.2.1", 300), A("ns1.example.com.", "192.0.2.53"),
      MX("example.com.", 10, "Mail.example.com."), TXT("example.com.", "v=spf1 -all"),
      A("Host.example.com.", "192.0.2.2"), CNAME("alias.example.com.", "www.example.com."),
      DNAME("dn.example.com.", "example.net."), NS("sub.example.com.", "ns.sub.example.com."),
      A("ns.sub.example.com.", "192.0.2.3"), A("*.wild.example.com.", "192.0.2.4"),
      AAAA("www.example.com.", "2001:db8::1"),
      SRV("_sip._udp.example.com.", 1, 2, 5060, "www.example.com."),
      rr(hash_owner, 300, 50, {1, 0, 0, 10, 0, 20, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07,
                               0x08, 0x09, 0x0a, 0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11,
                               0x12, 0x13, 0x14, 0x00, 0x01, 0x40})};
  for (int i = 0; i < 60; ++i) {
    zone.push_back(A("h" + std::to_string(i) + ".example.com.", "198.51.100." + std::to_string(i)));
    if (i == 20) zone.push_back(A("split.example.com.", "192.0.2.9", 300));
    if (i == 30) zone.push_back(A("ns1.example.com.", "192.0.2.53"));  // a duplicate
    if (i == 40) zone.push_back(MX("example.com.", 10, "mail.example.com."));  // same, in canonical form
  }
  zone.push_back(A("host.example.com.", "192.0.2.5"));
  zone.push_back(A("split.example.com.", "192.0.2.10", 900));  // the RRset's TTL becomes 900

  ASSERT_TRUE(apply(PutZone{N("example.com."), zone}));
  const std::string want_digest = store_->digest();
  auto want = store_->zone_records(N("example.com."));
  ASSERT_TRUE(want);
  ASSERT_EQ(store_->zones().size(), 1u);
  // The split RRset: both records, the last TTL.
  auto split = store_->get(N("split.example.com."), T::A);
  ASSERT_EQ(split.size(), 3u);
  EXPECT_EQ(split[0].ttl, 900u);

  for (size_t chunk : {size_t{1}, size_t{2}, size_t{7}, size_t{31}, zone.size()}) {
    SCOPED_TRACE("chunks of " + std::to_string(chunk));
    auto opened = Store::open(dir_.sub("chunks" + std::to_string(chunk)));
    ASSERT_TRUE(opened) << opened.error();
    Store& other = **opened;
    uint64_t index = 0;
    ASSERT_TRUE(apply_to(other, ImportBegin{7, N("example.com.")}, ++index));
    uint32_t sequence = 0;
    for (size_t at = 0; at < zone.size(); at += chunk) {
      std::vector<wire::Record> part(zone.begin() + at,
                                     zone.begin() + std::min(zone.size(), at + chunk));
      auto s = apply_to(other, ImportChunk{7, sequence++, part}, ++index);
      ASSERT_TRUE(s) << s.error();
    }
    ASSERT_TRUE(apply_to(other, ImportCommit{7, sequence}, ++index));
    auto got = other.zone_records(N("example.com."));
    ASSERT_TRUE(got);
    EXPECT_EQ(*got, *want);
    ASSERT_EQ(other.zones().size(), 1u);
    EXPECT_EQ(other.zones()[0].serial, store_->zones()[0].serial);
    EXPECT_EQ(other.zones()[0].records, store_->zones()[0].records);
    EXPECT_EQ(other.digest(), want_digest);
    // The NSEC3 index (which the digest does not cover) has its entry too:
    // the one hash of the zone is found at or before any hash.
    auto view = other.begin_read();
    ASSERT_TRUE(view);
    NameKey key(N("example.com."));
    ZoneRef z;
    ASSERT_TRUE(view->find_zone(key, z));
    const std::array<uint8_t, 20> zeros{};
    uint8_t found[kMaxNsec3Hash];
    EXPECT_EQ(view->nsec3_at_or_before(z, key.bytes(), zeros, false, found), 20u);
  }
}

// A CNAME and other data at one owner are refused however the import's
// chunks split them, as one PutZone refuses them.
TEST_F(ImportTest, ACnameBesideOtherDataIsRefusedAcrossChunks) {
  for (bool cname_first : {false, true}) {
    SCOPED_TRACE(cname_first ? "CNAME first" : "A first");
    const uint64_t id = cname_first ? 11 : 12;
    ASSERT_TRUE(apply(ImportBegin{id, N("example.com.")}));
    ASSERT_TRUE(apply(ImportChunk{id, 0, big_zone(1, 2, "192.0.2.")}));
    auto a = A("x.example.com.", "192.0.2.1");
    auto c = CNAME("x.example.com.", "www.example.com.");
    ASSERT_TRUE(apply(ImportChunk{id, 1, {cname_first ? c : a}}));
    auto s = apply(ImportChunk{id, 2, {cname_first ? a : c}});
    ASSERT_FALSE(s);
    EXPECT_NE(s.error().find("cannot coexist"), std::string::npos) << s.error();
    EXPECT_NE(s.error().find("x.example.com."), std::string::npos) << s.error();
    // A refused chunk ends the import: nothing staged is left.
    EXPECT_EQ(store_->stats().imports, 0u);
    EXPECT_EQ(store_->stats().staged_records, 0u);
  }
  EXPECT_TRUE(store_->zones().empty());
}

TEST_F(ImportTest, ImportedSerialNotAboveTheOldOneIsBumpedPastIt) {
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(100, 2, "192.0.2.")}));
  ASSERT_TRUE(apply(ImportBegin{1, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{1, 0, big_zone(50, 2, "192.0.2.")}));
  ASSERT_TRUE(apply(ImportCommit{1, 1}));
  EXPECT_EQ(store_->zones().at(0).serial, 101u);
  EXPECT_EQ(serial_of(store_->get(N("example.com."), T::SOA).at(0)), 101u);
}

TEST_F(ImportTest, ANewZoneCanBeImported) {
  ASSERT_TRUE(apply(ImportBegin{9, N("example.com.")}));
  ASSERT_TRUE(store_->zones().empty());
  ASSERT_TRUE(apply(ImportChunk{9, 0, big_zone(7, 3, "192.0.2.")}));
  ASSERT_TRUE(store_->zones().empty());
  ASSERT_TRUE(apply(ImportCommit{9, 1}));
  ASSERT_EQ(store_->zones().size(), 1u);
  EXPECT_EQ(store_->zones()[0].serial, 7u);
  EXPECT_EQ(store_->stats().reclaim_pending, 0u);
}

TEST_F(ImportTest, ARefusedChunkEndsTheImportAndTheZoneStaysWhole) {
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(100, 5, "192.0.2.")}));
  const std::string before = store_->digest();
  ASSERT_TRUE(apply(ImportBegin{5, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{5, 0, big_zone(200, 5, "198.51.100.")}));
  // The same rules as PutZone: a CNAME beside other data is refused, naming it.
  auto s = apply(ImportChunk{5, 1, {CNAME("h1.example.com.", "elsewhere.example.")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("CNAME at h1.example.com."), std::string::npos) << s.error();
  EXPECT_EQ(store_->stats().imports, 0u);
  EXPECT_EQ(store_->digest(), before);
  s = apply(ImportCommit{5, 2});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("no import 0000000000000005"), std::string::npos) << s.error();
  EXPECT_EQ(store_->zones().at(0).serial, 100u);
  // The staged chunk (7 RRsets) is reclaimed.
  EXPECT_EQ(reclaim_all(), 7u);
}

TEST_F(ImportTest, RecordsOutsideTheZoneOrASecondSoaAreRefused) {
  ASSERT_TRUE(apply(ImportBegin{5, N("example.com.")}));
  auto s = apply(ImportChunk{5, 0, {A("www.example.org.", "192.0.2.1")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("is outside zone example.com."), std::string::npos) << s.error();

  ASSERT_TRUE(apply(ImportBegin{6, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{6, 0, {SOA("example.com.", 1)}}));
  s = apply(ImportChunk{6, 1, {SOA("example.com.", 2)}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("has 2 SOA records at its apex; exactly one is required"),
            std::string::npos)
      << s.error();
}

TEST_F(ImportTest, CommitNeedsOneSoaAndEveryChunk) {
  ASSERT_TRUE(apply(ImportBegin{1, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{1, 0, {A("a.example.com.", "192.0.2.1")}}));
  auto s = apply(ImportCommit{1, 1});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("has 0 SOA records at its apex"), std::string::npos) << s.error();
  EXPECT_TRUE(store_->zones().empty());

  ASSERT_TRUE(apply(ImportBegin{2, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{2, 0, big_zone(1, 1, "192.0.2.")}));
  s = apply(ImportCommit{2, 3});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("3 chunks were sent, 1 arrived"), std::string::npos) << s.error();
  EXPECT_TRUE(store_->zones().empty());
  EXPECT_EQ(store_->stats().imports, 0u);
}

TEST_F(ImportTest, AResentChunkIsIgnoredAndAChunkAheadIsRefusedLeavingTheImport) {
  ASSERT_TRUE(apply(ImportBegin{3, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{3, 0, big_zone(1, 2, "192.0.2.")}));
  // The client lost the answer (a leader change) and sends chunk 0 again.
  ASSERT_TRUE(apply(ImportChunk{3, 0, big_zone(1, 2, "192.0.2.")}));
  EXPECT_EQ(store_->stats().staged_records, 4u);
  ASSERT_TRUE(apply(ImportChunk{3, 1, {A("y.example.com.", "192.0.2.8")}}));
  // The first copy of chunk 0, late in the log, changes nothing either.
  ASSERT_TRUE(apply(ImportChunk{3, 0, {A("late.example.com.", "192.0.2.7")}}));
  EXPECT_EQ(store_->stats().staged_records, 5u);
  auto s = apply(ImportChunk{3, 3, {A("x.example.com.", "192.0.2.9")}});
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("chunk 3 arrived where chunk 2 belongs"), std::string::npos)
      << s.error();
  EXPECT_TRUE(is_chunk_ahead(s.error()));
  // Unlike other refusals, a chunk ahead of its turn leaves the import as it
  // was: the client sends again from the lost chunk 2, and it goes on.
  EXPECT_EQ(store_->stats().imports, 1u);
  EXPECT_EQ(store_->stats().staged_records, 5u);
  ASSERT_TRUE(apply(ImportChunk{3, 2, {A("z.example.com.", "192.0.2.10")}}));
  ASSERT_TRUE(apply(ImportChunk{3, 3, {A("x.example.com.", "192.0.2.9")}}));
  ASSERT_TRUE(apply(ImportCommit{3, 4}));
  EXPECT_EQ(store_->zones().at(0).records, 7u);
  EXPECT_EQ(store_->get(N("x.example.com."), T::A).size(), 1u);
}

TEST_F(ImportTest, AbortDropsTheStagedContent) {
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(100, 2, "192.0.2.")}));
  const std::string before = store_->digest();
  ASSERT_TRUE(apply(ImportBegin{8, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{8, 0, big_zone(200, 40, "198.51.100.")}));
  EXPECT_NE(store_->digest(), before);  // staged content is replicated state
  ASSERT_TRUE(apply(ImportAbort{8}));
  auto st = store_->stats();
  EXPECT_EQ(st.imports, 0u);
  EXPECT_EQ(st.staged_records, 0u);
  EXPECT_EQ(st.reclaim_pending, 1u);
  EXPECT_EQ(store_->digest(), before);
  EXPECT_EQ(reclaim_all(7), 42u);
  EXPECT_EQ(store_->zones().at(0).serial, 100u);
  EXPECT_FALSE(apply(ImportAbort{8}));
}

TEST_F(ImportTest, AnImportWithoutChunksForTooManyEntriesIsDroppedEverywhereAlike) {
  ASSERT_TRUE(apply(ImportBegin{4, N("example.com.")}));
  ASSERT_TRUE(apply(ImportChunk{4, 0, big_zone(1, 2, "192.0.2.")}));
  const uint64_t last = index_;
  // Still alive at exactly kImportStaleEntries entries after its last chunk.
  EXPECT_FALSE(apply_at(RemoveZone{N("nothing.example.")}, last + kImportStaleEntries));
  EXPECT_EQ(store_->stats().imports, 1u);
  ASSERT_FALSE(apply_at(RemoveZone{N("nothing.example.")}, last + kImportStaleEntries + 1));
  EXPECT_EQ(store_->stats().imports, 0u);
  EXPECT_EQ(store_->stats().reclaim_pending, 1u);
  EXPECT_FALSE(apply(ImportChunk{4, 1, {A("a.example.com.", "192.0.2.1")}}));
}

TEST_F(ImportTest, ReplacingOrRemovingAZoneLeavesItsContentToReclaim) {
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(1, 10, "192.0.2.")}));
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(2, 3, "192.0.2.")}));
  EXPECT_EQ(store_->zones().at(0).records, 5u);
  ASSERT_TRUE(apply(RemoveZone{N("example.com.")}));
  EXPECT_EQ(store_->stats().reclaim_pending, 2u);
  EXPECT_EQ(reclaim_all(4), 12u + 5u);
  EXPECT_TRUE(store_->zones().empty());
}

TEST_F(ImportTest, ExportPartsCoverTheZoneOnceInOrderAndNoticeAChange) {
  ASSERT_TRUE(apply(PutZone{N("example.com."), big_zone(100, 25, "192.0.2.")}));
  auto whole = store_->zone_records(N("example.com."));
  ASSERT_TRUE(whole);
  std::vector<wire::Record> joined;
  std::vector<uint8_t> cursor;
  int parts = 0;
  do {
    auto part = store_->export_part(N("example.com."), cursor, 4);
    ASSERT_TRUE(part) << part.error();
    EXPECT_LE(part->records.size(), 5u);  // the first part adds the SOA
    joined.insert(joined.end(), part->records.begin(), part->records.end());
    cursor = part->cursor;
    ++parts;
  } while (!cursor.empty() && parts < 100);
  EXPECT_EQ(parts, 7);
  ASSERT_EQ(joined.size(), whole->size());
  for (size_t i = 0; i < joined.size(); ++i) {
    EXPECT_EQ(wire::record_to_text(joined[i]), wire::record_to_text((*whole)[i])) << i;
  }

  auto first = store_->export_part(N("example.com."), {}, 4);
  ASSERT_TRUE(first);
  ASSERT_TRUE(apply(AddRecords{{A("new.example.com.", "192.0.2.1")}}));
  auto next = store_->export_part(N("example.com."), first->cursor, 4);
  ASSERT_FALSE(next);
  EXPECT_NE(next.error().find("changed during the export"), std::string::npos) << next.error();
}

TEST(StoreMigrationTest, AStoreOfSchemaOneIsMigratedAtOpen) {
  TempDir dir;
  const std::string path = dir.sub("store");
  std::filesystem::create_directories(path);
  {
    // The layout of schema 1: no generation in rrsets keys or zones values.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 4);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta, zones, rrsets;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", MDB_CREATE, &meta), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "zones", MDB_CREATE, &zones), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "rrsets", MDB_CREATE, &rrsets), 0);
    auto put = [&](MDB_dbi dbi, const std::string& k, const std::string& v) {
      MDB_val kv{k.size(), const_cast<char*>(k.data())}, vv{v.size(), const_cast<char*>(v.data())};
      ASSERT_EQ(mdb_put(txn, dbi, &kv, &vv, 0), 0);
    };
    put(meta, "schema_version", std::string("\0\0\0\1", 4));
    const std::string zone = std::string("com\0example\0", 12);
    std::string www_value =
        std::string("\0\0\1\x2c\0\1\0\1\0\4", 10) + std::string("\xc0\0\2\x0a", 4);
    put(rrsets, zone + '\0' + std::string("www\0\0", 5) + std::string("\0\1", 2), www_value);
    std::string zone_value(24, '\0');
    zone_value[3] = 7;    // serial 7
    zone_value[11] = 1;   // one record
    put(zones, zone + '\0', zone_value);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto s = Store::open(path);
  ASSERT_TRUE(s) << s.error();
  auto got = (*s)->get(N("www.example.com."), T::A);
  ASSERT_EQ(got.size(), 1u);
  EXPECT_EQ(got[0].rdata, A("x.", "192.0.2.10").rdata);
  EXPECT_EQ((*s)->zones().at(0).serial, 7u);
  // New content goes to a fresh generation beside the migrated one.
  auto bytes = encode_command(AddRecords{{A("mail.example.com.", "192.0.2.11")}});
  ApplyItem item{1, 1, bytes};
  std::vector<Status> outcomes;
  ASSERT_TRUE((*s)->apply(std::span(&item, 1), &outcomes));
  ASSERT_TRUE(outcomes.at(0)) << outcomes[0].error();
  EXPECT_EQ((*s)->get(N("mail.example.com."), T::A).size(), 1u);
}

// Schema 3 added the nsec3 index: a schema 2 store (the same tables, no
// index) gets it built at open, for every NSEC3 RRset it holds.
TEST(StoreMigrationTest, AStoreOfSchemaTwoGetsItsNsec3Index) {
  TempDir dir;
  const std::string path = dir.sub("store");
  const auto owner = N("www.example.com.");
  uint8_t hash[wire::kNsec3HashSize];
  wire::nsec3_hash(owner, {}, 0, hash);
  const auto hashed = N(wire::base32hex_encode(hash) + ".example.com.");
  std::vector<uint8_t> nsec3 = {1, 0, 0, 0, 0, 20};
  nsec3.insert(nsec3.end(), hash, hash + 20);
  {
    auto s = Store::open(path);
    ASSERT_TRUE(s) << s.error();
    auto bytes = encode_command(PutZone{
        N("example.com."), {SOA("example.com.", 1), rr(hashed.to_text(), 300, T::NSEC3, nsec3)}});
    ApplyItem item{1, 1, bytes};
    std::vector<Status> outcomes;
    ASSERT_TRUE((*s)->apply(std::span(&item, 1), &outcomes));
    ASSERT_TRUE(outcomes.at(0)) << outcomes[0].error();
  }
  {
    // Back to schema 2: an empty index and the old version number.
    MDB_env* env = nullptr;
    ASSERT_EQ(mdb_env_create(&env), 0);
    mdb_env_set_maxdbs(env, 8);
    ASSERT_EQ(mdb_env_open(env, path.c_str(), 0, 0640), 0);
    MDB_txn* txn = nullptr;
    ASSERT_EQ(mdb_txn_begin(env, nullptr, 0, &txn), 0);
    MDB_dbi meta, index;
    ASSERT_EQ(mdb_dbi_open(txn, "meta", 0, &meta), 0);
    ASSERT_EQ(mdb_dbi_open(txn, "nsec3", 0, &index), 0);
    ASSERT_EQ(mdb_drop(txn, index, 1), 0);
    MDB_val k{14, const_cast<char*>("schema_version")};
    MDB_val v{4, const_cast<char*>("\0\0\0\2")};
    ASSERT_EQ(mdb_put(txn, meta, &k, &v, 0), 0);
    ASSERT_EQ(mdb_txn_commit(txn), 0);
    mdb_env_close(env);
  }
  auto s = Store::open(path);
  ASSERT_TRUE(s) << s.error();
  auto view = (*s)->begin_read();
  ASSERT_NE(view, nullptr);
  NameKey key(owner);
  ZoneRef z;
  ASSERT_TRUE(view->find_zone(key, z));
  uint8_t found[kMaxNsec3Hash];
  ASSERT_EQ(view->nsec3_at_or_before(z, key.bytes(), {hash, 20}, false, found), 20u);
  EXPECT_TRUE(std::equal(hash, hash + 20, found));
}

}  // namespace
}  // namespace raftdns::store
