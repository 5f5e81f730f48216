// RFC 2136 UPDATE applied by the store: every prerequisite kind and its
// rcode, every update kind, the cases the RFC says to skip silently, and
// that a refused update changes nothing (not even the serial).
#include <gtest/gtest.h>

#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"
#include "daemon/wire/types.h"
#include "tests/store/test_records.h"

namespace raftdns::store {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;
namespace Cl = wire::rrclass;

// A prerequisite or delete record: class ANY or NONE, TTL 0.
wire::Record meta_rr(const std::string& owner, uint16_t rclass, uint16_t type,
                     std::vector<uint8_t> rdata = {}) {
  return wire::Record{N(owner), type, rclass, 0, std::move(rdata)};
}
// A value-dependent prerequisite: the zone's class, TTL 0.
wire::Record exact(wire::Record r) {
  r.ttl = 0;
  return r;
}

class UpdateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto s = Store::open(dir_.sub("store"));
    ASSERT_TRUE(s) << s.error();
    store_ = std::move(*s);
    ASSERT_TRUE(apply(PutZone{N("example.com."),
                              {SOA("example.com.", 100), NS("example.com.", "ns1.example.com."),
                               NS("example.com.", "ns2.example.com."),
                               A("ns1.example.com.", "192.0.2.1"),
                               A("www.example.com.", "192.0.2.10"),
                               A("www.example.com.", "192.0.2.11"),
                               CNAME("alias.example.com.", "www.example.com.")}}));
  }

  Status apply(const Command& c) {
    auto bytes = encode_command(c);
    ApplyItem item{++index_, 1, bytes};
    std::vector<Status> outcomes;
    auto st = store_->apply(std::span(&item, 1), &outcomes);
    EXPECT_TRUE(st) << st.error();
    return outcomes.empty() ? Status(make_error("no outcome")) : std::move(outcomes[0]);
  }

  Status update(std::vector<wire::Record> prereqs, std::vector<wire::Record> updates,
                const std::string& zone = "example.com.") {
    return apply(Update{N(zone), std::move(prereqs), std::move(updates)});
  }

  // The rcode a refusal carries, or NOERROR for success.
  uint16_t rcode_of(const Status& s) {
    if (s) return wire::rcode::NOERROR;
    auto code = update_rcode(s.error());
    EXPECT_TRUE(code.has_value()) << "refusal without an rcode: " << s.error();
    return code.value_or(wire::rcode::SERVFAIL);
  }

  size_t count(const std::string& owner, uint16_t type) {
    return store_->get(N(owner), type).size();
  }
  uint32_t serial() { return serial_of(store_->get(N("example.com."), T::SOA).at(0)); }

  TempDir dir_;
  std::unique_ptr<Store> store_;
  uint64_t index_ = 0;
};

TEST_F(UpdateTest, EachPrerequisiteKindPassesAndFailsWithItsRcode) {
  // name in use (ANY ANY)
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.com.", Cl::ANY, T::ANY)}, {})),
            wire::rcode::NOERROR);
  EXPECT_EQ(rcode_of(update({meta_rr("nope.example.com.", Cl::ANY, T::ANY)}, {})),
            wire::rcode::NXDOMAIN);
  // name not in use (NONE ANY)
  EXPECT_EQ(rcode_of(update({meta_rr("nope.example.com.", Cl::NONE, T::ANY)}, {})),
            wire::rcode::NOERROR);
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.com.", Cl::NONE, T::ANY)}, {})),
            wire::rcode::YXDOMAIN);
  // RRset exists, value independent (ANY type)
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.com.", Cl::ANY, T::A)}, {})),
            wire::rcode::NOERROR);
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.com.", Cl::ANY, T::AAAA)}, {})),
            wire::rcode::NXRRSET);
  // RRset does not exist (NONE type)
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.com.", Cl::NONE, T::AAAA)}, {})),
            wire::rcode::NOERROR);
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.com.", Cl::NONE, T::A)}, {})),
            wire::rcode::YXRRSET);
  // RRset exists, value dependent: the whole set must match, in any order and case.
  EXPECT_EQ(rcode_of(update({exact(A("www.example.com.", "192.0.2.11")),
                             exact(A("WWW.example.com.", "192.0.2.10"))},
                            {})),
            wire::rcode::NOERROR);
  EXPECT_EQ(rcode_of(update({exact(A("www.example.com.", "192.0.2.10"))}, {})),
            wire::rcode::NXRRSET);
  EXPECT_EQ(rcode_of(update({exact(A("www.example.com.", "192.0.2.10")),
                             exact(A("www.example.com.", "192.0.2.11")),
                             exact(A("www.example.com.", "192.0.2.12"))},
                            {})),
            wire::rcode::NXRRSET);
  // An empty non-terminal is not "in use" (RFC 2136 §2.4.4: it has no RRs).
  ASSERT_TRUE(update({}, {A("a.b.example.com.", "192.0.2.50")}));
  EXPECT_EQ(rcode_of(update({meta_rr("b.example.com.", Cl::ANY, T::ANY)}, {})),
            wire::rcode::NXDOMAIN);
}

