// Answers to DO queries from pre-signed zones (RFC 4035 §3.1, RFC 5155
// §7.2): which RRSIGs, NSEC and NSEC3 records each case carries, truncation
// that keeps signatures with their RRsets, and DO=0 answers free of them.
//
// The zones are signed here by a small test signer that builds the NSEC or
// NSEC3 chain exactly (owner order, hashes, bitmaps, opt-out) and gives
// every RRset an RRSIG with the right type covered and label count; the
// signature bytes are filler, since the answer engine never verifies.
// Validation by real validators over real signatures is tests/dnssec.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <map>
#include <set>

#include "daemon/query/engine.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"
#include "daemon/wire/message.h"
#include "daemon/wire/nsec3.h"
#include "tests/store/test_records.h"

namespace raftdns::query {
namespace {

using namespace raftdns::testing;
namespace T = wire::rrtype;
namespace R = wire::rcode;

constexpr uint16_t kIterations = 2;
const std::vector<uint8_t> kSalt = {0xab, 0x12};

// RFC 4034 §4.1.2 type bitmap.
std::vector<uint8_t> type_bitmap(const std::set<uint16_t>& types) {
  std::vector<uint8_t> out;
  std::map<uint8_t, std::vector<uint8_t>> windows;
  for (uint16_t t : types) {
    auto& w = windows[static_cast<uint8_t>(t >> 8)];
    const size_t octet = (t & 0xff) / 8;
    if (w.size() <= octet) w.resize(octet + 1);
    w[octet] |= static_cast<uint8_t>(0x80 >> (t & 7));
  }
  for (auto& [window, bits] : windows) {
    out.push_back(window);
    out.push_back(static_cast<uint8_t>(bits.size()));
    out.insert(out.end(), bits.begin(), bits.end());
  }
  return out;
}

std::vector<uint8_t> hash_of(const wire::Name& n) {
  std::vector<uint8_t> h(wire::kNsec3HashSize);
  wire::nsec3_hash(n, kSalt, kIterations, h.data());
  return h;
}

// Signs `records` of zone `apex` as dnssec-signzone would lay it out.
std::vector<wire::Record> sign(const std::string& apex_text, std::vector<wire::Record> records,
                               bool nsec3, bool opt_out = false) {
  const wire::Name apex = N(apex_text);
  std::map<wire::Name, std::set<uint16_t>> owners;
  for (const auto& r : records) owners[r.owner].insert(r.type);
  std::set<wire::Name> cuts;
  for (const auto& [o, types] : owners)
    if (o != apex && types.count(T::NS)) cuts.insert(o);
  auto occluded = [&](const wire::Name& o) {
    for (const auto& c : cuts)
      if (o != c && o.is_subdomain_of(c)) return true;
    return false;
  };
  std::vector<wire::Record> out = records;
  auto rrsig = [&](const wire::Name& owner, uint16_t covered, uint32_t ttl) {
    std::vector<uint8_t> rd;
    put16(rd, covered);
    rd.push_back(13);
    const bool wild = owner.label_count() > 0 && owner.wire()[0] == 1 && owner.wire()[1] == '*';
    rd.push_back(static_cast<uint8_t>(owner.label_count() - (wild ? 1 : 0)));
    put32(rd, ttl);
    put32(rd, 2000000000);
    put32(rd, 1700000000);
    put16(rd, 4242);
    rd.insert(rd.end(), apex.wire().begin(), apex.wire().end());
    rd.insert(rd.end(), 64, static_cast<uint8_t>(covered));
    out.push_back(wire::Record{owner, T::RRSIG, wire::rrclass::IN, ttl, rd});
  };
  // Every authoritative RRset is signed, but the NS RRset at a cut.
  for (const auto& r : records) {
    if (occluded(r.owner) || (cuts.count(r.owner) && r.type != T::DS)) continue;
    bool seen = false;
    for (const auto& o : out)
      if (o.type == T::RRSIG && o.owner == r.owner && (o.rdata[0] << 8 | o.rdata[1]) == r.type)
        seen = true;
    if (!seen) rrsig(r.owner, r.type, r.ttl);
  }
  std::vector<wire::Name> chain;
  for (const auto& [o, types] : owners)
    if (!occluded(o)) chain.push_back(o);
  if (!nsec3) {
    for (size_t i = 0; i < chain.size(); ++i) {
      const wire::Name& next = chain[(i + 1) % chain.size()];
      std::set<uint16_t> types = owners[chain[i]];
      types.insert(T::NSEC);
      types.insert(T::RRSIG);
      std::vector<uint8_t> rd(next.wire().begin(), next.wire().end());
      auto bm = type_bitmap(types);
      rd.insert(rd.end(), bm.begin(), bm.end());
      out.push_back(wire::Record{chain[i], T::NSEC, wire::rrclass::IN, 300, rd});
      rrsig(chain[i], T::NSEC, 300);
    }
    return out;
  }
  // NSEC3: empty non-terminals get one too; opt-out leaves out unsigned
  // delegations.
  std::set<wire::Name> hashed;
  for (const auto& o : chain) {
    if (opt_out && cuts.count(o) && !owners[o].count(T::DS)) continue;
    for (wire::Name n = o; n.label_count() >= apex.label_count(); n = n.parent()) {
      hashed.insert(n);
      if (n == apex) break;
    }
  }
  std::vector<std::pair<std::vector<uint8_t>, wire::Name>> byhash;
  for (const auto& n : hashed) byhash.emplace_back(hash_of(n), n);
  std::sort(byhash.begin(), byhash.end());
  for (size_t i = 0; i < byhash.size(); ++i) {
    const auto& [h, n] = byhash[i];
    const auto& next = byhash[(i + 1) % byhash.size()].first;
    std::set<uint16_t> types = owners.count(n) ? owners[n] : std::set<uint16_t>{};
    if (!types.empty() && !(cuts.count(n) && !types.count(T::DS))) types.insert(T::RRSIG);
    if (n == apex) {
      types.insert(T::NSEC3PARAM);
      types.insert(T::RRSIG);
    }
    std::vector<uint8_t> rd = {1, static_cast<uint8_t>(opt_out ? 1 : 0)};
    put16(rd, kIterations);
    rd.push_back(static_cast<uint8_t>(kSalt.size()));
    rd.insert(rd.end(), kSalt.begin(), kSalt.end());
    rd.push_back(static_cast<uint8_t>(next.size()));
    rd.insert(rd.end(), next.begin(), next.end());
    auto bm = type_bitmap(types);
    rd.insert(rd.end(), bm.begin(), bm.end());
    wire::Name owner = N(wire::base32hex_encode(h) + "." + apex_text);
    out.push_back(wire::Record{owner, T::NSEC3, wire::rrclass::IN, 300, rd});
    rrsig(owner, T::NSEC3, 300);
  }
  std::vector<uint8_t> param = {1, 0};
  put16(param, kIterations);
  param.push_back(static_cast<uint8_t>(kSalt.size()));
  param.insert(param.end(), kSalt.begin(), kSalt.end());
  out.push_back(wire::Record{apex, T::NSEC3PARAM, wire::rrclass::IN, 0, param});
  rrsig(apex, T::NSEC3PARAM, 0);
  return out;
}

std::vector<wire::Record> zone_data(const std::string& apex, const std::string& other) {
  std::vector<wire::Record> z = {
      SOA(apex, 1, /*minimum=*/600, /*ttl=*/3600),
      NS(apex, "ns1." + apex),
      rr(apex, 3600, T::DNSKEY, {1, 1, 3, 13, 0xaa, 0xbb}),
      A("ns1." + apex, "192.0.2.1"),
      A("www." + apex, "192.0.2.10"),
      TXT("www." + apex, "text"),
      TXT("a.b.c." + apex, "deep"),
      A("*.wild." + apex, "192.0.2.80"),
      CNAME("alias." + apex, "www." + other),
      NS("sec." + apex, "ns.sec." + apex),
      A("ns.sec." + apex, "192.0.2.53"),
      rr("sec." + apex, 3600, T::DS, {0x30, 0x39, 13, 2, 0xaa, 0xbb}),
      NS("ins." + apex, "ns.ins." + apex),
      A("ns.ins." + apex, "192.0.2.54"),
      MX("mx." + apex, 10, "www." + apex),
  };
  for (int i = 0; i < 12; ++i)
    z.push_back(TXT("big." + apex, std::string(60, static_cast<char>('a' + i))));
  return z;
}

class DnssecTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    auto s = store::Store::open(dir_->sub("store"));
    ASSERT_TRUE(s) << s.error();
    store_ = s->release();
    uint64_t index = 0;
    for (const auto& [apex, records] :
         {std::pair{std::string("nsec.test."),
                    sign("nsec.test.", zone_data("nsec.test.", "nsec3.test."), false)},
          std::pair{std::string("nsec3.test."),
                    sign("nsec3.test.", zone_data("nsec3.test.", "nsec.test."), true, true)},
          std::pair{std::string("plain.test."), zone_data("plain.test.", "nsec.test.")}}) {
      auto bytes = store::encode_command(store::Command(store::PutZone{N(apex), records}));
      store::ApplyItem item{++index, 1, bytes};
      std::vector<Status> outcomes;
      ASSERT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
      ASSERT_TRUE(outcomes.at(0)) << apex << ": " << outcomes[0].error();
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

  wire::Message ask(const std::string& name, uint16_t type, bool do_bit = true,
                    Transport t = Transport::udp, uint16_t udp_size = 1232,
                    size_t* size = nullptr) {
    wire::Message q;
    q.header.id = 7;
    q.questions.push_back(wire::Question{N(name), type, wire::rrclass::IN});
    wire::Edns e;
    e.udp_size = udp_size;
    e.do_bit = do_bit;
    q.edns = e;
    auto bytes = wire::encode_message(q);
    out_.assign(65535, 0);
    const size_t n = engine_.answer(bytes, out_, t, *view_);
    if (size) *size = n;
    wire::Message m;
    EXPECT_EQ(wire::parse_message(std::span(out_.data(), n), m), wire::WireError::ok);
    return m;
  }

  static size_t count(const std::vector<wire::Record>& rs, uint16_t type) {
    return static_cast<size_t>(
        std::count_if(rs.begin(), rs.end(), [&](const wire::Record& r) { return r.type == type; }));
  }
  static uint16_t covered(const wire::Record& sig) {
    return static_cast<uint16_t>(sig.rdata[0] << 8 | sig.rdata[1]);
  }
  // Every RRset of the section has RRSIGs of exactly its type, and no
  // RRSIG stands alone.
  static void expect_each_signed(const std::vector<wire::Record>& rs, const std::string& what,
                                 std::set<uint16_t> unsigned_types = {}) {
    for (const auto& r : rs) {
      if (r.type == T::RRSIG) {
        EXPECT_TRUE(std::any_of(rs.begin(), rs.end(), [&](const wire::Record& o) {
          return o.type == covered(r) && o.owner == r.owner;
        })) << what << ": stray RRSIG " << wire::record_to_text(r);
        continue;
      }
      if (unsigned_types.count(r.type)) continue;
      EXPECT_TRUE(std::any_of(rs.begin(), rs.end(), [&](const wire::Record& o) {
        return o.type == T::RRSIG && covered(o) == r.type && o.owner == r.owner;
      })) << what << ": unsigned " << wire::record_to_text(r);
    }
  }
  static bool has(const std::vector<wire::Record>& rs, const std::string& owner, uint16_t type) {
    return std::any_of(rs.begin(), rs.end(), [&](const wire::Record& r) {
      return r.owner == N(owner) && r.type == type;
    });
  }
  // NSEC owner < name < next (or the last NSEC, wrapping round).
  static bool nsec_covers(const wire::Record& nsec, const wire::Name& name) {
    size_t end = 0;  // the next owner name, then the type bitmap
    while (end < nsec.rdata.size() && nsec.rdata[end] != 0) end += 1 + nsec.rdata[end];
    auto next = wire::Name::from_wire(std::span(nsec.rdata).first(end + 1));
    if (!next) return false;
    if (nsec.owner < *next) return nsec.owner < name && name < *next;
    return nsec.owner < name || name < *next;
  }
  static std::vector<uint8_t> nsec3_owner_hash(const wire::Record& r) {
    std::string label(reinterpret_cast<const char*>(r.owner.wire().data() + 1), r.owner.wire()[0]);
    std::vector<uint8_t> h(40);
    auto n = wire::base32hex_decode(label, h.data());
    h.resize(n.value_or(0));
    return h;
  }
  static std::vector<uint8_t> nsec3_next(const wire::Record& r) {
    size_t at = 5 + r.rdata[4];
    return {r.rdata.begin() + static_cast<std::ptrdiff_t>(at) + 1,
            r.rdata.begin() + static_cast<std::ptrdiff_t>(at) + 1 + r.rdata[at]};
  }
  static bool nsec3_matches(const wire::Record& r, const std::string& name) {
    return nsec3_owner_hash(r) == hash_of(N(name));
  }
  static bool nsec3_covers(const wire::Record& r, const std::string& name) {
    auto h = hash_of(N(name));
    auto owner = nsec3_owner_hash(r), next = nsec3_next(r);
    if (owner < next) return owner < h && h < next;
    return owner < h || h < next;
  }
  static bool any_nsec3(const std::vector<wire::Record>& rs,
                        const std::function<bool(const wire::Record&)>& pred) {
    return std::any_of(rs.begin(), rs.end(),
                       [&](const wire::Record& r) { return r.type == T::NSEC3 && pred(r); });
  }

  static TempDir* dir_;
  static store::Store* store_;
  std::unique_ptr<store::ReadTxn> view_;
  Engine engine_{EngineConfig{}};
  std::vector<uint8_t> out_;
};
TempDir* DnssecTest::dir_ = nullptr;
store::Store* DnssecTest::store_ = nullptr;

// RFC 4035 §3.1.1: the RRSIGs of the answered RRset, only those covering
// its type; DO echoed in the OPT (RFC 3225 §3).
TEST_F(DnssecTest, AnswerCarriesOnlyTheSignaturesOfItsType) {
  for (const char* zone : {"nsec.test.", "nsec3.test."}) {
    auto m = ask(std::string("www.") + zone, T::A);
    ASSERT_TRUE(m.edns.has_value());
    EXPECT_TRUE(m.edns->do_bit);
    ASSERT_EQ(m.answer.size(), 2u) << zone;
    EXPECT_EQ(m.answer[0].type, T::A);
    EXPECT_EQ(m.answer[1].type, T::RRSIG);
    EXPECT_EQ(covered(m.answer[1]), T::A);  // not the TXT's
    EXPECT_EQ(m.answer[1].ttl, m.answer[0].ttl);
    EXPECT_TRUE(m.authority.empty());
  }
}

// RFC 4035 §3.1 / RFC 3225: without DO, no DNSSEC records are added; asked
// for by type, they are plain data.
TEST_F(DnssecTest, WithoutDoNothingOfDnssecIsAdded) {
  for (const char* zone : {"nsec.test.", "nsec3.test."}) {
    const std::string z = zone;
    for (auto [name, type] : std::vector<std::pair<std::string, uint16_t>>{
             {"www." + z, T::A}, {"nothere." + z, T::A}, {"www." + z, T::AAAA},
             {"x.wild." + z, T::A}, {"x.wild." + z, T::TXT}, {"c." + z, T::A},
             {"x.ins." + z, T::A}, {"x.sec." + z, T::A}}) {
      auto m = ask(name, type, false);
      ASSERT_TRUE(m.edns.has_value());
      EXPECT_FALSE(m.edns->do_bit);
      for (const auto* s : {&m.answer, &m.authority, &m.additional}) {
        for (const auto& r : *s) {
          EXPECT_TRUE(r.type != T::RRSIG && r.type != T::NSEC && r.type != T::NSEC3 &&
                      r.type != T::DS)
              << name << ": " << wire::record_to_text(r);
        }
      }
    }
    // The whole RRSIG RRset: the A's, the TXT's and the NSEC's if any.
    auto m = ask("www." + z, T::RRSIG, false);
    std::set<uint16_t> types;
    for (const auto& r : m.answer)
      if (r.type == T::RRSIG) types.insert(covered(r));
    EXPECT_TRUE(types.count(T::A) && types.count(T::TXT)) << z;
    EXPECT_EQ(types.size(), z == "nsec.test." ? 3u : 2u) << z;
    m = ask(z, T::DNSKEY, false);
    EXPECT_EQ(m.answer.size(), 1u);
    m = ask("sec." + z, T::DS, false);
    ASSERT_EQ(m.answer.size(), 1u);
    EXPECT_EQ(m.answer[0].type, T::DS);
  }
}

// An unsigned zone answers a DO query as before: nothing to add.
TEST_F(DnssecTest, UnsignedZoneAddsNothing) {
  auto m = ask("nothere.plain.test.", T::A);
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  ASSERT_EQ(m.authority.size(), 1u);
  EXPECT_EQ(m.authority[0].type, T::SOA);
}

// RFC 4035 §3.1.3.2: NXDOMAIN proves the name and the wildcard at its
// closest encloser absent, and signs the SOA with its negative TTL.
TEST_F(DnssecTest, NsecNxdomainCoversTheNameAndTheWildcard) {
  auto m = ask("x.nothere.nsec.test.", T::A);
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  expect_each_signed(m.authority, "nxdomain");
  std::vector<wire::Record> nsecs;
  for (const auto& r : m.authority)
    if (r.type == T::NSEC) nsecs.push_back(r);
  ASSERT_FALSE(nsecs.empty());
  EXPECT_LE(nsecs.size(), 2u);
  auto covered_by_one = [&](const std::string& n) {
    return std::any_of(nsecs.begin(), nsecs.end(),
                       [&](const wire::Record& r) { return nsec_covers(r, N(n)); });
  };
  EXPECT_TRUE(covered_by_one("x.nothere.nsec.test."));
  EXPECT_TRUE(covered_by_one("*.nsec.test."));  // the closest encloser is the apex
  for (const auto& r : m.authority) {
    if (r.type == T::RRSIG && covered(r) == T::SOA) {
      EXPECT_EQ(r.ttl, 600u);
    }
  }
}

// RFC 4035 §3.1.3.1: NODATA gives the name's own NSEC; an empty
// non-terminal, which has none, the NSEC that covers it.
TEST_F(DnssecTest, NsecNodataAndEmptyNonTerminal) {
  auto m = ask("www.nsec.test.", T::AAAA);
  EXPECT_EQ(m.header.rcode, R::NOERROR);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_TRUE(has(m.authority, "www.nsec.test.", T::NSEC));
  expect_each_signed(m.authority, "nodata");
  for (const char* ent : {"c.nsec.test.", "b.c.nsec.test."}) {
    m = ask(ent, T::A);
    EXPECT_EQ(m.header.rcode, R::NOERROR) << ent;
    ASSERT_EQ(count(m.authority, T::NSEC), 1u) << ent;
    for (const auto& r : m.authority) {
      if (r.type == T::NSEC) {
        EXPECT_TRUE(nsec_covers(r, N(ent))) << wire::record_to_text(r);
      }
    }
    expect_each_signed(m.authority, ent);
  }
}

// RFC 4035 §3.1.3.3/§3.1.3.4: a wildcard answer has the wildcard's RRSIG
// (labels below the owner's count) and the NSEC proving the name absent;
// wildcard NODATA adds the wildcard's own NSEC.
TEST_F(DnssecTest, NsecWildcardAnswerAndNodata) {
  auto m = ask("a.b.wild.nsec.test.", T::A);
  ASSERT_EQ(m.answer.size(), 2u);
  EXPECT_EQ(m.answer[1].owner, N("a.b.wild.nsec.test."));
  EXPECT_EQ(m.answer[1].rdata[3], 3);  // RRSIG labels: *.wild.nsec.test minus the "*"
  ASSERT_EQ(count(m.authority, T::NSEC), 1u);
  for (const auto& r : m.authority) {
    if (r.type == T::NSEC) {
      EXPECT_TRUE(nsec_covers(r, N("a.b.wild.nsec.test.")));
    }
  }
  expect_each_signed(m.authority, "wildcard");

  m = ask("x.wild.nsec.test.", T::TXT);
  EXPECT_TRUE(m.answer.empty());
  // The wildcard's own NSEC, which here also covers the name.
  EXPECT_TRUE(has(m.authority, "*.wild.nsec.test.", T::NSEC));
  EXPECT_EQ(count(m.authority, T::NSEC), 1u);
  expect_each_signed(m.authority, "wildcard nodata");
}

// RFC 4035 §3.1.4: a referral carries the DS with its RRSIGs, or the NSEC
// at the cut (NS, no DS); the parent never signs the NS RRset there.
TEST_F(DnssecTest, NsecReferralsWithAndWithoutDs) {
  auto m = ask("www.sec.nsec.test.", T::A);
  EXPECT_FALSE(m.header.aa);
  EXPECT_TRUE(has(m.authority, "sec.nsec.test.", T::NS));
  EXPECT_TRUE(has(m.authority, "sec.nsec.test.", T::DS));
  expect_each_signed(m.authority, "signed referral", {T::NS});
  for (const auto& r : m.authority) EXPECT_FALSE(r.type == T::RRSIG && covered(r) == T::NS);
  EXPECT_TRUE(has(m.additional, "ns.sec.nsec.test.", T::A));  // glue, unsigned
  EXPECT_EQ(count(m.additional, T::RRSIG), 0u);

  m = ask("www.ins.nsec.test.", T::A);
  EXPECT_FALSE(has(m.authority, "ins.nsec.test.", T::DS));
  EXPECT_TRUE(has(m.authority, "ins.nsec.test.", T::NSEC));
  expect_each_signed(m.authority, "insecure referral", {T::NS});
}

// RFC 5155 §7.2.2: the closest encloser proof (the NSEC3 matching the
// closest encloser, the one covering the next closer name) and the NSEC3
// covering the wildcard at the closest encloser.
TEST_F(DnssecTest, Nsec3NxdomainIsTheClosestEncloserProof) {
  auto m = ask("x.y.www.nsec3.test.", T::A);
  EXPECT_EQ(m.header.rcode, R::NXDOMAIN);
  expect_each_signed(m.authority, "nsec3 nxdomain");
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_matches(r, "www.nsec3.test."); }));
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_covers(r, "y.www.nsec3.test."); }));
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_covers(r, "*.www.nsec3.test."); }));
  EXPECT_LE(count(m.authority, T::NSEC3), 3u);
}

