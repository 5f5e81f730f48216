// Unit tests for the message reader and the compressing writer, EDNS0 included.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <new>

#include "daemon/wire/message.h"
#include "tests/wire/bytes.h"

// Counts heap allocations so the tests can prove parse_query makes none. GCC
// sees malloc/free behind the replaced operators and warns needlessly.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
namespace {
std::atomic<size_t> g_allocations{0};
}
void* operator new(size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n ? n : 1)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, size_t) noexcept { std::free(p); }

namespace raftdns::wire {
namespace {

using testing::cat;
using testing::hex;
using testing::to_hex;

Name N(std::string_view text) { return *Name::from_text(text); }

Record R(std::string_view owner, uint16_t type, uint32_t ttl, const std::vector<uint8_t>& rdata) {
  return Record{N(owner), type, rrclass::IN, ttl, rdata};
}

// Name in uncompressed wire form, as bytes.
std::vector<uint8_t> W(std::string_view text) {
  Name n = N(text);
  return {n.wire().begin(), n.wire().end()};
}

std::vector<uint8_t> finish(MessageWriter& w, std::vector<uint8_t>& buf) {
  size_t n = w.finish();
  return {buf.begin(), buf.begin() + static_cast<long>(n)};
}

const char* kQueryHeader = "1234 0100 0001 0000 0000 0000";

TEST(Header, FlagBitsLandInTheirRfc1035Positions) {
  Message m;
  m.header = Header{0xbeef, true, true, true, true, true, true, true, opcode::NOTIFY, 5};
  EXPECT_EQ(encode_message(m), hex("beef a7b5 0000 0000 0000 0000"));
  Message back;
  ASSERT_EQ(parse_message(encode_message(m), back), WireError::ok);
  EXPECT_TRUE(back.header.qr && back.header.aa && back.header.tc && back.header.rd &&
              back.header.ra && back.header.ad && back.header.cd);
  EXPECT_EQ(back.header.opcode, opcode::NOTIFY);
  EXPECT_EQ(back.header.rcode, 5);
}

TEST(Writer, QueryEncodesByteExact) {
  Message m;
  m.header.id = 0x1234;
  m.header.rd = true;
  m.questions.push_back({N("www.example.com."), rrtype::A, rrclass::IN});
  EXPECT_EQ(to_hex(encode_message(m)),
            to_hex(cat({hex(kQueryHeader), W("www.example.com."), hex("0001 0001")})));
}

TEST(Writer, CompressesOwnersAndRfc1035RdataNamesBackwards) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 512);
  Header h;
  h.id = 0x1234;
  h.qr = h.aa = true;
  w.set_header(h);
  ASSERT_TRUE(w.add_question({N("WWW.Example.com."), rrtype::A, rrclass::IN}));
  ASSERT_TRUE(w.add_record(Section::answer,
                           R("www.example.com.", rrtype::CNAME, 300, W("web.example.com."))));
  ASSERT_TRUE(
      w.add_record(Section::answer, R("web.example.com.", rrtype::A, 300, hex("c0000201"))));
  ASSERT_TRUE(
      w.add_record(Section::authority, R("example.com.", rrtype::NS, 3600, W("ns1.example.com."))));
  ASSERT_TRUE(
      w.add_record(Section::additional, R("ns1.example.com.", rrtype::A, 3600, hex("c0000235"))));
  auto expected = cat({
      hex("1234 8400 0001 0002 0001 0001"),
      W("WWW.Example.com."),
      hex("0001 0001"),                                   // question at 12
      hex("c00c 0005 0001 0000012c 0006 03776562 c010"),  // web at 45
      hex("c02d 0001 0001 0000012c 0004 c0000201"),       //
      hex("c010 0002 0001 00000e10 0006 036e7331 c010"),  // ns1 at 79
      hex("c04f 0001 0001 00000e10 0004 c0000235"),
  });
  EXPECT_EQ(to_hex(finish(w, buf)), to_hex(expected));
}

