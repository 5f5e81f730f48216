// The wire side of RFC 2136: reading UPDATE messages (the zone section's
// rules, RDATA-less prerequisites and deletes, the TSIG record's place), the
// grant check, and the response.
#include "daemon/update/update.h"

#include <gtest/gtest.h>

#include "daemon/wire/types.h"

namespace raftdns::update {
namespace {

namespace T = wire::rrtype;
namespace C = wire::rrclass;

wire::Name N(const char* text) { return *wire::Name::from_text(text); }

wire::Record rec(const char* owner, uint16_t type, uint16_t rclass, uint32_t ttl,
                 std::vector<uint8_t> rdata = {}) {
  return wire::Record{N(owner), type, rclass, ttl, std::move(rdata)};
}

std::vector<uint8_t> message(std::vector<wire::Question> zone, std::vector<wire::Record> prereq,
                             std::vector<wire::Record> updates,
                             std::vector<wire::Record> additional = {}) {
  wire::Message m;
  m.header.id = 0xbeef;
  m.header.opcode = wire::opcode::UPDATE;
  m.questions = std::move(zone);
  m.answer = std::move(prereq);
  m.authority = std::move(updates);
  m.additional = std::move(additional);
  return wire::encode_message(m);
}

wire::Question zone_q(const char* name, uint16_t type = T::SOA, uint16_t rclass = C::IN) {
  return wire::Question{N(name), type, rclass};
}

TEST(UpdateParse, ReadsTheSectionsIncludingRecordsWithoutRdata) {
  auto bytes = message({zone_q("example.com.")},
                       {rec("www.example.com.", T::A, C::ANY, 0),
                        rec("new.example.com.", T::ANY, C::NONE, 0)},
                       {rec("new.example.com.", T::A, C::IN, 60, {192, 0, 2, 1}),
                        rec("old.example.com.", T::ANY, C::ANY, 0),
                        rec("www.example.com.", T::A, C::NONE, 0, {192, 0, 2, 10})});
  auto parsed = parse(bytes);
  auto* req = std::get_if<Request>(&parsed);
  ASSERT_NE(req, nullptr) << std::get<Refusal>(parsed).reason;
  EXPECT_EQ(req->header.id, 0xbeef);
  EXPECT_EQ(req->command.zone, N("example.com."));
  ASSERT_EQ(req->command.prerequisites.size(), 2u);
  EXPECT_TRUE(req->command.prerequisites[0].rdata.empty());
  EXPECT_EQ(req->command.prerequisites[1].rclass, C::NONE);
  ASSERT_EQ(req->command.updates.size(), 3u);
  EXPECT_EQ(req->command.updates[0].rdata, (std::vector<uint8_t>{192, 0, 2, 1}));
  EXPECT_EQ(req->command.updates[1].type, T::ANY);
}

TEST(UpdateParse, ZoneSectionRules) {
  auto refusal_of = [](std::vector<uint8_t> bytes) {
    auto parsed = parse(bytes);
    auto* r = std::get_if<Refusal>(&parsed);
    EXPECT_NE(r, nullptr);
    return r ? *r : Refusal{};
  };
  auto two = refusal_of(message({zone_q("a.example."), zone_q("b.example.")}, {}, {}));
  EXPECT_EQ(two.rcode, wire::rcode::FORMERR);
  ASSERT_TRUE(two.header.has_value());
  EXPECT_EQ(two.header->id, 0xbeef);  // answered with the request's ID
  EXPECT_EQ(refusal_of(message({}, {}, {})).rcode, wire::rcode::FORMERR);
  EXPECT_EQ(refusal_of(message({zone_q("example.com.", T::A)}, {}, {})).rcode,
            wire::rcode::FORMERR);
  EXPECT_EQ(refusal_of(message({zone_q("example.com.", T::SOA, C::CH)}, {}, {})).rcode,
            wire::rcode::NOTAUTH);
  // A TSIG record must be the last one.
  auto tsig_first = refusal_of(message({zone_q("example.com.")}, {}, {},
                                       {rec("key.", 250, C::ANY, 0, {0}),
                                        rec("x.example.com.", T::A, C::IN, 1, {1, 2, 3, 4})}));
  EXPECT_EQ(tsig_first.rcode, wire::rcode::FORMERR);
  // Garbage after a readable header is FORMERR with the ID; a short packet gets nothing.
  std::vector<uint8_t> junk = {0x12, 0x34, 0x28, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xff};
  auto bad = refusal_of(junk);
  EXPECT_EQ(bad.rcode, wire::rcode::FORMERR);
  ASSERT_TRUE(bad.header.has_value());
  EXPECT_EQ(bad.header->id, 0x1234);
  EXPECT_FALSE(refusal_of({1, 2, 3}).header.has_value());
}

TEST(UpdateGrants, NamesTypesAndZones) {
  Grant acme{N("example.com."),
             {*NamePattern::parse("_acme-challenge.example.com."),
              *NamePattern::parse("*.dyn.example.com.")},
             {T::TXT},
             "key acme."};
  Grant any{N("other.test."), {}, {}, "from 127.0.0.0/8"};
  std::vector<const Grant*> grants{&acme, &any};
  auto verdict = [&](const char* zone, std::vector<wire::Record> updates) {
    return check(store::Update{N(zone), {}, std::move(updates)}, grants);
  };
  EXPECT_TRUE(verdict("example.com.",
                      {rec("_acme-challenge.example.com.", T::TXT, C::IN, 60, {1, 'x'})})
                  .allowed);
  EXPECT_TRUE(verdict("example.com.", {rec("a.b.dyn.example.com.", T::TXT, C::ANY, 0)}).allowed);
  // dyn itself is not below dyn.
  EXPECT_FALSE(verdict("example.com.", {rec("dyn.example.com.", T::TXT, C::ANY, 0)}).allowed);
  auto wrong_type =
      verdict("example.com.", {rec("_acme-challenge.example.com.", T::A, C::IN, 60, {1, 2, 3, 4})});
  EXPECT_FALSE(wrong_type.allowed);
  EXPECT_NE(wrong_type.reason.find("adding _acme-challenge.example.com. A"), std::string::npos)
      << wrong_type.reason;
  // Deleting every type needs a grant without a type list.
  EXPECT_FALSE(verdict("example.com.", {rec("_acme-challenge.example.com.", T::ANY, C::ANY, 0)})
                   .allowed);
  EXPECT_TRUE(verdict("other.test.", {rec("x.other.test.", T::ANY, C::ANY, 0)}).allowed);
  // One record not granted refuses the whole update.
  EXPECT_FALSE(verdict("example.com.",
                       {rec("_acme-challenge.example.com.", T::TXT, C::IN, 60, {1, 'x'}),
                        rec("www.example.com.", T::TXT, C::IN, 60, {1, 'x'})})
                   .allowed);
  EXPECT_FALSE(check(store::Update{N("other.test."), {}, {rec("x.other.test.", T::A, C::ANY, 0)}},
                     {})
                   .allowed);
  EXPECT_FALSE(NamePattern::parse("*").has_value());
}

TEST(UpdateResponse, EchoesIdZoneAndOpcode) {
  wire::Header request;
  request.id = 0x4242;
  request.opcode = wire::opcode::UPDATE;
  std::vector<uint8_t> out(512);
  size_t n = write_response(out, request, zone_q("example.com."), true, wire::rcode::NXRRSET);
  ASSERT_GT(n, 0u);
  wire::Message m;
  ASSERT_EQ(wire::parse_message({out.data(), n}, m), wire::WireError::ok);
  EXPECT_EQ(m.header.id, 0x4242);
  EXPECT_TRUE(m.header.qr);
  EXPECT_EQ(m.header.opcode, wire::opcode::UPDATE);
  EXPECT_EQ(m.header.rcode, wire::rcode::NXRRSET);
  ASSERT_EQ(m.questions.size(), 1u);
  EXPECT_EQ(m.questions[0].name, N("example.com."));
  EXPECT_TRUE(m.edns.has_value());
}

}  // namespace
}  // namespace raftdns::update
