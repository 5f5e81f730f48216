// Applying Commands: the zone rules (enclosing zone, CNAME exclusivity, one
// CNAME and DNAME per owner, the apex SOA), RRset merging, and the SOA
// serial bump that ends every command that changed a zone.
#include "daemon/store/apply.h"

#include <algorithm>
#include <span>
#include <array>
#include <cstring>

#include "daemon/store/scan.h"

namespace raftdns::store {
namespace {

namespace T = wire::rrtype;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::span<const uint8_t> bytes_of(const MDB_val& v) {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

[[noreturn]] void throw_lmdb(int rc, const char* what) {
  throw LmdbFailure{rc, std::string(what) + ": " + mdb_strerror(rc)};
}

// Types DNSSEC allows next to a CNAME (RFC 4035 §2.5) and at a cut.
bool is_dnssec_meta(uint16_t t) { return t == 46 /*RRSIG*/ || t == 47 /*NSEC*/; }

std::string type_text(uint16_t t) { return wire::type_to_text(t); }

}  // namespace

std::string encode_rrset(const RRsetData& r) {
  size_t size = kRRsetHeaderSize;
  for (const auto& rd : r.rdatas) size += 2 + rd.size();
  std::string v(size, '\0');
  auto* p = reinterpret_cast<uint8_t*>(v.data());
  store_u32(p, r.ttl);
  store_u16(p + 4, r.rclass);
  store_u16(p + 6, static_cast<uint16_t>(r.rdatas.size()));
  p += kRRsetHeaderSize;
  for (const auto& rd : r.rdatas) {
    store_u16(p, static_cast<uint16_t>(rd.size()));
    if (!rd.empty()) std::memcpy(p + 2, rd.data(), rd.size());
    p += 2 + rd.size();
  }
  return v;
}

RRsetData decode_rrset(std::string_view value) {
  RRsetData r;
  RRsetView view;
  if (!RRsetView::parse(0, bytes_of(value), view)) return r;
  r.ttl = view.ttl;
  r.rclass = view.rclass;
  for (auto rd : view) r.rdatas.emplace_back(rd.begin(), rd.end());
  return r;
}

std::vector<uint8_t> canonical_rdata(uint16_t type, std::span<const uint8_t> rdata) {
  std::vector<uint8_t> out(rdata.begin(), rdata.end());
  // Name length octets are <= 63, below 'A', so lowercasing a whole
  // uncompressed name region touches only label text.
  size_t from = 0, to = 0;
  switch (type) {
    case T::NS:
    case T::CNAME:
    case T::PTR:
    case T::DNAME:
      to = out.size();
      break;
    case T::MX:
      from = 2;
      to = out.size();
      break;
    case T::SRV:
      from = 6;
      to = out.size();
      break;
    case T::SOA:
      to = out.size() >= 20 ? out.size() - 20 : 0;
      break;
    default:
      break;
  }
  for (size_t i = from; i < to && i < out.size(); ++i)
    if (out[i] >= 'A' && out[i] <= 'Z') out[i] = static_cast<uint8_t>(out[i] + 32);
  return out;
}

// ---- table access ----

std::optional<std::string> Applier::get(MDB_dbi dbi, std::span<const uint8_t> key) {
  MDB_val k = lmdb::val(key.data(), key.size()), v;
  int rc = mdb_get(txn_, dbi, &k, &v);
  if (rc == MDB_NOTFOUND) return std::nullopt;
  if (rc != 0) throw_lmdb(rc, "read");
  return std::string(lmdb::view(v));
}

void Applier::put(MDB_dbi dbi, std::span<const uint8_t> key, std::string_view value) {
  MDB_val k = lmdb::val(key.data(), key.size()), v = lmdb::val(value);
  int rc = mdb_put(txn_, dbi, &k, &v, 0);
  if (rc != 0) throw_lmdb(rc, "write");
}

void Applier::del(MDB_dbi dbi, std::span<const uint8_t> key) {
  MDB_val k = lmdb::val(key.data(), key.size());
  int rc = mdb_del(txn_, dbi, &k, nullptr);
  if (rc != 0 && rc != MDB_NOTFOUND) throw_lmdb(rc, "delete");
}

std::optional<RRsetData> Applier::read_rrset(std::span<const uint8_t> zone_key,
                                             std::span<const uint8_t> owner_key, uint16_t type) {
  KeyBuffer key;
  make_rrset_key(zone_key, generation_of(zone_key), owner_key, type, key);
  auto v = get(env_.rrsets, key.span());
  if (!v) return std::nullopt;
  return decode_rrset(*v);
}

std::optional<uint32_t> Applier::zone_serial(std::span<const uint8_t> zone_key) {
  KeyBuffer zk;
  make_zone_key(zone_key, zk);
  auto v = get(env_.zones, zk.span());
  ZoneMeta meta;
  if (!v || !ZoneMeta::parse(bytes_of(*v), meta)) return std::nullopt;
  return meta.serial;
}

void Applier::touch(std::span<const uint8_t> zone_key) {
  std::string k(reinterpret_cast<const char*>(zone_key.data()), zone_key.size());
  if (touched_.count(k)) return;
  touched_.emplace(std::move(k), zone_serial(zone_key));
}

uint32_t Applier::generation_of(std::span<const uint8_t> zone_key) {
  KeyBuffer zk;
  make_zone_key(zone_key, zk);
  auto v = get(env_.zones, zk.span());
  ZoneMeta meta;
  if (!v || !ZoneMeta::parse(bytes_of(*v), meta)) return 0;
  return meta.generation;
}

bool Applier::write_rrset(std::span<const uint8_t> zone_key, std::span<const uint8_t> owner_key,
                          uint16_t type, const RRsetData& data) {
  KeyBuffer key;
  make_rrset_key(zone_key, generation_of(zone_key), owner_key, type, key);
  auto old = get(env_.rrsets, key.span());
  std::optional<std::string> fresh;
  if (!data.rdatas.empty()) fresh = encode_rrset(data);
  if (old == fresh) return false;
  touch(zone_key);
  note_signing_change(zone_key, owner_key, type);
  if (journal_entries_ > 0) {
    // Only a change to a zone that existed before the command and is not
    // being replaced goes into the journal: an import of a big zone keeps
    // no before-images.
    std::string zone(reinterpret_cast<const char*>(zone_key.data()), zone_key.size());
    auto t = touched_.find(zone);
    if (t != touched_.end() && t->second && !journal_reset_.count(zone)) {
      before_.try_emplace(key.str(), old);
    }
  }
  uint64_t old_count = old ? decode_rrset(*old).rdatas.size() : 0;
  if (fresh) {
    put(env_.rrsets, key.span(), *fresh);
  } else {
    del(env_.rrsets, key.span());
  }
  if (type == T::NSEC3 && fresh.has_value() != old.has_value()) {
    index_nsec3(zone_key, generation_of(zone_key), owner_key, fresh.has_value());
  }
  KeyBuffer zk;
  make_zone_key(zone_key, zk);
  auto zv = get(env_.zones, zk.span());
  ZoneMeta meta;
  if (zv) ZoneMeta::parse(bytes_of(*zv), meta);
  meta.records = meta.records - old_count + data.rdatas.size();
  // Counters of RRsets that make the query path walk the zone.
  const int delta = (fresh ? 1 : 0) - (old ? 1 : 0);
  const bool at_apex = owner_key.size() == zone_key.size();
  if (type == T::DNAME) meta.dnames += delta;
  if (type == T::NS && !at_apex) meta.cuts += delta;
  if (key_has_wildcard_label(owner_key.subspan(zone_key.size()))) meta.wildcards += delta;
  if (type == T::SOA && at_apex) {
    meta.soa = fresh ? bytes_of(*fresh) : std::span<const uint8_t>();
    if (!data.rdatas.empty()) {
      if (auto f = wire::soa_fields(data.rdatas.front())) meta.serial = f->serial;
    }
  }
  put(env_.zones, zk.span(), meta.encode());
  return true;
}

// The nsec3 table follows the rrsets table: an NSEC3 RRset at a hash-named
// child of the apex has an entry under its zone's generation (keys.h).
void Applier::index_nsec3(std::span<const uint8_t> zone_key, uint32_t generation,
                          std::span<const uint8_t> owner_key, bool present) {
  uint8_t hash[kMaxNsec3Hash];
  const size_t n = nsec3_owner_hash(owner_key.subspan(zone_key.size()), hash);
  if (n == 0) return;  // not a hash-named owner: nothing a proof could point at
  KeyBuffer key;
  make_nsec3_key(zone_key, generation, {hash, n}, key);
  if (key.size > kMaxLmdbKey) return;
  if (present) {
    put(env_.nsec3, key.span(), {});
  } else {
    del(env_.nsec3, key.span());
  }
}

// ---- rules ----

Status Applier::check_placement(const NameKey& owner_key, size_t apex_labels,
                                const wire::Name& owner, uint16_t type) {
  // Messages are built only on refusal: this runs for every record of an import.
  auto where = [&] { return owner.to_text() + " " + type_text(type); };
  if (!wire::is_storable_type(type))
    return make_error(where() + ": this type cannot be stored in a zone");
  const bool at_apex = owner_key.labels() == apex_labels;
  if (type == T::SOA && !at_apex) {
    return make_error("SOA at " + owner.to_text() + " is not at the zone apex " +
                      owner.strip_left(owner.label_count() - apex_labels).to_text());
  }
  auto zone_key = owner_key.prefix(apex_labels);

  // One cursor serves every check of the command (opening one per record
  // shows in an import's profile).
  if (!placement_cursor_.get()) {
    if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, placement_cursor_)) throw_lmdb(rc, "cursor");
  }
  NodeView node;
  scan::load_node(placement_cursor_.get(), zone_key, generation_of(zone_key), owner_key.bytes(),
                  node);
  uint16_t inline_types[NodeView::kInline];
  for (size_t i = 0; i < node.count; ++i) inline_types[i] = node.rrsets[i].type;
  std::vector<uint16_t> all_types;
  if (node.overflow) all_types = types_at(zone_key, owner_key.bytes());  // rare: the slow way
  const std::span<const uint16_t> types =
      node.overflow ? std::span<const uint16_t>(all_types)
                    : std::span<const uint16_t>(inline_types, node.count);
  auto has = [&](uint16_t t) { return std::find(types.begin(), types.end(), t) != types.end(); };

