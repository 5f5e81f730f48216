// Answer-engine tests: one per DNS behaviour the engine implements, each
// named after it and citing the RFC that asks for it.
#include "daemon/query/engine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <random>

#include "daemon/query/resolver.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"
#include "daemon/wire/message.h"
#include "tests/store/test_records.h"

namespace raftdns::query {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;
namespace R = wire::rcode;

std::string long_label(char c) { return std::string(60, c); }

class QueryTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto s = store::Store::open(dir_->sub("store"));
    ASSERT_TRUE(s) << s.error();
    store_ = s->release();

    std::vector<wire::Record> com = {
        SOA("example.com.", 1, /*minimum=*/600, /*ttl=*/3600),
        NS("example.com.", "ns1.example.com."),
        A("ns1.example.com.", "192.0.2.1"),
        AAAA("ns1.example.com.", "2001:db8::1"),
        A("www.example.com.", "192.0.2.10"),
        MX("example.com.", 10, "mail.example.com."),
        A("mail.example.com.", "192.0.2.25"),
        SRV("_sip._tcp.example.com.", 0, 5, 5060, "sip.example.com."),
        A("sip.example.com.", "192.0.2.60"),
        CNAME("alias.example.com.", "www.example.com."),
        CNAME("chain1.example.com.", "chain2.example.com."),
        CNAME("chain2.example.com.", "www.example.net."),
        CNAME("loop1.example.com.", "loop2.example.com."),
        CNAME("loop2.example.com.", "loop1.example.com."),
        CNAME("dangling.example.com.", "nothere.example.com."),
        CNAME("out.example.com.", "www.example.org."),
        TXT("a.b.c.example.com.", "deep"),
        A("*.wild.example.com.", "192.0.2.80"),
        TXT("host.wild.example.com.", "real"),
        CNAME("*.cwild.example.com.", "www.example.com."),
        DNAME("dname.example.com.", "example.net.", 1234),
        DNAME("long.example.com.",
              long_label('q') + "." + long_label('r') + "." + long_label('s') + "."),
        NS("sub.example.com.", "ns.sub.example.com."),
        NS("sub.example.com.", "ns.elsewhere.org."),
        A("ns.sub.example.com.", "192.0.2.53"),
        rr("sub.example.com.", 3600, 43 /*DS*/, {0x30, 0x39, 8, 2, 0xaa, 0xbb}),
    };
    for (int i = 0; i < 40; ++i)
      com.push_back(TXT("big.example.com.", std::string(100, 'a' + i % 26) + std::to_string(i)));
    for (int i = 0; i < 30; ++i) {
      std::string host = "mx" + std::to_string(i) + ".example.com.";
      com.push_back(MX("manymx.example.com.", static_cast<uint16_t>(i), host));
      com.push_back(A(host, "192.0.2." + std::to_string(100 + i)));
      com.push_back(AAAA(host, "2001:db8::" + std::to_string(100 + i)));
    }
    std::vector<wire::Record> net = {
        SOA("example.net.", 7, /*minimum=*/900, /*ttl=*/60),
        NS("example.net.", "ns1.example.com."),
        A("www.example.net.", "198.51.100.10"),
    };
    std::vector<wire::Record> child = {
        SOA("child.example.com.", 3),
        A("www.child.example.com.", "203.0.113.1"),
    };
    // Wildcards, but no cuts or DNAMEs: looked up without the walk from the apex.
    std::vector<wire::Record> flat = {
        SOA("flat.test.", 1),
        A("*.flat.test.", "192.0.2.90"),
        TXT("a.b.flat.test.", "x"),
    };
    // Occlusion, DNAME chains and a wide delegation.
    std::vector<wire::Record> conf = {
        SOA("conf.test.", 1),
        NS("conf.test.", "ns1.conf.test."),
        A("ns1.conf.test.", "192.0.2.1"),
        NS("sub.conf.test.", "ns.sub.conf.test."),
        A("ns.sub.conf.test.", "192.0.2.53"),
        TXT("sub.conf.test.", "occluded at the cut"),
        TXT("x.sub.conf.test.", "occluded below the cut"),
        DNAME("d.conf.test.", "example.net."),
        A("www.d.conf.test.", "192.0.2.99"),
        MX("mxglue.conf.test.", 10, "ns.sub.conf.test."),
        MX("mxother.conf.test.", 10, "www.example.net."),
        MX("mxok.conf.test.", 10, "ns1.conf.test."),
        DNAME("dl.conf.test.", "dl2.conf.test."),
        DNAME("dl2.conf.test.", "dl.conf.test."),
        DNAME("grow.conf.test.", "x.grow.conf.test."),
        DNAME("grow2.conf.test.", long_label('g') + ".grow2.conf.test."),
    };
    for (int i = 0; i < 20; ++i) {
      std::string host = "ns" + std::to_string(10 + i) + ".many.conf.test.";
      conf.push_back(NS("many.conf.test.", host));
      conf.push_back(A(host, "192.0.2." + std::to_string(100 + i)));
      conf.push_back(AAAA(host, "2001:db8::" + std::to_string(100 + i)));
    }
    uint64_t index = 0;
    for (auto* cmd : {new store::Command(store::PutZone{N("conf.test."), conf}),
                      new store::Command(store::PutZone{N("flat.test."), flat}),
                      new store::Command(store::PutZone{N("example.com."), com}),
                      new store::Command(store::PutZone{N("example.net."), net}),
                      new store::Command(store::PutZone{N("child.example.com."), child})}) {
      auto bytes = store::encode_command(*cmd);
      store::ApplyItem item{++index, 1, bytes};
      std::vector<Status> outcomes;
      ASSERT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
      ASSERT_TRUE(outcomes.at(0)) << outcomes[0].error();
      delete cmd;
    }
  }
  static void TearDownTestSuite() {
    delete store_;
    delete dir_;
  }

  void SetUp() override {
    view_ = store_->begin_read();
    ASSERT_NE(view_, nullptr);
  }

  struct Ask {
    std::string name;
    uint16_t type = T::A;
    uint16_t qclass = wire::rrclass::IN;
    bool edns = false;
    uint16_t udp_size = 1232;
    bool do_bit = false;
    Transport transport = Transport::udp;
  };

  std::vector<uint8_t> query_bytes(const Ask& a) {
    wire::Message m;
    m.header.id = 0x4242;
    m.header.rd = true;
    m.questions.push_back(wire::Question{N(a.name), a.type, a.qclass});
    if (a.edns) {
      wire::Edns e;
      e.udp_size = a.udp_size;
      e.do_bit = a.do_bit;
      m.edns = e;
    }
    return wire::encode_message(m);
  }

  // Answers raw bytes; the response is parsed (empty message when dropped).
  wire::Message raw(const std::vector<uint8_t>& q, size_t* size = nullptr,
                    Transport t = Transport::udp) {
    out_.assign(65535, 0);
    size_t n = engine_.answer(q, out_, t, *view_);
    if (size) *size = n;
    wire::Message m;
    if (n == 0) return m;
    auto err = wire::parse_message(std::span(out_.data(), n), m);
    EXPECT_EQ(err, wire::WireError::ok) << wire::wire_error_text(err);
    EXPECT_TRUE(m.header.qr);
    EXPECT_EQ(m.header.id, q.size() >= 2 ? (q[0] << 8 | q[1]) : 0);
    return m;
  }

  wire::Message ask(const Ask& a, size_t* size = nullptr) {
    return raw(query_bytes(a), size, a.transport);
  }
  wire::Message ask(const std::string& name, uint16_t type = T::A) { return ask(Ask{name, type}); }

  static std::vector<std::string> texts(const std::vector<wire::Record>& rs) {
    std::vector<std::string> out;
    for (const auto& r : rs) out.push_back(wire::record_to_text(r));
    return out;
  }
  static bool has(const std::vector<wire::Record>& rs, const std::string& owner, uint16_t type) {
    return std::any_of(rs.begin(), rs.end(), [&](const wire::Record& r) {
      return r.owner == N(owner) && r.type == type;
    });
  }

  static TempDir* dir_;
  static store::Store* store_;
  std::unique_ptr<store::ReadTxn> view_;
  Engine engine_{EngineConfig{"node-1.test", "raftdns 0.1.0", 1232}};
  std::vector<uint8_t> out_;
};
TempDir* QueryTest::dir_ = nullptr;
store::Store* QueryTest::store_ = nullptr;

