// Config parsing with toml++ (header-only, so the daemon still links
// statically) and numeric address parsing.
#define TOML_HEADER_ONLY 1
#define TOML_ENABLE_FORMATTERS 0
#include "daemon/server/config.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <toml++/toml.h>
#include <algorithm>
#include <charconv>
#include <cstring>
#include <fstream>
#include <initializer_list>
#include <set>
#include <sstream>

namespace raftdns::server {
namespace {

std::string where(const std::string& origin, const toml::source_region& src) {
  if (src.begin.line == 0) return origin;
  return origin + ":" + std::to_string(src.begin.line);
}

class Reader {
 public:
  explicit Reader(const std::string& origin) : origin_(origin) {}

  Status fail(const toml::node& node, const std::string& message) const {
    return make_error(where(origin_, node.source()) + ": " + message);
  }

  Status check_keys(const toml::table& table, const std::string& prefix,
                    std::initializer_list<std::string_view> allowed) const {
    for (auto&& [key, value] : table) {
      if (std::find(allowed.begin(), allowed.end(), key.str()) == allowed.end()) {
        return make_error(where(origin_, key.source()) + ": unknown key \"" + prefix +
                          std::string(key.str()) + "\"");
      }
    }
    return {};
  }

  Status string(const toml::table& table, const std::string& prefix, std::string_view key,
                std::string& out, bool allow_empty = true) const {
    const toml::node* node = table.get(key);
    if (!node) return {};
    auto value = node->value<std::string>();
    if (!node->is_string() || !value) {
      return fail(*node, prefix + std::string(key) + " must be a string");
    }
    if (!allow_empty && value->empty()) {
      return fail(*node, prefix + std::string(key) + " must not be empty");
    }
    out = *value;
    return {};
  }

  template <class Int>
  Status integer(const toml::table& table, const std::string& prefix, std::string_view key,
                 int64_t min, int64_t max, Int& out) const {
    const toml::node* node = table.get(key);
    if (!node) return {};
    auto value = node->value<int64_t>();
    if (!node->is_integer() || !value || *value < min || *value > max) {
      return fail(*node, prefix + std::string(key) + " must be an integer from " +
                             std::to_string(min) + " to " + std::to_string(max));
    }
    out = static_cast<Int>(*value);
    return {};
  }

  Status boolean(const toml::table& table, const std::string& prefix, std::string_view key,
                 bool& out) const {
    const toml::node* node = table.get(key);
    if (!node) return {};
    auto value = node->value<bool>();
    if (!node->is_boolean() || !value) {
      return fail(*node, prefix + std::string(key) + " must be true or false");
    }
    out = *value;
    return {};
  }

  Status address(const toml::node& node, const std::string& name, SocketAddress& out) const {
    auto text = node.value<std::string>();
    if (!node.is_string() || !text) return fail(node, name + " must be a string \"addr:port\"");
    auto parsed = parse_socket_address(*text);
    if (!parsed) return fail(node, name + ": " + parsed.error());
    out = *parsed;
    return {};
  }

  const toml::table* section(const toml::table& root, std::string_view name, Status& status) const {
    const toml::node* node = root.get(name);
    if (!node) return nullptr;
    if (!node->is_table()) {
      status = fail(*node,
                    "\"" + std::string(name) + "\" must be a table ([" + std::string(name) + "])");
      return nullptr;
    }
    return node->as_table();
  }

