// Response rate limiting (budgets per client prefix and answer kind, slip,
// response classification, the slip form; the clock is injected) and the
// [dns] limit keys reaching the workers.
#include "daemon/server/rrl.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>

#include <string>
#include <vector>

#include "daemon/server/config.h"
#include "daemon/server/dns_worker.h"

namespace raftdns::server {
namespace {

using Bytes = std::vector<uint8_t>;

sockaddr_storage v4(const char* text) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in*>(&ss);
  a->sin_family = AF_INET;
  a->sin_port = htons(40000);
  EXPECT_EQ(inet_pton(AF_INET, text, &a->sin_addr), 1);
  return ss;
}

sockaddr_storage v6(const char* text) {
  sockaddr_storage ss{};
  auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
  a->sin6_family = AF_INET6;
  a->sin6_port = htons(40000);
  EXPECT_EQ(inet_pton(AF_INET6, text, &a->sin6_addr), 1);
  return ss;
}

const sockaddr* sa(const sockaddr_storage& ss) { return reinterpret_cast<const sockaddr*>(&ss); }

void put16(Bytes& b, uint16_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

void put_name(Bytes& b, const std::string& name) {
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    b.push_back(static_cast<uint8_t>(dot - start));
    b.insert(b.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  b.push_back(0);
}

// A response as the engine writes it: the question, then `answers` A
// records owned by the query name (a pointer to it), then optionally one
// authority record owned by `authority_owner` written out in full.
Bytes response(const std::string& qname, uint16_t qtype, uint8_t rcode, bool aa, int answers,
               const std::string& authority_owner = "", uint16_t authority_type = 6) {
  Bytes b;
  put16(b, 0x1234);
  b.push_back(static_cast<uint8_t>(0x80 | (aa ? 0x04 : 0)));
  b.push_back(rcode);
  put16(b, 1);
  put16(b, static_cast<uint16_t>(answers));
  put16(b, authority_owner.empty() ? 0 : 1);
  put16(b, 0);
  put_name(b, qname);
  put16(b, qtype);
  put16(b, 1);
  for (int i = 0; i < answers; ++i) {
    put16(b, 0xc00c);
    put16(b, 1);
    put16(b, 1);
    put16(b, 0);
    put16(b, 300);
    put16(b, 4);
    for (uint8_t octet : {192, 0, 2, 1}) b.push_back(octet);
  }
  if (!authority_owner.empty()) {
    put_name(b, authority_owner);
    put16(b, authority_type);
    put16(b, 1);
    put16(b, 0);
    put16(b, 300);
    put16(b, 2);
    put16(b, 0xc00c);
  }
  return b;
}

ClassifiedResponse classify(const Bytes& b) { return classify_response({b.data(), b.size()}); }

RrlConfig config(uint32_t rate, uint32_t slip) {
  RrlConfig c;
  c.rate = rate;
  c.slip = slip;
  c.table_size = 1024;
  return c;
}

// Sends `count` responses at one instant; returns how many were allowed.
int allowed_at(ResponseRateLimiter& rrl, const sockaddr_storage& client,
               const ClassifiedResponse& r, uint32_t now_ms, int count) {
  int sent = 0;
  for (int i = 0; i < count; ++i) sent += rrl.check(sa(client), r, now_ms) == RrlVerdict::send;
  return sent;
}

const ClassifiedResponse kWwwA = classify(response("www.example.com", 1, 0, true, 1));

TEST(RrlConfig, IsOffByDefault) {
  RrlConfig c;
  EXPECT_FALSE(c.enabled());
  EXPECT_EQ(c.ipv4_prefix, 24);
  EXPECT_EQ(c.ipv6_prefix, 56);
  EXPECT_EQ(c.slip, 2u);
}

TEST(ResponseRateLimiter, ClientBelowTheRateIsNeverLimited) {
  ResponseRateLimiter rrl(config(10, 2), 1);
  auto client = v4("192.0.2.7");
  // 10 per second, evenly spaced, for a minute.
  for (uint32_t ms = 0; ms < 60000; ms += 100) {
    ASSERT_EQ(rrl.check(sa(client), kWwwA, ms), RrlVerdict::send) << "at " << ms << " ms";
  }
}

TEST(ResponseRateLimiter, BurstIsCappedAtOneSecondOfRate) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  auto client = v4("192.0.2.7");
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 5000, 1000), 10);
}

TEST(ResponseRateLimiter, BudgetRefillsAtTheConfiguredRate) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  auto client = v4("192.0.2.7");
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 0, 100), 10);
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 99, 100), 0);   // 0.99 of a response
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 100, 100), 1);  // one per 100 ms
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 350, 100), 2);  // 2.5 earned, 0.5 kept
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 400, 100), 1);
  // A long pause refills to one second's worth, not more.
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 100000, 100), 10);
}