// RFC 1034 §4.3.2 step 3a: an exact match is answered with AA set.
TEST_F(QueryTest, ExactMatchIsAuthoritativeAnswer) {
  auto m = ask("www.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.header.rd);  // copied from the query
  EXPECT_FALSE(m.header.ra);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(wire::record_to_text(m.answer[0]), "www.example.com. 300 IN A 192.0.2.10");
  EXPECT_TRUE(m.authority.empty());
}

// RFC 1034 §3.1 / RFC 4343: the question's case comes back as sent.
TEST_F(QueryTest, QuestionCaseIsPreserved) {
  auto q = query_bytes({"WwW.ExAmPlE.CoM."});
  out_.assign(65535, 0);
  size_t n = engine_.answer(q, out_, Transport::udp, *view_);
  ASSERT_GT(n, 12u);
  // The question name follows the header byte for byte.
  EXPECT_TRUE(std::equal(q.begin() + 12, q.begin() + 12 + 17, out_.begin() + 12));
  auto m = raw(q);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].owner.to_text(), "WwW.ExAmPlE.CoM.");
}

// RFC 2308 §2.1, §3 and §5: NXDOMAIN, SOA in authority, TTL = min(TTL, MINIMUM).
TEST_F(QueryTest, NxdomainCarriesSoaWithMinimumTtl) {
  auto m = ask("nothere.example.com.");
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.answer.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
  EXPECT_EQ(m.authority[0].owner, N("example.com."));
  EXPECT_EQ(m.authority[0].ttl, 600u);  // SOA TTL 3600, MINIMUM 600
  // The other way round: TTL 60 below MINIMUM 900.
  m = ask("nothere.example.net.");
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].ttl, 60u);
}

// RFC 2308 §2.2: NODATA is NOERROR, empty answer, SOA in authority.
TEST_F(QueryTest, NodataCarriesSoaInAuthority) {
  auto m = ask("www.example.com.", T::AAAA);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(m.answer.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
  EXPECT_EQ(m.authority[0].ttl, 600u);
}

// RFC 8020 / RFC 4592 §2.2.2: an empty non-terminal exists: NODATA, not NXDOMAIN.
TEST_F(QueryTest, EmptyNonTerminalIsNodataNotNxdomain) {
  for (const char* name : {"b.c.example.com.", "c.example.com."}) {
    auto m = ask(name, T::A);
    EXPECT_EQ(m.header.rcode, R::NOERROR) << name;
    EXPECT_TRUE(m.answer.empty()) << name;
    ASSERT_EQ(m.authority.size(), 1u) << name;
    EXPECT_EQ(m.authority[0].type, T::SOA) << name;
  }
}

// RFC 1034 §4.3.2 step 3a: a CNAME is answered and its target looked up.
TEST_F(QueryTest, CnameIsFollowedWithinOurZones) {
  auto m = ask("alias.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"alias.example.com. 300 IN CNAME www.example.com.",
                                      "www.example.com. 300 IN A 192.0.2.10"}));
}

