// Config: defaults, every key's checks, and errors that name the key and line.
#include <gtest/gtest.h>

#include <netinet/in.h>

#include <algorithm>
#include <fstream>
#include <string>

#include "common/duration.h"
#include "daemon/server/config.h"
#include "daemon/server/control_service.h"

namespace raftdns::server {
namespace {

Result<Config> parse(const std::string& text) { return parse_config(text, "test.toml"); }

::testing::AssertionResult fails_with(const std::string& text, const std::string& fragment) {
  auto cfg = parse(text);
  if (cfg.ok()) return ::testing::AssertionFailure() << "accepted:\n" << text;
  if (cfg.error().find(fragment) == std::string::npos) {
    return ::testing::AssertionFailure()
           << "error \"" << cfg.error() << "\" lacks \"" << fragment << "\"";
  }
  return ::testing::AssertionSuccess();
}

TEST(Config, MinimalConfigGetsDocumentedDefaults) {
  auto cfg = parse("[node]\nid = \"n1\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->node_id, "n1");
  EXPECT_EQ(cfg->data_dir, "/var/lib/raftdns");
  ASSERT_EQ(cfg->listen.size(), 1u);
  EXPECT_EQ(cfg->listen[0].to_text(), "127.0.0.1:53");
  EXPECT_EQ(cfg->workers, 0u);
  EXPECT_EQ(cfg->identity, "n1");
  EXPECT_EQ(cfg->version, std::string("raftdns ") + RAFTDNS_VERSION);
  EXPECT_EQ(cfg->max_udp_size, 1232);
  EXPECT_EQ(cfg->tcp_idle_timeout_ms, 10000u);
  EXPECT_EQ(cfg->control_socket, "/run/raftdns/control.sock");
  EXPECT_TRUE(cfg->control_group.empty());
  EXPECT_EQ(cfg->log_level, LogLevel::info);
  EXPECT_TRUE(cfg->peers.empty());
}

TEST(Config, EveryKeyIsRead) {
  auto cfg = parse(R"(
[node]
id = "ns1"
data_dir = "/tmp/x"
[log]
level = "debug"
[dns]
listen = ["127.0.0.1:5353", "[::1]:5353"]
workers = 3
identity = "ns1.example"
version = ""
max_udp_size = 1400
tcp_idle_timeout = 7
tcp_max_connections = 50
tcp_max_per_client = 5
[control]
socket = "/tmp/c.sock"
group = "raftdns"
[cluster]
listen = "127.0.0.1:7001"
key_file = "/etc/raftdns/cluster.key"
[[cluster.peer]]
id = "ns2"
address = "127.0.0.1:7002"
[[cluster.peer]]
id = "ns3"
address = "[::1]:7003"
)");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->data_dir, "/tmp/x");
  EXPECT_EQ(cfg->log_level, LogLevel::debug);
  ASSERT_EQ(cfg->listen.size(), 2u);
  EXPECT_EQ(cfg->listen[1].to_text(), "[::1]:5353");
  EXPECT_EQ(cfg->workers, 3u);
  EXPECT_EQ(cfg->identity, "ns1.example");
  EXPECT_EQ(cfg->version, "");  // set but empty: version.bind is refused
  EXPECT_EQ(cfg->max_udp_size, 1400);
  EXPECT_EQ(cfg->tcp_idle_timeout_ms, 7000u);
  EXPECT_EQ(cfg->tcp_max_connections, 50u);
  EXPECT_EQ(cfg->tcp_max_per_client, 5u);
  EXPECT_EQ(cfg->control_socket, "/tmp/c.sock");
  EXPECT_EQ(cfg->control_group, "raftdns");
  ASSERT_TRUE(cfg->cluster_listen.has_value());
  EXPECT_EQ(cfg->cluster_listen->to_text(), "127.0.0.1:7001");
  EXPECT_EQ(cfg->cluster_key_file, "/etc/raftdns/cluster.key");
  ASSERT_EQ(cfg->peers.size(), 2u);
  EXPECT_EQ(cfg->peers[0].id, "ns2");
  EXPECT_EQ(cfg->peers[1].address, "[::1]:7003");
}

TEST(Config, UnknownKeysAreErrorsNamingTheKeyAndLine) {
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nlisten = [\"127.0.0.1:53\"]\nworker = 2\n",
                         "test.toml:5: unknown key \"dns.worker\""));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\nname = \"x\"\n", "unknown key \"node.name\""));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[zones]\n", "unknown key \"zones\""));
  EXPECT_TRUE(
      fails_with("[node]\nid = \"n1\"\n[cluster]\nlisten = \"127.0.0.1:7001\"\n"
                 "key_file = \"k\"\n[[cluster.peer]]\nid = \"n2\"\naddress = "
                 "\"127.0.0.1:7002\"\nport = 1\n",
                 "unknown key \"cluster.peer.port\""));
}

