// Control protocol codec: JSON bodies, hex fields and length-prefixed frames.
#include "daemon/control/protocol.h"

#include <cstring>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <limits>
#include <string_view>

namespace raftdns::control {
namespace {

using nlohmann::json;

// Requests are shallow; refusing deep nesting up front keeps a hostile body
// from costing the parser more than its size.
constexpr int kMaxJsonDepth = 8;

constexpr std::array<std::pair<Op, std::string_view>, 27> kOpNames{{
    {Op::status, "status"},
    {Op::cluster_status, "cluster_status"},
    {Op::zone_list, "zone_list"},
    {Op::zone_export, "zone_export"},
    {Op::zone_put, "zone_put"},
    {Op::zone_remove, "zone_remove"},
    {Op::add, "add"},
    {Op::remove, "remove"},
    {Op::remove_rrset, "remove_rrset"},
    {Op::get, "get"},
    {Op::batch, "batch"},
    {Op::zone_import_begin, "zone_import_begin"},
    {Op::zone_import_chunk, "zone_import_chunk"},
    {Op::zone_import_commit, "zone_import_commit"},
    {Op::zone_import_abort, "zone_import_abort"},
    {Op::zone_export_part, "zone_export_part"},
    {Op::member_list, "member_list"},
    {Op::member_add, "member_add"},
    {Op::member_promote, "member_promote"},
    {Op::member_remove, "member_remove"},
    {Op::leader_transfer, "leader_transfer"},
    {Op::backup, "backup"},
    {Op::zone_sign, "zone_sign"},
    {Op::zone_unsign, "zone_unsign"},
    {Op::zone_keys, "zone_keys"},
    {Op::zone_roll, "zone_roll"},
    {Op::zone_ds_seen, "zone_ds_seen"},
}};

// The members of a zone_sign request's "signing" object, in one table so
// the encoder and the decoder cannot disagree.
struct OverrideField {
  const char* key;
  std::optional<uint32_t> SigningOverrides::*field;
};
constexpr std::array<OverrideField, 9> kOverrideFields{{
    {"validity", &SigningOverrides::validity},
    {"refresh", &SigningOverrides::refresh},
    {"jitter", &SigningOverrides::jitter},
    {"dnskey_ttl", &SigningOverrides::dnskey_ttl},
    {"publish_wait", &SigningOverrides::publish_wait},
    {"retire_wait", &SigningOverrides::retire_wait},
    {"ds_wait", &SigningOverrides::ds_wait},
    {"zsk_lifetime", &SigningOverrides::zsk_lifetime},
    {"ksk_lifetime", &SigningOverrides::ksk_lifetime},
}};

bool nesting_within_limit(std::string_view text) {
  int depth = 0;
  bool in_string = false, escaped = false;
  for (char c : text) {
    if (in_string) {
      if (escaped) {
        escaped = false;
      } else if (c == '\\') {
        escaped = true;
      } else if (c == '"') {
        in_string = false;
      }
      continue;
    }
    if (c == '"') {
      in_string = true;
    } else if (c == '{' || c == '[') {
      if (++depth > kMaxJsonDepth) return false;
    } else if (c == '}' || c == ']') {
      --depth;
    }
  }
  return true;
}

Result<json> parse_body(std::span<const uint8_t> body) {
  std::string_view text(reinterpret_cast<const char*>(body.data()), body.size());
  if (!nesting_within_limit(text)) return make_error("request nests deeper than allowed");
  json doc = json::parse(text.begin(), text.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return make_error("body is not valid JSON");
  if (!doc.is_object()) return make_error("body is not a JSON object");
  auto v = doc.find("v");
  if (v == doc.end() || !v->is_number_unsigned()) {
    return make_error("body has no protocol version \"v\"");
  }
  if (v->get<uint64_t>() != kProtocolVersion) {
    return make_error("protocol version " + std::to_string(v->get<uint64_t>()) +
                      " is not supported (this side speaks " + std::to_string(kProtocolVersion) +
                      ")");
  }
  return doc;
}

// Field readers: absent optional members keep the default; a present member
// of the wrong type is an error naming it.
template <class Int>
Status read_uint(const json& obj, const char* key, Int& out, bool required = false) {
  auto it = obj.find(key);
  if (it == obj.end()) {
    if (required) return make_error(std::string("missing member \"") + key + "\"");
    return {};
  }
  if (!it->is_number_unsigned() || it->get<uint64_t>() > std::numeric_limits<Int>::max()) {
    return make_error(std::string("member \"") + key + "\" is not an unsigned integer in range");
  }
  out = static_cast<Int>(it->get<uint64_t>());
  return {};
}

Status read_string(const json& obj, const char* key, std::string& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_string()) return make_error(std::string("member \"") + key + "\" is not a string");
  out = it->get<std::string>();
  return {};
}

Status read_hex(const json& obj, const char* key, std::vector<uint8_t>& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_string()) return make_error(std::string("member \"") + key + "\" is not a string");
  auto bytes = from_hex(it->get_ref<const std::string&>());
  if (!bytes) return make_error(std::string("member \"") + key + "\" is not a hex string");
  out = std::move(*bytes);
  return {};
}

json record_to_json(const WireRecord& r) {
  return json{{"owner", to_hex(r.owner)},
              {"type", r.type},
              {"class", r.rclass},
              {"ttl", r.ttl},
              {"rdata", to_hex(r.rdata)}};
}

Status read_records(const json& obj, std::vector<WireRecord>& out) {
  auto it = obj.find("records");
  if (it == obj.end()) return {};
  if (!it->is_array()) return make_error("member \"records\" is not an array");
  out.reserve(it->size());
  for (const json& item : *it) {
    if (!item.is_object()) return make_error("a record is not a JSON object");
    WireRecord r;
    if (auto s = read_hex(item, "owner", r.owner); !s) return s;
    if (auto s = read_uint(item, "type", r.type, true); !s) return s;
    if (auto s = read_uint(item, "class", r.rclass); !s) return s;
    if (auto s = read_uint(item, "ttl", r.ttl); !s) return s;
    if (auto s = read_hex(item, "rdata", r.rdata); !s) return s;
    out.push_back(std::move(r));
  }
  return {};
}

// A zone_import_chunk carries its records packed in binary after the JSON
// document, because a JSON object per record (or even one hex string of
// them) costs the daemon's loop more to parse than applying the records
// does. The body is then: JSON | 0x00 | packed records, the JSON naming the
// packed length in "packed_records_bytes" (JSON text never holds a raw
// 0x00, so the first one ends it). Each record:
//   owner length u8 | owner | type u16 | class u16 | ttl u32 |
//   rdata length u16 | rdata (big-endian)
std::string pack_records(const std::vector<WireRecord>& records) {
  std::string out;
  size_t size = 0;
  for (const auto& r : records) size += 1 + r.owner.size() + 10 + r.rdata.size();
  out.reserve(size);
  auto put = [&](uint8_t b) { out.push_back(static_cast<char>(b)); };
  for (const auto& r : records) {
    put(static_cast<uint8_t>(r.owner.size()));
    out.append(reinterpret_cast<const char*>(r.owner.data()), r.owner.size());
    for (uint32_t v : {uint32_t{r.type}, uint32_t{r.rclass}}) {
      put(static_cast<uint8_t>(v >> 8));
      put(static_cast<uint8_t>(v));
    }
    for (int shift = 24; shift >= 0; shift -= 8) put(static_cast<uint8_t>(r.ttl >> shift));
    put(static_cast<uint8_t>(r.rdata.size() >> 8));
    put(static_cast<uint8_t>(r.rdata.size()));
    out.append(reinterpret_cast<const char*>(r.rdata.data()), r.rdata.size());
  }
  return out;
}

Status unpack_records(std::span<const uint8_t> packed, std::vector<WireRecord>& out) {
  size_t at = 0;
  auto take = [&](size_t n) -> const uint8_t* {
    if (packed.size() - at < n) return nullptr;
    const uint8_t* p = packed.data() + at;
    at += n;
    return p;
  };
  while (at < packed.size()) {
    WireRecord r;
    const uint8_t* p = take(1);
    const uint8_t* owner = p ? take(*p) : nullptr;
    const uint8_t* fixed = owner ? take(10) : nullptr;
    if (!fixed) return make_error("the packed records are truncated");
    r.owner.assign(owner, owner + *p);
    r.type = static_cast<uint16_t>(fixed[0] << 8 | fixed[1]);
    r.rclass = static_cast<uint16_t>(fixed[2] << 8 | fixed[3]);
    r.ttl = uint32_t{fixed[4]} << 24 | uint32_t{fixed[5]} << 16 | uint32_t{fixed[6]} << 8 | fixed[7];
    size_t rdlength = size_t{fixed[8]} << 8 | fixed[9];
    const uint8_t* rdata = take(rdlength);
    if (!rdata) return make_error("the packed records are truncated");
    r.rdata.assign(rdata, rdata + rdlength);
    out.push_back(std::move(r));
  }
  return {};
}

json records_to_json(const std::vector<WireRecord>& records) {
  json arr = json::array();
  for (const auto& r : records) arr.push_back(record_to_json(r));
  return arr;
}

Status read_bool(const json& obj, const char* key, bool& out) {
  auto it = obj.find(key);
  if (it == obj.end()) return {};
  if (!it->is_boolean()) return make_error(std::string("member \"") + key + "\" is not a boolean");
  out = it->get<bool>();
  return {};
}

json member_to_json(const MemberInfo& m) {
  return json{{"id", m.id},
              {"address", m.address},
              {"role", m.voter ? "voter" : "learner"},
              {"auto_promote", m.auto_promote},
              {"leader", m.leader},
              {"reachable", m.reachable},
              {"match", m.match},
              {"applied", m.applied}};
}

Result<MemberInfo> member_from_json(const json& j) {
  if (!j.is_object()) return make_error("a member entry is not a JSON object");
  MemberInfo m;
  std::string role;
  Status fields[] = {read_string(j, "id", m.id),         read_string(j, "address", m.address),
                     read_string(j, "role", role),       read_bool(j, "auto_promote", m.auto_promote),
                     read_bool(j, "leader", m.leader),   read_bool(j, "reachable", m.reachable),
                     read_uint(j, "match", m.match),     read_uint(j, "applied", m.applied)};
  for (auto& f : fields) {
    if (!f) return std::move(f).take_error();
  }
  if (role != "voter" && role != "learner") return make_error("member role must be voter or learner");
  m.voter = role == "voter";
  return m;
}

Status read_op(const json& obj, Op& out) {
  auto it = obj.find("op");
  if (it == obj.end() || !it->is_string()) return make_error("missing member \"op\"");
  auto op = op_from_name(it->get_ref<const std::string&>());
  if (!op) return make_error("unknown operation \"" + it->get<std::string>() + "\"");
  out = *op;
  return {};
}

json overrides_to_json(const SigningOverrides& o) {
  json obj = json::object();
  for (const auto& f : kOverrideFields) {
    if (o.*f.field) obj[f.key] = *(o.*f.field);
  }
  return obj;
}

Status read_overrides(const json& doc, SigningOverrides& out) {
  auto it = doc.find("signing");
  if (it == doc.end()) return {};
  if (!it->is_object()) return make_error("member \"signing\" is not an object");
  for (const auto& item : it->items()) {
    // A plain variable, not a structured binding: clang 14 cannot capture those.
    const std::string key = item.key();
    const auto* f = std::find_if(kOverrideFields.begin(), kOverrideFields.end(),
                                 [&](const OverrideField& o) { return key == o.key; });
    if (f == kOverrideFields.end()) {
      return make_error("member \"signing\" has an unknown value \"" + key + "\"");
    }
    uint32_t seconds = 0;
    if (auto s = read_uint(*it, f->key, seconds, true); !s) return s;
    out.*f->field = seconds;
  }
  return {};
}

json signing_key_to_json(const SigningKey& k) {
  return json{{"tag", k.tag},
              {"algorithm", k.algorithm},
              {"role", k.role},
              {"state", k.state},
              {"published", k.published},
              {"active", k.active},
              {"retired", k.retired},
              {"ds_seen", k.ds_seen},
              {"cds", k.cds},
              {"ds", k.ds}};
}

Result<SigningKey> signing_key_from_json(const json& j) {
  if (!j.is_object()) return make_error("a key entry is not a JSON object");
  SigningKey k;
  Status fields[] = {read_uint(j, "tag", k.tag, true),
                     read_uint(j, "algorithm", k.algorithm, true),
                     read_string(j, "role", k.role),
                     read_string(j, "state", k.state),
                     read_string(j, "published", k.published),
                     read_string(j, "active", k.active),
                     read_string(j, "retired", k.retired),
                     read_string(j, "ds_seen", k.ds_seen),
                     read_bool(j, "cds", k.cds),
                     read_string(j, "ds", k.ds)};
  for (auto& f : fields) {
    if (!f) return std::move(f).take_error();
  }
  if (k.role != "KSK" && k.role != "ZSK") return make_error("a key's role must be KSK or ZSK");
  return k;
}

}  // namespace