  // RFC 1034 §3.6.2 / RFC 2181 §10.1: a CNAME owner holds no other data.
  if (type == T::CNAME) {
    for (uint16_t t : types) {
      if (t != T::CNAME && !is_dnssec_meta(t)) {
        return make_error("CNAME at " + owner.to_text() + " cannot coexist with its " +
                          type_text(t) + " record(s)");
      }
    }
  } else if (!is_dnssec_meta(type) && has(T::CNAME)) {
    return make_error(where() + " cannot coexist with the CNAME at " + owner.to_text());
  }

  // Data below a zone cut or a DNAME, or at a cut beside its NS, is
  // occluded: accepted and kept (as the zone file validator accepts it, and
  // as NSD, Knot and BIND load it) and never served by the answer engine.
  return {};
}

namespace {

// Records in RRset order: every owner key in one arena, and the records
// sorted by (owner key, type, position), so each run is one RRset, met in
// the order LMDB keeps them (which keeps its page accesses local). No map
// node or string per record: this runs for every chunk of an import.
struct RRsetOrder {
  struct Item {
    uint32_t offset;
    uint16_t length;
    uint16_t type;
    uint32_t index;  // into the records
  };
  std::string arena;
  std::vector<Item> items;

  explicit RRsetOrder(const std::vector<wire::Record>& records) {
    items.reserve(records.size());
    for (size_t i = 0; i < records.size(); ++i) {
      NameKey key(records[i].owner);
      items.push_back(Item{static_cast<uint32_t>(arena.size()),
                           static_cast<uint16_t>(key.bytes().size()), records[i].type,
                           static_cast<uint32_t>(i)});
      arena.append(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size());
    }
    auto before = [&](const Item& a, const Item& b) {
      if (int c = key_of(a).compare(key_of(b)); c != 0) return c < 0;
      if (a.type != b.type) return a.type < b.type;
      return a.index < b.index;
    };
    // A chunk of a file in canonical order comes sorted.
    if (!std::is_sorted(items.begin(), items.end(), before)) {
      std::sort(items.begin(), items.end(), before);
    }
  }
  std::string_view key_of(const Item& it) const {
    return std::string_view(arena).substr(it.offset, it.length);
  }
  // The end of the run of items[begin]'s owner (with `type`, of its RRset).
  size_t run_end(size_t begin, bool same_type) const {
    size_t end = begin + 1;
    while (end < items.size() && (!same_type || items[end].type == items[begin].type) &&
           key_of(items[end]) == key_of(items[begin])) {
      ++end;
    }
    return end;
  }
};

// Merges `rdatas` (one RRset's new records, in order) into `data`: SOA is a
// singleton, the newest replacing the old; any other type keeps one copy of
// each RDATA by canonical form, in canonical order. CNAME and DNAME stay
// singletons.
Status merge_rdatas(const wire::Name& owner, uint16_t type,
                    const std::vector<std::span<const uint8_t>>& rdatas, RRsetData& data) {
  if (type == T::SOA) {
    data.rdatas.clear();
    data.rdatas.emplace_back(rdatas.back().begin(), rdatas.back().end());
    return {};
  }
  if (data.rdatas.empty() && rdatas.size() == 1) {  // most of a big zone
    data.rdatas.emplace_back(rdatas.front().begin(), rdatas.front().end());
    return {};
  }
  std::vector<std::vector<uint8_t>> canon;
  canon.reserve(data.rdatas.size() + rdatas.size());
  for (const auto& rd : data.rdatas) canon.push_back(canonical_rdata(type, rd));
  for (auto rd : rdatas) {
    auto c = canonical_rdata(type, rd);
    auto at = std::lower_bound(canon.begin(), canon.end(), c);
    if (at != canon.end() && *at == c) continue;
    auto idx = at - canon.begin();
    canon.insert(at, std::move(c));
    data.rdatas.insert(data.rdatas.begin() + idx, std::vector<uint8_t>(rd.begin(), rd.end()));
  }
  if ((type == T::CNAME || type == T::DNAME) && data.rdatas.size() > 1) {
    return make_error(owner.to_text() + " already has a " + type_text(type) +
                      "; there can be only one");
  }
  return {};
}

}  // namespace

