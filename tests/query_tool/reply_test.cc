// Unit tests of raftdns-query's reply walker, record presentation, --expect comparison and options.
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "tools/query/dns_text.h"
#include "tools/query/expect.h"
#include "tools/query/options.h"
#include "tools/query/reply.h"

namespace raftdns::query_tool {
namespace {

// Builds replies byte by byte, so each test shows exactly what is on the wire.
class Message {
 public:
  Message& u8(uint8_t v) {
    bytes.push_back(v);
    return *this;
  }
  Message& u16(uint16_t v) { return u8(static_cast<uint8_t>(v >> 8)).u8(static_cast<uint8_t>(v)); }
  Message& u32(uint32_t v) {
    return u16(static_cast<uint16_t>(v >> 16)).u16(static_cast<uint16_t>(v));
  }
  Message& name(const std::vector<std::string>& labels) {
    for (const auto& label : labels) {
      u8(static_cast<uint8_t>(label.size()));
      bytes.insert(bytes.end(), label.begin(), label.end());
    }
    return u8(0);
  }
  Message& pointer(uint16_t offset) { return u16(static_cast<uint16_t>(0xC000 | offset)); }
  Message& header(uint16_t flags, uint16_t qd, uint16_t an, uint16_t ns, uint16_t ar) {
    return u16(0x1234).u16(flags).u16(qd).u16(an).u16(ns).u16(ar);
  }
  std::vector<uint8_t> bytes;
};

// Header plus the question "www.example.com. IN <type>"; the name is at offset 12.
Message with_question(uint16_t flags, uint16_t an, uint16_t ns, uint16_t ar, uint16_t qtype) {
  Message m;
  m.header(flags, 1, an, ns, ar).name({"www", "example", "com"}).u16(qtype).u16(1);
  return m;
}

TEST(ReplyWalker, ReadsHeaderFlagsQuestionAndCompressedAnswer) {
  Message m = with_question(0x8580, 1, 0, 0, kTypeA);
  m.pointer(12).u16(kTypeA).u16(1).u32(300).u16(4).u8(192).u8(0).u8(2).u8(10);
  auto reply = parse_reply(m.bytes);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->id, 0x1234);
  EXPECT_TRUE(reply->flags & kFlagQr);
  EXPECT_TRUE(reply->flags & kFlagAa);
  EXPECT_TRUE(reply->flags & kFlagRd);
  EXPECT_TRUE(reply->flags & kFlagRa);
  EXPECT_EQ(reply->rcode, 0);
  ASSERT_EQ(reply->questions.size(), 1u);
  EXPECT_EQ(reply->questions[0].name, "www.example.com.");
  ASSERT_EQ(reply->answer.size(), 1u);
  EXPECT_EQ(present_record(m.bytes, reply->answer[0]), "www.example.com.\t300\tIN\tA\t192.0.2.10");
}

TEST(ReplyWalker, RefusesReplyShorterThanHeader) {
  std::vector<uint8_t> bytes = {0x12, 0x34, 0x81, 0x80, 0x00};
  auto reply = parse_reply(bytes);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("shorter than the 12-octet header"), std::string::npos);
}

TEST(ReplyWalker, RefusesCompressionPointerThatPointsForward) {
  Message m;
  m.header(0x8180, 1, 0, 0, 0).pointer(14).u16(1).u16(1);
  auto reply = parse_reply(m.bytes);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("does not point backwards"), std::string::npos) << reply.error();
}

TEST(ReplyWalker, RefusesCompressionPointerToItself) {
  Message m;
  m.header(0x8180, 1, 0, 0, 0).pointer(12).u16(1).u16(1);
  EXPECT_FALSE(parse_reply(m.bytes).ok());
}

TEST(ReplyWalker, RefusesRdataRunningPastTheEnd) {
  Message m = with_question(0x8180, 1, 0, 0, kTypeA);
  m.pointer(12).u16(kTypeA).u16(1).u32(300).u16(4).u8(192).u8(0);
  auto reply = parse_reply(m.bytes);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("answer record 1"), std::string::npos) << reply.error();
}

TEST(ReplyWalker, RefusesMoreRecordsAnnouncedThanPresent) {
  Message m = with_question(0x8180, 2, 0, 0, kTypeA);
  m.pointer(12).u16(kTypeA).u16(1).u32(300).u16(4).u8(192).u8(0).u8(2).u8(10);
  auto reply = parse_reply(m.bytes);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("answer record 2"), std::string::npos) << reply.error();
}

TEST(ReplyWalker, RefusesTrailingOctets) {
  Message m = with_question(0x8180, 0, 0, 0, kTypeA);
  m.u8(0xFF);
  auto reply = parse_reply(m.bytes);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("follow the last record"), std::string::npos);
}