const char* op_name(Op op) noexcept {
  for (const auto& [value, name] : kOpNames) {
    if (value == op) return name.data();
  }
  return "unknown";
}

std::optional<Op> op_from_name(std::string_view name) noexcept {
  for (const auto& [value, text] : kOpNames) {
    if (text == name) return value;
  }
  return std::nullopt;
}

std::string to_hex(std::span<const uint8_t> bytes) {
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (uint8_t b : bytes) {
    out.push_back(kDigits[b >> 4]);
    out.push_back(kDigits[b & 15]);
  }
  return out;
}

std::optional<std::vector<uint8_t>> from_hex(std::string_view hex) {
  if (hex.size() % 2 != 0) return std::nullopt;
  auto nibble = [](char c) -> int {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
  };
  std::vector<uint8_t> out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i < hex.size(); i += 2) {
    int hi = nibble(hex[i]), lo = nibble(hex[i + 1]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out.push_back(static_cast<uint8_t>(hi << 4 | lo));
  }
  return out;
}

std::string encode_request_body(const Request& r) {
  json doc{{"v", kProtocolVersion}, {"op", op_name(r.op)}};
  if (!r.zone.empty()) doc["zone"] = to_hex(r.zone);
  std::string packed;
  if (!r.records.empty()) {
    if (r.op == Op::zone_import_chunk) {
      packed = pack_records(r.records);
      doc["packed_records_bytes"] = packed.size();
    } else {
      doc["records"] = records_to_json(r.records);
    }
  }
  if (!r.owner.empty()) doc["owner"] = to_hex(r.owner);
  if (r.type != 0) doc["type"] = r.type;
  if (!r.changes.empty()) {
    json changes = json::array();
    for (const auto& c : r.changes) {
      json item{{"op", op_name(c.op)}};
      if (!c.records.empty()) item["records"] = records_to_json(c.records);
      if (!c.owner.empty()) item["owner"] = to_hex(c.owner);
      if (c.type != 0) item["type"] = c.type;
      changes.push_back(std::move(item));
    }
    doc["changes"] = std::move(changes);
  }
  doc["wait"] = r.wait == Wait::all ? "all" : "local";
  doc["timeout_ms"] = r.timeout_ms;
  if (r.import_id != 0) doc["import_id"] = r.import_id;
  if (r.sequence != 0) doc["sequence"] = r.sequence;
  if (!r.cursor.empty()) doc["cursor"] = to_hex(r.cursor);
  if (!r.member.empty()) doc["member"] = r.member;
  if (!r.address.empty()) doc["address"] = r.address;
  if (r.learner) doc["learner"] = true;
  if (!r.backup_id.empty()) doc["backup_id"] = r.backup_id;
  if (r.offset != 0) doc["offset"] = r.offset;
  if (r.chunk_bytes != 0) doc["chunk_bytes"] = r.chunk_bytes;
  if (r.local) doc["local"] = true;
  if (r.algorithm != 0) doc["algorithm"] = r.algorithm;
  if (r.nsec3_optout) doc["nsec3_optout"] = true;
  if (r.signing != SigningOverrides{}) doc["signing"] = overrides_to_json(r.signing);
  if (!r.role.empty()) doc["role"] = r.role;
  if (r.key_tag != 0) doc["key_tag"] = r.key_tag;
  std::string body = doc.dump();
  if (!packed.empty()) {
    body.push_back('\0');
    body += packed;
  }
  return body;
}