TEST(Config, WrongTypesAndRangesNameTheKey) {
  EXPECT_TRUE(fails_with("[node]\nid = 5\n", "node.id must be a string"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nworkers = 0\n",
                         "test.toml:4: dns.workers must be an integer from 1 to 256"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nworkers = \"2\"\n", "dns.workers"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nmax_udp_size = 100\n", "dns.max_udp_size"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nlisten = []\n", "dns.listen"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nlisten = \"127.0.0.1:53\"\n", "dns.listen"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[log]\nlevel = \"loud\"\n", "log.level"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[control]\nsocket = \"\"\n", "control.socket"));
  EXPECT_TRUE(fails_with("node = 3\n", "\"node\" must be a table"));
}

TEST(Config, ConformanceSwitchesAreBooleansDefaultingOn) {
  auto cfg = parse("[node]\nid = \"n1\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_TRUE(cfg->minimal_responses);
  EXPECT_TRUE(cfg->cookies);
  cfg = parse("[node]\nid = \"n1\"\n[dns]\nminimal_responses = false\ncookies = false\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_FALSE(cfg->minimal_responses);
  EXPECT_FALSE(cfg->cookies);
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nminimal_responses = \"no\"\n",
                         "test.toml:4: dns.minimal_responses must be true or false"));
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\ncookies = 1\n", "dns.cookies"));
}

TEST(Config, NodeIdIsRequiredAndRestricted) {
  EXPECT_TRUE(fails_with("", "missing table [node]"));
  EXPECT_TRUE(fails_with("[node]\ndata_dir = \"/x\"\n", "missing key node.id"));
  EXPECT_TRUE(fails_with("[node]\nid = \"bad id\"\n", "node.id must be"));
}

TEST(Config, ListenAddressesAreCheckedAndNeverResolved) {
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n[dns]\nlisten = [\"localhost:53\"]\n",
                         "not a numeric IPv4 address"));
  EXPECT_TRUE(
      fails_with("[node]\nid = \"n1\"\n[dns]\nlisten = [\"127.0.0.1:53\", "
                 "\"127.0.0.1:53\"]\n",
                 "twice"));
}

TEST(Config, ClusterPeersNeedListenKeyFileAndUniqueIds) {
  const std::string head = "[node]\nid = \"n1\"\n[cluster]\n";
  const std::string peer = "[[cluster.peer]]\nid = \"n2\"\naddress = \"127.0.0.1:7002\"\n";
  EXPECT_TRUE(fails_with(head + "key_file = \"k\"\n" + peer, "cluster.listen is required"));
  EXPECT_TRUE(
      fails_with(head + "listen = \"127.0.0.1:7001\"\n" + peer, "cluster.key_file is required"));
  EXPECT_TRUE(fails_with(head + "listen = \"127.0.0.1:7001\"\nkey_file = \"k\"\n" + peer + peer,
                         "used twice"));
  EXPECT_TRUE(fails_with(head + "listen = \"127.0.0.1:7001\"\nkey_file = \"k\"\n"
                                "[[cluster.peer]]\nid = \"n1\"\naddress = \"127.0.0.1:7002\"\n",
                         "used twice"));
  EXPECT_TRUE(fails_with(head + "listen = \"127.0.0.1:7001\"\nkey_file = \"k\"\n"
                                "[[cluster.peer]]\nid = \"n2\"\n",
                         "missing key address"));
  // A cluster of one: the section may stand alone.
  EXPECT_TRUE(parse(head + "listen = \"127.0.0.1:7001\"\n").ok());
}