TEST(ReplyWalker, RefusesNameLongerThan255Octets) {
  Message m;
  m.header(0x8180, 1, 0, 0, 0);
  for (int i = 0; i < 5; ++i) m.u8(63).bytes.insert(m.bytes.end(), 63, 'a');
  m.u8(0).u16(1).u16(1);
  auto reply = parse_reply(m.bytes);
  ASSERT_FALSE(reply.ok());
  EXPECT_NE(reply.error().find("longer than 255"), std::string::npos);
}

TEST(ReplyWalker, ExtendedRcodeComesFromOptRecord) {
  // BADVERS (16): header rcode 0, OPT extended rcode 1.
  Message m = with_question(0x8180, 0, 0, 1, kTypeA);
  m.u8(0).u16(kTypeOpt).u16(1232).u32(0x01008000).u16(0);
  auto reply = parse_reply(m.bytes);
  ASSERT_TRUE(reply.ok()) << reply.error();
  EXPECT_EQ(reply->rcode, 16);
  EXPECT_EQ(rcode_to_text(reply->rcode), "BADVERS");
  ASSERT_TRUE(reply->edns.has_value());
  EXPECT_EQ(reply->edns->udp_size, 1232);
  EXPECT_TRUE(reply->edns->dnssec_ok);
  EXPECT_TRUE(reply->additional.empty());
}

TEST(ReplyWalker, RefusesSecondOptRecord) {
  Message m = with_question(0x8180, 0, 0, 2, kTypeA);
  m.u8(0).u16(kTypeOpt).u16(1232).u32(0).u16(0);
  m.u8(0).u16(kTypeOpt).u16(1232).u32(0).u16(0);
  EXPECT_FALSE(parse_reply(m.bytes).ok());
}

TEST(RecordPresentation, UnknownTypeIsShownInRfc3597Form) {
  Message m = with_question(0x8180, 1, 0, 0, 65280);
  m.pointer(12).u16(65280).u16(1).u32(60).u16(4).u8(0x0A).u8(0x0B).u8(0x0C).u8(0x0D);
  auto reply = parse_reply(m.bytes);
  ASSERT_TRUE(reply.ok());
  EXPECT_EQ(present_record(m.bytes, reply->answer[0]),
            "www.example.com.\t60\tIN\tTYPE65280\t\\# 4 0A0B0C0D");
}

TEST(RecordPresentation, MxTargetCompressedAgainstTheQuestionIsDecodedByCares) {
  Message m = with_question(0x8180, 1, 0, 0, kTypeMx);
  // rdata: preference 10, "mail" + pointer to "example.com" at offset 16.
  m.pointer(12).u16(kTypeMx).u16(1).u32(300).u16(2 + 5 + 2).u16(10).u8(4);
  m.bytes.insert(m.bytes.end(), {'m', 'a', 'i', 'l'});
  m.pointer(16);
  auto reply = parse_reply(m.bytes);
  ASSERT_TRUE(reply.ok()) << reply.error();
  RdataText text = present_rdata(m.bytes, reply->answer[0]);
  EXPECT_TRUE(text.parsed_by_cares);
  EXPECT_EQ(text.text, "10 mail.example.com.");
}

TEST(RecordPresentation, TxtKeepsStringsApartAndJoinsThemForComparison) {
  Message m = with_question(0x8180, 1, 0, 0, kTypeTxt);
  m.pointer(12).u16(kTypeTxt).u16(1).u32(300).u16(1 + 3 + 1 + 4).u8(3);
  m.bytes.insert(m.bytes.end(), {'a', ' ', 'b'});
  m.u8(4);
  m.bytes.insert(m.bytes.end(), {'c', '"', 'd', '\\'});
  auto reply = parse_reply(m.bytes);
  ASSERT_TRUE(reply.ok());
  RdataText text = present_rdata(m.bytes, reply->answer[0]);
  EXPECT_EQ(text.text, "\"a b\" \"c\\\"d\\\\\"");
  EXPECT_EQ(text.joined_text, "a bc\"d\\");
}

TEST(RecordPresentation, MalformedKnownTypeFallsBackToGenericFormWithANote) {
  Message m = with_question(0x8180, 1, 0, 0, kTypeA);
  m.pointer(12).u16(kTypeA).u16(1).u32(300).u16(3).u8(1).u8(2).u8(3);
  auto reply = parse_reply(m.bytes);
  ASSERT_TRUE(reply.ok());
  RdataText text = present_rdata(m.bytes, reply->answer[0]);
  EXPECT_EQ(text.text, "\\# 3 010203");
  EXPECT_FALSE(text.note.empty());
}