Result<Request> decode_request_body(std::span<const uint8_t> body) {
  try {
    // The JSON document ends at the first 0x00; packed records follow it.
    std::span<const uint8_t> attached;
    if (const void* nul = std::memchr(body.data(), 0, body.size())) {
      const size_t at = static_cast<size_t>(static_cast<const uint8_t*>(nul) - body.data());
      attached = body.subspan(at + 1);
      body = body.first(at);
    }
    auto parsed = parse_body(body);
    if (!parsed) return std::move(parsed).take_error();
    const json& doc = *parsed;
    Request r;
    if (auto s = read_op(doc, r.op); !s) return std::move(s).take_error();
    if (auto s = read_hex(doc, "zone", r.zone); !s) return std::move(s).take_error();
    if (auto s = read_records(doc, r.records); !s) return std::move(s).take_error();
    uint64_t packed_bytes = 0;
    if (auto s = read_uint(doc, "packed_records_bytes", packed_bytes); !s) {
      return std::move(s).take_error();
    }
    if (packed_bytes != attached.size()) {
      return make_error("the request announces " + std::to_string(packed_bytes) +
                        " bytes of packed records and carries " +
                        std::to_string(attached.size()));
    }
    if (auto s = unpack_records(attached, r.records); !s) return std::move(s).take_error();
    if (auto s = read_hex(doc, "owner", r.owner); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "type", r.type); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "timeout_ms", r.timeout_ms); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "import_id", r.import_id); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "sequence", r.sequence); !s) return std::move(s).take_error();
    if (auto s = read_hex(doc, "cursor", r.cursor); !s) return std::move(s).take_error();
    if (auto s = read_string(doc, "member", r.member); !s) return std::move(s).take_error();
    if (auto s = read_string(doc, "address", r.address); !s) return std::move(s).take_error();
    if (auto s = read_bool(doc, "learner", r.learner); !s) return std::move(s).take_error();
    if (auto s = read_string(doc, "backup_id", r.backup_id); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "offset", r.offset); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "chunk_bytes", r.chunk_bytes); !s) return std::move(s).take_error();
    if (auto s = read_bool(doc, "local", r.local); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "algorithm", r.algorithm); !s) return std::move(s).take_error();
    if (auto s = read_bool(doc, "nsec3_optout", r.nsec3_optout); !s) {
      return std::move(s).take_error();
    }
    if (auto s = read_overrides(doc, r.signing); !s) return std::move(s).take_error();
    if (auto s = read_string(doc, "role", r.role); !s) return std::move(s).take_error();
    if (auto s = read_uint(doc, "key_tag", r.key_tag); !s) return std::move(s).take_error();
    std::string wait = "local";
    if (auto s = read_string(doc, "wait", wait); !s) return std::move(s).take_error();
    if (wait == "all") {
      r.wait = Wait::all;
    } else if (wait != "local") {
      return make_error("member \"wait\" must be \"local\" or \"all\"");
    }
    if (auto it = doc.find("changes"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"changes\" is not an array");
      for (const json& item : *it) {
        if (!item.is_object()) return make_error("a batch change is not a JSON object");
        Change c;
        if (auto s = read_op(item, c.op); !s) return std::move(s).take_error();
        if (c.op != Op::add && c.op != Op::remove && c.op != Op::remove_rrset) {
          return make_error(std::string("operation \"") + op_name(c.op) +
                            "\" cannot be part of a batch");
        }
        if (auto s = read_records(item, c.records); !s) return std::move(s).take_error();
        if (auto s = read_hex(item, "owner", c.owner); !s) return std::move(s).take_error();
        if (auto s = read_uint(item, "type", c.type); !s) return std::move(s).take_error();
        r.changes.push_back(std::move(c));
      }
    }
    return r;
  } catch (const json::exception& e) {
    // The readers check every type first; this only guards against a
    // library corner case turning a bad request into a daemon crash.
    return make_error(std::string("malformed request: ") + e.what());
  }
}