TEST(Config, JoinNeedsTheClustersMembersAndAWildcardListenNeedsAdvertise) {
  const std::string head = "[node]\nid = \"n4\"\n[cluster]\nkey_file = \"k\"\n";
  const std::string peer = "[[cluster.peer]]\nid = \"n1\"\naddress = \"127.0.0.1:7001\"\n";
  EXPECT_TRUE(fails_with(head + "listen = \"127.0.0.1:7004\"\njoin = true\n",
                         "cluster.join = true needs the running cluster's members"));
  auto joined = parse(head + "listen = \"127.0.0.1:7004\"\njoin = true\n" + peer);
  ASSERT_TRUE(joined.ok()) << joined.error();
  EXPECT_TRUE(joined->cluster_join);
  EXPECT_FALSE(joined->cluster_advertise.has_value());
  EXPECT_TRUE(fails_with(head + "listen = \"0.0.0.0:7004\"\n" + peer,
                         "set cluster.advertise to the address peers dial"));
  EXPECT_TRUE(fails_with(head + "listen = \"0.0.0.0:7004\"\nadvertise = \"0.0.0.0:7004\"\n" + peer,
                         "cluster.advertise must be an address peers can dial"));
  auto advertised =
      parse(head + "listen = \"0.0.0.0:7004\"\nadvertise = \"192.0.2.4:7004\"\n" + peer);
  ASSERT_TRUE(advertised.ok()) << advertised.error();
  EXPECT_EQ(advertised->cluster_advertise->to_text(), "192.0.2.4:7004");
  EXPECT_TRUE(fails_with(head + "listen = \"127.0.0.1:7004\"\njoin = 1\n" + peer, "cluster.join"));
}

constexpr const char* kSecret = "c2VjcmV0LWtleS1mb3ItdHNpZy10ZXN0cw==";

TEST(Config, TransferKeysRulesNotifyAndCatalogAreRead) {
  auto cfg = parse(std::string("[node]\nid = \"n1\"\n") +
                   "[[tsig]]\nname = \"Xfr.Example\"\nsecret = \"" + kSecret + "\"\n" +
                   "[[tsig]]\nname = \"big.example.\"\nalgorithm = \"hmac-sha512\"\nsecret = \"" +
                   kSecret + "\"\n" +
                   "[transfer]\njournal_entries = 7\n"
                   "[[transfer.allow]]\nfrom = \"192.0.2.0/24\"\nkey = \"xfr.example.\"\n"
                   "zones = [\"example.com.\", \"example.net\"]\n"
                   "[[transfer.allow]]\nfrom = \"2001:db8::/32\"\n"
                   "[[transfer.notify]]\naddress = \"192.0.2.53:53\"\nkey = \"big.example.\"\n"
                   "[catalog]\nzone = \"catalog.example.\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  ASSERT_EQ(cfg->tsig_keys.keys().size(), 2u);
  const tsig::Key* k = cfg->tsig_keys.find(*wire::Name::from_text("xfr.example."));
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->algorithm, tsig::Algorithm::hmac_sha256);  // the default
  EXPECT_EQ(cfg->journal_entries, 7u);
  ASSERT_EQ(cfg->transfer_allow.size(), 2u);
  EXPECT_EQ(cfg->transfer_allow[0].from->to_text(), "192.0.2.0/24");
  EXPECT_EQ(cfg->transfer_allow[0].zones.size(), 2u);
  EXPECT_FALSE(cfg->transfer_allow[1].key.has_value());
  ASSERT_EQ(cfg->notify.size(), 1u);
  EXPECT_EQ(cfg->notify[0].address.to_text(), "192.0.2.53:53");
  EXPECT_EQ(cfg->catalog_zone->to_text(), "catalog.example.");
}

