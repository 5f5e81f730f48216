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

#include "common/duration.h"
#include "daemon/server/signing_policy.h"
#include "daemon/wire/types.h"

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

#define RAFTDNS_TRY(expr)                   \
  do {                                      \
    if (Status s_ = (expr); !s_) return s_; \
  } while (0)

bool valid_node_id(std::string_view id) {
  if (id.empty() || id.size() > 64) return false;
  return std::all_of(id.begin(), id.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}


// The secret of a [[tsig]] key kept in a file: either the bare base64
// secret, or a key block as `raftdnsd --tsig-keygen` and BIND's
// tsig-keygen print it (the quoted string after `secret`).
Result<std::string> read_secret_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error("cannot read " + path + ": " + std::strerror(errno));
  std::ostringstream text;
  text << in.rdbuf();
  std::string body = text.str();
  if (size_t at = body.find("secret \""); at != std::string::npos) {
    size_t start = at + 8, end = body.find('"', start);
    if (end == std::string::npos) return make_error(path + ": unterminated secret string");
    return body.substr(start, end - start);
  }
  size_t b = body.find_first_not_of(" \t\r\n"), e = body.find_last_not_of(" \t\r\n");
  if (b == std::string::npos) return make_error(path + " is empty");
  return body.substr(b, e - b + 1);
}

Status read_names(const Reader& r, const toml::table& table, const std::string& prefix,
                  std::string_view key, std::vector<wire::Name>& out) {
  const toml::node* node = table.get(key);
  if (!node) return {};
  const toml::array* list = node->as_array();
  if (!list) return r.fail(*node, prefix + std::string(key) + " must be a list of zone names");
  for (const toml::node& item : *list) {
    auto text = item.value<std::string>();
    if (!item.is_string() || !text) return r.fail(item, prefix + std::string(key) + ": not a string");
    auto name = wire::Name::from_text(*text);
    if (!name) return r.fail(item, prefix + std::string(key) + ": " + name.error());
    out.push_back(*name);
  }
  return {};
}

Status read_key_ref(const Reader& r, const toml::table& table, const std::string& prefix,
                    const Config& cfg, std::optional<wire::Name>& out) {
  const toml::node* node = table.get("key");
  if (!node) return {};
  std::string text;
  RAFTDNS_TRY(r.string(table, prefix, "key", text, false));
  auto name = wire::Name::from_text(text);
  if (!name) return r.fail(*node, prefix + "key: " + name.error());
  if (!cfg.tsig_keys.find(*name)) {
    return r.fail(*node, prefix + "key names \"" + text + "\", which no [[tsig]] table defines");
  }
  out = *name;
  return {};
}

const toml::array* table_array(const Reader& r, const toml::node* node, const std::string& name,
                               Status& status) {
  if (!node) return nullptr;
  const toml::array* list = node->as_array();
  if (!list || !list->is_array_of_tables()) {
    status = r.fail(*node, name + " must be an array of tables ([[" + name + "]])");
    return nullptr;
  }
  return list;
}