// RFC 5155 §7.2.3-§7.2.6: NODATA matches the name (empty non-terminals
// have NSEC3 records too); a wildcard answer covers the next closer name;
// wildcard NODATA adds the closest encloser and the wildcard's own NSEC3.
TEST_F(DnssecTest, Nsec3NodataAndWildcards) {
  auto m = ask("www.nsec3.test.", T::AAAA);
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_matches(r, "www.nsec3.test."); }));
  EXPECT_EQ(count(m.authority, T::NSEC3), 1u);
  m = ask("b.c.nsec3.test.", T::A);
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_matches(r, "b.c.nsec3.test."); }));

  m = ask("a.b.wild.nsec3.test.", T::A);
  ASSERT_EQ(m.answer.size(), 2u);
  EXPECT_EQ(count(m.authority, T::NSEC3), 1u);
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_covers(r, "b.wild.nsec3.test."); }));
  expect_each_signed(m.authority, "nsec3 wildcard");

  m = ask("x.wild.nsec3.test.", T::TXT);
  EXPECT_TRUE(m.answer.empty());
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_matches(r, "wild.nsec3.test."); }));
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_covers(r, "x.wild.nsec3.test."); }));
  EXPECT_TRUE(
      any_nsec3(m.authority, [](auto& r) { return nsec3_matches(r, "*.wild.nsec3.test."); }));
  expect_each_signed(m.authority, "nsec3 wildcard nodata");
}