// Adds `records` as whole RRsets: grouped by (owner, type), each group merged
// once, its TTL and class those of its last record (as a zone file gives them).
Status Applier::add_records_grouped(std::span<const uint8_t> zone_key, size_t apex_labels,
                                    const std::vector<wire::Record>& records) {
  const RRsetOrder order(records);
  const auto& items = order.items;
  std::vector<std::span<const uint8_t>> rdatas;
  for (size_t begin = 0, end = 0; begin < items.size(); begin = end) {
    end = order.run_end(begin, true);
    rdatas.clear();
    for (size_t k = begin; k < end; ++k) rdatas.push_back(records[items[k].index].rdata);
    const wire::Record& first = records[items[begin].index];
    const wire::Record& last = records[items[end - 1].index];  // its TTL and class hold
    auto s = add_to_rrset(zone_key, apex_labels, first.owner, first.type, last.rclass, last.ttl,
                          rdatas);
    if (!s) return s;
  }
  return {};
}

Status Applier::add_to_rrset(std::span<const uint8_t> zone_key, size_t apex_labels,
                             const wire::Name& owner, uint16_t type, uint16_t rclass, uint32_t ttl,
                             const std::vector<std::span<const uint8_t>>& rdatas) {
  NameKey owner_key(owner);
  KeyBuffer probe;
  make_rrset_key(zone_key, 0, owner_key.bytes(), type, probe);
  if (probe.size > kMaxLmdbKey) {
    return make_error(owner.to_text() + ": name too long to store (key of " +
                      std::to_string(probe.size) + " bytes)");
  }
  if (auto s = check_placement(owner_key, apex_labels, owner, type); !s) return s;

  RRsetData data = read_rrset(zone_key, owner_key.bytes(), type).value_or(RRsetData{});
  if (auto s = merge_rdatas(owner, type, rdatas, data); !s) return s;
  data.ttl = ttl;
  data.rclass = rclass;
  write_rrset(zone_key, owner_key.bytes(), type, data);
  return {};
}

// ---- commands ----