 private:
  const std::string& origin_;
};

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

#define RAFTDNS_TRY(expr)                   \
  do {                                      \
    if (Status s_ = (expr); !s_) return s_; \
  } while (0)

Status read_config(const toml::table& root, const Reader& r, Config& cfg) {
  RAFTDNS_TRY(r.check_keys(root, "", {"node", "log", "dns", "control", "cluster"}));
  Status status;

  const toml::table* node = r.section(root, "node", status);
  RAFTDNS_TRY(status);
  if (!node) return make_error(cfg.path + ": missing table [node] with key node.id");
  RAFTDNS_TRY(r.check_keys(*node, "node.", {"id", "data_dir"}));
  RAFTDNS_TRY(r.string(*node, "node.", "id", cfg.node_id));
  if (!node->get("id")) return make_error(cfg.path + ": missing key node.id");
  if (!valid_node_id(cfg.node_id)) {
    return r.fail(*node->get("id"),
                  "node.id must be 1 to 64 characters of letters, digits, '-', '_' or '.'");
  }
  RAFTDNS_TRY(r.string(*node, "node.", "data_dir", cfg.data_dir, false));

  if (const toml::table* log = r.section(root, "log", status)) {
    RAFTDNS_TRY(r.check_keys(*log, "log.", {"level"}));
    std::string level;
    RAFTDNS_TRY(r.string(*log, "log.", "level", level));
    if (log->get("level")) {
      auto parsed = log_level_from_text(level);
      if (!parsed) {
        return r.fail(*log->get("level"),
                      "log.level must be one of \"error\", \"warning\", \"info\", \"debug\"");
      }
      cfg.log_level = *parsed;
    }
  }
  RAFTDNS_TRY(status);

  bool identity_set = false, version_set = false;
  if (const toml::table* dns = r.section(root, "dns", status)) {
    RAFTDNS_TRY(r.check_keys(
        *dns, "dns.",
        {"listen", "workers", "identity", "version", "max_udp_size", "tcp_idle_timeout",
         "tcp_max_connections", "tcp_max_per_client", "max_message_size", "rate_limit",
         "rate_limit_slip", "rate_limit_ipv4_prefix", "rate_limit_ipv6_prefix",
         "rate_limit_table_size", "minimal_responses", "cookies"}));
    if (const toml::node* listen = dns->get("listen")) {
      const toml::array* list = listen->as_array();
      if (!list || list->empty()) {
        return r.fail(*listen, "dns.listen must be a non-empty list of \"addr:port\" strings");
      }
      for (const toml::node& item : *list) {
        SocketAddress addr;
        RAFTDNS_TRY(r.address(item, "dns.listen", addr));
        for (const auto& seen : cfg.listen) {
          if (seen.to_text() == addr.to_text()) {
            return r.fail(item, "dns.listen names " + addr.to_text() + " twice");
          }
        }
        cfg.listen.push_back(addr);
      }
    }
    RAFTDNS_TRY(r.integer(*dns, "dns.", "workers", 1, 256, cfg.workers));
    identity_set = dns->get("identity") != nullptr;
    version_set = dns->get("version") != nullptr;
    RAFTDNS_TRY(r.string(*dns, "dns.", "identity", cfg.identity));
    RAFTDNS_TRY(r.string(*dns, "dns.", "version", cfg.version));
    // CHAOS TXT strings are single character-strings (RFC 1035 §3.3.14).
    if (cfg.identity.size() > 255)
      return r.fail(*dns->get("identity"), "dns.identity is longer than 255 characters");
    if (cfg.version.size() > 255)
      return r.fail(*dns->get("version"), "dns.version is longer than 255 characters");
    RAFTDNS_TRY(r.integer(*dns, "dns.", "max_udp_size", 512, 4096, cfg.max_udp_size));
    RAFTDNS_TRY(r.boolean(*dns, "dns.", "minimal_responses", cfg.minimal_responses));
    RAFTDNS_TRY(r.boolean(*dns, "dns.", "cookies", cfg.cookies));
    uint32_t idle_seconds = cfg.tcp_idle_timeout_ms / 1000;
    RAFTDNS_TRY(r.integer(*dns, "dns.", "tcp_idle_timeout", 1, 3600, idle_seconds));
    cfg.tcp_idle_timeout_ms = idle_seconds * 1000;
    RAFTDNS_TRY(
        r.integer(*dns, "dns.", "tcp_max_connections", 1, 1000000, cfg.tcp_max_connections));
    RAFTDNS_TRY(r.integer(*dns, "dns.", "tcp_max_per_client", 1, 1000000, cfg.tcp_max_per_client));
    // 512 is the classic UDP message size: no query may be refused below it.
    RAFTDNS_TRY(r.integer(*dns, "dns.", "max_message_size", 512, 65535, cfg.max_message_size));
    RAFTDNS_TRY(r.integer(*dns, "dns.", "rate_limit", 0, 1000000, cfg.rrl.rate));
    RAFTDNS_TRY(r.integer(*dns, "dns.", "rate_limit_slip", 0, 100, cfg.rrl.slip));
    RAFTDNS_TRY(r.integer(*dns, "dns.", "rate_limit_ipv4_prefix", 8, 32, cfg.rrl.ipv4_prefix));
    RAFTDNS_TRY(r.integer(*dns, "dns.", "rate_limit_ipv6_prefix", 16, 128, cfg.rrl.ipv6_prefix));
    RAFTDNS_TRY(
        r.integer(*dns, "dns.", "rate_limit_table_size", 1024, 1 << 24, cfg.rrl.table_size));
  }
  RAFTDNS_TRY(status);
  if (cfg.listen.empty()) cfg.listen.push_back(*parse_socket_address("127.0.0.1:53"));
  if (!identity_set) cfg.identity = cfg.node_id;
  if (!version_set) cfg.version = std::string("raftdns ") + RAFTDNS_VERSION;

  if (const toml::table* control = r.section(root, "control", status)) {
    RAFTDNS_TRY(r.check_keys(*control, "control.", {"socket", "group"}));
    RAFTDNS_TRY(r.string(*control, "control.", "socket", cfg.control_socket, false));
    RAFTDNS_TRY(r.string(*control, "control.", "group", cfg.control_group));
    // sun_path holds 108 bytes including the terminator.
    if (cfg.control_socket.size() > 107) {
      return r.fail(*control->get("socket"), "control.socket is longer than 107 bytes");
    }
  }
  RAFTDNS_TRY(status);

  if (const toml::table* cluster = r.section(root, "cluster", status)) {
    RAFTDNS_TRY(r.check_keys(*cluster, "cluster.",
                             {"listen", "key_file", "peer", "tick_ms", "election_ticks",
                              "heartbeat_ticks", "compact_entries", "compact_bytes"}));
    RAFTDNS_TRY(r.integer(*cluster, "cluster.", "tick_ms", 1, 10000, cfg.tick_ms));
    RAFTDNS_TRY(r.integer(*cluster, "cluster.", "election_ticks", 2, 1000, cfg.election_ticks));
    RAFTDNS_TRY(r.integer(*cluster, "cluster.", "heartbeat_ticks", 1, 1000, cfg.heartbeat_ticks));
    if (cfg.heartbeat_ticks >= cfg.election_ticks) {
      return r.fail(*cluster, "cluster.heartbeat_ticks must be below cluster.election_ticks");
    }
    RAFTDNS_TRY(r.integer(*cluster, "cluster.", "compact_entries", 1, uint64_t{1} << 40,
                          cfg.compact_entries));
    RAFTDNS_TRY(r.integer(*cluster, "cluster.", "compact_bytes", 4096, uint64_t{1} << 50,
                          cfg.compact_bytes));
    if (const toml::node* listen = cluster->get("listen")) {
      SocketAddress addr;
      RAFTDNS_TRY(r.address(*listen, "cluster.listen", addr));
      cfg.cluster_listen = addr;
    }
    RAFTDNS_TRY(r.string(*cluster, "cluster.", "key_file", cfg.cluster_key_file, false));
    if (const toml::node* peers = cluster->get("peer")) {
      const toml::array* list = peers->as_array();
      if (!list)
        return r.fail(*peers, "cluster.peer must be an array of tables ([[cluster.peer]])");
      std::set<std::string> ids{cfg.node_id};
      for (const toml::node& item : *list) {
        const toml::table* peer = item.as_table();
        if (!peer) return r.fail(item, "each cluster.peer must be a table ([[cluster.peer]])");
        RAFTDNS_TRY(r.check_keys(*peer, "cluster.peer.", {"id", "address"}));
        PeerConfig p;
        RAFTDNS_TRY(r.string(*peer, "cluster.peer.", "id", p.id));
        if (!peer->get("id")) return r.fail(item, "cluster.peer is missing key id");
        if (!valid_node_id(p.id)) {
          return r.fail(*peer->get("id"),
                        "cluster.peer.id \"" + p.id + "\" is not a valid node id");
        }
        if (!ids.insert(p.id).second) {
          return r.fail(*peer->get("id"),
                        "cluster.peer.id \"" + p.id + "\" is used twice (or is this node's id)");
        }
        const toml::node* address = peer->get("address");
        if (!address) return r.fail(item, "cluster.peer \"" + p.id + "\" is missing key address");
        RAFTDNS_TRY(r.address(*address, "cluster.peer.address", p.address));
        cfg.peers.push_back(std::move(p));
      }
    }
    if (!cfg.peers.empty()) {
      if (!cfg.cluster_listen) {
        return r.fail(*cluster, "cluster.listen is required when peers are configured");
      }
      if (cfg.cluster_key_file.empty()) {
        return r.fail(*cluster, "cluster.key_file is required when peers are configured");
      }
    }
  }
  RAFTDNS_TRY(status);
  return {};
}

}  // namespace

uint16_t SocketAddress::port() const {
  if (family() == AF_INET) return ntohs(reinterpret_cast<const sockaddr_in*>(&storage)->sin_port);
  if (family() == AF_INET6) {
    return ntohs(reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_port);
  }
  return 0;
}

bool SocketAddress::is_wildcard() const {
  if (family() == AF_INET) {
    return reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr.s_addr == htonl(INADDR_ANY);
  }
  if (family() == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(&storage);
    return IN6_IS_ADDR_UNSPECIFIED(&a->sin6_addr);
  }
  return false;
}

std::string SocketAddress::to_text() const {
  char buf[INET6_ADDRSTRLEN] = {};
  if (family() == AF_INET) {
    inet_ntop(AF_INET, &reinterpret_cast<const sockaddr_in*>(&storage)->sin_addr, buf, sizeof(buf));
    return std::string(buf) + ":" + std::to_string(port());
  }
  if (family() == AF_INET6) {
    inet_ntop(AF_INET6, &reinterpret_cast<const sockaddr_in6*>(&storage)->sin6_addr, buf,
              sizeof(buf));
    return "[" + std::string(buf) + "]:" + std::to_string(port());
  }
  return "?";
}

Result<SocketAddress> parse_socket_address(std::string_view text) {
  std::string host;
  std::string_view port_text;
  bool v6 = false;
  if (!text.empty() && text.front() == '[') {
    size_t close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return make_error("\"" + std::string(text) + "\" is not \"[IPv6]:port\"");
    }
    host = std::string(text.substr(1, close - 1));
    port_text = text.substr(close + 2);
    v6 = true;
  } else {
    size_t colon = text.rfind(':');
    if (colon == std::string_view::npos) {
      return make_error("\"" + std::string(text) + "\" has no port (write addr:port)");
    }
    host = std::string(text.substr(0, colon));
    port_text = text.substr(colon + 1);
    if (host.find(':') != std::string::npos) {
      return make_error("\"" + std::string(text) + "\": write IPv6 addresses as [addr]:port");
    }
  }
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port == 0 ||
      port > 65535) {
    return make_error("\"" + std::string(text) + "\" has no valid port (1-65535)");
  }
  SocketAddress out;
  if (v6) {
    auto* a = reinterpret_cast<sockaddr_in6*>(&out.storage);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET6, host.c_str(), &a->sin6_addr) != 1) {
      return make_error("\"" + host + "\" is not a numeric IPv6 address");
    }
    out.length = sizeof(sockaddr_in6);
  } else {
    auto* a = reinterpret_cast<sockaddr_in*>(&out.storage);
    a->sin_family = AF_INET;
    a->sin_port = htons(static_cast<uint16_t>(port));
    if (inet_pton(AF_INET, host.c_str(), &a->sin_addr) != 1) {
      return make_error("\"" + host + "\" is not a numeric IPv4 address (names are not resolved)");
    }
    out.length = sizeof(sockaddr_in);
  }
  return out;
}