Status read_transfer_config(const toml::table& root, const Reader& r, Config& cfg) {
  Status status;
  if (const toml::array* keys = table_array(r, root.get("tsig"), "tsig", status)) {
    for (const toml::node& item : *keys) {
      const toml::table& t = *item.as_table();
      RAFTDNS_TRY(r.check_keys(t, "tsig.", {"name", "algorithm", "secret", "secret_file"}));
      std::string name, algorithm = "hmac-sha256", secret, secret_file;
      RAFTDNS_TRY(r.string(t, "tsig.", "name", name, false));
      if (!t.get("name")) return r.fail(item, "[[tsig]] is missing key name");
      RAFTDNS_TRY(r.string(t, "tsig.", "algorithm", algorithm, false));
      RAFTDNS_TRY(r.string(t, "tsig.", "secret", secret, false));
      RAFTDNS_TRY(r.string(t, "tsig.", "secret_file", secret_file, false));
      if (t.get("secret") && t.get("secret_file")) {
        return r.fail(item, "[[tsig]] " + name + ": give secret or secret_file, not both");
      }
      if (!t.get("secret") && !t.get("secret_file")) {
        return r.fail(item, "[[tsig]] " + name + " needs secret or secret_file");
      }
      if (!secret_file.empty()) {
        auto from_file = read_secret_file(secret_file);
        if (!from_file) return r.fail(*t.get("secret_file"), "tsig.secret_file: " + from_file.error());
        secret = *from_file;
      }
      auto key = tsig::make_key(name, algorithm, secret);
      if (!key) return r.fail(item, key.error());
      if (Status s = cfg.tsig_keys.add(std::move(*key)); !s) return r.fail(item, s.error());
    }
  }
  RAFTDNS_TRY(status);

  if (const toml::node* node = root.get("transfer")) {
    const toml::table* transfer = node->as_table();
    if (!transfer) return r.fail(*node, "\"transfer\" must be a table");
    RAFTDNS_TRY(r.check_keys(*transfer, "transfer.", {"allow", "notify", "journal_entries"}));
    RAFTDNS_TRY(r.integer(*transfer, "transfer.", "journal_entries", 0, 1000000,
                          cfg.journal_entries));
    if (const toml::array* rules =
            table_array(r, transfer->get("allow"), "transfer.allow", status)) {
      for (const toml::node& item : *rules) {
        const toml::table& t = *item.as_table();
        RAFTDNS_TRY(r.check_keys(t, "transfer.allow.", {"from", "key", "zones"}));
        xfr::AllowRule rule;
        if (t.get("from")) {
          std::string from;
          RAFTDNS_TRY(r.string(t, "transfer.allow.", "from", from, false));
          auto cidr = xfr::Cidr::parse(from);
          if (!cidr) return r.fail(*t.get("from"), "transfer.allow.from: " + cidr.error());
          rule.from = *cidr;
        }
        RAFTDNS_TRY(read_key_ref(r, t, "transfer.allow.", cfg, rule.key));
        RAFTDNS_TRY(read_names(r, t, "transfer.allow.", "zones", rule.zones));
        if (!rule.from && !rule.key) {
          // A rule without either would open every zone to the world.
          return r.fail(item, "[[transfer.allow]] needs from, key or both");
        }
        cfg.transfer_allow.push_back(std::move(rule));
      }
    }
    RAFTDNS_TRY(status);
    if (const toml::array* targets =
            table_array(r, transfer->get("notify"), "transfer.notify", status)) {
      for (const toml::node& item : *targets) {
        const toml::table& t = *item.as_table();
        RAFTDNS_TRY(r.check_keys(t, "transfer.notify.", {"address", "key", "zones"}));
        NotifyTarget target;
        const toml::node* address = t.get("address");
        if (!address) return r.fail(item, "[[transfer.notify]] is missing key address");
        RAFTDNS_TRY(r.address(*address, "transfer.notify.address", target.address));
        RAFTDNS_TRY(read_key_ref(r, t, "transfer.notify.", cfg, target.key));
        RAFTDNS_TRY(read_names(r, t, "transfer.notify.", "zones", target.zones));
        cfg.notify.push_back(std::move(target));
      }
    }
    RAFTDNS_TRY(status);
  }

  if (const toml::table* catalog = r.section(root, "catalog", status)) {
    RAFTDNS_TRY(r.check_keys(*catalog, "catalog.", {"zone"}));
    std::string zone;
    RAFTDNS_TRY(r.string(*catalog, "catalog.", "zone", zone, false));
    if (catalog->get("zone")) {
      auto name = wire::Name::from_text(zone);
      if (!name || name->is_root()) {
        return r.fail(*catalog->get("zone"), "catalog.zone must be a domain name");
      }
      cfg.catalog_zone = *name;
    }
  }
  return status;
}

// A string list: "key = [\"a\", \"b\"]".
Status string_list(const toml::table& table, const Reader& r, const std::string& name,
                   std::string_view key, std::vector<std::pair<std::string, const toml::node*>>& out) {
  const toml::node* node = table.get(key);
  if (!node) return {};
  const toml::array* list = node->as_array();
  if (!list) return r.fail(*node, name + " must be a list of strings");
  for (const toml::node& item : *list) {
    auto text = item.value<std::string>();
    if (!item.is_string() || !text || text->empty()) {
      return r.fail(item, name + " must be a list of non-empty strings");
    }
    out.emplace_back(*text, &item);
  }
  return {};
}