// RFC 5155 §7.2.7 with opt-out: the unsigned delegation has no NSEC3, so the
// referral proves the closest provable encloser (the apex) and covers the
// cut with an opt-out NSEC3. A signed delegation still carries its DS.
TEST_F(DnssecTest, Nsec3OptOutReferral) {
  auto m = ask("www.ins.nsec3.test.", T::A);
  EXPECT_FALSE(has(m.authority, "ins.nsec3.test.", T::DS));
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_matches(r, "nsec3.test."); }));
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) {
    return nsec3_covers(r, "ins.nsec3.test.") && (r.rdata[1] & 1) == 1;
  }));
  expect_each_signed(m.authority, "opt-out referral", {T::NS});
  // The DS query there is NODATA with the same proof.
  m = ask("ins.nsec3.test.", T::DS);
  EXPECT_TRUE(m.header.aa);
  EXPECT_TRUE(any_nsec3(m.authority, [](auto& r) { return nsec3_covers(r, "ins.nsec3.test."); }));

  m = ask("www.sec.nsec3.test.", T::A);
  EXPECT_TRUE(has(m.authority, "sec.nsec3.test.", T::DS));
  EXPECT_EQ(count(m.authority, T::NSEC3), 0u);
  expect_each_signed(m.authority, "signed referral", {T::NS});
}