TEST(ExpectComparison, AddressesAndNamesAreComparedNormalised) {
  EXPECT_EQ(comparable_value(kTypeAaaa, "2001:DB8:0::1"), "2001:db8::1");
  EXPECT_EQ(comparable_value(kTypeCname, "WWW.Example.com"), "www.example.com.");
  EXPECT_EQ(comparable_value(kTypeMx, "10   Mail.example.com"), "10 mail.example.com.");
  EXPECT_EQ(comparable_value(kTypeTxt, "\"a  b\"  \"c\""), "\"a  b\" \"c\"");
}

TEST(ExpectComparison, DiffListsMissingAndUnexpectedValues) {
  std::vector<AnswerValue> actual = {{kTypeA, "192.0.2.10", ""}, {kTypeA, "192.0.2.11", ""}};
  AnswerDiff diff = compare_answer_set({"192.0.2.10", "192.0.2.99"}, actual);
  EXPECT_FALSE(diff.equal());
  EXPECT_EQ(diff.missing, std::vector<std::string>{"192.0.2.99"});
  EXPECT_EQ(diff.unexpected, std::vector<std::string>{"192.0.2.11"});
}

TEST(ExpectComparison, SetsCompareAsMultisets) {
  std::vector<AnswerValue> actual = {{kTypeA, "192.0.2.10", ""}};
  EXPECT_FALSE(compare_answer_set({"192.0.2.10", "192.0.2.10"}, actual).equal());
  EXPECT_TRUE(compare_answer_set({}, {}).equal());
}

TEST(ExpectComparison, TxtMatchesItsUnquotedJoinedText) {
  std::vector<AnswerValue> actual = {{kTypeTxt, "\"hello world\"", "hello world"}};
  EXPECT_TRUE(compare_answer_set({"hello world"}, actual).equal());
  EXPECT_TRUE(compare_answer_set({"\"hello world\""}, actual).equal());
  EXPECT_FALSE(compare_answer_set({"hello"}, actual).equal());
}

Result<Options> parse(std::vector<std::string> args) {
  args.insert(args.begin(), "raftdns-query");
  std::vector<char*> argv;
  for (auto& arg : args) argv.push_back(arg.data());
  return parse_options(static_cast<int>(argv.size()), argv.data());
}

TEST(CommandLine, ServersTakeTheDefaultPortUnlessTheyNameOne) {
  auto options = parse({"@127.0.0.1,[::1]:5300,::1,10.0.0.1:99", "-p", "5353", "example.com"});
  ASSERT_TRUE(options.ok()) << options.error();
  EXPECT_EQ(options->resolver.servers_csv, "127.0.0.1:5353,[::1]:5300,[::1]:5353,10.0.0.1:99");
  EXPECT_EQ(options->resolver.server_count, 4u);
}

TEST(CommandLine, HostNamesAreNotAcceptedAsServers) {
  auto options = parse({"@localhost", "example.com"});
  ASSERT_FALSE(options.ok());
  EXPECT_NE(options.error().find("not a numeric"), std::string::npos);
}

TEST(CommandLine, ExpectTakesValuesUpToTheNextOption) {
  auto options = parse({"www.example.com", "A", "--expect", "192.0.2.1", "192.0.2.2", "--tcp"});
  ASSERT_TRUE(options.ok()) << options.error();
  ASSERT_TRUE(options->expect.has_value());
  EXPECT_EQ(*options->expect, (std::vector<std::string>{"192.0.2.1", "192.0.2.2"}));
  EXPECT_TRUE(options->resolver.use_tcp);
}

TEST(CommandLine, ExpectWithoutValuesMeansAnEmptyAnswer) {
  auto options = parse({"nothing.example.com", "--expect"});
  ASSERT_TRUE(options.ok());
  ASSERT_TRUE(options->expect.has_value());
  EXPECT_TRUE(options->expect->empty());
}

TEST(CommandLine, TypesDefaultToAAndAcceptGenericForm) {
  auto plain = parse({"example.com"});
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(plain->types, std::vector<uint16_t>{kTypeA});
  auto generic = parse({"example.com", "mx", "TYPE65280"});
  ASSERT_TRUE(generic.ok());
  EXPECT_EQ(generic->types, (std::vector<uint16_t>{kTypeMx, 65280}));
}

TEST(CommandLine, BatchRefusesQuestionsOnTheCommandLineAndExpect) {
  EXPECT_FALSE(parse({"--batch", "f.txt", "example.com"}).ok());
  EXPECT_FALSE(parse({"--batch", "f.txt", "--expect", "1.2.3.4"}).ok());
  EXPECT_FALSE(parse({"--stats", "example.com"}).ok());
}

}  // namespace
}  // namespace raftdns::query_tool