TEST(Config, TransferErrorsNameTheKeyAndLine) {
  const std::string head = std::string("[node]\nid = \"n1\"\n");
  const std::string key =
      std::string("[[tsig]]\nname = \"xfr.example.\"\nsecret = \"") + kSecret + "\"\n";
  EXPECT_TRUE(fails_with(head + "[[tsig]]\nname = \"k.\"\n", "needs secret or secret_file"));
  EXPECT_TRUE(fails_with(head + "[[tsig]]\nname = \"k.\"\nalgorithm = \"hmac-md5\"\nsecret = \"" +
                             kSecret + "\"\n",
                         "unsupported algorithm"));
  EXPECT_TRUE(fails_with(head + "[[tsig]]\nname = \"k.\"\nsecret = \"!!\"\n", "base64"));
  EXPECT_TRUE(fails_with(head + key + key, "defined twice"));
  EXPECT_TRUE(fails_with(head + "[[tsig]]\nname = \"k.\"\nsecret_file = \"/nonexistent/k\"\n",
                         "test.toml:5: tsig.secret_file: cannot read /nonexistent/k"));
  EXPECT_TRUE(fails_with(head + "[[transfer.allow]]\nkey = \"nobody.\"\n",
                         "no [[tsig]] table defines"));
  EXPECT_TRUE(fails_with(head + "[[transfer.allow]]\nfrom = \"192.0.2.1/24\"\n", "host bits"));
  EXPECT_TRUE(fails_with(head + "[[transfer.allow]]\nzones = [\"example.com.\"]\n",
                         "needs from, key or both"));
  EXPECT_TRUE(fails_with(head + "[[transfer.notify]]\nkey = \"x.\"\n", "missing key address"));
  EXPECT_TRUE(fails_with(head + "[transfer]\nallowed = 1\n", "unknown key \"transfer.allowed\""));
  EXPECT_TRUE(fails_with(head + "[catalog]\nzone = \".\"\n", "catalog.zone"));
}

TEST(Config, TsigSecretFileTakesABindKeyBlock) {
  const std::string path = ::testing::TempDir() + "/raftdns-config-test.key";
  {
    std::ofstream out(path);
    out << "key \"xfr.example.\" {\n\talgorithm hmac-sha256;\n\tsecret \"" << kSecret
        << "\";\n};\n";
  }
  auto cfg = parse("[node]\nid = \"n1\"\n[[tsig]]\nname = \"xfr.example.\"\nsecret_file = \"" +
                   path + "\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(tsig::to_base64(cfg->tsig_keys.keys().at(0).secret), kSecret);
}

TEST(Config, SyntaxErrorsCarryTheLine) {
  EXPECT_TRUE(fails_with("[node]\nid = \"n1\"\n\n[dns\n", "test.toml:4:"));
}

TEST(Config, ShippedExampleConfigIsValid) {
  auto cfg = load_config(RAFTDNS_EXAMPLE_CONFIG);
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->data_dir, "/var/lib/raftdns");
  EXPECT_EQ(cfg->control_socket, "/run/raftdns/control.sock");
  ASSERT_EQ(cfg->listen.size(), 2u);
  EXPECT_EQ(cfg->listen[0].to_text(), "127.0.0.1:53");
  EXPECT_EQ(cfg->listen[1].to_text(), "[::1]:53");
  EXPECT_TRUE(cfg->peers.empty());
}

TEST(Config, MissingFileIsAnErrorNamingIt) {
  auto cfg = load_config("/nonexistent/raftdns.toml");
  ASSERT_FALSE(cfg.ok());
  EXPECT_NE(cfg.error().find("/nonexistent/raftdns.toml"), std::string::npos);
}

TEST(Reload, OnlyLogLevelAndChaosStringsApplyWithoutRestart) {
  auto a = parse("[node]\nid = \"n1\"\n[dns]\nlisten = [\"127.0.0.1:53\"]\n");
  auto b = parse(
      "[node]\nid = \"n1\"\n[log]\nlevel = \"debug\"\n[dns]\nlisten = [\"127.0.0.1:54\"]\n"
      "identity = \"x\"\nversion = \"y\"\n");
  ASSERT_TRUE(a.ok() && b.ok());
  ReloadPlan plan = plan_reload(*a, *b);
  EXPECT_EQ(plan.ignored_keys, std::vector<std::string>{"dns.listen"});
}