// Chains run across the zones we serve (example.com -> example.net).
TEST_F(QueryTest, CnameChainCrossesIntoAnotherServedZone) {
  auto m = ask("chain1.example.com.");
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"chain1.example.com. 300 IN CNAME chain2.example.com.",
                                      "chain2.example.com. 300 IN CNAME www.example.net.",
                                      "www.example.net. 300 IN A 198.51.100.10"}));
}

// A target outside every zone ends the chain with NOERROR (the resolver goes on).
TEST_F(QueryTest, CnameToForeignNameEndsTheChain) {
  auto m = ask("out.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  EXPECT_EQ(m.answer.size(), 1u);
  EXPECT_TRUE(m.authority.empty());
}

// RFC 6604 §3: the rcode describes the end of the chain.
TEST_F(QueryTest, CnameToMissingNameIsNxdomainWithTheCname) {
  auto m = ask("dangling.example.com.");
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].type, T::CNAME);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
}

// RFC 1034 §3.6.2: loops are not followed round; the answer stays bounded.
TEST_F(QueryTest, CnameLoopIsBounded) {
  auto m = ask("loop1.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"loop1.example.com. 300 IN CNAME loop2.example.com.",
                                      "loop2.example.com. 300 IN CNAME loop1.example.com."}));
}

// A qtype of CNAME returns the CNAME itself, without following it.
TEST_F(QueryTest, CnameQueryIsNotChased) {
  auto m = ask("alias.example.com.", T::CNAME);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].type, T::CNAME);
}

// RFC 4592 §3.3.1: a wildcard answers with the query name as owner.
TEST_F(QueryTest, WildcardSynthesizesOwnerFromQname) {
  auto m = ask("Anything.Wild.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].owner.to_text(), "Anything.Wild.example.com.");
  EXPECT_EQ(wire::rdata_to_text(T::A, m.answer[0].rdata), "192.0.2.80");
  // Several labels below the closest encloser match too.
  m = ask("a.b.wild.example.com.");
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].owner, N("a.b.wild.example.com."));
}

// RFC 4592 §2.2.1/§3.3.1: a name that exists is never matched by the wildcard.
TEST_F(QueryTest, WildcardDoesNotMatchExistingName) {
  auto m = ask("host.wild.example.com.", T::A);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.answer.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
}

// RFC 4592 §3.3.1: only "*" directly below the closest encloser applies.
TEST_F(QueryTest, WildcardOnlyAppliesBelowTheClosestEncloser) {
  auto m = ask("x.flat.test.");
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].owner, N("x.flat.test."));
  m = ask("x.y.flat.test.");
  ASSERT_EQ(m.answer.size(), 1u);
  // b.flat.test exists (empty non-terminal) and has no "*" child: NXDOMAIN.
  m = ask("x.b.flat.test.");
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  EXPECT_TRUE(m.answer.empty());
}

// RFC 4592 §3.3.1 / RFC 2308: the wildcard exists but lacks the type: NODATA.
TEST_F(QueryTest, WildcardWithoutTheTypeIsNodata) {
  auto m = ask("x.wild.example.com.", T::AAAA);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.answer.empty());
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
}

// RFC 4592 §4.4: a wildcard CNAME is synthesized and then followed.
TEST_F(QueryTest, WildcardCnameIsSynthesizedAndFollowed) {
  auto m = ask("foo.cwild.example.com.");
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"foo.cwild.example.com. 300 IN CNAME www.example.com.",
                                      "www.example.com. 300 IN A 192.0.2.10"}));
}

// RFC 6672 §3.1: the DNAME, a synthesized CNAME with the DNAME's TTL, then
// the answer at the new name.
TEST_F(QueryTest, DnameSynthesizesCname) {
  auto m = ask("www.dname.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"dname.example.com. 1234 IN DNAME example.net.",
                                      "www.dname.example.com. 1234 IN CNAME www.example.net.",
                                      "www.example.net. 300 IN A 198.51.100.10"}));
}

// RFC 1034 §4.3.2 step 3a: a query for the CNAME type under a DNAME is
// answered by the synthesized CNAME; the chain is not followed.
TEST_F(QueryTest, CnameQueryUnderDnameStopsAtTheSynthesizedCname) {
  auto m = ask("nothere.dname.example.com.", T::CNAME);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  EXPECT_EQ(texts(m.answer), (std::vector<std::string>{
                                 "dname.example.com. 1234 IN DNAME example.net.",
                                 "nothere.dname.example.com. 1234 IN CNAME nothere.example.net."}));
}

// RFC 6672 §2.2: a substituted name over 255 octets is YXDOMAIN.
TEST_F(QueryTest, DnameOverflowIsYxdomain) {
  auto m = ask(long_label('a') + "." + long_label('b') + ".long.example.com.");
  EXPECT_EQ(m.header.rcode, R::YXDOMAIN);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].type, T::DNAME);
}