Status read_update_grant(const toml::node& item, const Reader& r, Config& cfg) {
  const toml::table* t = item.as_table();
  if (!t) return r.fail(item, "each update.grant must be a table ([[update.grant]])");
  RAFTDNS_TRY(r.check_keys(*t, "update.grant.", {"key", "from", "zone", "names", "types"}));
  UpdateGrantConfig g;
  std::string text;
  if (t->get("key")) {
    RAFTDNS_TRY(r.string(*t, "update.grant.", "key", text, false));
    auto name = wire::Name::from_text(text);
    if (!name) return r.fail(*t->get("key"), "update.grant.key: " + name.error());
    g.key = *name;
    g.grant.who = "key " + name->to_text();
  }
  if (t->get("from")) {
    RAFTDNS_TRY(r.string(*t, "update.grant.", "from", text, false));
    auto cidr = xfr::Cidr::parse(text);
    if (!cidr) return r.fail(*t->get("from"), "update.grant.from: " + cidr.error());
    g.from = *cidr;
    g.grant.who = "from " + cidr->to_text();
  }
  if (g.key.has_value() == g.from.has_value()) {
    return r.fail(item, "update.grant needs exactly one of key (signed updates) or from "
                        "(unsigned updates from an address range)");
  }
  if (!t->get("zone")) return r.fail(item, "update.grant is missing key zone");
  RAFTDNS_TRY(r.string(*t, "update.grant.", "zone", text, false));
  auto zone = wire::Name::from_text(text);
  if (!zone) return r.fail(*t->get("zone"), "update.grant.zone: " + zone.error());
  g.grant.zone = *zone;
  std::vector<std::pair<std::string, const toml::node*>> items;
  RAFTDNS_TRY(string_list(*t, r, "update.grant.names", "names", items));
  for (const auto& [name_text, node] : items) {
    auto pattern = update::NamePattern::parse(name_text);
    if (!pattern) {
      return r.fail(*node, "update.grant.names: \"" + name_text +
                               "\" is not a name or \"*.name\" (omit names to grant every name)");
    }
    if (!pattern->name.is_subdomain_of(g.grant.zone)) {
      return r.fail(*node, "update.grant.names: " + pattern->to_text() + " is outside zone " +
                               g.grant.zone.to_text());
    }
    g.grant.names.push_back(*pattern);
  }
  items.clear();
  RAFTDNS_TRY(string_list(*t, r, "update.grant.types", "types", items));
  for (const auto& [type_text, node] : items) {
    auto type = wire::type_from_text(type_text);
    if (!type || *type == 0 || (*type >= 249 && *type <= 255)) {
      return r.fail(*node, "update.grant.types: \"" + type_text + "\" is not a record type");
    }
    g.grant.types.push_back(*type);
  }
  cfg.update_grants.push_back(std::move(g));
  return {};
}

// A duration key: an integer of seconds, or a string such as "14d" or
// "1h30m" (common/duration.h).
Status read_duration(const Reader& r, const toml::table& table, std::string_view key, uint32_t min,
                     uint32_t max, uint32_t& out) {
  const toml::node* node = table.get(key);
  if (!node) return {};
  const std::string name = "dnssec." + std::string(key);
  std::optional<uint64_t> seconds;
  if (auto n = node->value<int64_t>(); node->is_integer() && n && *n >= 0) {
    seconds = static_cast<uint64_t>(*n);
  } else if (auto text = node->value<std::string>(); node->is_string() && text) {
    seconds = parse_duration(*text, UINT64_MAX / 2);
  }
  if (!seconds || *seconds < min || *seconds > max) {
    return r.fail(*node, name + " must be a duration from " + format_duration(min) + " to " +
                             format_duration(max) +
                             " (seconds, or a string such as \"90s\", \"2h\", \"14d\")");
  }
  out = static_cast<uint32_t>(*seconds);
  return {};
}