Status Applier::add_records(const std::vector<wire::Record>& records) {
  struct Group {
    const wire::Record* first = nullptr;
    size_t apex_labels = 0;
    std::string zone_key;
    uint16_t rclass = 0;
    uint32_t ttl = 0;
    std::vector<std::span<const uint8_t>> rdatas;
  };
  // Group by (owner, type) in canonical order, so the result does not depend
  // on the order records were listed in.
  std::map<std::pair<std::string, uint16_t>, Group> groups;
  for (const auto& r : records) {
    if (auto s = wire::validate_rdata(r.type, r.rdata); !s) {
      return make_error(wire::record_to_text(r) + ": " + s.error());
    }
    NameKey key(r.owner);
    ZoneRef z;
    if (!scan::find_zone(txn_, env_.zones, key, wire::kMaxLabels, z)) {
      return make_error("no zone encloses " + wire::record_to_text(r));
    }
    auto& g =
        groups[{std::string(reinterpret_cast<const char*>(key.bytes().data()), key.bytes().size()),
                r.type}];
    if (!g.first) {
      g.first = &r;
      g.apex_labels = z.apex_labels;
      auto zk = key.prefix(z.apex_labels);
      g.zone_key.assign(reinterpret_cast<const char*>(zk.data()), zk.size());
    }
    g.rclass = r.rclass;
    g.ttl = r.ttl;  // RFC 2181 §5.2: the newest TTL wins for the whole RRset
    g.rdatas.push_back(r.rdata);
  }
  for (auto& [k, g] : groups) {
    auto s = add_to_rrset(bytes_of(g.zone_key), g.apex_labels, g.first->owner, k.second, g.rclass,
                          g.ttl, g.rdatas);
    if (!s) return s;
  }
  return {};
}

Status Applier::remove_records(const std::vector<wire::Record>& records) {
  for (const auto& r : records) {
    NameKey key(r.owner);
    ZoneRef z;
    if (!scan::find_zone(txn_, env_.zones, key, wire::kMaxLabels, z)) {
      return make_error("no zone encloses " + wire::record_to_text(r));
    }
    auto zone_key = key.prefix(z.apex_labels);
    if (r.type == T::SOA && key.labels() == z.apex_labels) {
      return make_error("cannot remove the SOA of zone " + r.owner.to_text());
    }
    auto data = read_rrset(zone_key, key.bytes(), r.type);
    auto want = canonical_rdata(r.type, r.rdata);
    bool found = false;
    if (data) {
      for (auto it = data->rdatas.begin(); it != data->rdatas.end(); ++it) {
        if (canonical_rdata(r.type, *it) == want) {
          data->rdatas.erase(it);
          found = true;
          break;
        }
      }
    }
    if (!found) return make_error("no such record: " + wire::record_to_text(r));
    write_rrset(zone_key, key.bytes(), r.type, *data);
  }
  return {};
}

Status Applier::remove_rrset(const RemoveRRset& r) {
  NameKey key(r.owner);
  ZoneRef z;
  const std::string what = r.owner.to_text() + " " + type_text(r.type);
  if (!scan::find_zone(txn_, env_.zones, key, wire::kMaxLabels, z)) {
    return make_error("no zone encloses " + what);
  }
  auto zone_key = key.prefix(z.apex_labels);
  if (r.type == T::SOA && key.labels() == z.apex_labels) {
    return make_error("cannot remove the SOA of zone " + r.owner.to_text());
  }
  if (!read_rrset(zone_key, key.bytes(), r.type)) return make_error("no RRset " + what);
  write_rrset(zone_key, key.bytes(), r.type, RRsetData{});
  return {};
}

Status Applier::put_zone(const PutZone& p) {
  const std::string zone_text = p.zone.to_text();
  NameKey zone_key(p.zone);
  if (zone_key.bytes().size() + 4 > kMaxLmdbKey) {
    return make_error("zone " + zone_text + ": name too long to store");
  }
  size_t soa_count = 0;
  for (const auto& r : p.records) {
    if (!r.owner.is_subdomain_of(p.zone)) {
      return make_error(wire::record_to_text(r) + " is outside zone " + zone_text);
    }
    if (auto s = wire::validate_rdata(r.type, r.rdata); !s) {
      return make_error(wire::record_to_text(r) + ": " + s.error());
    }
    if (r.type == T::SOA && r.owner == p.zone) ++soa_count;
  }
  if (soa_count != 1) {
    return make_error("zone " + zone_text + " has " + std::to_string(soa_count) +
                      " SOA records at its apex; exactly one is required");
  }

  auto zk = zone_key.bytes();
  touch(zk);
  journal_reset_.emplace(reinterpret_cast<const char*>(zk.data()), zk.size());
  KeyBuffer zkey;
  make_zone_key(zk, zkey);
  // The new contents go into a fresh generation; the old one is reclaimed
  // later, so replacing a big zone costs no deletes here.
  if (auto old = get(env_.zones, zkey.span())) {
    ZoneMeta old_meta;
    if (ZoneMeta::parse(bytes_of(*old), old_meta)) trash_content(zk, old_meta.generation);
  }
  ZoneMeta fresh_meta;
  fresh_meta.serial = zone_serial(zk).value_or(0);
  fresh_meta.generation = allocate_generation();
  put(env_.zones, zkey.span(), fresh_meta.encode());
  update_zone_depth_hint();

  if (auto s = add_records_grouped(zk, zone_key.labels(), p.records); !s) {
    return make_error("zone " + zone_text + ": " + s.error());
  }
  return {};
}

Status Applier::remove_zone(const RemoveZone& r) {
  NameKey zone_key(r.zone);
  auto zk = zone_key.bytes();
  KeyBuffer zkey;
  make_zone_key(zk, zkey);
  std::optional<std::string> value;
  if (zkey.size > kMaxLmdbKey || !(value = get(env_.zones, zkey.span()))) {
    return make_error("no zone " + r.zone.to_text());
  }
  touch(zk);
  journal_reset_.emplace(reinterpret_cast<const char*>(zk.data()), zk.size());
  ZoneMeta meta;
  if (ZoneMeta::parse(bytes_of(*value), meta)) trash_content(zk, meta.generation);
  del(env_.zones, zkey.span());
  update_zone_depth_hint();
  return {};
}

// ---- staged imports ----