// RFC 6672 §2.3: the DNAME owner itself is not redirected.
TEST_F(QueryTest, DnameOwnerItselfIsAnsweredNormally) {
  auto m = ask("dname.example.com.", T::DNAME);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].type, T::DNAME);
  m = ask("dname.example.com.", T::A);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_EQ(m.header.rcode, R::NOERROR);
}

// RFC 1034 §4.3.2 step 3b: a referral: NS in authority, glue in additional, no AA.
TEST_F(QueryTest, ReferralHasGlueAndNoAa) {
  auto m = ask("host.deep.sub.example.com.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_FALSE(m.header.aa);
  EXPECT_TRUE(m.answer.empty());
  ASSERT_EQ(m.authority.size(), 2u);
  for (const auto& r : m.authority) {
    EXPECT_EQ(r.type, T::NS);
    EXPECT_EQ(r.owner, N("sub.example.com."));
  }
  EXPECT_EQ(texts(m.additional),
            (std::vector<std::string>{"ns.sub.example.com. 300 IN A 192.0.2.53"}));
  // The cut itself refers too, for any type but DS.
  m = ask("sub.example.com.", T::NS);
  EXPECT_FALSE(m.header.aa);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_EQ(m.authority.size(), 2u);
}

// RFC 4035 §3.1.4.1: DS belongs to the parent side of the cut.
TEST_F(QueryTest, DsAtZoneCutIsAnsweredByParent) {
  auto m = ask("sub.example.com.", 43);
  EXPECT_TRUE(m.header.aa);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(m.answer[0].type, 43);
  // child.example.com is served but not delegated by its parent: the child answers.
  m = ask("child.example.com.", 43);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].owner, N("child.example.com."));
}

// The deepest zone we serve answers (child.example.com, not example.com).
TEST_F(QueryTest, DeepestServedZoneAnswers) {
  auto m = ask("www.child.example.com.");
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(wire::rdata_to_text(T::A, m.answer[0].rdata), "203.0.113.1");
  m = ask("nope.child.example.com.");
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].owner, N("child.example.com."));
}

// RFC 1035 §3.3.9 / §3.3.11, RFC 2782: addresses of MX, NS and SRV targets.
TEST_F(QueryTest, MxNsAndSrvTargetsGetAdditionalAddresses) {
  auto m = ask("example.com.", T::MX);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_EQ(texts(m.additional),
            (std::vector<std::string>{"mail.example.com. 300 IN A 192.0.2.25"}));
  m = ask("example.com.", T::NS);
  EXPECT_TRUE(has(m.additional, "ns1.example.com.", T::A));
  EXPECT_TRUE(has(m.additional, "ns1.example.com.", T::AAAA));
  m = ask("_sip._tcp.example.com.", T::SRV);
  EXPECT_TRUE(has(m.additional, "sip.example.com.", T::A));
}

// RFC 2181 §9: additional data that does not fit is left out, without TC.
TEST_F(QueryTest, AdditionalRecordsAreDroppedSilentlyWhenFull) {
  size_t size = 0;
  auto m = ask(Ask{"manymx.example.com.", T::MX, wire::rrclass::IN, true, 1232}, &size);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_EQ(m.answer.size(), 30u);
  EXPECT_LE(size, 1232u);
  EXPECT_GT(m.additional.size(), 0u);
  EXPECT_LT(m.additional.size(), 60u);  // 30 targets x (A + AAAA) would not fit
}

// RFC 8482 §4.1: ANY gets one RRset, not everything.
TEST_F(QueryTest, AnyGetsMinimalAnswer) {
  auto m = ask("example.com.", T::ANY);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.header.aa);
  ASSERT_GE(m.answer.size(), 1u);
  for (const auto& r : m.answer) EXPECT_EQ(r.type, m.answer[0].type);
}

// RFC 1035 §4.2.1 / RFC 2181 §9: an answer over 512 octets (no EDNS) is TC.
TEST_F(QueryTest, TruncatesWhenAnswerExceedsUdpSize) {
  size_t size = 0;
  auto m = ask(Ask{"big.example.com.", T::TXT}, &size);
  EXPECT_TRUE(m.header.tc);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_LE(size, 512u);
  ASSERT_EQ(m.questions.size(), 1u);
}

// RFC 6891 §6.2.5: the client's EDNS size, capped by ours, bounds the reply.
TEST_F(QueryTest, EdnsUdpSizeIsClampedToOurMaximum) {
  size_t size = 0;
  auto m = ask(Ask{"big.example.com.", T::TXT, wire::rrclass::IN, true, 65000}, &size);
  EXPECT_TRUE(m.header.tc);  // 40 x ~110 octets > 1232
  EXPECT_LE(size, 1232u);
  m = ask(Ask{"manymx.example.com.", T::MX, wire::rrclass::IN, true, 4096}, &size);
  EXPECT_FALSE(m.header.tc);
  EXPECT_GT(size, 512u);
  EXPECT_LE(size, 1232u);
}

// RFC 7766: over TCP the full answer is sent.
TEST_F(QueryTest, TcpAnswerIsNotTruncated) {
  Ask a{"big.example.com.", T::TXT};
  a.transport = Transport::tcp;
  auto m = ask(a);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answer.size(), 40u);
}

// Names outside every zone we serve are REFUSED, without AA.
TEST_F(QueryTest, OutsideZonesIsRefused) {
  auto m = ask("www.example.org.");
  EXPECT_EQ(m.header.rcode, R::REFUSED);
  EXPECT_FALSE(m.header.aa);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_TRUE(m.authority.empty());
  EXPECT_EQ(m.questions.size(), 1u);
  EXPECT_GE(engine_.counters().refused, 1u);
}

