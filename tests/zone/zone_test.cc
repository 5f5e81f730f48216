// Unit tests for zone import, validation, single-record parsing and export.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/zone/zone.h"

namespace raftdns::zone {
namespace {

using wire::Name;
using wire::Record;
namespace rrtype = wire::rrtype;

Name N(std::string_view text) { return *Name::from_text(text); }

const Name kOrigin = N("example.com.");

std::vector<std::string> texts(const std::vector<Record>& records) {
  std::vector<std::string> out;
  for (const auto& rr : records) out.push_back(wire::record_to_text(rr));
  return out;
}

std::vector<std::string> sorted_texts(const std::vector<Record>& records) {
  auto out = texts(records);
  std::sort(out.begin(), out.end());
  return out;
}

// A scratch directory removed at the end of the test.
class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "zone_test.XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string write(const std::string& name, const std::string& text) const {
    std::string p = (path_ / name).string();
    std::ofstream(p) << text;
    return p;
  }

 private:
  std::filesystem::path path_;
};

const char* kSoa = "@ 3600 IN SOA ns1 hostmaster 2024010101 7200 3600 1209600 300\n";

TEST(Import, OriginTtlRelativeNamesParenthesesAndEscapes) {
  std::string text = std::string("$TTL 600\n") +
                     "@ IN SOA ns1 hostmaster ( 1 ; serial\n"
                     "        7200 3600\n"
                     "        1209600 300 )\n"
                     "  NS ns1\n"
                     "ns1 A 192.0.2.1\n"
                     "www 300 A 192.0.2.2\n"
                     "a\\.b\\065 TXT \"x\\\"y\" \"\\255\"\n"
                     "$ORIGIN sub.example.com.\n"
                     "host AAAA 2001:db8::1\n"
                     "@ MX 10 mail.example.com.\n";
  auto z = load_zone_text(text, kOrigin);
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(z->origin, kOrigin);
  std::vector<std::string> expected = {
      "example.com. 600 IN SOA ns1.example.com. hostmaster.example.com. 1 7200 3600 1209600 300",
      "example.com. 600 IN NS ns1.example.com.",
      "ns1.example.com. 600 IN A 192.0.2.1",
      "www.example.com. 300 IN A 192.0.2.2",
      "a\\.bA.example.com. 600 IN TXT \"x\\\"y\" \"\\255\"",
      "host.sub.example.com. 600 IN AAAA 2001:db8::1",
      "sub.example.com. 600 IN MX 10 mail.example.com.",
  };
  EXPECT_EQ(texts(z->records), expected);
}

TEST(Import, DefaultTtlAppliesWithoutTtlDirective) {
  auto z = load_zone_text(std::string("@ SOA ns1 h 1 2 3 4 5\nwww A 192.0.2.1\n"), kOrigin,
                          "<input>", 900);
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(z->records[1].ttl, 900u);
}

TEST(Import, IncludeReadsAnotherFileWithItsOwnOrigin) {
  TempDir dir;
  dir.write("hosts.inc", "h1 A 192.0.2.11\nh2 A 192.0.2.12\n");
  std::string main = dir.write("example.com.zone", std::string(kSoa) +
                                                       "@ NS ns1\nns1 A 192.0.2.1\n"
                                                       "$INCLUDE hosts.inc hosts.example.com.\n"
                                                       "after A 192.0.2.99\n");
  auto z = load_zone_file(main, kOrigin);
  ASSERT_TRUE(z.ok()) << z.error();
  auto t = texts(z->records);
  EXPECT_NE(std::find(t.begin(), t.end(), "h1.hosts.example.com. 3600 IN A 192.0.2.11"), t.end());
  EXPECT_NE(std::find(t.begin(), t.end(), "h2.hosts.example.com. 3600 IN A 192.0.2.12"), t.end());
  // The origin is restored after the include.
  EXPECT_NE(std::find(t.begin(), t.end(), "after.example.com. 3600 IN A 192.0.2.99"), t.end());
  EXPECT_EQ(z->records.size(), 6u);
}

TEST(Import, SyntaxErrorNamesFileAndLine) {
  auto z = load_zone_text(std::string(kSoa) + "www A 192.0.2.1\nbad A 192.0.2\n", kOrigin,
                          "example.com.zone");
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().rfind("example.com.zone:3: ", 0), 0u) << z.error();
  EXPECT_NE(z.error().find("IPv4"), std::string::npos) << z.error();
}

TEST(Import, ErrorInsideAnIncludeNamesTheIncludedFile) {
  TempDir dir;
  std::string inc = dir.write("broken.inc", "ok A 192.0.2.1\n\nbad AAAA zzz\n");
  std::string main =
      dir.write("main.zone", std::string(kSoa) + "$INCLUDE " + inc + "\nx A 192.0.2.5\n");
  auto z = load_zone_file(main, kOrigin);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().rfind(inc + ":3: ", 0), 0u) << z.error();
}