TEST_F(UpdateTest, FailedPrerequisiteChangesNothingAndKeepsTheSerial) {
  const uint32_t before = serial();
  auto s = update({meta_rr("www.example.com.", Cl::NONE, T::A)},
                  {A("new.example.com.", "192.0.2.99")});
  EXPECT_EQ(rcode_of(s), wire::rcode::YXRRSET);
  EXPECT_NE(s.error().find("www.example.com. A exists"), std::string::npos) << s.error();
  EXPECT_EQ(count("new.example.com.", T::A), 0u);
  EXPECT_EQ(serial(), before);
}

TEST_F(UpdateTest, AddDeleteRRsetDeleteNameDeleteRecord) {
  const uint32_t before = serial();
  ASSERT_TRUE(update({}, {A("new.example.com.", "192.0.2.20", 60),
                          A("new.example.com.", "192.0.2.21", 60),
                          TXT("new.example.com.", "hello")}));
  EXPECT_EQ(count("new.example.com.", T::A), 2u);
  EXPECT_EQ(serial(), before + 1);  // one bump for the whole update

  // Delete one record (NONE), one RRset (ANY type), then the name (ANY ANY).
  ASSERT_TRUE(update({}, {meta_rr("new.example.com.", Cl::NONE, T::A,
                                  A("x.", "192.0.2.20").rdata)}));
  EXPECT_EQ(count("new.example.com.", T::A), 1u);
  ASSERT_TRUE(update({}, {meta_rr("new.example.com.", Cl::ANY, T::TXT)}));
  EXPECT_EQ(count("new.example.com.", T::TXT), 0u);
  EXPECT_EQ(count("new.example.com.", T::A), 1u);
  ASSERT_TRUE(update({}, {meta_rr("new.example.com.", Cl::ANY, T::ANY)}));
  EXPECT_EQ(count("new.example.com.", T::A), 0u);

  // Deleting what is not there is not an error (RFC 2136 §3.4.2), and
  // changes nothing: the serial stays.
  const uint32_t now = serial();
  ASSERT_TRUE(update({}, {meta_rr("gone.example.com.", Cl::ANY, T::ANY),
                          meta_rr("www.example.com.", Cl::NONE, T::A,
                                  A("x.", "203.0.113.1").rdata)}));
  EXPECT_EQ(serial(), now);
}

TEST_F(UpdateTest, ApexSoaAndNsAreProtected) {
  // ANY ANY at the apex spares SOA and NS; ANY NS and ANY SOA there are ignored.
  ASSERT_TRUE(update({}, {TXT("example.com.", "v=spf1 -all")}));
  ASSERT_TRUE(update({}, {meta_rr("example.com.", Cl::ANY, T::ANY),
                          meta_rr("example.com.", Cl::ANY, T::NS),
                          meta_rr("example.com.", Cl::ANY, T::SOA)}));
  EXPECT_EQ(count("example.com.", T::TXT), 0u);
  EXPECT_EQ(count("example.com.", T::NS), 2u);
  EXPECT_EQ(count("example.com.", T::SOA), 1u);
  // Record deletes may take NS records, but never the last one.
  auto ns1 = NS("example.com.", "ns1.example.com.").rdata;
  auto ns2 = NS("example.com.", "ns2.example.com.").rdata;
  ASSERT_TRUE(update({}, {meta_rr("example.com.", Cl::NONE, T::NS, ns1)}));
  ASSERT_TRUE(update({}, {meta_rr("example.com.", Cl::NONE, T::NS, ns2)}));
  EXPECT_EQ(count("example.com.", T::NS), 1u);
}

TEST_F(UpdateTest, SoaIsReplacedOnlyByANewerSerial) {
  ASSERT_TRUE(update({}, {SOA("example.com.", 50)}));
  EXPECT_EQ(serial(), 100u);
  ASSERT_TRUE(update({}, {SOA("example.com.", 5000)}));
  EXPECT_EQ(serial(), 5000u);
}