uint32_t Applier::allocate_generation() {
  auto v = get(env_.meta, bytes_of(kNextGenerationKey));
  // Generation 0 is the one a store of schema 1 was migrated into; new
  // content starts at 1.
  uint32_t next = v && v->size() == 4 ? load_u32(reinterpret_cast<const uint8_t*>(v->data())) : 1;
  if (next == 0) throw LmdbFailure{0, "every content generation has been used"};
  uint8_t b[4];
  store_u32(b, next + 1);
  put(env_.meta, bytes_of(kNextGenerationKey),
      std::string_view(reinterpret_cast<const char*>(b), sizeof b));
  return next;
}

void Applier::trash_content(std::span<const uint8_t> zone_key, uint32_t generation) {
  KeyBuffer key;
  make_content_key(zone_key, generation, key);
  put(env_.trash, key.span(), {});
}

namespace {
std::array<uint8_t, 8> import_key(uint64_t id) {
  std::array<uint8_t, 8> k;
  store_u64(k.data(), id);
  return k;
}
}  // namespace

std::optional<ImportState> Applier::read_import(uint64_t id) {
  auto v = get(env_.imports, import_key(id));
  ImportState state;
  if (!v || !ImportState::parse(bytes_of(*v), state)) return std::nullopt;
  return state;
}

void Applier::drop_import(uint64_t id, const ImportState& state) {
  auto zone = wire::Name::from_wire(state.zone_wire);
  if (zone) trash_content(NameKey(*zone).bytes(), state.generation);
  del(env_.imports, import_key(id));
}

Status Applier::import_begin(const ImportBegin& b) {
  NameKey zone_key(b.zone);
  if (zone_key.bytes().size() + 1 + kGenerationSize + 3 > kMaxLmdbKey) {
    return make_error("zone " + b.zone.to_text() + ": name too long to store");
  }
  if (get(env_.imports, import_key(b.id))) {
    return make_error("import " + import_id_text(b.id) + " already exists");
  }
  ImportState state;
  auto wire = b.zone.wire();
  state.zone_wire.assign(wire.begin(), wire.end());
  state.generation = allocate_generation();
  state.last_index = index_;
  ZoneMeta meta;
  meta.generation = state.generation;
  state.meta = meta.encode();
  put(env_.imports, import_key(b.id), state.encode());
  return {};
}

Status Applier::import_chunk(const ImportChunk& c) {
  const std::string id = import_id_text(c.id);
  auto state = read_import(c.id);
  if (!state) return make_error("no import " + id + " (committed, aborted, or dropped as stale)");
  // The client resends a chunk whose answer it lost (a leader change): a
  // copy of a chunk already applied, whenever it reaches the log, changes
  // nothing.
  if (c.sequence < state->chunks) return {};
  if (c.sequence != state->chunks) {
    return make_error(chunk_ahead_error(c.id, c.sequence, state->chunks));
  }
  auto zone = wire::Name::from_wire(state->zone_wire);
  if (!zone) return make_error("import " + id + ": damaged zone name");
  const std::string zone_text = zone->to_text();
  NameKey zone_key(*zone);
  auto zk = zone_key.bytes();

  // The checks PutZone makes, record by record; the SOA count is summed over
  // the chunks and finished by the commit.
  uint32_t soas = 0;
  for (const auto& r : c.records) {
    if (!r.owner.is_subdomain_of(*zone)) {
      return make_error(wire::record_to_text(r) + " is outside zone " + zone_text);
    }
    if (auto s = wire::validate_rdata(r.type, r.rdata); !s) {
      return make_error(wire::record_to_text(r) + ": " + s.error());
    }
    if (r.type == T::SOA && r.owner == *zone) ++soas;
  }
  if (state->apex_soas + soas > 1) {
    return make_error("zone " + zone_text + " has " + std::to_string(state->apex_soas + soas) +
                      " SOA records at its apex; exactly one is required");
  }

  ZoneMeta meta;
  if (!ZoneMeta::parse(bytes_of(state->meta), meta)) {
    return make_error("import " + id + ": damaged staged zone counters");
  }
  std::string soa;  // the staged apex SOA, when this chunk writes one
  if (auto s = stage_records(zk, zone_key.labels(), state->generation, c.records, meta, soa); !s) {
    return make_error("zone " + zone_text + ": " + s.error());
  }
  state->meta = meta.encode();
  state->chunks += 1;
  state->apex_soas += soas;
  state->last_index = index_;
  put(env_.imports, import_key(c.id), state->encode());
  return {};
}