TEST(Import, MissingIncludeFileIsAnError) {
  TempDir dir;
  std::string main =
      dir.write("main.zone", std::string(kSoa) + "\n$INCLUDE /nonexistent/nothing.inc\n");
  auto z = load_zone_file(main, kOrigin);
  ASSERT_FALSE(z.ok());
  EXPECT_EQ(z.error().rfind(main + ":3: ", 0), 0u) << z.error();
}

TEST(Import, IncludeOnTheLastLineWithoutNewlineIsNotIgnored) {
  TempDir dir;
  dir.write("last.inc", "last A 192.0.2.50\n");
  std::string main = dir.write("main.zone", std::string(kSoa) + "$INCLUDE last.inc");
  auto z = load_zone_file(main, kOrigin);
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(z->records.size(), 2u);
  auto missing = load_zone_text(std::string(kSoa) + "$INCLUDE /nonexistent/x.inc", kOrigin);
  EXPECT_FALSE(missing.ok());
}

TEST(Import, MissingFileIsAnError) {
  auto z = load_zone_file("/nonexistent/zone.file", kOrigin);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().find("/nonexistent/zone.file"), std::string::npos) << z.error();
}

TEST(Import, ExactDuplicatesAreDropped) {
  auto z = load_zone_text(std::string(kSoa) + "www A 192.0.2.1\nWWW A 192.0.2.1\n", kOrigin);
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(z->records.size(), 2u);
}

// A streamed load hands every record on, in file order, in batches, before
// the whole-file steps; `restated` names the RRsets that merging them in
// that order (the last record's TTL holding, as the store does) would get
// wrong: TTLs lowered to the lowest, or a later duplicate's TTL dropped.
TEST(Import, AStreamedLoadHandsOnEveryRecordAndNamesTheRRsetsToSendAgain) {
  TempDir dir;
  std::string text = std::string(kSoa) +     // line 1
                     "a 300 A 192.0.2.1\n"   // 2: RRset a: 300 then 60 -> 60, merged 60: fine
                     "a 60 A 192.0.2.2\n"    // 3
                     "b 60 A 192.0.2.3\n"    // 4: RRset b: 60 then 300 -> 60, merged 300: again
                     "b 300 A 192.0.2.4\n"   // 5
                     "c 100 A 192.0.2.5\n"   // 6: RRset c: the repeat (line 7) is dropped: 100,
                     "c 200 A 192.0.2.5\n";  // 7   merged 200: again
  for (int i = 0; i < 20; ++i) text += "h" + std::to_string(i) + " 300 A 198.51.100.1\n";
  const std::string path = dir.write("s.zone", text);
  std::vector<Record> handed;
  size_t calls = 0;
  LoadStream stream;
  stream.batch = 4;
  stream.sink = [&](std::span<const Record> batch) {
    ++calls;
    handed.insert(handed.end(), batch.begin(), batch.end());
    return true;
  };
  auto z = load_zone_file(path, kOrigin, 3600, &stream);
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(handed.size(), 27u);  // the repeat too: it is dropped only by the whole-file step
  EXPECT_GE(calls, 6u);
  EXPECT_EQ(z->records.size(), 26u);
  EXPECT_EQ(handed[2].ttl, 60u);   // as parsed
  EXPECT_EQ(handed[6].ttl, 200u);
  std::vector<std::string> again;
  for (uint32_t i : z->restated) again.push_back(wire::record_to_text(z->records[i]));
  EXPECT_EQ(again, (std::vector<std::string>{"b.example.com. 60 IN A 192.0.2.3",
                                             "b.example.com. 60 IN A 192.0.2.4",
                                             "c.example.com. 100 IN A 192.0.2.5"}));
  // Without a stream, the same result.
  auto plain = load_zone_file(path, kOrigin);
  ASSERT_TRUE(plain.ok());
  EXPECT_EQ(texts(plain->records), texts(z->records));
  EXPECT_EQ(plain->restated, z->restated);
}

TEST(Import, AStreamThatStopsEndsTheLoad) {
  TempDir dir;
  std::string text = kSoa;
  for (int i = 0; i < 50; ++i) text += "h" + std::to_string(i) + " A 198.51.100.1\n";
  const std::string path = dir.write("stop.zone", text);
  size_t handed = 0;
  LoadStream stream;
  stream.batch = 10;
  stream.sink = [&](std::span<const Record> batch) {
    handed += batch.size();
    return false;
  };
  auto z = load_zone_file(path, kOrigin, 3600, &stream);
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().find("stopped"), std::string::npos) << z.error();
  EXPECT_LE(handed, 11u);
}

