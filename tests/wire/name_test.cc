// Unit tests for wire::Name and the code-point mnemonics.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "daemon/wire/name.h"
#include "daemon/wire/types.h"
#include "tests/wire/bytes.h"

namespace raftdns::wire {
namespace {

using testing::hex;

Name N(std::string_view text) {
  auto n = Name::from_text(text);
  EXPECT_TRUE(n.ok()) << text << ": " << (n.ok() ? "" : n.error());
  return n.ok() ? *n : Name();
}

std::vector<uint8_t> wire_of(const Name& n) { return {n.wire().begin(), n.wire().end()}; }

TEST(Name, TextParsesToLengthPrefixedLabels) {
  EXPECT_EQ(wire_of(N("www.Example.com.")), hex("03 777777 07 4578616d706c65 03 636f6d 00"));
  EXPECT_EQ(N("www.example.com.").label_count(), 3u);
  EXPECT_EQ(wire_of(N(".")), hex("00"));
  EXPECT_TRUE(N(".").is_root());
}

TEST(Name, RelativeNamesCompleteWithOrigin) {
  Name origin = N("example.com.");
  auto www = Name::from_text("www", &origin);
  ASSERT_TRUE(www.ok());
  EXPECT_EQ(www->to_text(), "www.example.com.");
  auto at = Name::from_text("@", &origin);
  ASSERT_TRUE(at.ok());
  EXPECT_EQ(*at, origin);
  // A trailing dot makes the name absolute whatever the origin.
  EXPECT_EQ(Name::from_text("www.", &origin)->to_text(), "www.");
  // Without an origin, a relative name is taken as absolute.
  EXPECT_EQ(Name::from_text("www.example.com")->to_text(), "www.example.com.");
}

TEST(Name, EscapesRoundTripThroughText) {
  Name n = N("a\\.b.\\065\\032c.");
  EXPECT_EQ(wire_of(n), hex("03 612e62 03 412063 00"));
  EXPECT_EQ(n.to_text(), "a\\.b.A\\032c.");
  EXPECT_EQ(N("\\000\\255\\@\\$x.").to_text(), "\\000\\255\\@\\$x.");
  EXPECT_EQ(*Name::from_text(n.to_text()), n);
  // An escaped final dot is part of the label, so the name is relative.
  Name origin = N("o.");
  EXPECT_EQ(Name::from_text("a\\.", &origin)->to_text(), "a\\..o.");
}

TEST(Name, TextRejectsMalformedNames) {
  EXPECT_FALSE(Name::from_text("").ok());
  EXPECT_FALSE(Name::from_text("a..b.").ok());
  EXPECT_FALSE(Name::from_text(".a.").ok());
  EXPECT_FALSE(Name::from_text("a\\").ok());
  EXPECT_FALSE(Name::from_text("a\\25").ok());
  EXPECT_FALSE(Name::from_text("a\\256.").ok());
  EXPECT_FALSE(Name::from_text(std::string(64, 'a') + ".").ok());
  EXPECT_TRUE(Name::from_text(std::string(63, 'a') + ".").ok());
}

TEST(Name, NamesAreLimitedTo255Octets) {
  // 4 labels of 62 octets = 4*63 + 1 = 253 octets: fits.
  std::string label(62, 'x');
  std::string ok_text = label + "." + label + "." + label + "." + label + ".";
  auto ok = Name::from_text(ok_text);
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->wire_length(), 253u);
  // One more 1-octet label gives 255: still fits; two more do not.
  EXPECT_TRUE(Name::from_text("a." + ok_text).ok());
  EXPECT_FALSE(Name::from_text("a.b." + ok_text).ok());
  Name origin = *ok;
  EXPECT_FALSE(Name::from_text("ab", &origin).ok());
}

TEST(Name, WireFormIsValidatedStrictly) {
  EXPECT_TRUE(Name::from_wire(hex("03 616263 00")).ok());
  EXPECT_FALSE(Name::from_wire(hex("03 616263")).ok());        // no root
  EXPECT_FALSE(Name::from_wire(hex("03 616263 00 00")).ok());  // trailing
  EXPECT_FALSE(Name::from_wire(hex("40 00")).ok());            // reserved label type
  EXPECT_FALSE(Name::from_wire(hex("c0 0c")).ok());            // pointer not allowed
  EXPECT_FALSE(Name::from_wire({}).ok());
  std::vector<uint8_t> long_name;
  for (int i = 0; i < 128; ++i) long_name.insert(long_name.end(), {1, 'a'});
  long_name.push_back(0);
  EXPECT_FALSE(Name::from_wire(long_name).ok());
}

TEST(Name, EqualityAndHashIgnoreCase) {
  EXPECT_EQ(N("WWW.example.COM."), N("www.EXAMPLE.com."));
  EXPECT_EQ(N("WWW.example.COM.").hash(), N("www.EXAMPLE.com.").hash());
  EXPECT_NE(N("www.example.com."), N("ww.example.com."));
  // Case is preserved in the bytes and the text.
  EXPECT_EQ(N("WwW.example.").to_text(), "WwW.example.");
  EXPECT_EQ(N("WwW.example.").lowercased().to_text(), "www.example.");
}

TEST(Name, SubdomainStripAndParent) {
  Name n = N("a.b.example.com.");
  EXPECT_TRUE(n.is_subdomain_of(N("EXAMPLE.com.")));
  EXPECT_TRUE(n.is_subdomain_of(n));
  EXPECT_TRUE(n.is_subdomain_of(Name()));
  EXPECT_FALSE(n.is_subdomain_of(N("b.example.org.")));
  EXPECT_FALSE(N("xexample.com.").is_subdomain_of(N("example.com.")));
  EXPECT_EQ(n.strip_left(2), N("example.com."));
  EXPECT_EQ(n.parent(), N("b.example.com."));
  EXPECT_EQ(Name().parent(), Name());
  EXPECT_EQ(n.label(1).size(), 1u);
  EXPECT_EQ(n.label(1)[0], 'b');
}

TEST(Name, WildcardChildAndDetection) {
  auto w = N("example.com.").wildcard_child();
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(w->to_text(), "*.example.com.");
  EXPECT_TRUE(w->is_wildcard());
  EXPECT_FALSE(N("a*.example.com.").is_wildcard());
  std::string label(63, 'x');
  auto full = N(label + "." + label + "." + label + "." + std::string(61, 'x') + ".");
  EXPECT_EQ(full.wire_length(), 255u);
  EXPECT_FALSE(full.wildcard_child().ok());
}

TEST(Name, ReplaceSuffixImplementsDnameSubstitution) {
  auto r = N("a.b.example.com.").replace_suffix(N("example.com."), N("example.net."));
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->to_text(), "a.b.example.net.");
  EXPECT_EQ(r->label_count(), 4u);
  EXPECT_FALSE(N("a.example.org.").replace_suffix(N("example.com."), N("x.")).ok());
  std::string label(63, 'x');
  Name longer = N(label + "." + label + "." + label + "." + std::string(61, 'x') + ".");
  EXPECT_FALSE(N("abc.d.").replace_suffix(N("d."), longer).ok());
}