Status read_dnssec_config(const toml::table& dnssec, const Reader& r, Config& cfg) {
  RAFTDNS_TRY(r.check_keys(
      dnssec, "dnssec.",
      {"tick_interval", "algorithm", "signature_validity", "signature_refresh", "signature_jitter",
       "dnskey_ttl", "publish_wait", "retire_wait", "ds_wait", "zsk_lifetime", "ksk_lifetime"}));
  store::SigningParams& p = cfg.signing_defaults;
  constexpr uint32_t kMax = 0x7fffffff;
  RAFTDNS_TRY(read_duration(r, dnssec, "tick_interval", 1, 86400, cfg.dnssec_tick_interval));
  RAFTDNS_TRY(r.integer(dnssec, "dnssec.", "algorithm", 0, 255, p.algorithm));
  RAFTDNS_TRY(read_duration(r, dnssec, "signature_validity", 1, kMax, p.validity));
  RAFTDNS_TRY(read_duration(r, dnssec, "signature_refresh", 1, kMax, p.refresh));
  RAFTDNS_TRY(read_duration(r, dnssec, "signature_jitter", 0, kMax, p.jitter));
  RAFTDNS_TRY(read_duration(r, dnssec, "dnskey_ttl", 1, kMax, p.dnskey_ttl));
  RAFTDNS_TRY(read_duration(r, dnssec, "publish_wait", 0, kMax, p.publish_wait));
  RAFTDNS_TRY(read_duration(r, dnssec, "retire_wait", 0, kMax, p.retire_wait));
  RAFTDNS_TRY(read_duration(r, dnssec, "ds_wait", 0, kMax, p.ds_wait));
  RAFTDNS_TRY(read_duration(r, dnssec, "zsk_lifetime", 0, kMax, p.zsk_lifetime));
  RAFTDNS_TRY(read_duration(r, dnssec, "ksk_lifetime", 0, kMax, p.ksk_lifetime));
  if (Status s = check_signing_params(p, SigningNames::config); !s) {
    return make_error(cfg.path + ": [dnssec]: " + s.error());
  }
  return {};
}

Status read_config(const toml::table& root, const Reader& r, Config& cfg) {
  RAFTDNS_TRY(r.check_keys(root, "",
                           {"node", "log", "dns", "control", "cluster", "metrics", "tsig",
                            "transfer", "catalog", "update", "dnssec"}));
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
         "rate_limit_table_size", "minimal_responses", "cookies", "answer_cache_size"}));
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
    RAFTDNS_TRY(
        r.integer(*dns, "dns.", "answer_cache_size", 0, 1 << 24, cfg.answer_cache_size));
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

  if (const toml::table* metrics = r.section(root, "metrics", status)) {
    RAFTDNS_TRY(r.check_keys(*metrics, "metrics.", {"listen"}));
    if (const toml::node* listen = metrics->get("listen")) {
      SocketAddress addr;
      RAFTDNS_TRY(r.address(*listen, "metrics.listen", addr));
      cfg.metrics_listen = addr;
    }
  }
  RAFTDNS_TRY(status);

  if (const toml::table* cluster = r.section(root, "cluster", status)) {
    RAFTDNS_TRY(r.check_keys(*cluster, "cluster.",
                             {"listen", "advertise", "key_file", "peer", "join", "tick_ms",
                              "election_ticks", "heartbeat_ticks", "compact_entries",
                              "compact_bytes"}));
    RAFTDNS_TRY(r.boolean(*cluster, "cluster.", "join", cfg.cluster_join));
    if (const toml::node* advertise = cluster->get("advertise")) {
      SocketAddress addr;
      RAFTDNS_TRY(r.address(*advertise, "cluster.advertise", addr));
      if (addr.is_wildcard()) {
        return r.fail(*advertise, "cluster.advertise must be an address peers can dial, not " +
                                      addr.to_text());
      }
      cfg.cluster_advertise = addr;
    }
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
        SocketAddress parsed;
        RAFTDNS_TRY(r.address(*address, "cluster.peer.address", parsed));
        p.address = parsed.to_text();
        cfg.peers.push_back(std::move(p));
      }
    }
    if (cfg.cluster_join && cfg.peers.empty()) {
      return r.fail(*cluster,
                    "cluster.join = true needs the running cluster's members as [[cluster.peer]]");
    }
    if (!cfg.peers.empty()) {
      if (!cfg.cluster_listen) {
        return r.fail(*cluster, "cluster.listen is required when peers are configured");
      }
      if (cfg.cluster_key_file.empty()) {
        return r.fail(*cluster, "cluster.key_file is required when peers are configured");
      }
    }
    if (cfg.cluster_listen && cfg.cluster_listen->is_wildcard() && !cfg.cluster_advertise &&
        !cfg.peers.empty()) {
      return r.fail(*cluster, "cluster.listen " + cfg.cluster_listen->to_text() +
                                  " is a wildcard: set cluster.advertise to the address peers "
                                  "dial to reach this node");
    }
  }
  RAFTDNS_TRY(status);
  RAFTDNS_TRY(read_transfer_config(root, r, cfg));

  if (const toml::table* update = r.section(root, "update", status)) {
    RAFTDNS_TRY(r.check_keys(*update, "update.", {"grant", "timeout"}));
    uint32_t timeout_seconds = cfg.update_timeout_ms / 1000;
    RAFTDNS_TRY(r.integer(*update, "update.", "timeout", 1, 300, timeout_seconds));
    cfg.update_timeout_ms = timeout_seconds * 1000;
    if (const toml::node* grants = update->get("grant")) {
      const toml::array* list = grants->as_array();
      if (!list) return r.fail(*grants, "update.grant must be an array of tables ([[update.grant]])");
      for (const toml::node& item : *list) {
        RAFTDNS_TRY(read_update_grant(item, r, cfg));
      }
    }
  }
  RAFTDNS_TRY(status);
  if (const toml::table* dnssec = r.section(root, "dnssec", status)) {
    RAFTDNS_TRY(read_dnssec_config(*dnssec, r, cfg));
  }
  RAFTDNS_TRY(status);
  return {};
}

}  // namespace