// Dropping repeats keeps the file's order and each record's line: a rule
// broken after them still names its own line, and the TTL warning names the
// first record it changed.
TEST(Import, DroppedDuplicatesKeepOrderAndLines) {
  auto z = load_zone_text(std::string(kSoa) +  // line 1
                              "b 300 A 192.0.2.2\n"   // 2
                              "a 300 A 192.0.2.1\n"   // 3
                              "B 300 A 192.0.2.2\n"   // 4: repeat of line 2
                              "a 300 A 192.0.2.1\n"   // 5: repeat of line 3
                              "c 300 A 192.0.2.3\n"   // 6
                              "c 60 A 192.0.2.4\n",   // 7
                          kOrigin, "z.zone");
  ASSERT_TRUE(z.ok()) << z.error();
  std::vector<std::string> owners;
  for (const auto& rr : z->records) owners.push_back(rr.owner.to_text());
  EXPECT_EQ(owners, (std::vector<std::string>{"example.com.", "b.example.com.", "a.example.com.",
                                              "c.example.com.", "c.example.com."}));
  ASSERT_EQ(z->warnings.size(), 1u);
  EXPECT_NE(z->warnings[0].find("1 record's TTL was lowered"), std::string::npos)
      << z->warnings[0];
  EXPECT_NE(z->warnings[0].find("z.zone:6: c.example.com. A"), std::string::npos)
      << z->warnings[0];

  auto bad = load_zone_text(std::string(kSoa) + "x A 192.0.2.1\nx A 192.0.2.1\nx A 192.0.2.1\n"
                                                "x CNAME y\n",  // line 5
                            kOrigin, "z.zone");
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("z.zone:2: "), std::string::npos) << bad.error();
  EXPECT_NE(bad.error().find("CNAME and other data"), std::string::npos) << bad.error();
}

// Each validation rule: the first failing record and its line are named.
struct ValidationCase {
  const char* name;
  std::string text;
  const char* line;
  const char* reason;
};

TEST(Validation, EveryRuleReportsFileLineAndRecord) {
  const std::string soa = kSoa;  // line 1
  const ValidationCase cases[] = {
      {"no SOA", "www A 192.0.2.1\n", nullptr, "no SOA record"},
      {"two SOAs", soa + "www A 192.0.2.1\n@ SOA ns2 h 2 2 3 4 5\n",
       "z.zone:3: ", "more than one SOA"},
      {"SOA below apex", soa + "sub SOA ns1 h 1 2 3 4 5\n", "z.zone:2: ", "not at the apex"},
      {"out of zone", soa + "www.example.org. A 192.0.2.1\n", "z.zone:2: ", "outside the zone"},
      {"CNAME and A", soa + "www CNAME x\nwww A 192.0.2.1\n", "z.zone:2: ", "CNAME and other data"},
      {"CNAME at apex", "@ CNAME x\n" + soa, "z.zone:1: ", "CNAME and other data"},
      {"two CNAMEs", soa + "www CNAME x\nwww CNAME y\n", "z.zone:2: ", "more than one CNAME"},
      {"CNAME below a cut", soa + "sub NS ns.sub\nx.sub CNAME a\nx.sub TXT \"t\"\n",
       "z.zone:3: ", "CNAME and other data"},
      {"OPT as data", soa + "x TYPE41 \\# 0\n", "z.zone:2: ", "cannot be zone data"},
      {"two DNAMEs", soa + "d DNAME a.\nd DNAME b.\n", "z.zone:2: ", "more than one DNAME"},
  };
  for (const auto& c : cases) {
    auto z = load_zone_text(c.text, kOrigin, "z.zone");
    ASSERT_FALSE(z.ok()) << c.name;
    if (c.line) {
      EXPECT_EQ(z.error().rfind(c.line, 0), 0u) << c.name << ": " << z.error();
    }
    EXPECT_NE(z.error().find(c.reason), std::string::npos) << c.name << ": " << z.error();
  }
}