// The records of one import chunk, written into the staged generation
// `generation` that no reader sees. The rules and the result are those of
// add_records_grouped (each (owner, type) group merged once into whatever
// earlier chunks staged; CNAME exclusivity; SOA only at the apex), but an
// import is the one write that meets millions of records, so this path
// reads each owner's staged RRsets with one cursor seek, writes through the
// same cursor, and keeps the zone's counters in `meta` for the whole chunk.
// (The live path's per-RRset reads of the zones table, the journal and the
// signing notes do not apply to content nobody serves yet.) `soa_value`
// holds the bytes `meta.soa` points at when the chunk stages the apex SOA.
Status Applier::stage_records(std::span<const uint8_t> zone_key, size_t apex_labels,
                              uint32_t generation, const std::vector<wire::Record>& records,
                              ZoneMeta& meta, std::string& soa_value) {
  const RRsetOrder order(records);
  const auto& items = order.items;

  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) throw_lmdb(rc, "cursor");
  // The RRsets an owner already has in the staged generation (from earlier
  // chunks, or earlier groups of this one), and their encoded values.
  std::vector<std::pair<uint16_t, std::string>> existing;
  std::vector<std::span<const uint8_t>> rdatas;
  KeyBuffer key;
  for (size_t ob = 0, oe = 0; ob < items.size(); ob = oe) {
    oe = order.run_end(ob, false);
    const auto owner_key = bytes_of(order.key_of(items[ob]));
    const wire::Name& owner = records[items[ob].index].owner;
    make_owner_prefix(zone_key, generation, owner_key, key);
    const size_t prefix = key.size;
    if (prefix + 2 > kMaxLmdbKey) {
      return make_error(owner.to_text() + ": name too long to store (key of " +
                        std::to_string(prefix + 2) + " bytes)");
    }
    existing.clear();
    {
      MDB_val k = lmdb::val(key.data, prefix), v;
      for (int rc = cursor.get(&k, &v, MDB_SET_RANGE); rc == 0;
           rc = cursor.get(&k, &v, MDB_NEXT)) {
        if (k.mv_size != prefix + 2 || std::memcmp(k.mv_data, key.data, prefix) != 0) break;
        const auto* kb = static_cast<const uint8_t*>(k.mv_data);
        existing.emplace_back(load_u16(kb + prefix), std::string(lmdb::view(v)));
      }
    }
    const bool at_apex = owner_key.size() == zone_key.size();
    const bool wildcard = key_has_wildcard_label(owner_key.subspan(zone_key.size()));

    for (size_t tb = ob, te = ob; tb < oe; tb = te) {
      const uint16_t type = items[tb].type;
      te = order.run_end(tb, true);
      // The checks of check_placement, against what the owner holds now.
      auto where = [&] { return owner.to_text() + " " + type_text(type); };
      if (!wire::is_storable_type(type)) {
        return make_error(where() + ": this type cannot be stored in a zone");
      }
      if (type == T::SOA && !at_apex) {
        return make_error("SOA at " + owner.to_text() + " is not at the zone apex " +
                          owner.strip_left(owner.label_count() - apex_labels).to_text());
      }
      std::string* old = nullptr;
      for (auto& [t, value] : existing) {
        if (t == type) old = &value;
        if (type == T::CNAME && t != T::CNAME && !is_dnssec_meta(t)) {
          return make_error("CNAME at " + owner.to_text() + " cannot coexist with its " +
                            type_text(t) + " record(s)");
        }
        if (type != T::CNAME && !is_dnssec_meta(type) && t == T::CNAME) {
          return make_error(where() + " cannot coexist with the CNAME at " + owner.to_text());
        }
      }

      rdatas.clear();
      for (size_t k = tb; k < te; ++k) rdatas.push_back(records[items[k].index].rdata);
      const wire::Record& last = records[items[te - 1].index];  // its TTL and class hold
      RRsetData data = old ? decode_rrset(*old) : RRsetData{};
      const size_t old_count = data.rdatas.size();
      if (auto s = merge_rdatas(owner, type, rdatas, data); !s) return s;
      data.ttl = last.ttl;
      data.rclass = last.rclass;
      std::string fresh = encode_rrset(data);
      if (old && *old == fresh) continue;

      key.size = prefix;
      key.push(static_cast<uint8_t>(type >> 8));
      key.push(static_cast<uint8_t>(type));
      MDB_val k = lmdb::val(key.data, key.size), v = lmdb::val(fresh);
      if (int rc = mdb_cursor_put(cursor.get(), &k, &v, 0)) throw_lmdb(rc, "write");
      if (type == T::NSEC3 && !old) index_nsec3(zone_key, generation, owner_key, true);

      meta.records = meta.records - old_count + data.rdatas.size();
      if (!old) {
        if (type == T::DNAME) meta.dnames += 1;
        if (type == T::NS && !at_apex) meta.cuts += 1;
        if (wildcard) meta.wildcards += 1;
      }
      if (type == T::SOA) {  // at the apex (checked above)
        soa_value = fresh;
        meta.soa = bytes_of(soa_value);
        if (auto f = wire::soa_fields(data.rdatas.front())) meta.serial = f->serial;
      }
      if (old) {
        *old = std::move(fresh);
      } else {
        existing.emplace_back(type, std::move(fresh));
      }
    }
  }
  return {};
}

Status Applier::import_commit(const ImportCommit& c) {
  const std::string id = import_id_text(c.id);
  auto state = read_import(c.id);
  if (!state) return make_error("no import " + id + " (committed, aborted, or dropped as stale)");
  auto zone = wire::Name::from_wire(state->zone_wire);
  if (!zone) return make_error("import " + id + ": damaged zone name");
  if (c.chunks != state->chunks) {
    return make_error("import " + id + ": " + std::to_string(c.chunks) + " chunks were sent, " +
                      std::to_string(state->chunks) + " arrived");
  }
  if (state->apex_soas != 1) {
    return make_error("zone " + zone->to_text() + " has " + std::to_string(state->apex_soas) +
                      " SOA records at its apex; exactly one is required");
  }
  NameKey zone_key(*zone);
  auto zk = zone_key.bytes();
  // The switch: the zones entry names the staged generation, in this one
  // transaction. Readers see the old content whole or the new content whole.
  touch(zk);
  journal_reset_.emplace(reinterpret_cast<const char*>(zk.data()), zk.size());
  KeyBuffer zkey;
  make_zone_key(zk, zkey);
  if (auto old = get(env_.zones, zkey.span())) {
    ZoneMeta old_meta;
    if (ZoneMeta::parse(bytes_of(*old), old_meta)) trash_content(zk, old_meta.generation);
  }
  put(env_.zones, zkey.span(), state->meta);
  del(env_.imports, import_key(c.id));
  update_zone_depth_hint();
  return {};
}

Status Applier::import_abort(const ImportAbort& a) {
  auto state = read_import(a.id);
  if (!state) return make_error("no import " + import_id_text(a.id));
  drop_import(a.id, *state);
  return {};
}