TEST(Writer, CompressesSoaAndMxButNotSrvRdata) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 512);
  ASSERT_TRUE(w.add_question({N("example.com."), rrtype::SOA, rrclass::IN}));
  auto soa = cat({W("ns1.example.com."), W("hostmaster.example.com."),
                  hex("00000001 00000002 00000003 00000004 00000005")});
  ASSERT_TRUE(w.add_record(Section::answer, R("example.com.", rrtype::SOA, 3600, soa)));
  ASSERT_TRUE(w.add_record(Section::answer, R("example.com.", rrtype::MX, 3600,
                                              cat({hex("000a"), W("mail.example.com.")}))));
  auto srv = cat({hex("0000 0000 13c4"), W("ns1.example.com.")});
  ASSERT_TRUE(w.add_record(Section::answer, R("example.com.", rrtype::SRV, 3600, srv)));
  auto expected = cat({
      hex("0000 0000 0001 0003 0000 0000"),
      W("example.com."),
      hex("0006 0001"),
      hex("c00c 0006 0001 00000e10 0027 036e7331 c00c 0a686f73746d6173746572 c00c"
          "00000001 00000002 00000003 00000004 00000005"),
      hex("c00c 000f 0001 00000e10 0009 000a 046d61696c c00c"),
      hex("c00c 0021 0001 00000e10 0017"),
      srv,
  });
  EXPECT_EQ(to_hex(finish(w, buf)), to_hex(expected));

  // The reader restores the uncompressed RDATA.
  Message m;
  ASSERT_EQ(parse_message(expected, m), WireError::ok);
  ASSERT_EQ(m.answer.size(), 3u);
  EXPECT_EQ(m.answer[0].rdata, soa);
  EXPECT_EQ(m.answer[1].rdata, cat({hex("000a"), W("mail.example.com.")}));
  EXPECT_EQ(m.answer[2].rdata, srv);
}

TEST(Writer, FailedAddRollsBackBytesCountsAndCompressionTargets) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 64);
  ASSERT_TRUE(w.add_question({N("a.example."), rrtype::SOA, rrclass::IN}));  // ends at 27
  size_t before = w.size();
  std::vector<uint8_t> big(40, 'x');
  big[0] = 39;
  // The owner name would fit but the RDATA does not: nothing may remain.
  EXPECT_FALSE(w.add_record(Section::answer, R("other.example.", rrtype::TXT, 1, big)));
  EXPECT_EQ(w.size(), before);
  // An SOA whose MNAME fits (at offset 39) but whose RNAME does not.
  auto soa = cat({W("target.example."), W("hostmasterhostmaster.example."),
                  hex("00000001 00000002 00000003 00000004 00000005")});
  EXPECT_FALSE(w.add_record(Section::answer, R("a.example.", rrtype::SOA, 1, soa)));
  EXPECT_EQ(w.size(), before);
  // Offset 39 now holds other bytes; "target" must not be compressed to it.
  ASSERT_TRUE(w.add_record(Section::answer, R("a.example.", rrtype::A, 1, hex("01020304"))));
  ASSERT_TRUE(
      w.add_record(Section::answer, R("a.example.", rrtype::CNAME, 1, W("target.example."))));
  EXPECT_FALSE(w.add_record(Section::answer, R("a.example.", rrtype::A, 1, hex("01020305"))));
  auto expected = cat({hex("0000 0000 0001 0002 0000 0000"), W("a.example."), hex("0006 0001"),
                       hex("c00c 0001 0001 00000001 0004 01020304"),
                       hex("c00c 0005 0001 00000001 0009 06746172676574 c00e")});
  EXPECT_EQ(to_hex(finish(w, buf)), to_hex(expected));
  EXPECT_EQ(expected.size(), 64u);
}

TEST(Writer, ReservedOptSpaceIsKeptForTheOptRecord) {
  std::vector<uint8_t> buf(512);
  // Header 12 + question 21 + A record 16 = 49; the OPT needs 11 more.
  Edns e;
  e.udp_size = 1232;
  {
    MessageWriter w(buf, 59);
    w.reserve_opt(e);
    ASSERT_TRUE(w.add_question({N("www.example.com."), rrtype::A, rrclass::IN}));
    EXPECT_FALSE(
        w.add_record(Section::answer, R("www.example.com.", rrtype::A, 1, hex("01020304"))));
  }
  MessageWriter w(buf, 60);
  w.reserve_opt(e);
  ASSERT_TRUE(w.add_question({N("www.example.com."), rrtype::A, rrclass::IN}));
  ASSERT_TRUE(w.add_record(Section::answer, R("www.example.com.", rrtype::A, 1, hex("01020304"))));
  EXPECT_EQ(w.finish(), 60u);
  EXPECT_EQ(to_hex({buf.begin() + 49, buf.begin() + 60}),
            to_hex(hex("00 0029 04d0 00000000 0000")));
  EXPECT_EQ(buf[11], 1);  // ARCOUNT counts the OPT
}