// Occluded data (below a cut or a DNAME, or beside the NS of a cut) loads,
// as in NSD, Knot, BIND and PowerDNS, with one warning for the zone that
// counts it and names the first owners.
TEST(Validation, OccludedDataIsKeptWithOneWarning) {
  std::string text = std::string(kSoa) +
                     "sub NS ns.sub\nns.sub A 192.0.2.1\nwww.sub MX 1 x\nsub TXT \"at cut\"\n"
                     "d DNAME example.net.\nx.d A 192.0.2.2\ny.d TXT \"t\"\ny.d AAAA ::1\n"
                     "d TXT \"beside the DNAME is fine\"\n";
  auto z = load_zone_text(text, kOrigin, "z.zone");
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(z->records.size(), 10u);
  ASSERT_EQ(z->warnings.size(), 1u);
  const std::string& w = z->warnings[0];
  EXPECT_NE(w.find("zone example.com.: 5 records lie below a zone cut or DNAME"), std::string::npos)
      << w;
  for (const char* owner :
       {"www.sub.example.com.", "sub.example.com.", "x.d.example.com.", "y.d.example.com."}) {
    EXPECT_NE(w.find(owner), std::string::npos) << owner << ": " << w;
  }
  EXPECT_EQ(w.find("ns.sub.example.com."), std::string::npos) << "glue is not occluded: " << w;
  // Exported, it imports back to the same records.
  auto back = load_zone_text(export_zone(kOrigin, z->records), kOrigin);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(sorted_texts(back->records), sorted_texts(z->records));
  // A zone without occluded data has no warning.
  auto clean = load_zone_text(std::string(kSoa) + "sub NS ns.sub\nns.sub A 192.0.2.1\n", kOrigin);
  ASSERT_TRUE(clean.ok()) << clean.error();
  EXPECT_TRUE(clean->warnings.empty());
}

TEST(Validation, OcclusionIsDecidedByTheTopmostCutOrDname) {
  std::vector<Record> records;
  for (const char* line :
       {"example.com. 60 IN SOA a. b. 1 2 3 4 5", "example.com. 60 IN NS ns.example.com.",
        "a.example.com. 60 IN NS ns.a.example.com.", "b.a.example.com. 60 IN DNAME x.",
        "d.example.com. 60 IN DNAME x.", "c.d.example.com. 60 IN NS ns.c.d.example.com."}) {
    records.push_back(*parse_record(line));
  }
  auto has = [&](const Name& n, uint16_t t) {
    return std::any_of(records.begin(), records.end(),
                       [&](const Record& r) { return r.owner == n && r.type == t; });
  };
  auto occ = [&](const char* owner, uint16_t type) {
    return occlusion_of(kOrigin, N(owner), type, has);
  };
  EXPECT_FALSE(occ("example.com.", rrtype::NS));  // the apex NS is no cut
  EXPECT_FALSE(occ("ns.example.com.", rrtype::A));
  EXPECT_FALSE(occ("a.example.com.", rrtype::NS));
  EXPECT_FALSE(occ("a.example.com.", 43 /* DS */));
  EXPECT_FALSE(occ("ns.a.example.com.", rrtype::AAAA));  // glue
  auto at_cut = occ("a.example.com.", rrtype::TXT);
  ASSERT_TRUE(at_cut);
  EXPECT_EQ(at_cut->by, N("a.example.com."));
  auto under_cut = occ("b.a.example.com.", rrtype::DNAME);
  ASSERT_TRUE(under_cut);
  EXPECT_EQ(under_cut->type, rrtype::NS);
  EXPECT_FALSE(occ("d.example.com.", rrtype::DNAME));
  auto under_dname = occ("x.c.d.example.com.", rrtype::A);  // the DNAME is above the cut
  ASSERT_TRUE(under_dname);
  EXPECT_EQ(under_dname->type, rrtype::DNAME);
  EXPECT_EQ(under_dname->by, N("d.example.com."));
}

TEST(Import, TtlsAboveTheMaximumAreClampedWithAWarning) {
  auto z = load_zone_text(std::string(kSoa) +
                              "big 4294967295 A 192.0.2.1\n"
                              "big2 2147483648 A 192.0.2.2\nok 2147483647 A 192.0.2.3\n",
                          kOrigin, "z.zone");
  ASSERT_TRUE(z.ok()) << z.error();
  for (const auto& rr : z->records) EXPECT_LE(rr.ttl, 2147483647u) << wire::record_to_text(rr);
  ASSERT_EQ(z->warnings.size(), 1u);
  EXPECT_NE(z->warnings[0].find("2 TTLs were above 2147483647"), std::string::npos)
      << z->warnings[0];
  EXPECT_NE(z->warnings[0].find("z.zone:2"), std::string::npos) << z->warnings[0];
  std::vector<std::string> warnings;
  auto rr = parse_record("x.example.com. 4294967295 IN A 192.0.2.1", nullptr, 3600, &warnings);
  ASSERT_TRUE(rr.ok()) << rr.error();
  EXPECT_EQ(rr->ttl, 2147483647u);
  EXPECT_EQ(warnings.size(), 1u);
}