namespace {

json node_to_json(const NodeInfo& n) {
  json peers = json::array();
  for (const auto& p : n.peers) {
    peers.push_back(json{{"id", p.id},
                         {"reachable", p.reachable},
                         {"match", p.match},
                         {"lag", p.lag},
                         {"last_heard_ms", p.last_heard_ms}});
  }
  return json{{"id", n.id},
              {"reachable", n.reachable},
              {"error", n.error},
              {"role", n.role},
              {"term", n.term},
              {"leader", n.leader},
              {"commit", n.commit},
              {"applied", n.applied},
              {"wal_bytes", n.wal_bytes},
              {"snapshot_index", n.snapshot_index},
              {"digest", n.digest},
              {"peers", std::move(peers)}};
}

}  // namespace

std::string node_info_to_json(const NodeInfo& node) { return node_to_json(node).dump(); }

std::string members_to_json(const std::vector<MemberInfo>& members) {
  json arr = json::array();
  for (const auto& m : members) arr.push_back(member_to_json(m));
  return arr.dump(-1, ' ', false, json::error_handler_t::replace);
}

namespace {

Result<NodeInfo> node_from_json(const json& j) {
  if (!j.is_object()) return make_error("a node entry is not a JSON object");
  NodeInfo n;
  Status fields[] = {read_string(j, "id", n.id),          read_bool(j, "reachable", n.reachable),
                     read_string(j, "error", n.error),    read_string(j, "role", n.role),
                     read_uint(j, "term", n.term),        read_string(j, "leader", n.leader),
                     read_uint(j, "commit", n.commit),    read_uint(j, "applied", n.applied),
                     read_uint(j, "wal_bytes", n.wal_bytes),
                     read_uint(j, "snapshot_index", n.snapshot_index),
                     read_string(j, "digest", n.digest)};
  for (auto& f : fields) {
    if (!f) return std::move(f).take_error();
  }
  if (auto it = j.find("peers"); it != j.end()) {
    if (!it->is_array()) return make_error("member \"peers\" is not an array");
    for (const json& item : *it) {
      if (!item.is_object()) return make_error("a peer entry is not a JSON object");
      PeerInfo p;
      Status pf[] = {read_string(item, "id", p.id), read_bool(item, "reachable", p.reachable),
                     read_uint(item, "match", p.match), read_uint(item, "lag", p.lag)};
      for (auto& f : pf) {
        if (!f) return std::move(f).take_error();
      }
      if (auto h = item.find("last_heard_ms"); h != item.end()) {
        if (!h->is_number_integer()) return make_error("member \"last_heard_ms\" is not an integer");
        p.last_heard_ms = h->get<int64_t>();
      }
      n.peers.push_back(std::move(p));
    }
  }
  return n;
}

}  // namespace