TEST(Edns, BadversPutsTheHighRcodeBitsInTheOptTtl) {
  std::vector<uint8_t> buf(512);
  MessageWriter w(buf, 512);
  Header h;
  h.id = 7;
  h.qr = true;
  h.rcode = static_cast<uint8_t>(rcode::BADVERS);
  w.set_header(h);
  Edns e;
  e.udp_size = 4096;
  e.do_bit = true;
  w.reserve_opt(e);
  ASSERT_TRUE(w.add_question({N("."), rrtype::SOA, rrclass::IN}));
  auto expected = hex("0007 8000 0001 0000 0000 0001 00 0006 0001 00 0029 1000 01008000 0000");
  EXPECT_EQ(to_hex(finish(w, buf)), to_hex(expected));

  Message m;
  ASSERT_EQ(parse_message(expected, m), WireError::ok);
  ASSERT_TRUE(m.edns.has_value());
  EXPECT_EQ(m.edns->extended_rcode, 1);
  EXPECT_EQ(m.header.rcode, 0);
  EXPECT_EQ((m.edns->extended_rcode << 4) | m.header.rcode, rcode::BADVERS);
  EXPECT_TRUE(m.edns->do_bit);
  EXPECT_EQ(m.edns->udp_size, 4096);
}

TEST(Edns, ExtendedRcodeFromEdnsFieldAndOptionsAreEmitted) {
  Message m;
  m.header.rcode = 0;
  m.edns = Edns{};
  m.edns->extended_rcode = 1;
  m.edns->version = 0;
  m.edns->options = hex("000a 0002 abcd");  // a COOKIE-like option
  auto bytes = encode_message(m);
  EXPECT_EQ(to_hex(bytes), to_hex(hex("0000 0000 0000 0000 0000 0001 00 0029 0200 01000000 0006"
                                      "000a 0002 abcd")));
  Message back;
  ASSERT_EQ(parse_message(bytes, back), WireError::ok);
  EXPECT_EQ(back.edns->options, m.edns->options);
}

std::vector<uint8_t> query_with_opt(const char* opt_hex, uint16_t arcount = 1) {
  auto q = cat({hex("1234 0100 0001 0000 0000"),
                {0, static_cast<uint8_t>(arcount)},
                W("example.com."),
                hex("0001 0001"),
                hex(opt_hex)});
  return q;
}

TEST(ParseQuery, ReadsQuestionAndEdnsFields) {
  QueryView v;
  ASSERT_EQ(parse_query(query_with_opt("00 0029 04d0 00008000 0000"), v), WireError::ok);
  EXPECT_EQ(v.header.id, 0x1234);
  EXPECT_TRUE(v.header.rd);
  ASSERT_TRUE(v.has_question);
  EXPECT_EQ(v.question.name.to_text(), "example.com.");
  EXPECT_EQ(v.question.qtype, rrtype::A);
  EXPECT_TRUE(v.has_edns);
  EXPECT_EQ(v.edns_udp_size, 1232);
  EXPECT_TRUE(v.edns_do);
  EXPECT_EQ(v.edns_version, 0);
}

TEST(ParseQuery, ReportsEdnsVersionSoTheEngineCanAnswerBadvers) {
  QueryView v;
  ASSERT_EQ(parse_query(query_with_opt("00 0029 1000 00010000 0000"), v), WireError::ok);
  EXPECT_TRUE(v.has_edns);
  EXPECT_EQ(v.edns_version, 1);
}

TEST(ParseQuery, ClampsSmallUdpSizesTo512) {
  QueryView v;
  ASSERT_EQ(parse_query(query_with_opt("00 0029 0064 00000000 0000"), v), WireError::ok);
  EXPECT_EQ(v.edns_udp_size, 512);
}