TEST(Import, MixedTtlsInAnRrsetUseTheLowestWithAWarning) {
  auto z = load_zone_text(std::string(kSoa) +
                              "www 300 A 192.0.2.1\nwww 60 A 192.0.2.2\nwww 600 A 192.0.2.3\n"
                              "www 900 TXT \"other type, own TTL\"\n",
                          kOrigin, "z.zone");
  ASSERT_TRUE(z.ok()) << z.error();
  for (const auto& rr : z->records) {
    EXPECT_EQ(rr.ttl, rr.type == rrtype::A ? 60u : rr.type == rrtype::TXT ? 900u : rr.ttl);
  }
  ASSERT_EQ(z->warnings.size(), 1u);
  EXPECT_NE(z->warnings[0].find("2 records' TTLs were lowered"), std::string::npos)
      << z->warnings[0];
  EXPECT_NE(z->warnings[0].find("z.zone:2: www.example.com. A"), std::string::npos)
      << z->warnings[0];
}

// Types the zone scanner knows but that have no codec here load as opaque
// RFC 3597 data and export in the generic form.
TEST(Import, TypesWithoutACodecLoadAsGenericData) {
  auto z = load_zone_text(std::string(kSoa) +
                              "l LOC 52 22 23.000 N 4 53 32.000 E -2.00m 0.00m 10000m 10m\n"
                              "h HINFO \"PC\" \"Linux\"\n"
                              "r RP mbox.example.com. txt.example.com.\n"
                              "a AFSDB 1 afs.example.com.\n"
                              "k DNSKEY 257 3 8 AwEAAag=\n"
                              "mi MINFO a b\n"
                              "e EUI48 00-00-5e-00-53-2a\n"
                              "u URI 10 1 \"https://example.com/\"\n",
                          kOrigin, "z.zone");
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_EQ(z->records.size(), 9u);
  auto back = load_zone_text(export_zone(kOrigin, z->records), kOrigin);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(sorted_texts(back->records), sorted_texts(z->records));
}

// Types older files use that NSD and BIND read (and the zone scanner does
// not): WKS, NSAP, MB/MG/MR/MD/MF/NSAP-PTR, X25, ISDN and GPOS load with
// the RDATA RFC 1035, 1183, 1706 and 1712 give them.
TEST(Import, LegacyTypesLoadWithTheirRdata) {
  auto z = load_zone_text(std::string(kSoa) +
                              "w WKS 192.0.2.1 TCP smtp 80\n"
                              "w2 3600 IN WKS ( 192.0.2.2 udp\n  53 ) ; split over lines\n"
                              "n NSAP 0x47.0005.80.005a00\n"
                              "m MB mail\nm2 MG m\nm3 MR m\nm4 NSAP-PTR m\n"
                              "x X25 311061700956\ni ISDN \"150862028003217\" \"004\"\n"
                              "g GPOS -32.6882 116.8652 10.0\nafter A 192.0.2.9\n",
                          kOrigin, "z.zone");
  ASSERT_TRUE(z.ok()) << z.error();
  auto find = [&](const char* owner) -> const Record* {
    for (const auto& rr : z->records)
      if (rr.owner == N(owner)) return &rr;
    return nullptr;
  };
  const Record* w = find("w.example.com.");
  ASSERT_NE(w, nullptr);
  EXPECT_EQ(w->type, 11);
  // 192.0.2.1, TCP (6), bits 25 (octet 3, 0x40) and 80 (octet 10, 0x80).
  std::vector<uint8_t> wks = {192, 0, 2, 1, 6, 0, 0, 0, 0x40, 0, 0, 0, 0, 0, 0, 0x80};
  EXPECT_EQ(w->rdata, wks);
  const Record* w2 = find("w2.example.com.");
  ASSERT_NE(w2, nullptr);
  EXPECT_EQ(w2->rdata, (std::vector<uint8_t>{192, 0, 2, 2, 17, 0, 0, 0, 0, 0, 0, 0x04}));
  EXPECT_EQ(find("n.example.com.")->rdata,
            (std::vector<uint8_t>{0x47, 0x00, 0x05, 0x80, 0x00, 0x5a, 0x00}));
  EXPECT_EQ(find("m.example.com.")->type, 7);
  const Name mail = N("mail.example.com.");
  EXPECT_EQ(find("m.example.com.")->rdata,
            std::vector<uint8_t>(mail.wire().begin(), mail.wire().end()));
  EXPECT_EQ(find("m4.example.com.")->type, 23);
  EXPECT_EQ(find("x.example.com.")->type, 19);
  EXPECT_EQ(find("i.example.com.")->type, 20);
  EXPECT_EQ(find("g.example.com.")->type, 27);
  EXPECT_EQ(find("g.example.com.")->rdata.size(), 3u + 8 + 8 + 4);
  // Lines after a record that ran over two lines keep their numbers.
  auto bad = load_zone_text(std::string(kSoa) + "w WKS ( 192.0.2.1\n tcp 25 )\nx A 1\n", kOrigin,
                            "z.zone");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().rfind("z.zone:4: ", 0), 0u) << bad.error();
  // Bad RDATA of these types names the line and the reason.
  for (const char* line : {"w WKS 300.1.1.1 tcp 25", "w WKS 192.0.2.1 tcp nosuchservice",
                           "n NSAP 47000580", "n NSAP 0x4", "x X25 \"a\" \"b\"", "g GPOS 1 2"}) {
    auto r = load_zone_text(std::string(kSoa) + line + "\n", kOrigin, "z.zone");
    ASSERT_FALSE(r.ok()) << line;
    EXPECT_EQ(r.error().rfind("z.zone:2: ", 0), 0u) << line << ": " << r.error();
  }
  // A single record (dnsadm add) reads them too.
  auto rr = parse_record("w.example.com. 60 IN WKS 192.0.2.1 6 25");
  ASSERT_TRUE(rr.ok()) << rr.error();
  EXPECT_EQ(rr->type, 11);
  rr = parse_record("m.example.com. 60 IN MB mail.example.com.");
  ASSERT_TRUE(rr.ok()) << rr.error();
  EXPECT_EQ(rr->type, 7);
  auto back = load_zone_text(export_zone(kOrigin, z->records), kOrigin);
  ASSERT_TRUE(back.ok()) << back.error();
  EXPECT_EQ(sorted_texts(back->records), sorted_texts(z->records));
}