TEST(ResponseRateLimiter, FloodGetsRateTimesDurationPlusOneBurst) {
  ResponseRateLimiter rrl(config(100, 0), 1);
  auto client = v4("192.0.2.7");
  int sent = 0;
  // 20000 responses over 0..1999 ms: a burst of 100, then 199 refilled.
  for (uint32_t i = 0; i < 20000; ++i) {
    sent += rrl.check(sa(client), kWwwA, i / 10) == RrlVerdict::send;
  }
  EXPECT_EQ(sent, 299);
}

TEST(ResponseRateLimiter, SlipTwoTruncatesEveryOtherLimitedResponse) {
  ResponseRateLimiter rrl(config(5, 2), 1);
  auto client = v4("192.0.2.7");
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 0, 5), 5);
  int dropped = 0, slipped = 0;
  for (int i = 0; i < 100; ++i) {
    RrlVerdict v = rrl.check(sa(client), kWwwA, 0);
    ASSERT_NE(v, RrlVerdict::send);
    (v == RrlVerdict::slip ? slipped : dropped)++;
  }
  EXPECT_EQ(slipped, 50);
  EXPECT_EQ(dropped, 50);
}

TEST(ResponseRateLimiter, SlipZeroDropsEveryLimitedResponse) {
  ResponseRateLimiter rrl(config(5, 0), 1);
  auto client = v4("192.0.2.7");
  allowed_at(rrl, client, kWwwA, 0, 5);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rrl.check(sa(client), kWwwA, 0), RrlVerdict::drop);
}

TEST(ResponseRateLimiter, SlipOneTruncatesEveryLimitedResponse) {
  ResponseRateLimiter rrl(config(5, 1), 1);
  auto client = v4("192.0.2.7");
  allowed_at(rrl, client, kWwwA, 0, 5);
  for (int i = 0; i < 100; ++i) ASSERT_EQ(rrl.check(sa(client), kWwwA, 0), RrlVerdict::slip);
}

TEST(ResponseRateLimiter, AddressesInOneIpv4Slash24ShareABudget) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  EXPECT_EQ(allowed_at(rrl, v4("198.51.100.1"), kWwwA, 0, 6), 6);
  EXPECT_EQ(allowed_at(rrl, v4("198.51.100.254"), kWwwA, 0, 6), 4);
  // The next /24 is untouched.
  EXPECT_EQ(allowed_at(rrl, v4("198.51.101.1"), kWwwA, 0, 20), 10);
}

TEST(ResponseRateLimiter, AddressesInOneIpv6Slash56ShareABudget) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  EXPECT_EQ(allowed_at(rrl, v6("2001:db8:0:1200::1"), kWwwA, 0, 6), 6);
  EXPECT_EQ(allowed_at(rrl, v6("2001:db8:0:12ff:ffff::9"), kWwwA, 0, 6), 4);
  EXPECT_EQ(allowed_at(rrl, v6("2001:db8:0:1300::1"), kWwwA, 0, 20), 10);
}

TEST(ResponseRateLimiter, PrefixLengthsAreConfigurable) {
  RrlConfig c = config(10, 0);
  c.ipv4_prefix = 32;
  c.ipv6_prefix = 128;
  ResponseRateLimiter rrl(c, 1);
  EXPECT_EQ(allowed_at(rrl, v4("198.51.100.1"), kWwwA, 0, 20), 10);
  EXPECT_EQ(allowed_at(rrl, v4("198.51.100.2"), kWwwA, 0, 20), 10);
  EXPECT_EQ(allowed_at(rrl, v6("2001:db8::1"), kWwwA, 0, 20), 10);
  EXPECT_EQ(allowed_at(rrl, v6("2001:db8::2"), kWwwA, 0, 20), 10);
}

TEST(ResponseRateLimiter, DifferentNamesAndTypesHaveTheirOwnBudgets) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  auto client = v4("192.0.2.7");
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, 0, 20), 10);
  auto mail = classify(response("mail.example.com", 1, 0, true, 1));
  EXPECT_EQ(allowed_at(rrl, client, mail, 0, 20), 10);
  auto www_aaaa = classify(response("www.example.com", 28, 0, true, 1));
  EXPECT_EQ(allowed_at(rrl, client, www_aaaa, 0, 20), 10);
}