TEST(ParseQuery, RejectsMalformedOpt) {
  QueryView v;
  // Owner not the root.
  EXPECT_EQ(parse_query(query_with_opt("01 61 00 0029 1000 00000000 0000"), v), WireError::bad_opt);
  // Two OPT records.
  EXPECT_EQ(
      parse_query(query_with_opt("00 0029 1000 00000000 0000 00 0029 1000 00000000 0000", 2), v),
      WireError::bad_opt);
  // An option whose length runs past the RDATA.
  EXPECT_EQ(parse_query(query_with_opt("00 0029 1000 00000000 0006 000a 0005 abcd"), v),
            WireError::bad_opt);
  // A partial option header.
  EXPECT_EQ(parse_query(query_with_opt("00 0029 1000 00000000 0002 000a"), v), WireError::bad_opt);
  // OPT in the answer section.
  auto in_answer = cat({hex("1234 0100 0001 0001 0000 0000"), W("example.com."),
                        hex("0001 0001 00 0029 1000 00000000 0000")});
  EXPECT_EQ(parse_query(in_answer, v), WireError::bad_opt);
  Message m;
  EXPECT_EQ(parse_message(in_answer, m), WireError::bad_opt);
  EXPECT_EQ(parse_message(query_with_opt("01 61 00 0029 1000 00000000 0000"), m),
            WireError::bad_opt);
}

TEST(ParseQuery, HeaderIsAvailableEvenWhenTheRestIsMalformed) {
  QueryView v;
  auto q = query_with_opt("00 0029");  // OPT cut short
  EXPECT_EQ(parse_query(q, v), WireError::truncated);
  EXPECT_EQ(v.header.id, 0x1234);
  EXPECT_EQ(v.header.qdcount, 1);
}

TEST(ParseQuery, TrailingGarbageIsAnError) {
  QueryView v;
  auto q = query_with_opt("00 0029 1000 00000000 0000 ff");
  EXPECT_EQ(parse_query(q, v), WireError::trailing_data);
  Message m;
  EXPECT_EQ(parse_message(q, m), WireError::trailing_data);
}

TEST(ParseQuery, QdcountZeroAndTwoAreReportedNotRejected) {
  QueryView v;
  ASSERT_EQ(parse_query(hex("0001 0000 0000 0000 0000 0000"), v), WireError::ok);
  EXPECT_FALSE(v.has_question);
  auto two = cat(
      {hex("0001 0000 0002 0000 0000 0000"), W("a."), hex("0001 0001"), W("b."), hex("001c 0001")});
  ASSERT_EQ(parse_query(two, v), WireError::ok);
  EXPECT_EQ(v.header.qdcount, 2);
  EXPECT_EQ(v.question.name.to_text(), "a.");
}

TEST(ParseQuery, MakesNoHeapAllocations) {
  // One EDNS option: an empty Padding option (RFC 7830, code 12).
  auto q = query_with_opt("00 0029 04d0 00008000 0004 000c 0000");
  QueryView v;
  size_t before = g_allocations.load();
  WireError e = parse_query(q, v);
  size_t after = g_allocations.load();
  EXPECT_EQ(e, WireError::ok);
  EXPECT_EQ(after - before, 0u);
}

// RFC 7873 §5.2.2: a COOKIE option holds an 8-octet client cookie and
// possibly an 8- to 32-octet server cookie; any other length, or a second
// COOKIE, makes the query malformed.
TEST(ParseQuery, ReadsTheCookieOptionAndRefusesBadLengths) {
  QueryView v;
  ASSERT_EQ(parse_query(query_with_opt("00 0029 04d0 00000000 000c 000a 0008 0102030405060708"), v),
            WireError::ok);
  EXPECT_TRUE(v.has_cookie);
  EXPECT_EQ(v.client_cookie[7], 8);
  EXPECT_EQ(v.server_cookie_length, 0);
  ASSERT_EQ(parse_query(query_with_opt("00 0029 04d0 00000000 001c 000a 0018 0102030405060708"
                                       "01000000 11223344 aabbccddeeff0011"),
                        v),
            WireError::ok);
  EXPECT_EQ(v.server_cookie_length, 16);
  EXPECT_EQ(v.server_cookie[15], 0x11);
  for (const char* opt : {"0004 000a 0000", "000d 000a 0009 010203040506070809",
                          "0018 000a 0008 0102030405060708 000a 0008 0102030405060708"}) {
    std::string rr = std::string("00 0029 04d0 00000000 ") + opt;
    EXPECT_EQ(parse_query(query_with_opt(rr.c_str()), v), WireError::bad_opt) << opt;
  }
}