// What the operator typed is stored exactly, or refused with a reason.
TEST(RecordWords, TxtValuesAreStoredExactlyAsTyped) {
  auto txt = [](std::vector<std::string> words) {
    return rdata_text_from_words(rrtype::TXT, words);
  };
  EXPECT_EQ(*txt({"v=DMARC1;p=reject;rua=mailto:d@example.com"}),
            "\"v=DMARC1;p=reject;rua=mailto:d@example.com\"");
  EXPECT_EQ(*txt({"v=spf1 include:_spf.example.net ~all"}),
            "\"v=spf1 include:_spf.example.net ~all\"");
  EXPECT_EQ(*txt({"a\"b\\c;d"}), "\"a\\\"b\\\\c;d\"");
  // Already quoted: master-file form, escapes read, several strings kept apart.
  EXPECT_EQ(*txt({"\"part one\" \"x\\\";y\""}), "\"part one\" \"x\\\";y\"");
  EXPECT_EQ(*txt({"hello", "world"}), "\"hello\" \"world\"");
  EXPECT_EQ(*txt({""}), "\"\"");
  // A long value (a DKIM key) is split into 255-octet strings.
  std::string key = "v=DKIM1; k=rsa; p=" + std::string(400, 'A');
  auto text = txt({key});
  ASSERT_TRUE(text.ok());
  auto rr = parse_record("k.example.com. 60 IN TXT " + *text);
  ASSERT_TRUE(rr.ok()) << rr.error();
  ASSERT_EQ(rr->rdata.size(), key.size() + 2);
  EXPECT_EQ(rr->rdata[0], 255);
  EXPECT_EQ(rr->rdata[256], key.size() - 255);
  std::string joined(rr->rdata.begin() + 1, rr->rdata.begin() + 256);
  joined.append(rr->rdata.begin() + 257, rr->rdata.end());
  EXPECT_EQ(joined, key);
  // Refusals name the reason.
  auto trailing = txt({"\"abc\";comment"});
  ASSERT_FALSE(trailing.ok());
  EXPECT_NE(trailing.error().find("after a closing quote"), std::string::npos) << trailing.error();
  EXPECT_FALSE(txt({"\"unterminated"}).ok());
  auto caa = rdata_text_from_words(257, {"0", "issue", "ca.example.net;", "x"});
  ASSERT_FALSE(caa.ok());
  EXPECT_NE(caa.error().find("would start a comment"), std::string::npos) << caa.error();
  EXPECT_EQ(*rdata_text_from_words(257, {"0", "issue", "\"ca.example.net; account=1\""}),
            "0 issue \"ca.example.net; account=1\"");
}

TEST(RecordWords, SplitKeepsQuotedBlanksTogether) {
  auto w = split_words("x 300 TXT \"a b\" c\\ d \"e\\\" f\"");
  ASSERT_TRUE(w.ok());
  EXPECT_EQ(*w, (std::vector<std::string>{"x", "300", "TXT", "\"a b\"", "c\\ d", "\"e\\\" f\""}));
  EXPECT_FALSE(split_words("x TXT \"open").ok());
}