TEST(Name, CompareFollowsCanonicalOrder) {
  // The example ordering of RFC 4034 §6.1.
  std::vector<std::string> texts = {"example.",         "a.example.",      "yljkjljk.a.example.",
                                    "Z.a.example.",     "zABC.a.EXAMPLE.", "z.example.",
                                    "\\001.z.example.", "*.z.example.",    "\\200.z.example."};
  std::vector<Name> names;
  for (const auto& t : texts) names.push_back(N(t));
  for (size_t i = 0; i + 1 < names.size(); ++i) {
    EXPECT_LT(names[i].compare(names[i + 1]), 0) << texts[i] << " vs " << texts[i + 1];
    EXPECT_LT(names[i].canonical_key(), names[i + 1].canonical_key()) << texts[i];
    EXPECT_GT(names[i + 1].compare(names[i]), 0);
  }
  EXPECT_EQ(N("A.example.").compare(N("a.EXAMPLE.")), 0);
}

TEST(Name, CanonicalKeyEscapesZeroAndOneAndRoundTrips) {
  Name n = N("\\000\\001b.Example.");
  EXPECT_EQ(n.canonical_key(), std::string("example\0\x01\x01\x01\x02"
                                           "b\0",
                                           14));
  auto back = Name::from_canonical_key(n.canonical_key());
  ASSERT_TRUE(back.ok());
  EXPECT_EQ(*back, n);
  EXPECT_EQ(Name().canonical_key(), "");
  EXPECT_TRUE(Name::from_canonical_key("")->is_root());
  // Label "a" sorts before "a\000", which sorts before "a\001" and "b".
  EXPECT_LT(N("a.").canonical_key(), N("a\\000.").canonical_key());
  EXPECT_LT(N("a\\000.").canonical_key(), N("a\\001.").canonical_key());
  EXPECT_LT(N("a\\001.").canonical_key(), N("b.").canonical_key());
  EXPECT_FALSE(Name::from_canonical_key(std::string("abc", 3)).ok());
  EXPECT_FALSE(Name::from_canonical_key(std::string("\0", 1)).ok());
  EXPECT_FALSE(Name::from_canonical_key(std::string("a\x01\x05\0", 4)).ok());
}

TEST(Types, MnemonicsAndRfc3597Forms) {
  EXPECT_EQ(type_to_text(rrtype::AAAA), "AAAA");
  EXPECT_EQ(type_to_text(rrtype::HTTPS), "HTTPS");
  EXPECT_EQ(type_to_text(65280), "TYPE65280");
  EXPECT_EQ(type_from_text("aaaa"), rrtype::AAAA);
  EXPECT_EQ(type_from_text("TYPE65280"), 65280);
  EXPECT_EQ(type_from_text("type1"), rrtype::A);
  EXPECT_FALSE(type_from_text("TYPE65536").has_value());
  EXPECT_FALSE(type_from_text("TYPE").has_value());
  EXPECT_FALSE(type_from_text("BOGUS").has_value());
  EXPECT_EQ(class_to_text(rrclass::IN), "IN");
  EXPECT_EQ(class_to_text(rrclass::CH), "CH");
  EXPECT_EQ(class_to_text(77), "CLASS77");
  EXPECT_EQ(rcode_to_text(rcode::NXDOMAIN), "NXDOMAIN");
  EXPECT_EQ(rcode_to_text(rcode::BADVERS), "BADVERS");
  EXPECT_TRUE(has_known_codec(rrtype::SVCB));
  EXPECT_FALSE(has_known_codec(43));  // DS is opaque here
}

}  // namespace
}  // namespace raftdns::wire