TEST(Parser, RefusesEveryTruncationOfAValidMessage) {
  Message m;
  m.header.id = 9;
  m.questions.push_back({N("www.example.com."), rrtype::MX, rrclass::IN});
  m.answer.push_back(
      R("www.example.com.", rrtype::MX, 60, cat({hex("000a"), W("mx.example.com.")})));
  m.additional.push_back(R("mx.example.com.", rrtype::A, 60, hex("01020304")));
  m.edns = Edns{};
  auto bytes = encode_message(m);
  Message out;
  ASSERT_EQ(parse_message(bytes, out), WireError::ok);
  for (size_t n = 0; n < bytes.size(); ++n) {
    std::span<const uint8_t> prefix(bytes.data(), n);
    EXPECT_NE(parse_message(prefix, out), WireError::ok) << "prefix " << n;
    QueryView v;
    EXPECT_NE(parse_query(prefix, v), WireError::ok) << "prefix " << n;
  }
}

TEST(Parser, RefusesSelfAndForwardPointers) {
  Message m;
  QueryView v;
  // Question name is a pointer to itself (offset 12).
  auto self = hex("0001 0000 0001 0000 0000 0000 c00c 0001 0001");
  EXPECT_EQ(parse_message(self, m), WireError::bad_pointer);
  EXPECT_EQ(parse_query(self, v), WireError::bad_pointer);
  // Pointer forward to a name that follows it.
  auto fwd = hex("0001 0000 0001 0000 0000 0000 c012 0001 0001 01 61 00");
  EXPECT_EQ(parse_query(fwd, v), WireError::bad_pointer);
  // A label that jumps back into the name being read: "a" then pointer to "a".
  auto loop = hex("0001 0000 0001 0000 0000 0000 01 61 c00c 0001 0001");
  EXPECT_EQ(parse_query(loop, v), WireError::bad_pointer);
  // Pointer into the header.
  auto header = hex("0001 0000 0001 0000 0000 0000 c002 0001 0001");
  EXPECT_EQ(parse_query(header, v), WireError::bad_pointer);
}

// A message whose answer owner ends a chain of `hops` pointers, each to the
// one before it, hidden in the RDATA of a preceding opaque record.
std::vector<uint8_t> pointer_chain(size_t hops) {
  auto msg = cat({hex("0001 0000 0001 0002 0000 0000"), hex("00 0001 0001")});  // question "."
  // Record 1: owner ".", TYPE65280, RDATA = root + (hops-1) chained pointers.
  size_t rdata_start = msg.size() + 1 + 10;
  std::vector<uint8_t> chain = {0};
  size_t prev = rdata_start;
  for (size_t i = 1; i < hops; ++i) {
    size_t here = rdata_start + chain.size();
    chain.push_back(static_cast<uint8_t>(0xc0 | prev >> 8));
    chain.push_back(static_cast<uint8_t>(prev));
    prev = here;
  }
  msg = cat({msg,
             hex("00 ff00 0001 00000000"),
             {static_cast<uint8_t>(chain.size() >> 8), static_cast<uint8_t>(chain.size())},
             chain});
  // Record 2: its owner is a pointer to the last link.
  msg = cat({msg,
             {static_cast<uint8_t>(0xc0 | prev >> 8), static_cast<uint8_t>(prev)},
             hex("0001 0001 00000000 0004 01020304")});
  return msg;
}

TEST(Parser, FollowsAtMostMaxPointersPerName) {
  Message m;
  QueryView v;
  ASSERT_EQ(parse_message(pointer_chain(kMaxPointers), m), WireError::ok);
  EXPECT_TRUE(m.answer[1].owner.is_root());
  EXPECT_EQ(parse_query(pointer_chain(kMaxPointers), v), WireError::ok);
  EXPECT_EQ(parse_message(pointer_chain(kMaxPointers + 1), m), WireError::bad_pointer);
  EXPECT_EQ(parse_query(pointer_chain(kMaxPointers + 1), v), WireError::bad_pointer);
}