// RFC 1035 §4.1.2 practice: QDCOUNT must be 1.
TEST_F(QueryTest, QdcountOtherThanOneIsFormerr) {
  auto q = query_bytes({"www.example.com."});
  q[5] = 0;  // QDCOUNT 0, question bytes now trailing garbage
  EXPECT_EQ(raw(q).header.rcode, R::FORMERR);
  wire::Message two;
  two.header.id = 0x4242;
  two.questions = {wire::Question{N("www.example.com."), T::A, 1},
                   wire::Question{N("example.com."), T::A, 1}};
  auto m = raw(wire::encode_message(two));
  EXPECT_EQ(m.header.rcode, R::FORMERR);
  EXPECT_GE(engine_.counters().formerr, 2u);
}

// RFC 1035 §4.1.1: an opcode we do not implement is NOTIMP.
TEST_F(QueryTest, UnknownOpcodeIsNotimp) {
  auto q = query_bytes({"www.example.com."});
  q[2] = static_cast<uint8_t>((q[2] & 0x87) | (wire::opcode::UPDATE << 3));
  auto m = raw(q);
  EXPECT_EQ(m.header.rcode, R::NOTIMP);
  EXPECT_EQ(m.header.opcode, wire::opcode::UPDATE);
}

// Zone transfers do not exist yet: AXFR and IXFR are refused.
TEST_F(QueryTest, AxfrAndIxfrAreRefused) {
  EXPECT_EQ(ask("example.com.", T::AXFR).header.rcode, R::REFUSED);
  Ask tcp{"example.com.", T::IXFR};
  tcp.transport = Transport::tcp;
  EXPECT_EQ(ask(tcp).header.rcode, R::REFUSED);
}

// RFC 6891 §6.1.1 and RFC 3225: our OPT comes back with our size and the DO bit.
TEST_F(QueryTest, EdnsOptIsEchoedWithOurSizeAndDoBit) {
  Ask a{"www.example.com.", T::A, wire::rrclass::IN, true, 4096, true};
  auto m = ask(a);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->udp_size, 1232u);
  EXPECT_TRUE(m.edns->do_bit);
  EXPECT_EQ(m.edns->version, 0u);
  EXPECT_FALSE(ask("www.example.com.").edns.has_value());
}

// RFC 6891 §6.1.3: EDNS version above 0 gets BADVERS (extended rcode 16).
TEST_F(QueryTest, EdnsVersionAboveZeroIsBadvers) {
  auto q = query_bytes({"www.example.com.", T::A, wire::rrclass::IN, true});
  // The OPT TTL's second byte is the version; the OPT is the last 11 bytes.
  q[q.size() - 11 + 6] = 1;
  auto m = raw(q);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.header.rcode, R::BADVERS & 0xf);
  EXPECT_EQ(m.edns->extended_rcode, R::BADVERS >> 4);
  EXPECT_TRUE(m.answer.empty());
}

// CHAOS TXT id.server / hostname.bind and version.bind / version.server.
TEST_F(QueryTest, ChaosIdentityAndVersionAreAnswered) {
  for (const char* name : {"id.server.", "HOSTNAME.BIND."}) {
    auto m = ask(Ask{name, T::TXT, wire::rrclass::CH});
    EXPECT_EQ(m.header.rcode, R::NOERROR) << name;
    ASSERT_EQ(m.answer.size(), 1u) << name;
    EXPECT_EQ(m.answer[0].rclass, wire::rrclass::CH);
    EXPECT_EQ(wire::rdata_to_text(T::TXT, m.answer[0].rdata), "\"node-1.test\"");
  }
  for (const char* name : {"version.bind.", "version.server."}) {
    auto m = ask(Ask{name, T::TXT, wire::rrclass::CH});
    ASSERT_EQ(m.answer.size(), 1u) << name;
    EXPECT_EQ(wire::rdata_to_text(T::TXT, m.answer[0].rdata), "\"raftdns 0.1.0\"");
  }
  EXPECT_EQ(ask(Ask{"other.bind.", T::TXT, wire::rrclass::CH}).header.rcode, R::REFUSED);
}

// Either CHAOS answer can be turned off by leaving it empty: REFUSED.
TEST_F(QueryTest, ChaosAnswersTurnedOffAreRefused) {
  Engine quiet(EngineConfig{"", "", 1232});
  auto q = query_bytes({"version.bind.", T::TXT, wire::rrclass::CH});
  out_.assign(65535, 0);
  size_t n = quiet.answer(q, out_, Transport::udp, *view_);
  wire::Message m;
  ASSERT_EQ(wire::parse_message(std::span(out_.data(), n), m), wire::WireError::ok);
  EXPECT_EQ(m.header.rcode, R::REFUSED);
  EXPECT_TRUE(m.answer.empty());
}

// A malformed query whose header is readable gets FORMERR with its ID.
TEST_F(QueryTest, MalformedQueryGetsFormerr) {
  auto q = query_bytes({"www.example.com."});
  q.resize(q.size() - 3);  // cut into the question
  auto m = raw(q);
  EXPECT_EQ(m.header.rcode, R::FORMERR);
  EXPECT_TRUE(m.questions.empty());
  // A forward compression pointer in the question.
  std::vector<uint8_t> ptr = {0x12, 0x34, 0x01, 0x00, 0,    1,    0,    0,    0,
                              0,    0,    0,    0xc0, 0x20, 0x00, 0x01, 0x00, 0x01};
  EXPECT_EQ(raw(ptr).header.rcode, R::FORMERR);
}