TEST(ResponseRateLimiter, RandomNameNxdomainFloodSharesTheZoneBudget) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  auto client = v4("192.0.2.7");
  int sent = 0;
  for (int i = 0; i < 100; ++i) {
    auto r =
        classify(response("r" + std::to_string(i) + ".example.com", 1, 3, true, 0, "example.com"));
    sent += rrl.check(sa(client), r, 0) == RrlVerdict::send;
  }
  EXPECT_EQ(sent, 10);
  // Another zone's NXDOMAIN budget is separate.
  auto other = classify(response("x.example.net", 1, 3, true, 0, "example.net"));
  EXPECT_EQ(allowed_at(rrl, client, other, 0, 20), 10);
}

TEST(ResponseRateLimiter, TableOverflowNeverLimitsAFreshClient) {
  RrlConfig c = config(1, 0);
  c.table_size = 4;
  ResponseRateLimiter rrl(c, 1);
  EXPECT_EQ(rrl.bucket_count(), 4u);
  // Far more prefixes than buckets: each one's first response still goes.
  for (int i = 0; i < 256; ++i) {
    auto client = v4(("10.0." + std::to_string(i) + ".1").c_str());
    ASSERT_EQ(rrl.check(sa(client), kWwwA, static_cast<uint32_t>(i)), RrlVerdict::send) << i;
  }
}

TEST(ResponseRateLimiter, TableSizeRoundsUpToAPowerOfTwo) {
  RrlConfig c = config(1, 0);
  c.table_size = 1500;
  EXPECT_EQ(ResponseRateLimiter(c, 1).bucket_count(), 2048u);
}

TEST(ResponseRateLimiter, ClockWrapKeepsRefilling) {
  ResponseRateLimiter rrl(config(10, 0), 1);
  auto client = v4("192.0.2.7");
  const uint32_t before_wrap = UINT32_MAX - 50;
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, before_wrap, 20), 10);
  EXPECT_EQ(allowed_at(rrl, client, kWwwA, before_wrap + 150, 20), 1);  // wrapped to 99
}

TEST(ClassifyResponse, PositiveAnswerIsKeyedByNameAndType) {
  auto a = classify(response("www.example.com", 1, 0, true, 1));
  EXPECT_EQ(a.response_class, ResponseClass::answer);
  EXPECT_EQ(a.qtype, 1);
  auto upper = classify(response("WWW.Example.COM", 1, 0, true, 1));
  EXPECT_EQ(upper.name_hash, a.name_hash);  // names compare case-insensitively
  EXPECT_NE(classify(response("ftp.example.com", 1, 0, true, 1)).name_hash, a.name_hash);
}

TEST(ClassifyResponse, NxdomainAndNodataAreKeyedByTheZone) {
  auto nx = classify(response("nope.example.com", 1, 3, true, 0, "example.com"));
  auto nodata = classify(response("www.example.com", 16, 0, true, 0, "example.com"));
  EXPECT_EQ(nx.response_class, ResponseClass::nxdomain);
  EXPECT_EQ(nodata.response_class, ResponseClass::nodata);
  EXPECT_EQ(nx.name_hash, nodata.name_hash);
  EXPECT_EQ(nodata.qtype, 0);
}

TEST(ClassifyResponse, ReferralIsKeyedByTheDelegationPoint) {
  auto a = classify(response("a.sub.example.com", 1, 0, false, 0, "sub.example.com", 2));
  auto b = classify(response("b.sub.example.com", 1, 0, false, 0, "sub.example.com", 2));
  EXPECT_EQ(a.response_class, ResponseClass::referral);
  EXPECT_EQ(a.name_hash, b.name_hash);
}

TEST(ClassifyResponse, ErrorsShareOneBucketPerPrefix) {
  auto refused = classify(response("www.example.org", 1, 5, false, 0));
  auto formerr = classify(response("x.example.org", 1, 1, false, 0));
  EXPECT_EQ(refused.response_class, ResponseClass::error);
  EXPECT_EQ(refused.name_hash, 0u);
  EXPECT_EQ(formerr.name_hash, 0u);
}

TEST(ClassifyResponse, TruncatedOrLoopingMessagesAreErrorsAndNeverOverRead) {
  Bytes full = response("nope.example.com", 1, 3, true, 0, "example.com");
  for (size_t len = 0; len < full.size(); ++len) {
    // A copy of exactly `len` bytes, so a sanitizer would catch an over-read.
    Bytes cut(full.begin(), full.begin() + static_cast<long>(len));
    ClassifiedResponse r = classify(cut);
    EXPECT_LE(r.question_end, len);
  }
  Bytes loop = {0x12, 0x34, 0x80, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 0x0c, 0, 1, 0, 1};
  EXPECT_EQ(classify(loop).response_class, ResponseClass::error);
}