Result<SocketAddress> parse_socket_address(std::string_view text) {
  auto parsed = replication::parse_socket_address(text);
  if (!parsed) return parsed;
  if (parsed->port() == 0) {
    return make_error("\"" + std::string(text) + "\" has no valid port (1-65535)");
  }
  return parsed;
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
  note(running.answer_cache_size != fresh.answer_cache_size, "dns.answer_cache_size");
  note(running.control_socket != fresh.control_socket, "control.socket");
  note(running.control_group != fresh.control_group, "control.group");
  note((running.cluster_listen ? running.cluster_listen->to_text() : "") !=
           (fresh.cluster_listen ? fresh.cluster_listen->to_text() : ""),
       "cluster.listen");
  note(running.cluster_key_file != fresh.cluster_key_file, "cluster.key_file");
  note(running.cluster_join != fresh.cluster_join, "cluster.join");
  note((running.cluster_advertise ? running.cluster_advertise->to_text() : "") !=
           (fresh.cluster_advertise ? fresh.cluster_advertise->to_text() : ""),
       "cluster.advertise");
  note((running.metrics_listen ? running.metrics_listen->to_text() : "") !=
           (fresh.metrics_listen ? fresh.metrics_listen->to_text() : ""),
       "metrics.listen");
  note(running.tick_ms != fresh.tick_ms, "cluster.tick_ms");
  note(running.election_ticks != fresh.election_ticks, "cluster.election_ticks");
  note(running.heartbeat_ticks != fresh.heartbeat_ticks, "cluster.heartbeat_ticks");
  note(running.compact_entries != fresh.compact_entries, "cluster.compact_entries");
  note(running.compact_bytes != fresh.compact_bytes, "cluster.compact_bytes");
  std::vector<std::string> a, b;
  for (const auto& p : running.peers) a.push_back(p.id + "=" + p.address);
  for (const auto& p : fresh.peers) b.push_back(p.id + "=" + p.address);
  note(a != b, "cluster.peer");
  // Transfer settings are handed to the workers at start-up.
  auto keys = [](const Config& c) {
    std::vector<std::string> out;
    for (const auto& k : c.tsig_keys.keys()) {
      out.push_back(k.name.to_text() + std::string(tsig::algorithm_text(k.algorithm)) +
                    tsig::to_base64(k.secret));
    }
    return out;
  };
  auto rules = [](const Config& c) {
    std::vector<std::string> out;
    for (const auto& r : c.transfer_allow) {
      std::string line = (r.from ? r.from->to_text() : "-") + " " + (r.key ? r.key->to_text() : "-");
      for (const auto& z : r.zones) line += " " + z.to_text();
      out.push_back(line);
    }
    return out;
  };
  auto targets = [](const Config& c) {
    std::vector<std::string> out;
    for (const auto& t : c.notify) {
      std::string line = t.address.to_text() + " " + (t.key ? t.key->to_text() : "-");
      for (const auto& z : t.zones) line += " " + z.to_text();
      out.push_back(line);
    }
    return out;
  };
  note(keys(running) != keys(fresh), "tsig");
  note(rules(running) != rules(fresh), "transfer.allow");
  note(targets(running) != targets(fresh), "transfer.notify");
  note(running.journal_entries != fresh.journal_entries, "transfer.journal_entries");
  note(running.catalog_zone.has_value() != fresh.catalog_zone.has_value() ||
           (running.catalog_zone && *running.catalog_zone != *fresh.catalog_zone),
       "catalog.zone");
  note(running.dnssec_tick_interval != fresh.dnssec_tick_interval, "dnssec.tick_interval");
  // Defaults for zones signed from now on; a signed zone keeps its policy.
  note(running.signing_defaults != fresh.signing_defaults, "dnssec");
  return plan;
}

}  // namespace raftdns::server
