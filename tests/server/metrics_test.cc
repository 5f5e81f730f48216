// The metrics text encoder, the per-response DNS counters and the
// [metrics] config key.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "daemon/server/config.h"
#include "daemon/server/dns_metrics.h"
#include "daemon/server/metrics_text.h"

namespace raftdns::server {
namespace {

using Bytes = std::vector<uint8_t>;

// A response header followed by the question `labels` / qtype / IN.
Bytes response(uint8_t flags2, uint8_t flags3, uint16_t qtype, uint16_t an = 0, uint16_t ns = 0,
               uint16_t ar = 0) {
  Bytes m = {0x12, 0x34, flags2, flags3, 0, 1, uint8_t(an >> 8), uint8_t(an),
             uint8_t(ns >> 8), uint8_t(ns), uint8_t(ar >> 8), uint8_t(ar)};
  for (const char* label : {"www", "example", "com"}) {
    m.push_back(static_cast<uint8_t>(std::string(label).size()));
    for (const char* c = label; *c; ++c) m.push_back(static_cast<uint8_t>(*c));
  }
  m.push_back(0);
  m.insert(m.end(), {uint8_t(qtype >> 8), uint8_t(qtype), 0, 1});
  return m;
}

uint64_t count(const DnsMetrics& m, DnsProtocol p, uint16_t qtype, size_t rcode) {
  return m.responses[static_cast<size_t>(p)][qtype_slot(qtype)][rcode].load();
}

TEST(MetricsText, CounterFamilyCarriesHelpTypeAndEscapedLabels) {
  MetricsText out;
  out.family("raftdns_x_total", MetricsText::Type::counter, "Help with \\ and\nnewline.");
  out.sample("raftdns_x_total", {{"zone", "a\"b\\c\nd"}, {"k", "v"}}, uint64_t{7});
  EXPECT_EQ(out.text(),
            "# HELP raftdns_x_total Help with \\\\ and\\nnewline.\n"
            "# TYPE raftdns_x_total counter\n"
            "raftdns_x_total{zone=\"a\\\"b\\\\c\\nd\",k=\"v\"} 7\n");
}

TEST(MetricsText, FloatsAreWrittenAsPrometheusParsesThem) {
  EXPECT_EQ(format_metric_value(0.25), "0.25");
  EXPECT_EQ(format_metric_value(3.0), "3");
  EXPECT_EQ(format_metric_value(1.0 / 0.0), "+Inf");
  EXPECT_EQ(format_metric_value(-1.0 / 0.0), "-Inf");
  EXPECT_EQ(format_metric_value(0.0 / 0.0), "NaN");
}

TEST(MetricsText, HistogramBucketsAreCumulativeAndCountIsTheInfBucket) {
  LatencyHistogram h;
  h.observe(std::chrono::microseconds(30));    // <= 50 us
  h.observe(std::chrono::microseconds(30));
  h.observe(std::chrono::milliseconds(3));     // <= 5 ms
  h.observe(std::chrono::seconds(20));         // +Inf only
  MetricsText out;
  out.histogram("raftdns_h_seconds", {{"a", "b"}}, h.snapshot());
  const std::string& t = out.text();
  EXPECT_NE(t.find("raftdns_h_seconds_bucket{a=\"b\",le=\"5e-05\"} 2\n"), std::string::npos) << t;
  EXPECT_NE(t.find("raftdns_h_seconds_bucket{a=\"b\",le=\"0.0025\"} 2\n"), std::string::npos);
  EXPECT_NE(t.find("raftdns_h_seconds_bucket{a=\"b\",le=\"0.005\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("raftdns_h_seconds_bucket{a=\"b\",le=\"10\"} 3\n"), std::string::npos);
  EXPECT_NE(t.find("raftdns_h_seconds_bucket{a=\"b\",le=\"+Inf\"} 4\n"), std::string::npos);
  EXPECT_NE(t.find("raftdns_h_seconds_count{a=\"b\"} 4\n"), std::string::npos);
  EXPECT_NE(t.find("raftdns_h_seconds_sum{a=\"b\"} 20.00306\n"), std::string::npos) << t;
}

TEST(DnsMetrics, CountsByProtocolQtypeAndRcode) {
  DnsMetrics m;
  const Bytes nx = response(0x84, 0x03, 28, 0, 1);  // AA, NXDOMAIN, AAAA
  count_response(m, DnsProtocol::udp, nx);
  count_response(m, DnsProtocol::udp, nx);
  count_response(m, DnsProtocol::tcp, response(0x84, 0x00, 15, 1));  // MX NOERROR
  EXPECT_EQ(count(m, DnsProtocol::udp, 28, 3), 2u);
  EXPECT_EQ(count(m, DnsProtocol::tcp, 28, 3), 0u);
  EXPECT_EQ(count(m, DnsProtocol::tcp, 15, 0), 1u);
  EXPECT_EQ(m.truncated[0].load() + m.truncated[1].load(), 0u);
  EXPECT_EQ(qtype_label(qtype_slot(28)), "AAAA");
  EXPECT_EQ(rcode_label(3), "NXDOMAIN");
}

TEST(DnsMetrics, UnlistedTypesAreOtherAndTruncationIsCounted) {
  DnsMetrics m;
  count_response(m, DnsProtocol::udp, response(0x86, 0x00, 99, 1));  // TC set, SPF
  count_response(m, DnsProtocol::udp, response(0x84, 0x00, 4000, 1));
  EXPECT_EQ(m.responses[0][kQtypeOther][0].load(), 2u);
  EXPECT_EQ(qtype_label(kQtypeOther), "OTHER");
  EXPECT_EQ(m.truncated[0].load(), 1u);
}

TEST(DnsMetrics, ResponseWithoutQuestionIsNone) {
  DnsMetrics m;
  const Bytes formerr = {0, 1, 0x80, 0x01, 0, 0, 0, 0, 0, 0, 0, 0};
  count_response(m, DnsProtocol::udp, formerr);
  EXPECT_EQ(m.responses[0][kQtypeNone][1].load(), 1u);
  EXPECT_EQ(qtype_label(kQtypeNone), "NONE");
}

TEST(DnsMetrics, BadversIsReadFromTheOptRecordAfterTheQuestion) {
  DnsMetrics m;
  Bytes r = response(0x80, 0x00, 1, 0, 0, 1);
  // OPT: root owner, type 41, UDP size 1232, extended rcode 1, version 0,
  // flags 0, no RDATA.
  r.insert(r.end(), {0, 0, 41, 0x04, 0xd0, 1, 0, 0, 0, 0, 0});
  count_response(m, DnsProtocol::udp, r);
  EXPECT_EQ(count(m, DnsProtocol::udp, 1, 16), 1u);
  EXPECT_EQ(rcode_label(16), "BADVERS");
  EXPECT_EQ(count(m, DnsProtocol::udp, 1, 0), 0u);
}

TEST(DnsMetrics, CutShortResponsesNeverReadPastTheEnd) {
  DnsMetrics m;
  Bytes r = response(0x84, 0x00, 1, 1);
  for (size_t len = 0; len < r.size(); ++len) {
    count_response(m, DnsProtocol::udp, {r.data(), len});
  }
  uint64_t total = 0;
  for (const auto& per_type : m.responses[0]) {
    for (const auto& c : per_type) total += c.load();
  }
  EXPECT_EQ(total, r.size() - 12);  // every cut with a header is counted once
}

TEST(MetricsConfig, ListenIsOffByDefaultAndParsedWhenSet) {
  auto off = parse_config("[node]\nid = \"n1\"\n", "t.toml");
  ASSERT_TRUE(off) << off.error();
  EXPECT_FALSE(off->metrics_listen);
  auto on = parse_config("[node]\nid = \"n1\"\n[metrics]\nlisten = \"127.0.0.1:9953\"\n", "t.toml");
  ASSERT_TRUE(on) << on.error();
  ASSERT_TRUE(on->metrics_listen);
  EXPECT_EQ(on->metrics_listen->to_text(), "127.0.0.1:9953");
  auto bad = parse_config("[node]\nid = \"n1\"\n[metrics]\nlisten = \"localhost:9953\"\n", "t.toml");
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().find("metrics.listen"), std::string::npos) << bad.error();
  auto unknown = parse_config("[node]\nid = \"n1\"\n[metrics]\nport = 1\n", "t.toml");
  ASSERT_FALSE(unknown);
  EXPECT_NE(unknown.error().find("metrics.port"), std::string::npos) << unknown.error();
}

}  // namespace
}  // namespace raftdns::server