// A CNAME into another signed zone: each link with its own zone's RRSIGs.
TEST_F(DnssecTest, CnameChainCarriesEachZonesSignatures) {
  auto m = ask("alias.nsec.test.", T::A);
  ASSERT_EQ(m.answer.size(), 4u);
  expect_each_signed(m.answer, "chain");
  EXPECT_TRUE(has(m.answer, "www.nsec3.test.", T::A));
  // Ending in NODATA in the other zone: that zone's proof.
  m = ask("alias.nsec3.test.", T::AAAA);
  EXPECT_TRUE(has(m.answer, "alias.nsec3.test.", T::CNAME));
  EXPECT_TRUE(has(m.authority, "www.nsec.test.", T::NSEC));
  EXPECT_TRUE(has(m.authority, "nsec.test.", T::SOA));
  expect_each_signed(m.answer, "chain to nodata");
  expect_each_signed(m.authority, "chain to nodata");
}

// RFC 4035 §3.1.1: an RRset never goes without its RRSIGs. Over UDP an
// answer that fits alone but not with them is truncated; TCP has it all.
TEST_F(DnssecTest, TruncationNeverSplitsAnRRsetFromItsSignatures) {
  // 12 TXT of ~75 bytes: ~900 bytes, under 1232; with the RRSIG's ~100
  // more still under, so ask with a 1000-byte limit to land in between.
  size_t plain = 0, signed_size = 0;
  auto m = ask("big.nsec.test.", T::TXT, false, Transport::udp, 4096, &plain);
  ASSERT_EQ(m.answer.size(), 12u);
  m = ask("big.nsec.test.", T::TXT, true, Transport::udp, 4096, &signed_size);
  ASSERT_EQ(m.answer.size(), 13u);
  ASSERT_LT(plain, signed_size);
  const uint16_t between = static_cast<uint16_t>(std::max<size_t>(plain + 1, 512));
  ASSERT_LT(between, signed_size);
  // The engine never goes above its own 1232.
  EngineConfig big;
  big.max_udp_size = 4096;
  engine_ = Engine(big);
  m = ask("big.nsec.test.", T::TXT, false, Transport::udp, between);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answer.size(), 12u);
  m = ask("big.nsec.test.", T::TXT, true, Transport::udp, between);
  EXPECT_TRUE(m.header.tc);
  EXPECT_TRUE(m.answer.empty());
  m = ask("big.nsec.test.", T::TXT, true, Transport::tcp);
  EXPECT_FALSE(m.header.tc);
  EXPECT_EQ(m.answer.size(), 13u);
}