// Packets too short for a header, and responses, are dropped (no reply).
TEST_F(QueryTest, ShortPacketsAndResponsesAreDropped) {
  size_t size = 1;
  raw({0x12, 0x34, 0x01}, &size);
  EXPECT_EQ(size, 0u);
  auto q = query_bytes({"www.example.com."});
  q[2] |= 0x80;  // QR
  raw(q, &size);
  EXPECT_EQ(size, 0u);
}

// Hostile input: mutated queries get a well-formed reply or none, never a crash.
TEST_F(QueryTest, MutatedQueriesNeverBreakTheEngine) {
  std::mt19937 rng(99);
  const std::vector<std::vector<uint8_t>> seeds = {
      query_bytes({"www.example.com."}),
      query_bytes({"x.dname.example.com.", T::A, wire::rrclass::IN, true}),
      query_bytes({"a.b.wild.example.com.", T::ANY, wire::rrclass::IN, true, 4096, true}),
      query_bytes({"version.bind.", T::TXT, wire::rrclass::CH})};
  out_.assign(65535, 0);
  for (int i = 0; i < 4000; ++i) {
    auto q = seeds[static_cast<size_t>(i) % seeds.size()];
    for (int flips = 1 + static_cast<int>(rng() % 3); flips > 0; --flips) {
      q[rng() % q.size()] = static_cast<uint8_t>(rng());
    }
    if (rng() % 5 == 0) q.resize(rng() % q.size());
    size_t n = engine_.answer(q, out_, i % 2 ? Transport::tcp : Transport::udp, *view_);
    if (n == 0) continue;
    ASSERT_GE(n, wire::kHeaderSize);
    wire::Message m;
    ASSERT_EQ(wire::parse_message(std::span(out_.data(), n), m), wire::WireError::ok);
    EXPECT_TRUE(m.header.qr);
    EXPECT_EQ(m.header.id, q[0] << 8 | q[1]);
    if (i % 2 == 0) {
      EXPECT_LE(n, 1232u);
    }
  }
}

// Every answer above comes from a read view, and a renewed view sees new data.
// Occluded data is kept but never served: the referral (RFC 1034 §4.3.2
// step 3b) or the DNAME rule (RFC 6672 §3.2) wins.
TEST_F(QueryTest, OccludedDataIsNeverServed) {
  for (const char* name : {"x.sub.conf.test.", "sub.conf.test."}) {
    auto m = ask(name, T::TXT);
    EXPECT_EQ(m.header.rcode, R::NOERROR) << name;
    EXPECT_FALSE(m.header.aa) << name;
    EXPECT_TRUE(m.answer.empty()) << name;
    ASSERT_EQ(m.authority.size(), 1u) << name;
    EXPECT_EQ(m.authority[0].type, T::NS) << name;
  }
  auto m = ask("www.d.conf.test.", T::A);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"d.conf.test. 300 IN DNAME example.net.",
                                      "www.d.conf.test. 300 IN CNAME www.example.net.",
                                      "www.example.net. 300 IN A 198.51.100.10"}));
}

// RFC 2181 §5.4.1: the additional section of an authoritative answer holds
// only this zone's authoritative data: no occluded glue, no other zone's data.
TEST_F(QueryTest, AdditionalHoldsOnlyThisZonesAuthoritativeData) {
  auto m = ask("mxglue.conf.test.", T::MX);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_TRUE(m.additional.empty()) << texts(m.additional)[0];
  m = ask("mxother.conf.test.", T::MX);
  ASSERT_EQ(m.answer.size(), 1u);
  EXPECT_TRUE(m.additional.empty()) << texts(m.additional)[0];
  m = ask("mxok.conf.test.", T::MX);
  EXPECT_EQ(texts(m.additional), (std::vector<std::string>{"ns1.conf.test. 300 IN A 192.0.2.1"}));
  // A referral still carries its glue.
  m = ask("x.sub.conf.test.", T::A);
  EXPECT_EQ(texts(m.additional),
            (std::vector<std::string>{"ns.sub.conf.test. 300 IN A 192.0.2.53"}));
}

// RFC 9471 §3.1: all in-domain glue goes out, or the reply is truncated.
TEST_F(QueryTest, ReferralGlueThatDoesNotFitSetsTcAndTcpCarriesAllOfIt) {
  auto m = ask("host.many.conf.test.");
  EXPECT_FALSE(m.header.aa);
  EXPECT_EQ(m.authority.size(), 20u);
  EXPECT_TRUE(m.header.tc);  // 512 octets hold the NS RRset, not 40 glue records
  Ask tcp{"host.many.conf.test."};
  tcp.transport = Transport::tcp;
  m = ask(tcp);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.authority.size(), 20u);
  EXPECT_EQ(m.additional.size(), 40u);
  for (int i = 0; i < 20; ++i) {
    std::string host = "ns" + std::to_string(10 + i) + ".many.conf.test.";
    EXPECT_TRUE(has(m.additional, host, T::A)) << host;
    EXPECT_TRUE(has(m.additional, host, T::AAAA)) << host;
  }
  Ask big{"host.many.conf.test.", T::A, wire::rrclass::IN, true, 4096};
  m = ask(big);  // 1232 octets, our UDP maximum: still not all of it
  EXPECT_TRUE(m.header.tc);
}