TEST(Validation, NamesTheOffendingRecord) {
  auto z = load_zone_text(std::string(kSoa) + "www CNAME x\nwww A 192.0.2.1\n", kOrigin, "z.zone");
  ASSERT_FALSE(z.ok());
  EXPECT_NE(z.error().find("www.example.com. 3600 IN CNAME x.example.com."), std::string::npos)
      << z.error();
}

TEST(Validation, AcceptsGlueDnssecMetaAndApexData) {
  std::string text =
      std::string(kSoa) +
      "@ NS ns1\n@ MX 10 mail\n@ TXT \"v=spf1 -all\"\nns1 A 192.0.2.1\n"
      "sub NS ns.sub\nsub DS 1 8 2 abcd\nns.sub A 192.0.2.2\nns.sub AAAA 2001:db8::2\n"
      "www CNAME web\nwww TYPE46 \\# 1 00\nweb A 192.0.2.3\n"
      "d DNAME example.net.\nd A 192.0.2.4\n"
      "*.w A 192.0.2.5\n";
  auto z = load_zone_text(text, kOrigin);
  ASSERT_TRUE(z.ok()) << z.error();
  EXPECT_TRUE(z->warnings.empty());
}

TEST(Validation, WorksOnRecordsWithoutLocations) {
  std::vector<Record> records;
  records.push_back(*parse_record("example.com. 60 IN SOA a. b. 1 2 3 4 5"));
  records.push_back(*parse_record("www.example.com. 60 IN CNAME a."));
  EXPECT_TRUE(validate_zone(kOrigin, records).ok());
  records.push_back(*parse_record("www.example.com. 60 IN TXT \"x\""));
  auto st = validate_zone(kOrigin, records);
  ASSERT_FALSE(st.ok());
  EXPECT_EQ(st.error().rfind("www.example.com. 60 IN CNAME a.: CNAME and other data", 0), 0u)
      << st.error();
  records.pop_back();
  // Zone data is class IN.
  records.push_back(Record{N("c.example.com."), rrtype::A, wire::rrclass::CH, 60, {1, 2, 3, 4}});
  auto cls = validate_zone(kOrigin, records);
  ASSERT_FALSE(cls.ok());
  EXPECT_NE(cls.error().find("class CH"), std::string::npos) << cls.error();
  // Malformed RDATA handed in directly is caught too.
  records.pop_back();
  records.push_back(Record{N("a.example.com."), rrtype::A, wire::rrclass::IN, 60, {1, 2, 3}});
  EXPECT_FALSE(validate_zone(kOrigin, records).ok());
}

TEST(ParseRecord, EveryKnownTypeAndTheUnknownForm) {
  const Name origin = kOrigin;
  struct Case {
    const char* line;
    const char* text;
  };
  const Case cases[] = {
      {"www 300 A 192.0.2.10", "www.example.com. 300 IN A 192.0.2.10"},
      {"www 300 IN AAAA 2001:DB8::10", "www.example.com. 300 IN AAAA 2001:db8::10"},
      {"@ NS ns1", "example.com. 3600 IN NS ns1.example.com."},
      {"alias CNAME www", "alias.example.com. 3600 IN CNAME www.example.com."},
      {"@ SOA ns1 h 1 1h 30m 2w 5m",
       "example.com. 3600 IN SOA ns1.example.com. h.example.com. 1 3600 1800 1209600 300"},
      {"@ MX 10 mail.example.net.", "example.com. 3600 IN MX 10 mail.example.net."},
      {"t TXT \"hello world\" two", "t.example.com. 3600 IN TXT \"hello world\" \"two\""},
      {"1.2 PTR host.", "1.2.example.com. 3600 IN PTR host."},
      {"_sip._tcp SRV 10 20 5060 sip",
       "_sip._tcp.example.com. 3600 IN SRV 10 20 5060 sip.example.com."},
      {"@ CAA 0 issue \"ca.example.net\"", "example.com. 3600 IN CAA 0 issue \"ca.example.net\""},
      {"d DNAME example.net.", "d.example.com. 3600 IN DNAME example.net."},
      {"n NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp",
       "n.example.com. 3600 IN NAPTR 100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.com."},
      {"h SSHFP 4 2 0123456789abcdef", "h.example.com. 3600 IN SSHFP 4 2 0123456789ABCDEF"},
      {"_443._tcp TLSA 3 1 1 ABCDEF", "_443._tcp.example.com. 3600 IN TLSA 3 1 1 ABCDEF"},
      {"s SVCB 1 svc port=8443", "s.example.com. 3600 IN SVCB 1 svc.example.com. port=8443"},
      {"@ HTTPS 1 . alpn=h3,h2 ipv4hint=192.0.2.1",
       "example.com. 3600 IN HTTPS 1 . alpn=\"h3,h2\" ipv4hint=192.0.2.1"},
      {"x TYPE65280 \\# 4 0a0b0c0d", "x.example.com. 3600 IN TYPE65280 \\# 4 0A0B0C0D"},
      {"x TYPE1 \\# 4 c0000201", "x.example.com. 3600 IN A 192.0.2.1"},
  };
  for (const auto& c : cases) {
    auto rr = parse_record(c.line, &origin);
    ASSERT_TRUE(rr.ok()) << c.line << ": " << rr.error();
    EXPECT_EQ(wire::record_to_text(*rr), c.text) << c.line;
    // Presentation text parses back to the same record.
    auto again = parse_record(wire::record_to_text(*rr));
    ASSERT_TRUE(again.ok()) << c.text << ": " << again.error();
    EXPECT_EQ(*again, *rr) << c.text;
  }
}