void Applier::drop_stale_imports(uint64_t index) {
  if (index <= kImportStaleEntries) return;
  std::vector<std::pair<uint64_t, ImportState>> stale;
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.imports, cursor)) throw_lmdb(rc, "cursor");
  MDB_val k, v;
  int rc = cursor.get(&k, &v, MDB_FIRST);
  for (; rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
    ImportState state;
    if (k.mv_size != 8 || !ImportState::parse(bytes_of(v), state)) continue;
    if (state.last_index + kImportStaleEntries < index) {
      stale.emplace_back(load_u64(static_cast<const uint8_t*>(k.mv_data)), std::move(state));
    }
  }
  if (rc != MDB_NOTFOUND) throw_lmdb(rc, "imports scan");
  cursor.close();
  for (const auto& [id, state] : stale) drop_import(id, state);
}

void Applier::update_zone_depth_hint() {
  // A zone key holds one 0x00 per label, plus the one that ends it.
  size_t deepest = 0;
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.zones, cursor)) throw_lmdb(rc, "cursor");
  MDB_val k, v;
  for (int rc = cursor.get(&k, &v, MDB_FIRST); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
    auto key = bytes_of(k);
    size_t labels = static_cast<size_t>(std::count(key.begin(), key.end(), uint8_t{0}));
    deepest = std::max(deepest, labels > 0 ? labels - 1 : 0);
  }
  const uint8_t hint = static_cast<uint8_t>(deepest);
  put(env_.meta, bytes_of(kMaxZoneLabelsKey),
      std::string_view(reinterpret_cast<const char*>(&hint), 1));
}

Status Applier::set_membership(const SetMembership& m) {
  static constexpr std::string_view kKey = "membership";
  put(env_.meta, bytes_of(kKey),
      std::string_view(reinterpret_cast<const char*>(m.encoded.data()), m.encoded.size()));
  return {};
}

Status Applier::dispatch(const Command& c) {
  return std::visit(
      [this](const auto& cmd) -> Status {
        using C = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<C, AddRecords>) {
          return add_records(cmd.records);
        } else if constexpr (std::is_same_v<C, RemoveRecords>) {
          return remove_records(cmd.records);
        } else if constexpr (std::is_same_v<C, RemoveRRset>) {
          return remove_rrset(cmd);
        } else if constexpr (std::is_same_v<C, PutZone>) {
          return put_zone(cmd);
        } else if constexpr (std::is_same_v<C, RemoveZone>) {
          return remove_zone(cmd);
        } else if constexpr (std::is_same_v<C, SetMembership>) {
          return set_membership(cmd);
        } else if constexpr (std::is_same_v<C, Update>) {
          return update(cmd);
        } else if constexpr (std::is_same_v<C, ImportBegin>) {
          return import_begin(cmd);
        } else if constexpr (std::is_same_v<C, ImportChunk>) {
          return import_chunk(cmd);
        } else if constexpr (std::is_same_v<C, ImportCommit>) {
          return import_commit(cmd);
        } else if constexpr (std::is_same_v<C, ImportAbort>) {
          return import_abort(cmd);
        } else if constexpr (std::is_same_v<C, ZoneSigning>) {
          return zone_signing(cmd);
        } else {
          for (size_t i = 0; i < cmd.commands.size(); ++i) {
            auto s = dispatch(cmd.commands[i]);
            if (!s) {
              return make_error("batch command " + std::to_string(i + 1) + " (" +
                                describe(cmd.commands[i]) + "): " + s.error());
            }
          }
          return {};
        }
      },
      c);
}

void Applier::finish_serials() {
  // RFC 1982: the serial after a change is the newer of the one the command
  // supplied (a new SOA or an imported zone) and one past the old serial.
  auto touched = touched_;
  for (const auto& [zone, before] : touched) {
    if (!before) continue;  // created by this command: keep the imported serial
    auto zk = bytes_of(zone);
    auto soa = read_rrset(zk, zk, T::SOA);
    if (!soa || soa->rdatas.empty()) continue;  // the zone was removed
    auto fields = wire::soa_fields(soa->rdatas.front());
    if (!fields) continue;
    if (wire::serial_gt(fields->serial, *before)) continue;
    soa->rdatas.front() = wire::soa_with_serial(soa->rdatas.front(), wire::serial_next(*before));
    write_rrset(zk, zk, T::SOA, *soa);
  }
}

Status Applier::run(const Command& c) {
  touched_.clear();
  before_.clear();
  journal_reset_.clear();
  signing_cache_.clear();
  signing_dirty_.clear();
  signing_whole_.clear();
  signing_reset_seen_ = false;
  auto s = check_signer_owned(c);
  if (s) s = dispatch(c);
  if (s) {
    // Signing a change changes the zone, whose serial then moves, whose SOA
    // is then signed again: at most a few rounds.
    for (int round = 0; round < 4 && s; ++round) {
      finish_serials();
      auto signed_any = sign_pending();
      if (!signed_any) {
        s = std::move(signed_any).take_error();
      } else if (!*signed_any) {
        break;
      }
    }
  }
  if (s) write_journal();
  // A write transaction's cursors die with it: close ours before the caller
  // commits or aborts.
  placement_cursor_.close();
  return s;
}

// ---- the IXFR journal ----

namespace {

void journal_prefix(std::span<const uint8_t> zone_key, KeyBuffer& out) { make_zone_key(zone_key, out); }

void append_record(std::string& out, std::span<const uint8_t> owner_wire, uint16_t type,
                   uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata) {
  uint8_t fixed[10];
  store_u16(fixed, static_cast<uint16_t>(owner_wire.size()));
  out.append(reinterpret_cast<const char*>(fixed), 2);
  out.append(reinterpret_cast<const char*>(owner_wire.data()), owner_wire.size());
  store_u16(fixed, type);
  store_u16(fixed + 2, rclass);
  store_u32(fixed + 4, ttl);
  store_u16(fixed + 8, static_cast<uint16_t>(rdata.size()));
  out.append(reinterpret_cast<const char*>(fixed), 10);
  out.append(reinterpret_cast<const char*>(rdata.data()), rdata.size());
}

}  // namespace