// RFC 6672: a chain passing a DNAME twice shows it once, a loop ends, and a
// substitution that grows past 255 octets after some hops is YXDOMAIN.
TEST_F(QueryTest, DnameChainsShowEachDnameOnceAndEndCleanly) {
  auto m = ask("x.dl.conf.test.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_EQ(texts(m.answer),
            (std::vector<std::string>{"dl.conf.test. 300 IN DNAME dl2.conf.test.",
                                      "x.dl.conf.test. 300 IN CNAME x.dl2.conf.test.",
                                      "dl2.conf.test. 300 IN DNAME dl.conf.test.",
                                      "x.dl2.conf.test. 300 IN CNAME x.dl.conf.test."}));
  m = ask("a.grow.conf.test.");
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  size_t dnames = 0, cnames = 0;
  for (const auto& r : m.answer) {
    dnames += r.type == T::DNAME;
    cnames += r.type == T::CNAME;
  }
  EXPECT_EQ(dnames, 1u);
  EXPECT_EQ(cnames, kMaxChain + 1);  // the first name, then kMaxChain links followed
  m = ask("a.grow2.conf.test.");
  EXPECT_EQ(m.header.rcode, R::YXDOMAIN);
  ASSERT_FALSE(m.answer.empty());
  EXPECT_EQ(m.answer[0].type, T::DNAME);
  EXPECT_EQ(std::count_if(m.answer.begin(), m.answer.end(),
                          [](const wire::Record& r) { return r.type == T::DNAME; }),
            1);
  EXPECT_EQ(m.answer.back().type, T::CNAME);
  EXPECT_GE(m.answer.size(), 3u);  // several hops before the overflow
}

// RFC 1035 §6.2: a QCLASS ANY answer is not authoritative.
TEST_F(QueryTest, QclassAnyAnswerIsNotAuthoritative) {
  auto m = ask(Ask{"www.example.com.", T::A, wire::rrclass::ANY});
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_FALSE(m.header.aa);
  EXPECT_EQ(m.answer.size(), 1u);
}

// RFC 6891 §7: a FORMERR to a query that carried an OPT carries one.
TEST_F(QueryTest, FormerrToAQueryWithOptCarriesOpt) {
  wire::Message two;
  two.header.id = 0x4242;
  two.questions = {wire::Question{N("www.example.com."), T::A, 1},
                   wire::Question{N("example.com."), T::A, 1}};
  two.edns = wire::Edns{};
  auto m = raw(wire::encode_message(two));
  EXPECT_EQ(m.header.rcode, R::FORMERR);
  EXPECT_TRUE(m.edns.has_value());
  two.edns.reset();
  m = raw(wire::encode_message(two));
  EXPECT_EQ(m.header.rcode, R::FORMERR);
  EXPECT_FALSE(m.edns.has_value());
}

// [dns] minimal_responses = false: the zone's NS RRset in authority and
// their addresses in additional, for positive answers only.
TEST_F(QueryTest, NonMinimalResponsesCarryTheZonesNameServers) {
  EngineConfig cfg{"node-1.test", "raftdns 0.1.0", 1232};
  cfg.minimal_responses = false;
  Engine full(cfg);
  auto answer = [&](const std::string& name, uint16_t type) {
    auto q = query_bytes(Ask{name, type});
    out_.assign(65535, 0);
    size_t n = full.answer(q, out_, Transport::udp, *view_);
    wire::Message m;
    EXPECT_EQ(wire::parse_message(std::span(out_.data(), n), m), wire::WireError::ok);
    return m;
  };
  auto m = answer("www.example.com.", T::A);
  EXPECT_TRUE(m.header.aa);
  EXPECT_EQ(texts(m.authority),
            (std::vector<std::string>{"example.com. 3600 IN NS ns1.example.com."}));
  EXPECT_TRUE(has(m.additional, "ns1.example.com.", T::A));
  EXPECT_TRUE(has(m.additional, "ns1.example.com.", T::AAAA));
  // The NS query itself does not repeat the RRset in authority.
  m = answer("example.com.", T::NS);
  EXPECT_TRUE(m.authority.empty());
  // Negative answers keep just the SOA.
  m = answer("nothere.example.com.", T::A);
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
  // The default engine leaves authority empty.
  EXPECT_TRUE(ask("www.example.com.").authority.empty());
}

// RFC 8914: a REFUSED answer to an EDNS query says why in an EDE option.
TEST_F(QueryTest, RefusalsCarryAnExtendedDnsError) {
  auto ede_of = [&](const Ask& a) -> int {
    auto m = ask(a);
    EXPECT_EQ(m.header.rcode, R::REFUSED) << a.name;
    if (!m.edns) return -2;
    const auto& o = m.edns->options;
    if (o.size() != 6 || o[0] != 0 || o[1] != 15 || o[2] != 0 || o[3] != 2) return -1;
    return o[4] << 8 | o[5];
  };
  Ask outside{"www.example.org.", T::A, wire::rrclass::IN, true};
  EXPECT_EQ(ede_of(outside), 20);  // Not Authoritative
  Ask axfr{"example.com.", T::AXFR, wire::rrclass::IN, true};
  EXPECT_EQ(ede_of(axfr), 18);  // Prohibited
  Ask hesiod{"www.example.com.", T::A, 4 /* HS */, true};
  EXPECT_EQ(ede_of(hesiod), 21);  // Not Supported
  Ask chaos{"authors.bind.", T::TXT, wire::rrclass::CH, true};
  EXPECT_EQ(ede_of(chaos), 20);  // other CH names are not ours
  // Without EDNS there is nowhere to put it.
  outside.edns = false;
  EXPECT_EQ(ede_of(outside), -2);
}

