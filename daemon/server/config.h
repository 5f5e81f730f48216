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

namespace raftdns::server {

// A numeric socket address: "192.0.2.1:53" or "[2001:db8::1]:53".
struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  int family() const { return storage.ss_family; }
  uint16_t port() const;
  bool is_wildcard() const;  // 0.0.0.0 or ::
  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  std::string to_text() const;
};

// Parses "addr:port" with an IPv4 address or a bracketed IPv6 address, and a
// port from 1 to 65535.
Result<SocketAddress> parse_socket_address(std::string_view text);

struct PeerConfig {
  std::string id;
  SocketAddress address;
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

  // [control]
  std::string control_socket = "/run/raftdns/control.sock";
  std::string control_group;  // empty: keep the daemon's group

  // [cluster]: peers and Raft timing. No peers: a cluster of one.
  std::optional<SocketAddress> cluster_listen;
  std::string cluster_key_file;
  std::vector<PeerConfig> peers;
  uint32_t tick_ms = 50;          // one Raft tick
  uint32_t election_ticks = 10;   // election timeout, in ticks (randomized up to 2x)
  uint32_t heartbeat_ticks = 1;   // leader heartbeat interval, in ticks
  uint64_t compact_entries = 10000;          // compact the WAL after this many applied entries
  uint64_t compact_bytes = uint64_t{64} << 20;  // ... or once the WAL is this large
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