void Applier::clear_journal(std::span<const uint8_t> zone_key) {
  KeyBuffer prefix;
  journal_prefix(zone_key, prefix);
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.journal, cursor)) throw_lmdb(rc, "cursor");
  for (;;) {
    MDB_val k = lmdb::val(prefix.data, prefix.size), v;
    int rc = cursor.get(&k, &v, MDB_SET_RANGE);
    if (rc == MDB_NOTFOUND) break;
    if (rc != 0) throw_lmdb(rc, "journal scan");
    if (k.mv_size != prefix.size + 8 || std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) break;
    if ((rc = mdb_cursor_del(cursor.get(), 0)) != 0) throw_lmdb(rc, "journal delete");
  }
}

void Applier::write_journal() {
  for (const auto& [zone, before_serial] : touched_) {
    auto zk = bytes_of(zone);
    if (journal_reset_.count(zone) || journal_entries_ == 0) {
      clear_journal(zk);
      continue;
    }
    if (!before_serial) continue;
    if (zk.size() + 1 + 8 > kMaxLmdbKey) continue;  // a name too long to key a journal
    auto serial_after = zone_serial(zk);
    if (!serial_after || *serial_after == *before_serial) continue;

    // The net change of every RRset of this zone the command wrote, deletions
    // and additions apart, each with the zone's SOA first (RFC 1995 §4).
    std::string removed, added, soa_removed, soa_added;
    uint32_t n_removed = 0, n_added = 0;
    KeyBuffer zprefix;
    make_zone_key(zk, zprefix);
    for (auto it = before_.lower_bound(zprefix.str()); it != before_.end(); ++it) {
      auto key = bytes_of(it->first);
      if (key.size() < zprefix.size || std::memcmp(key.data(), zprefix.data, zprefix.size) != 0) {
        break;
      }
      RRsetKeyParts parts;
      if (!split_rrset_key(key, parts)) continue;
      auto after_value = get(env_.rrsets, key);
      RRsetData old_set = it->second ? decode_rrset(*it->second) : RRsetData{};
      RRsetData new_set = after_value ? decode_rrset(*after_value) : RRsetData{};
      std::string owner_key = zone;
      owner_key.append(reinterpret_cast<const char*>(parts.owner_rel.data()), parts.owner_rel.size());
      auto owner = wire::Name::from_canonical_key(owner_key);
      if (!owner) continue;
      const bool is_soa = parts.type == T::SOA && parts.owner_rel.empty();
      // A changed TTL is a changed record: all out, all in.
      const bool ttl_changed = it->second && after_value && old_set.ttl != new_set.ttl;
      auto contains = [](const RRsetData& set, const std::vector<uint8_t>& rd) {
        return std::find(set.rdatas.begin(), set.rdatas.end(), rd) != set.rdatas.end();
      };
      for (const auto& rd : old_set.rdatas) {
        if (!ttl_changed && contains(new_set, rd)) continue;
        append_record(is_soa ? soa_removed : removed, owner->wire(), parts.type, old_set.rclass,
                      old_set.ttl, rd);
        if (!is_soa) ++n_removed;
      }
      for (const auto& rd : new_set.rdatas) {
        if (!ttl_changed && contains(old_set, rd)) continue;
        append_record(is_soa ? soa_added : added, owner->wire(), parts.type, new_set.rclass,
                      new_set.ttl, rd);
        if (!is_soa) ++n_added;
      }
    }
    if (soa_removed.empty() || soa_added.empty()) continue;  // no SOA change: nothing to chain

    // serial from | serial to | deletions | additions | records (SOA first in each list)
    std::string value(16, '\0');
    auto* p = reinterpret_cast<uint8_t*>(value.data());
    store_u32(p, *before_serial);
    store_u32(p + 4, *serial_after);
    store_u32(p + 8, n_removed + 1);
    store_u32(p + 12, n_added + 1);
    value += soa_removed;
    value += removed;
    value += soa_added;
    value += added;

    // Sequence numbers run on per zone; the oldest entries go past the bound.
    KeyBuffer prefix;
    journal_prefix(zk, prefix);
    lmdb::Cursor cursor;
    if (int rc = lmdb::Cursor::open(txn_, env_.journal, cursor)) throw_lmdb(rc, "cursor");
    uint64_t first = 0, next = 0;
    {
      MDB_val k = lmdb::val(prefix.data, prefix.size), v;
      int rc = cursor.get(&k, &v, MDB_SET_RANGE);
      if (rc == 0 && k.mv_size == prefix.size + 8 &&
          std::memcmp(k.mv_data, prefix.data, prefix.size) == 0) {
        first = load_u64(static_cast<const uint8_t*>(k.mv_data) + prefix.size);
        KeyBuffer end = prefix;
        for (int i = 0; i < 8; ++i) end.push(0xff);
        MDB_val ek = lmdb::val(end.data, end.size), ev;
        rc = cursor.get(&ek, &ev, MDB_SET_RANGE);
        rc = rc == 0 ? cursor.get(&ek, &ev, MDB_PREV) : cursor.get(&ek, &ev, MDB_LAST);
        if (rc != 0) throw_lmdb(rc, "journal tail");
        next = load_u64(static_cast<const uint8_t*>(ek.mv_data) + prefix.size) + 1;
      } else if (rc != 0 && rc != MDB_NOTFOUND) {
        throw_lmdb(rc, "journal head");
      }
    }
    KeyBuffer key = prefix;
    uint8_t seq[8];
    store_u64(seq, next);
    key.append(seq);
    put(env_.journal, key.span(), value);
    for (uint64_t s = first; next + 1 - s > journal_entries_; ++s) {
      KeyBuffer old = prefix;
      store_u64(seq, s);
      old.append(seq);
      del(env_.journal, old.span());
    }
  }
}

}  // namespace raftdns::store
