// Unit tests for RDATA codecs: presentation text, validation, targets and SOA fields.
#include <gtest/gtest.h>

#include "daemon/wire/rr.h"
#include "tests/wire/bytes.h"

namespace raftdns::wire {
namespace {

using testing::hex;

struct TextCase {
  uint16_t type;
  const char* rdata_hex;
  const char* text;
};

// One well-formed RDATA per type with its expected presentation form.
const TextCase kCases[] = {
    {rrtype::A, "c0 00 02 0a", "192.0.2.10"},
    {rrtype::AAAA, "20010db8 00000000 00000000 00000001", "2001:db8::1"},
    {rrtype::NS, "03 6e7331 07 6578616d706c65 00", "ns1.example."},
    {rrtype::CNAME, "03 575757 01 78 00", "WWW.x."},
    {rrtype::PTR, "04 686f7374 00", "host."},
    {rrtype::DNAME, "07 6578616d706c65 03 6e6574 00", "example.net."},
    {rrtype::SOA,
     "03 6e7331 00 0a 686f73746d6173746572 00 78563412 00001c20 00000e10 00127500 0000012c",
     "ns1. hostmaster. 2018915346 7200 3600 1209600 300"},
    {rrtype::MX, "000a 04 6d61696c 00", "10 mail."},
    {rrtype::TXT, "05 68656c6c6f 00 07 6122625c0a3b7e", "\"hello\" \"\" \"a\\\"b\\\\\\010;~\""},
    {rrtype::SRV, "0001 0002 01bb 01 74 00", "1 2 443 t."},
    {rrtype::CAA, "00 05 6973737565 6c657473656e63727970742e6f7267", "0 issue \"letsencrypt.org\""},
    {rrtype::CAA, "80 03 746273 7f22", "128 tbs \"\\127\\\"\""},
    {rrtype::NAPTR, "0064 000a 01 75 07 4532552b736970 04 215e2e24 00",
     "100 10 \"u\" \"E2U+sip\" \"!^.$\" ."},
    {rrtype::SSHFP, "01 02 abcdef0123", "1 2 ABCDEF0123"},
    {rrtype::TLSA, "03 01 01 00ff", "3 1 1 00FF"},
    {rrtype::SVCB, "0000 03 666f6f 00", "0 foo."},
    {rrtype::HTTPS,
     "0001 00"
     "0000 0004 0001 0003"                          // mandatory=alpn,port
     "0001 0006 02 6832 02 6833"                    // alpn=h2,h3
     "0002 0000"                                    // no-default-alpn
     "0003 0002 01bb"                               // port=443
     "0004 0008 c0000201 c0000202"                  // ipv4hint
     "0005 0003 010203"                             // ech
     "0006 0010 20010db8000000000000000000000001",  // ipv6hint
     "1 . mandatory=alpn,port alpn=\"h2,h3\" no-default-alpn port=443 "
     "ipv4hint=192.0.2.1,192.0.2.2 ech=AQID ipv6hint=2001:db8::1"},
    {rrtype::SVCB,
     "0002 01 73 00"
     "0001 0008 03 612c62 03 615c62"  // alpn ids "a,b" and "a\b"
     "0007 0003 2f7131"               // dohpath, generic form
     "fde8 0000",                     // key65000 with no value
     // alpn ids holding ',' or '\\' are shown in the generic form, which
     // imports back exactly.
     "\\# 28 00020173000001000803612C6203615C62000700032F7131FDE80000"},
    {65280, "abcd01", "\\# 3 ABCD01"},
    {43, "", "\\# 0"},
};

TEST(Rdata, EveryKnownTypeHasItsPresentationForm) {
  for (const auto& c : kCases) {
    auto rdata = hex(c.rdata_hex);
    EXPECT_EQ(rdata_to_text(c.type, rdata), c.text) << type_to_text(c.type);
    EXPECT_TRUE(validate_rdata(c.type, rdata).ok()) << type_to_text(c.type);
  }
}

TEST(Rdata, MalformedKnownRdataFallsBackToRfc3597Form) {
  struct Bad {
    uint16_t type;
    const char* rdata_hex;
  };
  const Bad bad[] = {
      {rrtype::A, "c00002"},
      {rrtype::AAAA, "20010db8"},
      {rrtype::NS, "03 6e73"},                   // runs off the end
      {rrtype::CNAME, "01 61 00 ff"},            // trailing byte
      {rrtype::PTR, "c0 0c"},                    // compression pointer in stored RDATA
      {rrtype::SOA, "00 00 00000001"},           // short fixed fields
      {rrtype::MX, "000a"},                      // no exchange
      {rrtype::TXT, ""},                         // no strings at all
      {rrtype::TXT, "05 6162"},                  // string longer than RDATA
      {rrtype::SRV, "0001 0002 01"},             // short
      {rrtype::CAA, "00 00 61"},                 // empty tag
      {rrtype::CAA, "00 02 612d 61"},            // tag not alphanumeric
      {rrtype::NAPTR, "0064 000a 01 75 00 00"},  // no replacement
      {rrtype::SSHFP, "01 02"},                  // no fingerprint
      {rrtype::TLSA, "03 01 01"},                // no data
      {rrtype::SVCB, "0001"},                    // no target
      {rrtype::HTTPS, "0001 00 0003 0002 01bb 0001 0003 02 6832"},     // keys out of order
      {rrtype::HTTPS, "0001 00 0001 0003 02 6832 0001 0003 02 6833"},  // repeated key
      {rrtype::HTTPS, "0001 00 0003 0001 01"},                         // port of 1 octet
      {rrtype::HTTPS, "0001 00 0001 0003 00 0000"},                    // empty alpn id
      {rrtype::HTTPS, "0001 00 0000 0002 0000"},                       // mandatory lists itself
      {rrtype::HTTPS, "0001 00 0002 0001 00"},      // no-default-alpn with a value
      {rrtype::HTTPS, "0001 00 0004 0003 010203"},  // ipv4hint not a multiple of 4
      {rrtype::HTTPS, "0001 00 0003 0004 01bb"},    // length past the end
  };
  for (const auto& b : bad) {
    auto rdata = hex(b.rdata_hex);
    EXPECT_FALSE(validate_rdata(b.type, rdata).ok()) << type_to_text(b.type) << " " << b.rdata_hex;
    std::string expected = "\\# " + std::to_string(rdata.size());
    std::string text = rdata_to_text(b.type, rdata);
    EXPECT_EQ(text.substr(0, expected.size()), expected) << type_to_text(b.type);
  }
}

TEST(Rdata, UnknownTypesAcceptAnyBytes) {
  EXPECT_TRUE(validate_rdata(65280, hex("00ff")).ok());
  EXPECT_TRUE(validate_rdata(46, {}).ok());
}

TEST(Rdata, RecordTextIsOneAbsoluteLine) {
  Record rr{*Name::from_text("www.example."), rrtype::MX, rrclass::IN, 300, hex("000a 00")};
  EXPECT_EQ(record_to_text(rr), "www.example. 300 IN MX 10 .");
  rr.type = 65280;
  EXPECT_EQ(record_to_text(rr), "www.example. 300 IN TYPE65280 \\# 3 000A00");
  // A type with a mnemonic but no codec here (HIP) is written in the numeric
  // form too, which every importer reads back.
  rr.type = 55;
  EXPECT_EQ(record_to_text(rr), "www.example. 300 IN TYPE55 \\# 3 000A00");
}

TEST(Rdata, TargetsForAdditionalProcessingAndChains) {
  auto target = [](uint16_t type, const char* h) { return rdata_target(type, hex(h)); };
  EXPECT_EQ(target(rrtype::NS, "01 61 00")->to_text(), "a.");
  EXPECT_EQ(target(rrtype::CNAME, "01 62 00")->to_text(), "b.");
  EXPECT_EQ(target(rrtype::DNAME, "01 63 00")->to_text(), "c.");
  EXPECT_EQ(target(rrtype::PTR, "01 64 00")->to_text(), "d.");
  EXPECT_EQ(target(rrtype::MX, "0005 01 65 00")->to_text(), "e.");
  EXPECT_EQ(target(rrtype::SRV, "0001 0002 0003 01 66 00")->to_text(), "f.");
  EXPECT_FALSE(target(rrtype::A, "01020304").has_value());
  EXPECT_FALSE(target(rrtype::MX, "0005 01 65").has_value());
  EXPECT_FALSE(target(rrtype::NS, "01 61 00 00").has_value());
}

TEST(Rdata, SoaFieldsAndSerialReplacement) {
  auto soa = hex("01 61 00 01 62 00 00000007 00000001 00000002 00000003 0000012c");
  auto f = soa_fields(soa);
  ASSERT_TRUE(f.has_value());
  EXPECT_EQ(f->serial, 7u);
  EXPECT_EQ(f->refresh, 1u);
  EXPECT_EQ(f->retry, 2u);
  EXPECT_EQ(f->expire, 3u);
  EXPECT_EQ(f->minimum, 300u);
  auto bumped = soa_with_serial(soa, 0xdeadbeef);
  EXPECT_EQ(bumped, hex("01 61 00 01 62 00 deadbeef 00000001 00000002 00000003 0000012c"));
  EXPECT_FALSE(soa_fields(hex("01 61 00")).has_value());
  // Malformed SOA RDATA comes back unchanged rather than corrupted.
  EXPECT_EQ(soa_with_serial(hex("01 61 00"), 5), hex("01 61 00"));
}

TEST(Rdata, SerialArithmeticFollowsRfc1982) {
  EXPECT_TRUE(serial_gt(2, 1));
  EXPECT_FALSE(serial_gt(1, 2));
  EXPECT_FALSE(serial_gt(5, 5));
  EXPECT_TRUE(serial_gt(0, 0xffffffffu));  // wraps
  EXPECT_TRUE(serial_gt(0x7fffffffu, 0));
  EXPECT_FALSE(serial_gt(0x80000000u, 0));  // undefined distance: not greater
  EXPECT_EQ(serial_next(0xffffffffu), 0u);
}

}  // namespace
}  // namespace raftdns::wire