TEST(ParseRecord, WithoutOriginNamesAreAbsolute) {
  auto rr = parse_record("www.example.org 60 A 192.0.2.1");
  ASSERT_TRUE(rr.ok()) << rr.error();
  EXPECT_EQ(rr->owner.to_text(), "www.example.org.");
  EXPECT_EQ(rr->ttl, 60u);
  auto def = parse_record("www.example.org A 192.0.2.1", nullptr, 42);
  ASSERT_TRUE(def.ok());
  EXPECT_EQ(def->ttl, 42u);
}

TEST(ParseRecord, ErrorsQuoteTheRecordAndReason) {
  auto bad = parse_record("www A 300.1.1.1");
  ASSERT_FALSE(bad.ok());
  EXPECT_EQ(bad.error().rfind("bad record 'www A 300.1.1.1': ", 0), 0u) << bad.error();
  EXPECT_FALSE(parse_record("").ok());
  EXPECT_FALSE(parse_record("www A 192.0.2.1 192.0.2.2").ok());
  EXPECT_FALSE(parse_record("www BOGUS 1").ok());
  EXPECT_FALSE(parse_record("www MX 10").ok());
  // Directives would let a client read server files; they are refused.
  auto inc = parse_record("$INCLUDE /etc/passwd");
  ASSERT_FALSE(inc.ok());
  EXPECT_NE(inc.error().find("directive"), std::string::npos);
  EXPECT_FALSE(parse_record("www A 192.0.2.1\nx A 192.0.2.2").ok());
}

TEST(Export, ImportsBackToTheSameRecords) {
  std::string text = std::string("$TTL 300\n") + kSoa +
                     "@ NS ns1\n@ MX 10 mail\nns1 A 192.0.2.1\nmail AAAA 2001:db8::25\n"
                     "t TXT \"quote\\\" and ; semicolon\" \"\\000\\255\"\n"
                     "weird\\ name\\.x\\@\\$ A 192.0.2.7\n"
                     "@ CAA 0 iodef \"mailto:a@example.com\"\n"
                     "_sip._tcp SRV 1 2 3 sip\nn NAPTR 1 2 \"u\" \"E2U+x\" \"!.*!x!\" .\n"
                     "h SSHFP 1 1 00ff\n_25._tcp TLSA 3 0 1 abcd\n"
                     "s SVCB 2 . alpn=\"x\\\\,y\" no-default-alpn port=53 ech=AQID "
                     "ipv6hint=2001:db8::1 key65000=\"v\"\n"
                     "@ HTTPS 1 . mandatory=alpn alpn=h2\n"
                     "d DNAME example.net.\np PTR host.example.net.\n"
                     "u TYPE65280 \\# 2 abcd\nsub NS ns.sub\nsub DS 1 8 2 abcd\n"
                     "ns.sub A 192.0.2.9\nwww CNAME @\n";
  auto z = load_zone_text(text, kOrigin);
  ASSERT_TRUE(z.ok()) << z.error();
  std::string exported = export_zone(kOrigin, z->records);
  EXPECT_EQ(exported.rfind("$ORIGIN example.com.\nexample.com. 3600 IN SOA ", 0), 0u) << exported;
  auto back = load_zone_text(exported, kOrigin);
  ASSERT_TRUE(back.ok()) << back.error() << "\n" << exported;
  EXPECT_EQ(sorted_texts(back->records), sorted_texts(z->records));
  auto by_bytes = [](const Record& a, const Record& b) {
    return wire::record_to_text(a) < wire::record_to_text(b);
  };
  auto x = z->records, y = back->records;
  std::sort(x.begin(), x.end(), by_bytes);
  std::sort(y.begin(), y.end(), by_bytes);
  EXPECT_EQ(x, y);
}

}  // namespace
}  // namespace raftdns::zone