TEST(Parser, RefusesOversizedNamesAndLabels) {
  QueryView v;
  Message m;
  std::vector<uint8_t> name;
  for (int i = 0; i < 4; ++i) {
    name.push_back(63);
    name.insert(name.end(), 63, 'x');
  }
  auto too_long = cat({hex("0001 0000 0001 0000 0000 0000"), name, hex("01 61 00 0001 0001")});
  EXPECT_EQ(parse_query(too_long, v), WireError::name_too_long);
  EXPECT_EQ(parse_message(too_long, m), WireError::name_too_long);

  // Four 63-octet labels reached through pointers also exceed 255 octets.
  std::vector<uint8_t> label(64, 'y');
  label[0] = 63;
  auto via_pointers = cat({hex("0001 0000 0001 0001 0000 0000"), label, label, hex("00 0001 0001"),
                           label, label, hex("c00c 0001 0001 00000000 0000")});
  EXPECT_EQ(parse_query(via_pointers, v), WireError::name_too_long);

  // Label lengths 64..191 use the reserved 01/10 label types.
  EXPECT_EQ(parse_query(hex("0001 0000 0001 0000 0000 0000 40 00 0001 0001"), v),
            WireError::bad_label);
  EXPECT_EQ(parse_query(hex("0001 0000 0001 0000 0000 0000 80 00 0001 0001"), v),
            WireError::bad_label);
}

TEST(Parser, RdataLengthMustMatchTheRdata) {
  Message m;
  auto base = cat({hex("0001 8000 0001 0001 0000 0000"), W("a."), hex("0001 0001")});
  // An A record of 3 octets.
  EXPECT_EQ(parse_message(cat({base, hex("c00c 0001 0001 00000000 0003 010203")}), m),
            WireError::bad_rdata);
  // A CNAME whose name runs past RDLENGTH.
  EXPECT_EQ(parse_message(cat({base, hex("c00c 0005 0001 00000000 0002 01 62 00")}), m),
            WireError::bad_rdata);
  // An MX whose RDLENGTH is shorter than the preference.
  EXPECT_EQ(parse_message(cat({base, hex("c00c 000f 0001 00000000 0001 00")}), m),
            WireError::bad_rdata);
  // RDLENGTH past the end of the message.
  EXPECT_EQ(parse_message(cat({base, hex("c00c 0001 0001 00000000 0008 01020304")}), m),
            WireError::truncated);
}

TEST(RoundTrip, EveryTypeSurvivesEncodeAndParse) {
  Message m;
  m.header.id = 77;
  m.header.qr = true;
  m.questions.push_back({N("example.com."), rrtype::ANY, rrclass::IN});
  auto add = [&](uint16_t type, const std::vector<uint8_t>& rdata) {
    m.answer.push_back(R("x.example.com.", type, 300, rdata));
  };
  add(rrtype::A, hex("c0000201"));
  add(rrtype::AAAA, hex("20010db8000000000000000000000001"));
  add(rrtype::NS, W("ns.example.com."));
  add(rrtype::CNAME, W("target.example.com."));
  add(rrtype::SOA, cat({W("ns.example.com."), W("h.example.com."),
                        hex("00000001 00000002 00000003 00000004 00000005")}));
  add(rrtype::MX, cat({hex("0005"), W("mx.example.com.")}));
  add(rrtype::TXT, hex("03616263 00"));
  add(rrtype::PTR, W("p.example.com."));
  add(rrtype::SRV, cat({hex("0001 0002 0003"), W("s.example.com.")}));
  add(rrtype::CAA, hex("00 05 6973737565 61"));
  add(rrtype::DNAME, W("example.net."));
  add(rrtype::NAPTR, cat({hex("0001 0002 01 75 00 00"), W("r.example.com.")}));
  add(rrtype::SSHFP, hex("01 01 0102"));
  add(rrtype::TLSA, hex("03 01 01 abcd"));
  add(rrtype::SVCB, cat({hex("0001"), W("svc.example.com."), hex("0003 0002 01bb")}));
  add(rrtype::HTTPS, cat({hex("0001 00"), hex("0001 0003 02 6832")}));
  add(65280, hex("deadbeef"));
  m.authority.push_back(R("example.com.", rrtype::NS, 3600, W("ns.example.com.")));
  m.additional.push_back(R("ns.example.com.", rrtype::A, 3600, hex("c0000202")));
  m.edns = Edns{};
  m.edns->udp_size = 1232;

  auto bytes = encode_message(m);
  Message back;
  ASSERT_EQ(parse_message(bytes, back), WireError::ok);
  EXPECT_EQ(back.header.id, 77);
  EXPECT_EQ(back.header.ancount, m.answer.size());
  EXPECT_EQ(back.answer, m.answer);
  EXPECT_EQ(back.authority, m.authority);
  EXPECT_EQ(back.additional, m.additional);
  ASSERT_TRUE(back.edns.has_value());
  EXPECT_EQ(back.edns->udp_size, 1232);
  // Compression made it smaller than the uncompressed sum of its parts.
  size_t uncompressed = 0;
  for (const auto& rr : m.answer) uncompressed += rr.owner.wire_length() + 10 + rr.rdata.size();
  EXPECT_LT(bytes.size(), uncompressed);
}