// RFC 7873 with RFC 9018 server cookies.
class CookieTest : public QueryTest {
 protected:
  static constexpr uint8_t kIp[4] = {192, 0, 2, 7};
  std::vector<uint8_t> cookie_query(std::vector<uint8_t> cookie) {
    wire::Message m;
    m.header.id = 0x4242;
    m.questions.push_back(wire::Question{N("www.example.com."), T::A, wire::rrclass::IN});
    wire::Edns e;
    e.options = {0, 10, 0, static_cast<uint8_t>(cookie.size())};
    e.options.insert(e.options.end(), cookie.begin(), cookie.end());
    m.edns = e;
    return wire::encode_message(m);
  }
  wire::Message send(Engine& engine, const std::vector<uint8_t>& q, uint32_t now,
                     Transport t = Transport::udp) {
    out_.assign(65535, 0);
    size_t n = engine.answer(q, out_, t, *view_, Client{kIp, now});
    wire::Message m;
    EXPECT_EQ(wire::parse_message(std::span(out_.data(), n), m), wire::WireError::ok);
    return m;
  }
  // The COOKIE option's value in a response (empty when none).
  static std::vector<uint8_t> cookie_of(const wire::Message& m) {
    if (!m.edns) return {};
    const auto& o = m.edns->options;
    for (size_t i = 0; i + 4 <= o.size();) {
      size_t len = o[i + 2] << 8 | o[i + 3];
      if ((o[i] << 8 | o[i + 1]) == 10) return {o.begin() + i + 4, o.begin() + i + 4 + len};
      i += 4 + len;
    }
    return {};
  }
  static EngineConfig with_secret(uint8_t fill) {
    EngineConfig c{"node-1.test", "raftdns 0.1.0", 1232};
    c.cookie_secret.fill(fill);
    return c;
  }
};

TEST_F(CookieTest, ClientCookieGetsAServerCookieThatTheClusterAccepts) {
  Engine node1(with_secret(7)), node2(with_secret(7)), stranger(with_secret(8));
  const std::vector<uint8_t> client = {1, 2, 3, 4, 5, 6, 7, 8};
  const uint32_t now = 1'700'000'000;
  auto m = send(node1, cookie_query(client), now);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  auto cookie = cookie_of(m);
  ASSERT_EQ(cookie.size(), 24u);
  EXPECT_TRUE(std::equal(client.begin(), client.end(), cookie.begin()));
  EXPECT_EQ(cookie[8], 1);  // RFC 9018 version
  EXPECT_EQ(cookie[12] << 24 | cookie[13] << 16 | cookie[14] << 8 | cookie[15],
            static_cast<int>(now));
  EXPECT_FALSE(node1.last_cookie_valid());
  // Sent back to another node of the cluster (same secret), half an hour on.
  m = send(node2, cookie_query(cookie), now + 1800);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_EQ(m.answer.size(), 1u);
  EXPECT_TRUE(node2.last_cookie_valid());
  // A server with another secret, or after the hour, answers BADCOOKIE (23)
  // with a fresh cookie over UDP, and answers over TCP.
  for (auto [engine, at] : {std::pair{&stranger, now + 10}, std::pair{&node1, now + 3601}}) {
    m = send(*engine, cookie_query(cookie), at);
    ASSERT_TRUE(m.edns.has_value());
    EXPECT_EQ(m.header.rcode, 23 & 0xf);
    EXPECT_EQ(m.edns->extended_rcode, 23 >> 4);
    EXPECT_TRUE(m.answer.empty());
    auto fresh = cookie_of(m);
    ASSERT_EQ(fresh.size(), 24u);
    EXPECT_FALSE(engine->last_cookie_valid());
    m = send(*engine, cookie_query(fresh), at + 1);
    EXPECT_EQ(m.header.rcode, R::NOERROR);
    EXPECT_TRUE(engine->last_cookie_valid());
    m = send(*engine, cookie_query(cookie), at, Transport::tcp);
    EXPECT_EQ(m.header.rcode, R::NOERROR);
    EXPECT_EQ(m.answer.size(), 1u);
  }
  // The cookie is bound to the client's address and client cookie.
  auto other_client = cookie;
  other_client[0] ^= 1;
  send(node1, cookie_query(other_client), now + 5);
  EXPECT_FALSE(node1.last_cookie_valid());
}

// RFC 7873 §5.2.2: a COOKIE option of a bad length is FORMERR.
TEST_F(CookieTest, MalformedCookieIsFormerr) {
  Engine engine(with_secret(1));
  for (size_t len : {7u, 9u, 15u, 41u}) {
    auto m = send(engine, cookie_query(std::vector<uint8_t>(len, 0xab)), 1000);
    EXPECT_EQ(m.header.rcode, R::FORMERR) << len;
  }
}

TEST_F(QueryTest, RenewedViewSeesAppliedChanges) {
  auto bytes = store::encode_command(store::AddRecords{{A("fresh.example.net.", "198.51.100.99")}});
  store::ApplyItem item{0, 0, bytes};
  std::vector<Status> outcomes;
  ASSERT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
  ASSERT_TRUE(outcomes.at(0)) << outcomes[0].error();
  EXPECT_EQ(ask("fresh.example.net.").header.rcode, R::NXDOMAIN);
  ASSERT_TRUE(view_->renew());
  auto m = ask("fresh.example.net.");
  ASSERT_EQ(m.answer.size(), 1u);
}

}  // namespace
}  // namespace raftdns::query