std::string encode_response_body(const Response& r) {
  json doc{{"v", kProtocolVersion}, {"ok", r.ok}};
  if (!r.ok) doc["error"] = r.error;
  if (r.index != 0) doc["index"] = r.index;
  if (!r.zones.empty()) {
    json zones = json::array();
    for (const auto& z : r.zones) {
      zones.push_back(json{{"name", z.name}, {"serial", z.serial}, {"records", z.records}});
    }
    doc["zones"] = std::move(zones);
  }
  if (!r.text.empty()) doc["text"] = r.text;
  if (!r.lines.empty()) doc["lines"] = r.lines;
  if (!r.warnings.empty()) doc["warnings"] = r.warnings;
  if (!r.cursor.empty()) doc["cursor"] = to_hex(r.cursor);
  if (r.status) {
    const StatusInfo& s = *r.status;
    doc["status"] = json{{"version", s.version},
                         {"node_id", s.node_id},
                         {"uptime_seconds", s.uptime_seconds},
                         {"zones", s.zones},
                         {"records", s.records},
                         {"queries", s.queries},
                         {"applied_index", s.applied_index},
                         {"applied_term", s.applied_term},
                         {"role", s.role},
                         {"imports", s.imports},
                         {"staged_records", s.staged_records},
                         {"reclaim_pending", s.reclaim_pending}};
    if (s.cluster) doc["status"]["cluster"] = node_to_json(*s.cluster);
    if (!s.updates.empty()) doc["status"]["updates"] = s.updates;
  }
  if (!r.nodes.empty()) {
    json nodes = json::array();
    for (const auto& n : r.nodes) nodes.push_back(node_to_json(n));
    doc["nodes"] = std::move(nodes);
  }
  if (r.backup) {
    const BackupChunk& b = *r.backup;
    doc["backup"] = json{{"id", b.id},         {"index", b.index},   {"term", b.term},
                         {"total", b.total},   {"offset", b.offset}, {"data", to_hex(b.data)}};
  }
  if (!r.members.empty()) {
    json members = json::array();
    for (const auto& m : r.members) members.push_back(member_to_json(m));
    doc["members"] = std::move(members);
  }
  if (!r.keys.empty()) {
    json keys = json::array();
    for (const auto& k : r.keys) keys.push_back(signing_key_to_json(k));
    doc["keys"] = std::move(keys);
  }
  // Replacement keeps a daemon-side message with stray bytes from failing
  // the whole response.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<Response> decode_response_body(std::span<const uint8_t> body) {
  try {
    auto parsed = parse_body(body);
    if (!parsed) return std::move(parsed).take_error();
    const json& doc = *parsed;
    Response r;
    auto ok = doc.find("ok");
    if (ok == doc.end() || !ok->is_boolean()) return make_error("response has no \"ok\" member");
    r.ok = ok->get<bool>();
    // Only a failure carries a reason; an "error" member on success is noise.
    if (!r.ok) {
      if (auto s = read_string(doc, "error", r.error); !s) return std::move(s).take_error();
    }
    if (auto s = read_uint(doc, "index", r.index); !s) return std::move(s).take_error();
    if (auto s = read_string(doc, "text", r.text); !s) return std::move(s).take_error();
    if (auto s = read_hex(doc, "cursor", r.cursor); !s) return std::move(s).take_error();
    if (auto it = doc.find("zones"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"zones\" is not an array");
      for (const json& item : *it) {
        if (!item.is_object()) return make_error("a zone entry is not a JSON object");
        ZoneSummary z;
        if (auto s = read_string(item, "name", z.name); !s) return std::move(s).take_error();
        if (auto s = read_uint(item, "serial", z.serial); !s) return std::move(s).take_error();
        if (auto s = read_uint(item, "records", z.records); !s) return std::move(s).take_error();
        r.zones.push_back(std::move(z));
      }
    }
    if (auto it = doc.find("lines"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"lines\" is not an array");
      for (const json& item : *it) {
        if (!item.is_string()) return make_error("a line is not a string");
        r.lines.push_back(item.get<std::string>());
      }
    }
    if (auto it = doc.find("warnings"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"warnings\" is not an array");
      for (const json& item : *it) {
        if (!item.is_string()) return make_error("a warning is not a string");
        r.warnings.push_back(item.get<std::string>());
      }
    }
    if (auto it = doc.find("status"); it != doc.end()) {
      if (!it->is_object()) return make_error("member \"status\" is not an object");
      StatusInfo s;
      const json& st = *it;
      Status fields[] = {read_string(st, "version", s.version),
                         read_string(st, "node_id", s.node_id),
                         read_uint(st, "uptime_seconds", s.uptime_seconds),
                         read_uint(st, "zones", s.zones),
                         read_uint(st, "records", s.records),
                         read_uint(st, "queries", s.queries),
                         read_uint(st, "applied_index", s.applied_index),
                         read_uint(st, "applied_term", s.applied_term),
                         read_string(st, "role", s.role),
                         read_uint(st, "imports", s.imports),
                         read_uint(st, "staged_records", s.staged_records),
                         read_uint(st, "reclaim_pending", s.reclaim_pending)};
      for (auto& f : fields) {
        if (!f) return std::move(f).take_error();
      }
      if (auto u = st.find("updates"); u != st.end()) {
        if (!u->is_object()) return make_error("member \"updates\" is not an object");
        for (const auto& [result, count] : u->items()) {
          if (!count.is_number_unsigned()) return make_error("an update count is not a number");
          s.updates[result] = count.get<uint64_t>();
        }
      }
      if (auto c = st.find("cluster"); c != st.end()) {
        auto node = node_from_json(*c);
        if (!node) return std::move(node).take_error();
        s.cluster = std::move(*node);
      }
      r.status = std::move(s);
    }
    if (auto it = doc.find("nodes"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"nodes\" is not an array");
      for (const json& item : *it) {
        auto node = node_from_json(item);
        if (!node) return std::move(node).take_error();
        r.nodes.push_back(std::move(*node));
      }
    }
    if (auto it = doc.find("backup"); it != doc.end()) {
      if (!it->is_object()) return make_error("member \"backup\" is not an object");
      BackupChunk b;
      Status fields[] = {read_string(*it, "id", b.id),       read_uint(*it, "index", b.index),
                         read_uint(*it, "term", b.term),     read_uint(*it, "total", b.total),
                         read_uint(*it, "offset", b.offset), read_hex(*it, "data", b.data)};
      for (auto& f : fields) {
        if (!f) return std::move(f).take_error();
      }
      r.backup = std::move(b);
    }
    if (auto it = doc.find("members"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"members\" is not an array");
      for (const json& item : *it) {
        auto m = member_from_json(item);
        if (!m) return std::move(m).take_error();
        r.members.push_back(std::move(*m));
      }
    }
    if (auto it = doc.find("keys"); it != doc.end()) {
      if (!it->is_array()) return make_error("member \"keys\" is not an array");
      for (const json& item : *it) {
        auto k = signing_key_from_json(item);
        if (!k) return std::move(k).take_error();
        r.keys.push_back(std::move(*k));
      }
    }
    return r;
  } catch (const json::exception& e) {
    return make_error(std::string("malformed response: ") + e.what());
  }
}