Result<Config> parse_config(std::string_view text, const std::string& origin) {
  Config cfg;
  cfg.path = origin;
  try {
    toml::table root = toml::parse(text, origin);
    Reader reader(cfg.path);
    if (Status s = read_config(root, reader, cfg); !s) return std::move(s).take_error();
  } catch (const toml::parse_error& e) {
    return make_error(where(origin, e.source()) + ": " + std::string(e.description()));
  }
  return cfg;
}

Result<Config> load_config(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read config " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) return make_error("cannot read config " + path + ": " + std::strerror(errno));
  return parse_config(text.str(), path);
}

ReloadPlan plan_reload(const Config& running, const Config& fresh) {
  ReloadPlan plan;
  auto note = [&](bool changed, const char* key) {
    if (changed) plan.ignored_keys.emplace_back(key);
  };
  auto addresses = [](const std::vector<SocketAddress>& list) {
    std::vector<std::string> out;
    for (const auto& a : list) out.push_back(a.to_text());
    return out;
  };
  note(running.node_id != fresh.node_id, "node.id");
  note(running.data_dir != fresh.data_dir, "node.data_dir");
  note(addresses(running.listen) != addresses(fresh.listen), "dns.listen");
  note(running.workers != fresh.workers, "dns.workers");
  note(running.max_udp_size != fresh.max_udp_size, "dns.max_udp_size");
  note(running.tcp_idle_timeout_ms != fresh.tcp_idle_timeout_ms, "dns.tcp_idle_timeout");
  note(running.tcp_max_connections != fresh.tcp_max_connections, "dns.tcp_max_connections");
  note(running.tcp_max_per_client != fresh.tcp_max_per_client, "dns.tcp_max_per_client");
  // The limits are sized into each worker's buffers and tables at start-up.
  note(running.max_message_size != fresh.max_message_size, "dns.max_message_size");
  note(running.rrl.rate != fresh.rrl.rate, "dns.rate_limit");
  note(running.rrl.slip != fresh.rrl.slip, "dns.rate_limit_slip");
  note(running.rrl.ipv4_prefix != fresh.rrl.ipv4_prefix, "dns.rate_limit_ipv4_prefix");
  note(running.rrl.ipv6_prefix != fresh.rrl.ipv6_prefix, "dns.rate_limit_ipv6_prefix");
  note(running.rrl.table_size != fresh.rrl.table_size, "dns.rate_limit_table_size");
  note(running.control_socket != fresh.control_socket, "control.socket");
  note(running.control_group != fresh.control_group, "control.group");
  note((running.cluster_listen ? running.cluster_listen->to_text() : "") !=
           (fresh.cluster_listen ? fresh.cluster_listen->to_text() : ""),
       "cluster.listen");
  note(running.cluster_key_file != fresh.cluster_key_file, "cluster.key_file");
  note(running.tick_ms != fresh.tick_ms, "cluster.tick_ms");
  note(running.election_ticks != fresh.election_ticks, "cluster.election_ticks");
  note(running.heartbeat_ticks != fresh.heartbeat_ticks, "cluster.heartbeat_ticks");
  note(running.compact_entries != fresh.compact_entries, "cluster.compact_entries");
  note(running.compact_bytes != fresh.compact_bytes, "cluster.compact_bytes");
  std::vector<std::string> a, b;
  for (const auto& p : running.peers) a.push_back(p.id + "=" + p.address.to_text());
  for (const auto& p : fresh.peers) b.push_back(p.id + "=" + p.address.to_text());
  note(a != b, "cluster.peer");
  return plan;
}

}  // namespace raftdns::server