TEST(SocketAddress, ParsesIpv4AndBracketedIpv6) {
  auto v4 = parse_socket_address("192.0.2.1:5353");
  ASSERT_TRUE(v4.ok()) << v4.error();
  EXPECT_EQ(v4->family(), AF_INET);
  EXPECT_EQ(v4->port(), 5353);
  EXPECT_EQ(v4->length, sizeof(sockaddr_in));
  EXPECT_FALSE(v4->is_wildcard());
  auto v6 = parse_socket_address("[2001:db8::1]:53");
  ASSERT_TRUE(v6.ok()) << v6.error();
  EXPECT_EQ(v6->family(), AF_INET6);
  EXPECT_EQ(v6->to_text(), "[2001:db8::1]:53");
  EXPECT_TRUE(parse_socket_address("0.0.0.0:53")->is_wildcard());
  EXPECT_TRUE(parse_socket_address("[::]:53")->is_wildcard());
}

TEST(SocketAddress, RejectsNamesMissingPortsAndBadPorts) {
  for (const char* bad : {"example.com:53", "127.0.0.1", "127.0.0.1:", "127.0.0.1:0",
                          "127.0.0.1:65536", "127.0.0.1:53x", "::1:53", "[::1]53", "[::1]",
                          "[zz::1]:53", "[127.0.0.1]:53", "", ":53", "1.2.3:53"}) {
    EXPECT_FALSE(parse_socket_address(bad).ok()) << bad;
  }
}

TEST(Group, ResolvesNamesFromTheGroupFileAndNumbersDirectly) {
  const std::string path = ::testing::TempDir() + "/raftdns-group-test";
  {
    std::ofstream out(path);
    out << "root:x:0:\nraftdns-other:x:998:\nraftdns:x:999:alice,bob\n";
  }
  auto named = resolve_group("raftdns", path);
  ASSERT_TRUE(named.ok()) << named.error();
  EXPECT_EQ(*named, 999u);
  auto numeric = resolve_group("1234", path);
  ASSERT_TRUE(numeric.ok());
  EXPECT_EQ(*numeric, 1234u);
  auto missing = resolve_group("nobody-here", path);
  ASSERT_FALSE(missing.ok());
  EXPECT_NE(missing.error().find("nobody-here"), std::string::npos);
}

}  // namespace
}  // namespace raftdns::server