std::string frame(std::string_view body) {
  std::string out;
  out.reserve(kFrameHeaderSize + body.size());
  uint32_t n = static_cast<uint32_t>(body.size());
  out.push_back(static_cast<char>(n >> 24));
  out.push_back(static_cast<char>(n >> 16));
  out.push_back(static_cast<char>(n >> 8));
  out.push_back(static_cast<char>(n));
  out.append(body);
  return out;
}

void FrameReader::feed(std::span<const uint8_t> bytes) {
  if (oversized_) return;
  // Drop what was consumed before growing, so a long-lived connection does
  // not accumulate old frames.
  if (consumed_ > 0 && consumed_ == buffer_.size()) {
    buffer_.clear();
    consumed_ = 0;
  } else if (consumed_ > (size_t{1} << 16)) {
    buffer_.erase(0, consumed_);
    consumed_ = 0;
  }
  buffer_.append(reinterpret_cast<const char*>(bytes.data()), bytes.size());
}

std::optional<std::string> FrameReader::next() {
  if (oversized_) return std::nullopt;
  size_t available = buffer_.size() - consumed_;
  if (available < kFrameHeaderSize) return std::nullopt;
  const auto* p = reinterpret_cast<const uint8_t*>(buffer_.data() + consumed_);
  size_t length = size_t{p[0]} << 24 | size_t{p[1]} << 16 | size_t{p[2]} << 8 | size_t{p[3]};
  announced_ = length;
  if (length > max_size_) {
    oversized_ = true;
    buffer_.clear();
    consumed_ = 0;
    return std::nullopt;
  }
  if (available - kFrameHeaderSize < length) return std::nullopt;
  std::string body = buffer_.substr(consumed_ + kFrameHeaderSize, length);
  consumed_ += kFrameHeaderSize + length;
  return body;
}

}  // namespace raftdns::control