// Additional-section RRSIGs go with their RRset or not at all, and their
// absence sets no TC (RFC 4035 §3.1.1).
TEST_F(DnssecTest, AdditionalSignaturesAreDroppedWhole) {
  size_t full = 0;
  auto m = ask("mx.nsec.test.", T::MX, true, Transport::tcp, 1232, &full);
  ASSERT_TRUE(has(m.additional, "www.nsec.test.", T::A));
  ASSERT_EQ(count(m.additional, T::RRSIG), 1u);
  expect_each_signed(m.additional, "additional");
  // Just too small for the additional RRSIG: the A stays, its RRSIG goes.
  EngineConfig big;
  big.max_udp_size = 4096;
  engine_ = Engine(big);
  for (uint16_t limit = static_cast<uint16_t>(full - 1); limit > full - 120; --limit) {
    m = ask("mx.nsec.test.", T::MX, true, Transport::udp, limit);
    EXPECT_FALSE(m.header.tc) << limit;
    EXPECT_EQ(m.answer.size(), 2u) << limit;
    for (const auto& r : m.additional) {
      if (r.type == T::RRSIG) {
        EXPECT_TRUE(has(m.additional, r.owner.to_text(), covered(r))) << limit;
      }
    }
  }
}

// The NSEC3 index follows the zone: an NSEC3 RRset removed leaves it, a
// zone replaced by an import takes a new generation's index.
TEST_F(DnssecTest, Nsec3IndexFollowsChanges) {
  auto zone = N("nsec3.test.");
  store::NameKey key(zone);
  store::ZoneRef z;
  ASSERT_TRUE(view_->find_zone(key, z));
  const auto h = hash_of(N("www.nsec3.test."));
  uint8_t found[store::kMaxNsec3Hash];
  ASSERT_EQ(view_->nsec3_at_or_before(z, key.bytes(), h, false, found), h.size());
  EXPECT_TRUE(std::equal(h.begin(), h.end(), found));
  // Strictly before: another hash, smaller or (wrapping) the largest.
  ASSERT_EQ(view_->nsec3_at_or_before(z, key.bytes(), h, true, found), h.size());
  EXPECT_FALSE(std::equal(h.begin(), h.end(), found));

  // Remove www's NSEC3 RRset: the index no longer finds it.
  auto owner = N(wire::base32hex_encode(h) + ".nsec3.test.");
  auto bytes = store::encode_command(store::Command(store::RemoveRRset{owner, T::NSEC3}));
  store::ApplyItem item{100, 1, bytes};
  std::vector<Status> outcomes;
  ASSERT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
  ASSERT_TRUE(outcomes.at(0)) << outcomes[0].error();
  auto after = store_->begin_read();
  ASSERT_TRUE(after->find_zone(key, z));
  ASSERT_EQ(after->nsec3_at_or_before(z, key.bytes(), h, false, found), h.size());
  EXPECT_FALSE(std::equal(h.begin(), h.end(), found));

  // A fresh import of the zone (a new generation) indexes it again.
  bytes = store::encode_command(store::Command(store::PutZone{
      zone, sign("nsec3.test.", zone_data("nsec3.test.", "nsec.test."), true, true)}));
  item = store::ApplyItem{101, 1, bytes};
  ASSERT_TRUE(store_->apply(std::span(&item, 1), &outcomes));
  after = store_->begin_read();
  ASSERT_TRUE(after->find_zone(key, z));
  ASSERT_EQ(after->nsec3_at_or_before(z, key.bytes(), h, false, found), h.size());
  EXPECT_TRUE(std::equal(h.begin(), h.end(), found));
  // The old generation's entries are reclaimed with its records.
  for (int i = 0; i < 100; ++i) {
    auto p = store_->reclaim(1000);
    ASSERT_TRUE(p) << p.error();
    if (p->done) break;
  }
}

}  // namespace
}  // namespace raftdns::query