TEST(SlipResponse, KeepsHeaderAndQuestionWithTruncationSet) {
  Bytes r = response("www.example.com", 1, 0, true, 3, "example.com");
  ClassifiedResponse c = classify(r);
  size_t length = make_slip_response({r.data(), r.size()}, c.question_end);
  EXPECT_EQ(length, 12u + 17u + 4u);
  EXPECT_EQ(r[0], 0x12);  // ID kept
  EXPECT_EQ(r[1], 0x34);
  EXPECT_TRUE(r[2] & 0x02);  // TC
  EXPECT_EQ(r[5], 1);        // QDCOUNT
  for (size_t i = 6; i < 12; ++i) EXPECT_EQ(r[i], 0) << "count byte " << i;
}

TEST(SlipResponse, HeaderOnlyWhenTheQuestionCannotBeWalked) {
  Bytes r = {0x12, 0x34, 0x80, 0x01, 0, 1, 0, 0, 0, 0, 0, 0, 0x3f};
  ClassifiedResponse c = classify(r);
  EXPECT_EQ(make_slip_response({r.data(), r.size()}, c.question_end), 12u);
  EXPECT_EQ(r[5], 0);
  EXPECT_TRUE(r[2] & 0x02);
}

}  // namespace
}  // namespace raftdns::server

namespace raftdns::server {
namespace {

Result<Config> parse_limits(const std::string& dns_lines) {
  return parse_config("[node]\nid = \"n1\"\n[dns]\n" + dns_lines, "limits.toml");
}

TEST(LimitsConfig, DefaultsLeaveRrlOffAndCapQueriesAt4096Bytes) {
  auto cfg = parse_limits("");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_FALSE(cfg->rrl.enabled());
  EXPECT_EQ(cfg->rrl.slip, 2u);
  EXPECT_EQ(cfg->rrl.ipv4_prefix, 24);
  EXPECT_EQ(cfg->rrl.ipv6_prefix, 56);
  EXPECT_EQ(cfg->rrl.table_size, 65536u);
  EXPECT_EQ(cfg->max_message_size, 4096u);
  WorkerOptions options = worker_options(*cfg);
  EXPECT_FALSE(options.rrl.enabled());
  EXPECT_EQ(options.max_message_size, 4096u);
  EXPECT_EQ(options.tcp_idle_timeout_ms, 10000u);
}

TEST(LimitsConfig, EveryLimitKeyIsReadAndReachesTheWorkers) {
  auto cfg = parse_limits(
      "max_message_size = 1024\nrate_limit = 20\nrate_limit_slip = 3\n"
      "rate_limit_ipv4_prefix = 28\nrate_limit_ipv6_prefix = 48\n"
      "rate_limit_table_size = 4096\ntcp_idle_timeout = 3\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  WorkerOptions options = worker_options(*cfg);
  EXPECT_EQ(options.max_message_size, 1024u);
  EXPECT_EQ(options.rrl.rate, 20u);
  EXPECT_EQ(options.rrl.slip, 3u);
  EXPECT_EQ(options.rrl.ipv4_prefix, 28);
  EXPECT_EQ(options.rrl.ipv6_prefix, 48);
  EXPECT_EQ(options.rrl.table_size, 4096u);
  EXPECT_EQ(options.tcp_idle_timeout_ms, 3000u);
}

TEST(LimitsConfig, OutOfRangeValuesNameTheKey) {
  for (const char* bad :
       {"max_message_size = 511", "max_message_size = 65536", "rate_limit = -1",
        "rate_limit_slip = 101", "rate_limit_ipv4_prefix = 33", "rate_limit_ipv4_prefix = 7",
        "rate_limit_ipv6_prefix = 129", "rate_limit_table_size = 10", "rate_limit = \"20\""}) {
    auto cfg = parse_limits(std::string(bad) + "\n");
    ASSERT_FALSE(cfg.ok()) << bad;
    std::string key = std::string("dns.") + std::string(bad).substr(0, std::string(bad).find(' '));
    EXPECT_NE(cfg.error().find(key), std::string::npos) << cfg.error();
    EXPECT_NE(cfg.error().find("limits.toml:4"), std::string::npos) << cfg.error();
  }
}

TEST(LimitsConfig, ChangingALimitOnReloadIsReportedAsNeedingARestart) {
  auto running = parse_limits("rate_limit = 20\n");
  auto fresh = parse_limits("rate_limit = 50\nmax_message_size = 1024\n");
  ASSERT_TRUE(running.ok() && fresh.ok());
  ReloadPlan plan = plan_reload(*running, *fresh);
  EXPECT_EQ(plan.ignored_keys,
            (std::vector<std::string>{"dns.max_message_size", "dns.rate_limit"}));
}

}  // namespace
}  // namespace raftdns::server
