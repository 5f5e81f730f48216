// raftdnsd configuration: the TOML file's keys, their defaults and checks.
//
// Every key is documented in example.toml and raftdns.toml(5). An unknown key
// is an error naming it, so a typo never silently falls back to a default.
// Addresses are parsed numerically; names are never resolved.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/server/log.h"
#include "daemon/server/rrl.h"
#include "daemon/store/command.h"
#include "daemon/tsig/tsig.h"
#include "daemon/update/update.h"
#include "daemon/wire/name.h"
#include "daemon/xfr/policy.h"
#include "replication/address.h"

namespace raftdns::server {

// Numeric socket addresses are the replication layer's (one parser for
// every address the daemon reads).
using replication::SocketAddress;

// Parses "addr:port" with an IPv4 address or a bracketed IPv6 address, and a
// port from 1 to 65535 (port 0, "any", is refused for configured addresses).
Result<SocketAddress> parse_socket_address(std::string_view text);

using replication::PeerConfig;  // the address in SocketAddress::to_text() form

// [[transfer.notify]]: a secondary told about every change (RFC 1996).
struct NotifyTarget {
  SocketAddress address;
  std::optional<wire::Name> key;  // signs the NOTIFY
  std::vector<wire::Name> zones;  // every zone when empty
};

// One [[update.grant]]: for updates signed with `key`, or unsigned ones from
// an address in `from` (exactly one of the two).
struct UpdateGrantConfig {
  std::optional<wire::Name> key;
  std::optional<xfr::Cidr> from;
  update::Grant grant;
};

struct Config {
  std::string path;  // the file it came from, for messages

  // [node]
  std::string node_id;
  std::string data_dir = "/var/lib/raftdns";

  // [log]
  LogLevel log_level = LogLevel::info;

  // [dns]
  std::vector<SocketAddress> listen;
  unsigned workers = 0;  // resolved to the CPU count when 0
  std::string identity;  // CHAOS id.server; defaults to node_id
  std::string version;   // CHAOS version.bind; defaults to "raftdns <version>"
  uint16_t max_udp_size = 1232;
  // false: positive answers carry the zone's NS RRset and their addresses.
  bool minimal_responses = true;
  // RFC 7873 DNS Cookies, with a secret derived from the cluster key.
  bool cookies = true;
  uint32_t tcp_idle_timeout_ms = 10000;
  uint32_t tcp_max_connections = 1024;
  uint32_t tcp_max_per_client = 16;
  // Inbound: a larger query is dropped (UDP) or its connection closed (TCP).
  uint32_t max_message_size = 4096;
  // Response rate limiting for UDP (rate_limit* keys); off by default.
  RrlConfig rrl;
  // Slots (264 bytes each) of each worker's cache of finished answers; 0: none.
  uint32_t answer_cache_size = 131072;

  // [control]
  std::string control_socket = "/run/raftdns/control.sock";
  std::string control_group;  // empty: keep the daemon's group

  // [metrics]: Prometheus /metrics, /healthz and /readyz over HTTP; off when absent.
  std::optional<SocketAddress> metrics_listen;

  // [cluster]: peers and Raft timing. No peers: a cluster of one.
  std::optional<SocketAddress> cluster_listen;
  std::string cluster_key_file;
  // The address peers dial to reach this node (recorded in the membership);
  // when absent, cluster.listen, which must then not be a wildcard.
  std::optional<SocketAddress> cluster_advertise;
  // The bootstrap membership, read on a node's first start only.
  std::vector<PeerConfig> peers;
  // A new node joining a running cluster: it waits to be added (dnsadm
  // member add) and takes the leader's state; it never bootstraps.
  bool cluster_join = false;
  // Command line, not TOML: raftdnsd --force-new-cluster.
  bool force_new_cluster = false;
  uint32_t tick_ms = 50;          // one Raft tick
  uint32_t election_ticks = 10;   // election timeout, in ticks (randomized up to 2x)
  uint32_t heartbeat_ticks = 1;   // leader heartbeat interval, in ticks
  uint64_t compact_entries = 10000;          // compact the WAL after this many applied entries
  uint64_t compact_bytes = uint64_t{64} << 20;  // ... or once the WAL is this large

  // [[tsig]]: keys for transfers, NOTIFY (and updates), by name.
  tsig::KeyRing tsig_keys;
  // [[transfer.allow]]: who may transfer which zones (default deny).
  std::vector<xfr::AllowRule> transfer_allow;
  // [[transfer.notify]]
  std::vector<NotifyTarget> notify;
  // [transfer] journal_entries: changes kept per zone for IXFR (per node).
  uint32_t journal_entries = 100;
  // [catalog] zone: publish a catalog zone (RFC 9432) under this name.
  std::optional<wire::Name> catalog_zone;
  // [update]: RFC 2136 dynamic updates. Default deny: with no grant, every
  // UPDATE is REFUSED.
  std::vector<UpdateGrantConfig> update_grants;
  uint32_t update_timeout_ms = 5000;  // an update not applied by then gets SERVFAIL
  // [dnssec]: online signing. The leader proposes a clock tick for every
  // signed zone this often (renewals and the rollovers' timed steps).
  uint32_t dnssec_tick_interval = 60;  // seconds
  // The policy `dnsadm zone sign` gives a zone unless it overrides a value.
  store::SigningParams signing_defaults;
};

// Parses TOML text. `origin` names the source in messages (a path).
Result<Config> parse_config(std::string_view text, const std::string& origin);
// Reads and parses a file.
Result<Config> load_config(const std::string& path);

// The keys SIGHUP applies without a restart: log level, the CHAOS
// identity and version, dns.minimal_responses and dns.cookies. Everything else needs a
// restart; reload() reports
// which changed keys it had to ignore.
struct ReloadPlan {
  std::vector<std::string> ignored_keys;  // changed, but need a restart
};
ReloadPlan plan_reload(const Config& running, const Config& fresh);

}  // namespace raftdns::server