TEST(RoundTrip, EncodeSetsTcAndStopsWhenAnswersDoNotFit) {
  Message m;
  m.questions.push_back({N("example.com."), rrtype::TXT, rrclass::IN});
  std::vector<uint8_t> txt(101, 'a');
  txt[0] = 100;
  for (int i = 0; i < 10; ++i) m.answer.push_back(R("example.com.", rrtype::TXT, 1, txt));
  auto bytes = encode_message(m, 512);
  EXPECT_LE(bytes.size(), 512u);
  Message back;
  ASSERT_EQ(parse_message(bytes, back), WireError::ok);
  EXPECT_TRUE(back.header.tc);
  EXPECT_EQ(back.answer.size(), 4u);  // 29 + 4 * 113 = 481; a fifth would pass 512
}

// RFC 6672 §2.5: the DNAME target goes out uncompressed, even when an
// earlier name would let it be compressed; the owner still is.
TEST(Writer, DnameTargetIsNeverCompressed) {
  Message m;
  m.header.qr = true;
  m.questions.push_back({N("x.example.com."), rrtype::A, rrclass::IN});
  m.answer.push_back(R("example.com.", rrtype::DNAME, 300, W("example.com.")));
  auto bytes = encode_message(m);
  auto target = W("example.com.");
  // Owner: a pointer into the question; RDATA: the 13 octets of the name.
  const size_t rdata_at = bytes.size() - target.size();
  ASSERT_GE(bytes.size(), target.size() + 2);
  EXPECT_EQ(bytes[rdata_at - 2], 0);
  EXPECT_EQ(bytes[rdata_at - 1], target.size());
  EXPECT_TRUE(std::equal(target.begin(), target.end(), bytes.begin() + rdata_at));
  Message back;
  ASSERT_EQ(parse_message(bytes, back), WireError::ok);
  EXPECT_EQ(back.answer, m.answer);
}

TEST(WireErrors, EveryErrorHasText) {
  for (auto e : {WireError::ok, WireError::truncated, WireError::bad_label,
                 WireError::name_too_long, WireError::bad_pointer, WireError::bad_rdata,
                 WireError::trailing_data, WireError::bad_opt, WireError::no_space}) {
    EXPECT_STRNE(wire_error_text(e), "unknown wire error");
  }
}

}  // namespace
}  // namespace raftdns::wire

namespace raftdns::wire {
namespace {

// Random single-octet corruptions of a valid response: the parsers must
// never read out of bounds (run under the sanitizer build), and whatever
// parse_message accepts must encode and parse again.
TEST(Parser, SurvivesCorruptedMessages) {
  Message m;
  m.header.id = 1;
  m.questions.push_back({N("www.example.com."), rrtype::MX, rrclass::IN});
  m.answer.push_back(
      R("www.example.com.", rrtype::MX, 60, cat({hex("000a"), W("mx.example.com.")})));
  m.answer.push_back(R("www.example.com.", rrtype::SOA, 60,
                       cat({W("ns.example.com."), W("h.example.com."),
                            hex("00000001 00000002 00000003 00000004 00000005")})));
  m.additional.push_back(R("mx.example.com.", rrtype::A, 60, hex("01020304")));
  m.edns = Edns{};
  const auto good = encode_message(m);
  uint32_t seed = 12345;
  auto next = [&] {
    seed = seed * 1103515245u + 12345u;
    return seed >> 16;
  };
  size_t accepted = 0;
  for (int i = 0; i < 20000; ++i) {
    auto bytes = good;
    int edits = 1 + static_cast<int>(next() % 3);
    for (int e = 0; e < edits; ++e) bytes[next() % bytes.size()] = static_cast<uint8_t>(next());
    if (next() % 4 == 0) bytes.resize(next() % bytes.size());
    QueryView v;
    (void)parse_query(bytes, v);
    Message out;
    if (parse_message(bytes, out) != WireError::ok) continue;
    ++accepted;
    Message again;
    ASSERT_EQ(parse_message(encode_message(out), again), WireError::ok);
    EXPECT_EQ(again.answer, out.answer);
  }
  EXPECT_GT(accepted, 0u);
}

}  // namespace
}  // namespace raftdns::wire