namespace raftdns::server {
namespace {

TEST(DnssecConfig, AbsentTableGivesTheDocumentedSigningDefaults) {
  auto cfg = parse("[node]\nid = \"n1\"\n");
  ASSERT_TRUE(cfg.ok()) << cfg.error();
  EXPECT_EQ(cfg->dnssec_tick_interval, 60u);
  const store::SigningParams& p = cfg->signing_defaults;
  EXPECT_EQ(p.algorithm, 13);
  EXPECT_EQ(p.validity, 14u * 86400);
  EXPECT_EQ(p.refresh, 7u * 86400);
  EXPECT_EQ(p.jitter, 86400u);
  EXPECT_EQ(p.dnskey_ttl, 3600u);
  EXPECT_EQ(p.publish_wait, 2u * 3600);
  EXPECT_EQ(p.retire_wait, 2u * 86400);
  EXPECT_EQ(p.ds_wait, 2u * 86400);
  EXPECT_EQ(p.zsk_lifetime, 30u * 86400);
  EXPECT_EQ(p.ksk_lifetime, 0u);
}

TEST(DnssecConfig, DurationsAreSecondsOrSuffixedText) {
  auto cfg = parse(R"([node]
id = "n1"
[dnssec]
tick_interval = "1s"
algorithm = 15
signature_validity = "1d12h"
signature_refresh = 3600
signature_jitter = "5m"
dnskey_ttl = "30s"
publish_wait = "1m"
retire_wait = "2w"
ds_wait = 0
zsk_lifetime = "20m"
ksk_lifetime = "90d"
)");
  ASSERT_TRUE(cfg.ok()) << (cfg.ok() ? "" : cfg.error());
  EXPECT_EQ(cfg->dnssec_tick_interval, 1u);
  const store::SigningParams& p = cfg->signing_defaults;
  EXPECT_EQ(p.algorithm, 15);
  EXPECT_EQ(p.validity, 36u * 3600);
  EXPECT_EQ(p.refresh, 3600u);
  EXPECT_EQ(p.jitter, 300u);
  EXPECT_EQ(p.dnskey_ttl, 30u);
  EXPECT_EQ(p.publish_wait, 60u);
  EXPECT_EQ(p.retire_wait, 14u * 86400);
  EXPECT_EQ(p.ds_wait, 0u);
  EXPECT_EQ(p.zsk_lifetime, 1200u);
  EXPECT_EQ(p.ksk_lifetime, 90u * 86400);
}

TEST(DnssecConfig, BadValuesAreRefusedNamingTheKey) {
  const std::string head = "[node]\nid = \"n1\"\n[dnssec]\n";
  EXPECT_TRUE(fails_with(head + "tick_interval = 0\n", "test.toml:4: dnssec.tick_interval"));
  EXPECT_TRUE(fails_with(head + "tick_interval = \"2d\"\n", "dnssec.tick_interval"));
  EXPECT_TRUE(fails_with(head + "signature_validity = \"14 days\"\n", "dnssec.signature_validity"));
  EXPECT_TRUE(fails_with(head + "signature_refresh = -5\n", "dnssec.signature_refresh"));
  EXPECT_TRUE(fails_with(head + "dnskey_ttl = true\n", "dnssec.dnskey_ttl"));
  EXPECT_TRUE(fails_with(head + "signing = 1\n", "unknown key \"dnssec.signing\""));
  EXPECT_TRUE(fails_with(head + "algorithm = 8\n", "dnssec.algorithm 8 is not supported"));
  // Together: a signature must be renewed before it expires.
  EXPECT_TRUE(fails_with(head + "signature_validity = 60\nsignature_refresh = 50\n"
                                "signature_jitter = 10\n",
                         "dnssec.signature_validity (1m) must be longer than "
                         "dnssec.signature_refresh (50s) plus dnssec.signature_jitter (10s)"));
  EXPECT_TRUE(fails_with(head + "signature_refresh = \"1d\"\n",
                         "dnssec.signature_jitter (1d) "
                         "must be shorter than"));
  EXPECT_TRUE(fails_with(head + "publish_wait = 60\n",
                         "dnssec.publish_wait (1m) must be at least dnssec.dnskey_ttl (1h)"));
  EXPECT_TRUE(fails_with(head + "zsk_lifetime = \"1h\"\n", "dnssec.zsk_lifetime (1h) must be 0"));
}

TEST(DnssecConfig, ChangedSigningDefaultsNeedARestart) {
  auto a = parse("[node]\nid = \"n1\"\n");
  auto b =
      parse("[node]\nid = \"n1\"\n[dnssec]\ntick_interval = 5\nsignature_validity = \"21d\"\n");
  ASSERT_TRUE(a.ok() && b.ok());
  auto ignored = plan_reload(*a, *b).ignored_keys;
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "dnssec.tick_interval"), ignored.end());
  EXPECT_NE(std::find(ignored.begin(), ignored.end(), "dnssec"), ignored.end());
}

TEST(Duration, ReadsSecondsAndUnitsLargestFirstAndPrintsTheShortestForm) {
  EXPECT_EQ(parse_duration("90"), 90u);
  EXPECT_EQ(parse_duration("90s"), 90u);
  EXPECT_EQ(parse_duration("1w2d3h4m5s"), 7u * 86400 + 2 * 86400 + 3 * 3600 + 4 * 60 + 5);
  EXPECT_EQ(parse_duration("0"), 0u);
  for (const char* bad :
       {"", "s", "1h30", "30m1h", "1hh", "1 h", "-1", "1y", "4294967296", "49711d"}) {
    EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
  }
  EXPECT_EQ(format_duration(0), "0s");
  EXPECT_EQ(format_duration(36 * 3600), "1d12h");
  for (uint64_t s : {1u, 59u, 61u, 86399u, 1209600u, 4294967295u}) {
    EXPECT_EQ(parse_duration(format_duration(s)), s) << s;
  }
}

}  // namespace
}  // namespace raftdns::server