TEST_F(UpdateTest, CnameConflictsAreSkippedAndACnameIsReplaced) {
  ASSERT_TRUE(update({}, {A("alias.example.com.", "192.0.2.30"),
                          CNAME("www.example.com.", "elsewhere.example.net.")}));
  EXPECT_EQ(count("alias.example.com.", T::A), 0u);
  EXPECT_EQ(count("www.example.com.", T::CNAME), 0u);
  ASSERT_TRUE(update({}, {CNAME("alias.example.com.", "other.example.net.")}));
  auto c = store_->get(N("alias.example.com."), T::CNAME);
  ASSERT_EQ(c.size(), 1u);
  EXPECT_EQ(c[0].rdata, name_rdata("other.example.net."));
}

TEST_F(UpdateTest, ZoneAndNameChecks) {
  EXPECT_EQ(rcode_of(update({}, {A("www.example.org.", "192.0.2.1")}, "example.org.")),
            wire::rcode::NOTAUTH);
  EXPECT_EQ(rcode_of(update({}, {A("www.example.org.", "192.0.2.1")})), wire::rcode::NOTZONE);
  EXPECT_EQ(rcode_of(update({meta_rr("www.example.org.", Cl::ANY, T::ANY)}, {})),
            wire::rcode::NOTZONE);
  // A name in another zone hosted below this one is that zone's, not ours.
  ASSERT_TRUE(apply(PutZone{N("sub.example.com."),
                            {SOA("sub.example.com.", 1), NS("sub.example.com.", "ns1.example.com.")}}));
  EXPECT_EQ(rcode_of(update({}, {A("x.sub.example.com.", "192.0.2.1")})), wire::rcode::NOTZONE);
}

TEST_F(UpdateTest, MalformedRecordsAreFormerrAndNothingIsApplied) {
  auto bad_ttl = meta_rr("www.example.com.", Cl::ANY, T::A);
  bad_ttl.ttl = 5;
  EXPECT_EQ(rcode_of(update({bad_ttl}, {})), wire::rcode::FORMERR);
  EXPECT_EQ(rcode_of(update({}, {A("ok.example.com.", "192.0.2.1"), bad_ttl})),
            wire::rcode::FORMERR);
  EXPECT_EQ(count("ok.example.com.", T::A), 0u);  // the prescan caught it first
  EXPECT_EQ(rcode_of(update({}, {rr("any.example.com.", 300, T::ANY, {})})),
            wire::rcode::FORMERR);
  auto chaos = A("www.example.com.", "192.0.2.1");
  chaos.rclass = wire::rrclass::CH;
  EXPECT_EQ(rcode_of(update({}, {chaos})), wire::rcode::FORMERR);
  EXPECT_EQ(rcode_of(update({}, {rr("short.example.com.", 300, T::A, {1, 2, 3})})),
            wire::rcode::FORMERR);
}

TEST_F(UpdateTest, ZoneRuleBreachRefusesTheWholeUpdate) {
  ASSERT_TRUE(update({}, {DNAME("d.example.com.", "one.example.net.")}));
  auto s = update({}, {A("fine.example.com.", "192.0.2.7"),
                       DNAME("d.example.com.", "two.example.net.")});
  EXPECT_EQ(rcode_of(s), wire::rcode::REFUSED) << s.error();
  EXPECT_EQ(count("fine.example.com.", T::A), 0u);
}

TEST_F(UpdateTest, RoundTripsThroughTheCommandCodec) {
  Update u{N("example.com."),
           {meta_rr("www.example.com.", Cl::ANY, T::A), exact(A("www.example.com.", "192.0.2.10"))},
           {A("n.example.com.", "192.0.2.1"), meta_rr("m.example.com.", Cl::ANY, T::ANY)}};
  auto decoded = decode_command(encode_command(u));
  ASSERT_TRUE(decoded) << decoded.error();
  auto* back = std::get_if<Update>(&*decoded);
  ASSERT_NE(back, nullptr);
  EXPECT_EQ(back->zone, u.zone);
  ASSERT_EQ(back->prerequisites.size(), 2u);
  ASSERT_EQ(back->updates.size(), 2u);
  EXPECT_EQ(back->prerequisites[1].rdata, u.prerequisites[1].rdata);
  EXPECT_EQ(back->updates[1].rclass, Cl::ANY);
  EXPECT_EQ(describe(u), "update zone example.com. (2 prerequisites, 2 updates)");
  EXPECT_EQ(update_rcode("NXRRSET: prerequisite failed"), wire::rcode::NXRRSET);
  EXPECT_FALSE(update_rcode("no zone encloses x").has_value());
}

}  // namespace
}  // namespace raftdns::store
