// Online signing at apply time (docs/ARCHITECTURE.md, "Online signing").
//
// A zone signed online keeps its signatures, its NSEC3 chain and its key
// records in the rrsets table like any pre-signed zone, so the query path,
// AXFR and IXFR serve them unchanged. The apply keeps them true:
//   - every RRset a command writes in a signed zone is noted (write_rrset);
//   - after the command and its serial bump, each noted owner is reconciled
//     with the zone's rules (dnssec::is_signed_rrset, has_nsec3,
//     nsec3_bitmap): its RRSIGs are made again for the changed types, and
//     its NSEC3 (and those of its empty non-terminal ancestors) is put in or
//     taken out of the chain, whose neighbours are relinked and re-signed;
//   - an NS added or removed below the apex reconciles the whole subtree,
//     which the cut hides or uncovers.
// Signing uses only the command and the store: the keys and the clock come
// from the replicated signing state, so every node writes the same bytes.
#include <algorithm>
#include <array>
#include <cstring>
#include <map>
#include <set>

#include "daemon/dnssec/denial.h"
#include "daemon/dnssec/rrsig.h"
#include "daemon/dnssec/zone_signer.h"
#include "daemon/store/apply.h"
#include "daemon/store/scan.h"
#include "daemon/wire/nsec3.h"

namespace raftdns::store {
namespace {

namespace T = wire::rrtype;
using dnssec::kTypeCdnskey;
using dnssec::kTypeCds;
using dnssec::kTypeDnskey;
using dnssec::kTypeDs;
using dnssec::kTypeNsec;
using dnssec::kTypeNsec3;
using dnssec::kTypeNsec3param;
using dnssec::kTypeRrsig;
using Hash = std::array<uint8_t, wire::kNsec3HashSize>;

std::span<const uint8_t> bytes_of(std::string_view s) {
  return {reinterpret_cast<const uint8_t*>(s.data()), s.size()};
}
std::string str_of(std::span<const uint8_t> b) {
  return std::string(reinterpret_cast<const char*>(b.data()), b.size());
}

// Types the signer writes itself: users may not add or remove them in a
// zone signed online.
bool is_signer_owned(uint16_t t) {
  return t == kTypeRrsig || t == kTypeNsec || t == kTypeNsec3 || t == kTypeNsec3param ||
         t == kTypeDnskey || t == kTypeCds || t == kTypeCdnskey;
}
bool is_apex_key_type(uint16_t t) {
  return t == kTypeDnskey || t == kTypeCds || t == kTypeCdnskey || t == kTypeNsec3param;
}

// RFC 1982: seconds from `now` until `t` (negative once past).
int64_t seconds_until(uint32_t t, uint32_t now) {
  return static_cast<int32_t>(t - now);
}

// A walk's start: the content prefix in `key`, then the stored cursor (an
// empty cursor, whose data() may be null, starts at the beginning).
void resume_at(KeyBuffer& key, const std::vector<uint8_t>& cursor) {
  if (!cursor.empty() && key.size + cursor.size() <= sizeof key.data) key.append(cursor);
}

void sort_unique(std::vector<std::vector<uint8_t>>& v) {
  std::sort(v.begin(), v.end());
  v.erase(std::unique(v.begin(), v.end()), v.end());
}

}  // namespace

// ---- state ----

SigningState* Applier::signing_state(std::span<const uint8_t> zone_key) {
  auto key = str_of(zone_key);
  auto it = signing_cache_.find(key);
  if (it == signing_cache_.end()) {
    std::optional<SigningState> state;
    if (auto v = get(env_.meta, bytes_of(signing_meta_key(zone_key)))) {
      auto decoded = SigningState::decode(bytes_of(*v));
      // A state this build cannot read is a damaged store: fail the apply
      // rather than serve a zone half signed.
      if (!decoded) throw LmdbFailure{MDB_CORRUPTED, decoded.error()};
      state = std::move(*decoded);
    }
    it = signing_cache_.emplace(std::move(key), std::move(state)).first;
  }
  return it->second ? &*it->second : nullptr;
}

void Applier::save_signing_state(std::span<const uint8_t> zone_key, const SigningState* state) {
  auto key = signing_meta_key(zone_key);
  if (state) {
    put(env_.meta, bytes_of(key), state->encode());
    signing_cache_[str_of(zone_key)] = *state;
  } else {
    del(env_.meta, bytes_of(key));
    signing_cache_[str_of(zone_key)] = std::nullopt;
  }
}

void Applier::note_signing_change(std::span<const uint8_t> zone_key,
                                  std::span<const uint8_t> owner_key, uint16_t type) {
  if (type == kTypeRrsig || type == kTypeNsec3) return;  // the signer's own writes
  if (signing_state(zone_key) == nullptr) return;
  signing_dirty_[str_of(zone_key)][str_of(owner_key)].insert(type);
}

Status Applier::check_signer_owned(const Command& c) {
  auto check_records = [&](const std::vector<wire::Record>& records) -> Status {
    for (const auto& r : records) {
      if (!is_signer_owned(r.type)) continue;
      NameKey key(r.owner);
      ZoneRef z;
      if (!scan::find_zone(txn_, env_.zones, key, wire::kMaxLabels, z)) continue;
      if (signing_state(key.prefix(z.apex_labels)) == nullptr) continue;
      auto zone = wire::Name::from_canonical_key(str_of(key.prefix(z.apex_labels)));
      return make_error("zone " + (zone ? zone->to_text() : std::string("?")) +
                        " is signed online: its " + wire::type_to_text(r.type) +
                        " records are made by the cluster (" + wire::record_to_text(r) + ")");
    }
    return {};
  };
  return std::visit(
      [&](const auto& cmd) -> Status {
        using C = std::decay_t<decltype(cmd)>;
        if constexpr (std::is_same_v<C, AddRecords> || std::is_same_v<C, RemoveRecords>) {
          return check_records(cmd.records);
        } else if constexpr (std::is_same_v<C, RemoveRRset>) {
          return check_records({wire::Record{cmd.owner, cmd.type, wire::rrclass::IN, 0, {}}});
        } else if constexpr (std::is_same_v<C, Update>) {
          return check_records(cmd.updates);
        } else if constexpr (std::is_same_v<C, Batch>) {
          for (const auto& sub : cmd.commands) {
            if (auto s = check_signer_owned(sub); !s) return s;
          }
          return {};
        } else {
          return {};
        }
      },
      c);
}

// ---- keys and policy ----

namespace {

std::vector<dnssec::ZoneKey> zone_keys_of(const SigningState& s) {
  std::vector<dnssec::ZoneKey> out;
  for (const auto& k : s.keys) {
    dnssec::ZoneKey z;
    z.key = k.key;
    z.published = true;
    if (k.key.is_ksk()) {
      // A new KSK signs the key set from the day it is published, so the
      // parent's DS can move to it at any time (RFC 6781 §4.1.2).
      z.signs_keys = k.state == KeyState::published || k.state == KeyState::active;
    } else {
      z.signs_zone = k.state == KeyState::active;
    }
    z.publish_cds = k.cds;
    out.push_back(std::move(z));
  }
  return out;
}

dnssec::SigningPolicy policy_of(const SigningState& s) {
  dnssec::SigningPolicy p;
  p.inception = s.clock - s.params.inception_offset;
  p.expiration = s.clock + s.params.validity;
  p.jitter = s.params.jitter;
  p.dnskey_ttl = s.params.dnskey_ttl;
  p.nsec3_optout = s.params.nsec3_optout;
  return p;
}

bool is_key_set(bool at_apex, uint16_t type) {
  return at_apex && (type == kTypeDnskey || type == kTypeCds || type == kTypeCdnskey);
}

}  // namespace

// The apex DNSKEY, CDS, CDNSKEY and NSEC3PARAM RRsets as the state says.
void Applier::write_key_rrsets(std::span<const uint8_t> zone_key, const SigningState& state) {
  const auto apex = wire::Name::from_canonical_key(str_of(zone_key));
  RRsetData dnskey, cds, cdnskey, param;
  dnskey.ttl = cds.ttl = cdnskey.ttl = state.params.dnskey_ttl;
  for (const auto& k : state.keys) {
    auto rdata = dnssec::dnskey_rdata(k.key);
    if (k.cds && apex) {
      cds.rdatas.push_back(dnssec::ds_rdata(*apex, rdata));
      cdnskey.rdatas.push_back(rdata);
    }
    dnskey.rdatas.push_back(std::move(rdata));
  }
  sort_unique(dnskey.rdatas);
  sort_unique(cds.rdatas);
  sort_unique(cdnskey.rdatas);
  param.ttl = nsec3_ttl(zone_key);
  param.rdatas.push_back(dnssec::nsec3param_rdata(0, {}));
  write_rrset(zone_key, zone_key, kTypeDnskey, dnskey);
  write_rrset(zone_key, zone_key, kTypeCds, cds);
  write_rrset(zone_key, zone_key, kTypeCdnskey, cdnskey);
  write_rrset(zone_key, zone_key, kTypeNsec3param, param);
}

// RFC 9077: min(SOA TTL, SOA MINIMUM).
uint32_t Applier::nsec3_ttl(std::span<const uint8_t> zone_key) {
  auto soa = read_rrset(zone_key, zone_key, T::SOA);
  if (!soa || soa->rdatas.empty()) return 3600;
  auto f = wire::soa_fields(soa->rdatas.front());
  return f ? std::min(soa->ttl, f->minimum) : soa->ttl;
}

// Deletes what a signer made: RRSIGs and NSEC/NSEC3 everywhere, and with
// `keys` the apex key records and NSEC3PARAM.
void Applier::strip_signing(std::span<const uint8_t> zone_key, bool keys) {
  KeyBuffer prefix;
  make_content_key(zone_key, generation_of(zone_key), prefix);
  std::vector<std::pair<std::string, uint16_t>> doomed;  // owner key, type
  {
    lmdb::Cursor cursor;
    if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) {
      throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
    }
    MDB_val k = lmdb::val(prefix.data, prefix.size), v;
    for (int rc = cursor.get(&k, &v, MDB_SET_RANGE); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
      RRsetKeyParts parts;
      if (k.mv_size < prefix.size || std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) break;
      if (!split_rrset_key(scan::bytes_of(k), parts)) continue;
      const bool apex = parts.owner_rel.empty();
      if (parts.type == kTypeRrsig || parts.type == kTypeNsec || parts.type == kTypeNsec3 ||
          (keys && apex && is_apex_key_type(parts.type))) {
        std::string owner = str_of(zone_key) + str_of(parts.owner_rel);
        doomed.emplace_back(std::move(owner), parts.type);
      }
    }
  }
  for (const auto& [owner, type] : doomed) {
    write_rrset(zone_key, bytes_of(owner), type, RRsetData{});
  }
}

// ---- where a name stands ----

NodeKindInfo Applier::node_kind(std::span<const uint8_t> zone_key, const NameKey& owner,
                                size_t apex_labels) {
  NodeKindInfo out;
  for (size_t n = apex_labels + 1; n < owner.labels(); ++n) {
    if (read_rrset(zone_key, owner.prefix(n), T::NS)) {
      out.kind = dnssec::NodeKind::kOccluded;
      return out;
    }
  }
  for (uint16_t t : types_at(zone_key, owner.bytes())) {
    if (t == kTypeRrsig || t == kTypeNsec3) continue;
    out.types.push_back(t);
  }
  const bool apex = owner.labels() == apex_labels;
  if (!apex && std::find(out.types.begin(), out.types.end(), T::NS) != out.types.end()) {
    out.kind = dnssec::NodeKind::kDelegation;
  }
  return out;
}

// True when some RRset lies strictly below `owner`.
bool Applier::has_descendants(std::span<const uint8_t> zone_key,
                              std::span<const uint8_t> owner_key) {
  KeyBuffer prefix;
  make_content_key(zone_key, generation_of(zone_key), prefix);
  prefix.append(owner_key.subspan(zone_key.size()));
  // The owner's own RRsets follow its key with 0x00; descendants with a
  // label octet (never 0x00).
  KeyBuffer start = prefix;
  start.push(1);
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) {
    throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
  }
  MDB_val k = lmdb::val(start.data, start.size), v;
  int rc = cursor.get(&k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) return false;
  if (rc != 0) throw LmdbFailure{rc, std::string("scan: ") + mdb_strerror(rc)};
  return k.mv_size > prefix.size && std::memcmp(k.mv_data, prefix.data, prefix.size) == 0;
}

// Every owner strictly below `owner` (canonical keys).
std::vector<std::string> Applier::owners_below(std::span<const uint8_t> zone_key,
                                               std::span<const uint8_t> owner_key) {
  KeyBuffer content;
  make_content_key(zone_key, generation_of(zone_key), content);
  KeyBuffer prefix = content;
  prefix.append(owner_key.subspan(zone_key.size()));
  const bool apex = owner_key.size() == zone_key.size();
  std::vector<std::string> out;
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) {
    throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
  }
  MDB_val k = lmdb::val(prefix.data, prefix.size), v;
  for (int rc = cursor.get(&k, &v, MDB_SET_RANGE); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
    if (k.mv_size < prefix.size || std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) break;
    RRsetKeyParts parts;
    if (!split_rrset_key(scan::bytes_of(k), parts)) continue;
    if (parts.owner_rel.size() == owner_key.size() - zone_key.size()) continue;  // the owner itself
    if (apex && parts.type == kTypeNsec3) continue;
    std::string owner = str_of(zone_key) + str_of(parts.owner_rel);
    if (out.empty() || out.back() != owner) out.push_back(std::move(owner));
  }
  return out;
}

// ---- signatures ----

// Makes the RRSIGs over (owner, type) again, or drops them when the RRset is
// gone or not to be signed; the other types' RRSIGs at the owner stay.
Status Applier::resign_types(std::span<const uint8_t> zone_key, const wire::Name& apex,
                             const SigningState& state, const NameKey& owner,
                             dnssec::NodeKind kind, const std::set<uint16_t>& types) {
  auto existing = read_rrset(zone_key, owner.bytes(), kTypeRrsig);
  RRsetData sigs;
  if (existing) sigs = *existing;
  sigs.rclass = wire::rrclass::IN;
  std::erase_if(sigs.rdatas, [&](const std::vector<uint8_t>& rd) {
    auto f = dnssec::parse_rrsig(rd);
    return !f || kind == dnssec::NodeKind::kOccluded || types.count(f->type_covered) != 0;
  });
  std::optional<wire::Name> owner_name;
  const auto keys = zone_keys_of(state);
  const auto policy = policy_of(state);
  for (uint16_t t : types) {
    if (kind == dnssec::NodeKind::kOccluded || !dnssec::is_signed_rrset(kind, t)) continue;
    auto rrset = read_rrset(zone_key, owner.bytes(), t);
    if (!rrset || rrset->rdatas.empty()) continue;
    if (!owner_name) {
      auto n = wire::Name::from_canonical_key(str_of(owner.bytes()));
      if (!n) return make_error("signing: damaged owner key: " + n.error());
      owner_name = std::move(*n);
    }
    auto made = dnssec::sign_rrset(apex, keys, policy, *owner_name, t, rrset->rclass, rrset->ttl,
                                   rrset->rdatas);
    if (!made) return make_error("zone " + apex.to_text() + ": " + made.error());
    for (auto& rd : *made) sigs.rdatas.push_back(std::move(rd));
  }
  sort_unique(sigs.rdatas);
  // The RRset's TTL is the least of its signatures' original TTLs (each
  // answer uses the covered RRset's own TTL).
  uint32_t ttl = 0;
  bool first = true;
  for (const auto& rd : sigs.rdatas) {
    if (auto f = dnssec::parse_rrsig(rd)) {
      ttl = first ? f->original_ttl : std::min(ttl, f->original_ttl);
      first = false;
    }
  }
  sigs.ttl = ttl;
  write_rrset(zone_key, owner.bytes(), kTypeRrsig, sigs);
  return {};
}

// ---- the NSEC3 chain ----

namespace {

// The hash owner's key: the zone key, the base32hex label, 0x00.
std::string hash_owner_key(std::span<const uint8_t> zone_key, const Hash& h) {
  return str_of(zone_key) + wire::base32hex_encode(h) + std::string(1, '\0');
}

}  // namespace

// Neighbours of `hash` in the zone's nsec3 index: the greatest entry below
// it and the least above it, each wrapping around (nullopt when the chain
// holds nothing else).
std::optional<Hash> Applier::nsec3_neighbour(std::span<const uint8_t> zone_key, const Hash& h,
                                             bool after) {
  KeyBuffer prefix;
  make_content_key(zone_key, generation_of(zone_key), prefix);
  KeyBuffer key = prefix;
  key.append(h);
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.nsec3, cursor)) {
    throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
  }
  auto in_chain = [&](const MDB_val& k) {
    return k.mv_size == prefix.size + h.size() &&
           std::memcmp(k.mv_data, prefix.data, prefix.size) == 0;
  };
  auto take = [&](const MDB_val& k) -> std::optional<Hash> {
    Hash out;
    std::memcpy(out.data(), static_cast<const uint8_t*>(k.mv_data) + prefix.size, out.size());
    if (out == h) return std::nullopt;
    return out;
  };
  MDB_val k = lmdb::val(key.data, key.size), v;
  int rc = cursor.get(&k, &v, MDB_SET_RANGE);
  if (after) {
    // Skip `h` itself, then wrap to the chain's first entry.
    if (rc == 0 && in_chain(k) && k.mv_size == key.size &&
        std::memcmp(k.mv_data, key.data, key.size) == 0) {
      rc = cursor.get(&k, &v, MDB_NEXT);
    }
    if (rc == 0 && in_chain(k)) return take(k);
    k = lmdb::val(prefix.data, prefix.size);
    rc = cursor.get(&k, &v, MDB_SET_RANGE);
    if (rc == 0 && in_chain(k)) return take(k);
    return std::nullopt;
  }
  // Before: step back from the first entry at or above `h`.
  rc = rc == 0 ? cursor.get(&k, &v, MDB_PREV) : cursor.get(&k, &v, MDB_LAST);
  if (rc == 0 && in_chain(k)) return take(k);
  // Wrap to the chain's last entry: the one before the next content key.
  KeyBuffer end = prefix;
  end.data[end.size - 1]++;  // generation + 1 (generations are never 0xffffffff)
  k = lmdb::val(end.data, end.size);
  rc = cursor.get(&k, &v, MDB_SET_RANGE);
  rc = rc == 0 ? cursor.get(&k, &v, MDB_PREV) : cursor.get(&k, &v, MDB_LAST);
  if (rc == 0 && in_chain(k)) return take(k);
  return std::nullopt;
}

Status Applier::apply_nsec3_changes(std::span<const uint8_t> zone_key, const wire::Name& apex,
                                    const SigningState& state, const Nsec3Plan& plan,
                                    bool sign) {
  const uint32_t ttl = nsec3_ttl(zone_key);
  const uint32_t generation = generation_of(zone_key);
  std::vector<Hash> moved;  // put in or taken out of the chain
  for (const auto& [h, bitmap] : plan) {
    auto owner = hash_owner_key(zone_key, h);
    auto existing = read_rrset(zone_key, bytes_of(owner), kTypeNsec3);
    if (!bitmap) {
      if (existing) {
        write_rrset(zone_key, bytes_of(owner), kTypeNsec3, RRsetData{});
        write_rrset(zone_key, bytes_of(owner), kTypeRrsig, RRsetData{});
        moved.push_back(h);
      }
    } else if (!existing) {
      index_nsec3(zone_key, generation, bytes_of(owner), true);
      moved.push_back(h);
    }
  }
  // The NSEC3s to write: each wanted one, and the predecessor of each hash
  // that came or went (its next hashed owner changed).
  std::map<Hash, std::optional<std::vector<uint8_t>>> rewrite;
  for (const auto& [h, bitmap] : plan) {
    if (bitmap) rewrite[h] = *bitmap;
  }
  for (const auto& h : moved) {
    if (auto prev = nsec3_neighbour(zone_key, h, false)) rewrite.try_emplace(*prev, std::nullopt);
  }
  const uint8_t flags = state.params.nsec3_optout ? dnssec::kNsec3FlagOptOut : 0;
  for (const auto& [h, wanted_bitmap] : rewrite) {
    auto owner = hash_owner_key(zone_key, h);
    auto existing = read_rrset(zone_key, bytes_of(owner), kTypeNsec3);
    std::vector<uint8_t> bitmap;
    if (wanted_bitmap) {
      bitmap = *wanted_bitmap;
    } else {
      dnssec::Nsec3Fields f;
      if (!existing || existing->rdatas.empty() ||
          !dnssec::parse_nsec3(existing->rdatas.front(), f)) {
        continue;  // not in the chain (it went in this same command)
      }
      bitmap.assign(f.bitmap.begin(), f.bitmap.end());
    }
    auto next = nsec3_neighbour(zone_key, h, true).value_or(h);
    RRsetData nsec3;
    nsec3.ttl = ttl;
    nsec3.rdatas.push_back(dnssec::nsec3_rdata(flags, 0, {}, next, bitmap));
    if (existing && existing->ttl == nsec3.ttl && existing->rdatas == nsec3.rdatas) continue;
    write_rrset(zone_key, bytes_of(owner), kTypeNsec3, nsec3);
    if (!sign) continue;  // the chain pass of a sliced signing signs it
    NameKey owner_key;
    auto name = wire::Name::from_canonical_key(owner);
    if (!name) return make_error("signing: damaged NSEC3 owner: " + name.error());
    owner_key.assign(*name);
    if (auto s = resign_types(zone_key, apex, state, owner_key, dnssec::NodeKind::kAuthoritative,
                              {kTypeNsec3});
        !s) {
      return s;
    }
  }
  return {};
}

// ---- reconciling noted changes ----

Status Applier::reconcile_owner(std::span<const uint8_t> zone_key, const wire::Name& apex,
                                const SigningState& state, std::string_view owner_bytes,
                                const std::set<uint16_t>& noted, Nsec3Plan& plan) {
  auto name = wire::Name::from_canonical_key(owner_bytes);
  if (!name) return make_error("signing: damaged owner key: " + name.error());
  NameKey owner(*name);
  const size_t apex_labels = apex.label_count();
  auto info = node_kind(zone_key, owner, apex_labels);
  // Which types to sign again: the noted ones, or (0) every type present or
  // signed before.
  std::set<uint16_t> types;
  if (noted.count(0) != 0) {
    types.insert(info.types.begin(), info.types.end());
    if (auto sigs = read_rrset(zone_key, owner.bytes(), kTypeRrsig)) {
      for (const auto& rd : sigs->rdatas) {
        if (auto f = dnssec::parse_rrsig(rd)) types.insert(f->type_covered);
      }
    }
  } else {
    types = noted;
  }
  if (auto s = resign_types(zone_key, apex, state, owner, info.kind, types); !s) return s;

  auto plan_for = [&](const wire::Name& n, std::optional<std::vector<uint8_t>> bitmap) {
    Hash h;
    wire::nsec3_hash(n, {}, 0, h.data());
    plan[h] = std::move(bitmap);
  };
  // This name's NSEC3.
  if (info.kind == dnssec::NodeKind::kOccluded) {
    plan_for(*name, std::nullopt);
  } else if (info.types.empty()) {
    // Gone, or an empty non-terminal now.
    if (owner.labels() > apex_labels && has_descendants(zone_key, owner.bytes())) {
      plan_for(*name, dnssec::nsec3_bitmap(dnssec::NodeKind::kAuthoritative, {}));
    } else {
      plan_for(*name, std::nullopt);
    }
  } else if (dnssec::has_nsec3(info.kind, info.types, state.params.nsec3_optout)) {
    plan_for(*name, dnssec::nsec3_bitmap(info.kind, info.types));
  } else {
    plan_for(*name, std::nullopt);
  }
  // Its empty non-terminal ancestors come and go with it.
  if (info.kind != dnssec::NodeKind::kOccluded) {
    for (size_t n = apex_labels + 1; n < owner.labels(); ++n) {
      auto ancestor_key = owner.prefix(n);
      bool empty = true;
      for (uint16_t t : types_at(zone_key, ancestor_key)) {
        if (t != kTypeRrsig && t != kTypeNsec3) empty = false;
      }
      if (!empty) continue;
      auto ancestor = name->strip_left(owner.labels() - n);
      if (has_descendants(zone_key, ancestor_key)) {
        plan_for(ancestor, dnssec::nsec3_bitmap(dnssec::NodeKind::kAuthoritative, {}));
      } else {
        plan_for(ancestor, std::nullopt);
      }
    }
  }
  return {};
}

Result<bool> Applier::sign_pending() {
  if (check_only_) return false;
  // Zones replaced or removed by this command: sign the new content whole,
  // or forget the keys of a zone that is gone.
  for (const auto& zone : signing_reset_seen_ ? std::set<std::string>() : journal_reset_) {
    auto zk = bytes_of(zone);
    SigningState* state = signing_state(zk);
    if (state == nullptr) continue;
    if (!zone_serial(zk)) {
      save_signing_state(zk, nullptr);
      signing_dirty_.erase(zone);
      continue;
    }
    start_whole_signing(zk);
  }
  signing_reset_seen_ = true;
  if (signing_dirty_.empty()) return false;
  auto dirty = std::move(signing_dirty_);
  signing_dirty_.clear();
  for (auto& [zone, owners] : dirty) {
    auto zk = bytes_of(zone);
    SigningState* state_ptr = signing_state(zk);
    if (state_ptr == nullptr || !zone_serial(zk)) continue;
    const SigningState state = *state_ptr;
    auto apex = wire::Name::from_canonical_key(zone);
    if (!apex) return make_error("signing: damaged zone key: " + apex.error());
    if (signing_whole_.erase(zone) != 0) {
      strip_signing(zk, true);
      write_key_rrsets(zk, state);
      signing_dirty_.erase(zone);  // what those writes noted is covered below
      owners.clear();
      owners[zone].insert(0);
      for (auto& o : owners_below(zk, zk)) owners[o].insert(0);
    } else {
      // A user command may have touched the apex key records (a delete of
      // every RRset at the apex): the state says what they hold.
      auto apex_it = owners.find(zone);
      if (apex_it != owners.end()) {
        for (uint16_t t : apex_it->second) {
          if (is_apex_key_type(t)) {
            write_key_rrsets(zk, state);
            break;
          }
        }
      }
      // A cut that came or went hides or uncovers everything below it.
      std::vector<std::string> subtree;
      for (const auto& [owner, types] : owners) {
        if (owner.size() != zone.size() && (types.count(T::NS) != 0 || types.count(0) != 0)) {
          for (auto& o : owners_below(zk, bytes_of(owner))) subtree.push_back(std::move(o));
        }
      }
      for (auto& o : subtree) owners[o].insert(0);
    }
    Nsec3Plan plan;
    for (const auto& [owner, types] : owners) {
      if (auto s = reconcile_owner(zk, *apex, state, owner, types, plan); !s) {
        return std::move(s).take_error();
      }
    }
    if (auto s = apply_nsec3_changes(zk, *apex, state, plan, true); !s) {
      return std::move(s).take_error();
    }
  }
  return true;
}

// ---- the renewal walk and the rollover steps ----

// Looks at up to kRenewalSlice RRsets from the walk's cursor and signs again
// those whose signatures near expiry or come from keys that no longer sign.
Status Applier::renewal_walk(std::span<const uint8_t> zone_key, SigningState& state) {
  auto apex = wire::Name::from_canonical_key(str_of(zone_key));
  if (!apex) return make_error("signing: damaged zone key");
  const size_t apex_labels = apex->label_count();
  const auto keys = zone_keys_of(state);
  std::set<uint16_t> ksk_tags, zsk_tags;
  for (const auto& k : keys) {
    uint16_t tag = dnssec::key_tag(dnssec::dnskey_rdata(k.key));
    if (k.signs_keys) ksk_tags.insert(tag);
    if (k.signs_zone) zsk_tags.insert(tag);
  }
  KeyBuffer prefix;
  make_content_key(zone_key, generation_of(zone_key), prefix);
  KeyBuffer start = prefix;
  resume_at(start, state.walk_cursor);

  struct Due {
    std::string owner;
    uint16_t type;
    bool nsec3_owner;
  };
  std::vector<Due> due;
  bool finished = true;
  {
    lmdb::Cursor cursor;
    if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) {
      throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
    }
    std::string last_owner;
    std::optional<NodeKindInfo> kind;
    std::optional<RRsetData> sigs;
    size_t seen = 0;
    MDB_val k = lmdb::val(start.data, start.size), v;
    for (int rc = cursor.get(&k, &v, MDB_SET_RANGE); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
      if (k.mv_size < prefix.size || std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) break;
      if (seen++ == kRenewalSlice) {
        auto rest = scan::bytes_of(k).subspan(prefix.size);
        state.walk_cursor.assign(rest.begin(), rest.end());
        finished = false;
        break;
      }
      RRsetKeyParts parts;
      if (!split_rrset_key(scan::bytes_of(k), parts) || parts.type == kTypeRrsig) continue;
      std::string owner = str_of(zone_key) + str_of(parts.owner_rel);
      const bool nsec3_owner = parts.type == kTypeNsec3;
      if (owner != last_owner) {
        last_owner = owner;
        auto name = wire::Name::from_canonical_key(owner);
        if (!name) continue;
        NameKey nk(*name);
        kind = node_kind(zone_key, nk, apex_labels);
        sigs = read_rrset(zone_key, nk.bytes(), kTypeRrsig);
      }
      const auto node = nsec3_owner ? dnssec::NodeKind::kAuthoritative : kind->kind;
      if (!dnssec::is_signed_rrset(node, parts.type)) continue;
      const auto& want = is_key_set(parts.owner_rel.empty(), parts.type) ? ksk_tags : zsk_tags;
      std::set<uint16_t> have;
      bool expiring = false;
      if (sigs) {
        for (const auto& rd : sigs->rdatas) {
          auto f = dnssec::parse_rrsig(rd);
          if (!f || f->type_covered != parts.type) continue;
          have.insert(f->key_tag);
          if (seconds_until(f->expiration, state.clock) < state.params.refresh) expiring = true;
        }
      }
      if (expiring || have != want) due.push_back({owner, parts.type, nsec3_owner});
    }
  }
  if (finished) {
    state.walk_cursor.clear();
    for (auto& key : state.keys) {
      if (key.state == KeyState::retired && key.retired_at <= state.walk_started_at) {
        key.unused = true;
      }
    }
    state.walk_started_at = state.clock;
  }
  for (const auto& d : due) {
    auto name = wire::Name::from_canonical_key(d.owner);
    if (!name) continue;
    NameKey nk(*name);
    auto kind = d.nsec3_owner ? dnssec::NodeKind::kAuthoritative
                              : node_kind(zone_key, nk, apex_labels).kind;
    if (auto s = resign_types(zone_key, *apex, state, nk, kind, {d.type}); !s) return s;
  }
  return {};
}

// The timed steps of the rollovers, at the state's clock. Returns whether
// the key set changed.
bool Applier::rollover_steps(SigningState& state, const NewKey* offered) {
  const uint32_t now = state.clock;
  bool changed = false;
  if (offered != nullptr) {
    auto needed = signing_key_needed(signing_info(wire::Name(), state), now);
    if (needed && *needed == offered->flags && offered->algorithm == state.params.algorithm) {
      if (auto pair = dnssec::key_from_private(offered->algorithm, offered->flags,
                                               offered->private_key)) {
        StoredKey k;
        k.key = std::move(*pair);
        k.tag = dnssec::key_tag(dnssec::dnskey_rdata(k.key));
        k.state = KeyState::published;
        k.published_at = now;
        state.keys.push_back(std::move(k));
        changed = true;
      }
    }
  }
  const auto waited = [now](uint32_t since, uint32_t wait) {
    return seconds_until(now, since) >= static_cast<int64_t>(wait);
  };
  for (auto& k : state.keys) {
    if (k.state != KeyState::published || !waited(k.published_at, state.params.publish_wait)) {
      continue;
    }
    if (k.key.is_ksk()) {
      // The new KSK's DS may now go to the parent: publish its CDS.
      for (auto& other : state.keys) {
        if (other.key.is_ksk()) other.cds = false;
      }
      k.state = KeyState::active;
      k.active_at = now;
      k.cds = true;
    } else {
      for (auto& other : state.keys) {
        if (!other.key.is_ksk() && other.state == KeyState::active) {
          other.state = KeyState::retired;
          other.retired_at = now;
          other.unused = false;
        }
      }
      k.state = KeyState::active;
      k.active_at = now;
      // A new walk replaces every signature of the retired key.
      state.walk_cursor.clear();
      state.walk_started_at = now;
    }
    changed = true;
  }
  // A retired ZSK goes once none of its signatures is left and caches have
  // had time to forget them.
  auto before = state.keys.size();
  std::erase_if(state.keys, [&](const StoredKey& k) {
    return !k.key.is_ksk() && k.state == KeyState::retired && k.unused &&
           waited(k.retired_at, state.params.retire_wait);
  });
  changed |= state.keys.size() != before;
  // A KSK rollover ends ds_wait after the parent's DS for the new key was
  // seen: the older KSKs go, and the CDS with them.
  for (const auto& k : state.keys) {
    if (!k.key.is_ksk() || k.ds_seen_at == 0 || k.state != KeyState::active ||
        !waited(k.ds_seen_at, state.params.ds_wait)) {
      continue;
    }
    const uint16_t keep = k.tag;
    const uint32_t seen = k.ds_seen_at;
    before = state.keys.size();
    std::erase_if(state.keys, [&](const StoredKey& o) {
      return o.key.is_ksk() && o.tag != keep && o.published_at <= seen;
    });
    for (auto& o : state.keys) {
      if (o.tag == keep && o.key.is_ksk() && o.cds) {
        o.cds = false;
        changed = true;
      }
    }
    changed |= state.keys.size() != before;
    break;
  }
  return changed;
}

// ---- whole-zone signing ----

// Signs a zone's whole content: in this command when it is small, else in
// slices over the next ticks (the zone has no DS in its parent yet when
// signing is turned on, so a validator treats it as unsigned meanwhile).
void Applier::start_whole_signing(std::span<const uint8_t> zone_key) {
  SigningState* current = signing_state(zone_key);
  if (current == nullptr || check_only_) return;
  KeyBuffer zkey;
  make_zone_key(zone_key, zkey);
  ZoneMeta meta;
  auto value = get(env_.zones, zkey.span());
  if (value && ZoneMeta::parse(bytes_of(*value), meta) && meta.records <= kWholeSigningLimit) {
    signing_whole_.insert(str_of(zone_key));
    signing_dirty_[str_of(zone_key)];
    return;
  }
  SigningState state = *current;
  state.phase = SigningState::kNames;
  state.walk_cursor.clear();
  save_signing_state(zone_key, &state);
  strip_signing(zone_key, true);
  write_key_rrsets(zone_key, state);
}

// One tick's slice of a sliced whole-zone signing.
Status Applier::signing_slice(std::span<const uint8_t> zone_key, SigningState& state) {
  auto apex = wire::Name::from_canonical_key(str_of(zone_key));
  if (!apex) return make_error("signing: damaged zone key");
  KeyBuffer prefix;
  if (state.phase == SigningState::kChain) {
    // Sign the chain's NSEC3s, kSigningSliceChain at a time, in hash order.
    make_content_key(zone_key, generation_of(zone_key), prefix);
    KeyBuffer start = prefix;
    resume_at(start, state.walk_cursor);
    std::vector<Hash> hashes;
    bool finished = true;
    {
      lmdb::Cursor cursor;
      if (int rc = lmdb::Cursor::open(txn_, env_.nsec3, cursor)) {
        throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
      }
      MDB_val k = lmdb::val(start.data, start.size), v;
      for (int rc = cursor.get(&k, &v, MDB_SET_RANGE); rc == 0;
           rc = cursor.get(&k, &v, MDB_NEXT)) {
        if (k.mv_size != prefix.size + wire::kNsec3HashSize ||
            std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) {
          break;
        }
        auto hash = scan::bytes_of(k).subspan(prefix.size);
        if (hashes.size() == kSigningSliceChain) {
          state.walk_cursor.assign(hash.begin(), hash.end());
          finished = false;
          break;
        }
        Hash h;
        std::memcpy(h.data(), hash.data(), h.size());
        hashes.push_back(h);
      }
    }
    for (const auto& h : hashes) {
      auto name = wire::Name::from_canonical_key(hash_owner_key(zone_key, h));
      if (!name) continue;
      NameKey owner(*name);
      if (auto s = resign_types(zone_key, *apex, state, owner, dnssec::NodeKind::kAuthoritative,
                                {kTypeNsec3});
          !s) {
        return s;
      }
    }
    if (finished) {
      state.phase = SigningState::kComplete;
      state.walk_cursor.clear();
      state.walk_started_at = state.clock;
    }
    return {};
  }
  // kNames: the next kSigningSliceNames owners (NSEC3 owners, which the
  // chain pass signs, left out).
  make_content_key(zone_key, generation_of(zone_key), prefix);
  KeyBuffer start = prefix;
  resume_at(start, state.walk_cursor);
  std::vector<std::string> owners;
  bool finished = true;
  {
    lmdb::Cursor cursor;
    if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) {
      throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
    }
    MDB_val k = lmdb::val(start.data, start.size), v;
    for (int rc = cursor.get(&k, &v, MDB_SET_RANGE); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
      if (k.mv_size < prefix.size || std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) break;
      RRsetKeyParts parts;
      if (!split_rrset_key(scan::bytes_of(k), parts)) continue;
      if (parts.type == kTypeRrsig || parts.type == kTypeNsec3) continue;
      std::string owner = str_of(zone_key) + str_of(parts.owner_rel);
      if (!owners.empty() && owners.back() == owner) continue;
      if (owners.size() == kSigningSliceNames) {
        auto rest = scan::bytes_of(k).subspan(prefix.size);
        state.walk_cursor.assign(rest.begin(), rest.end());
        finished = false;
        break;
      }
      owners.push_back(std::move(owner));
    }
  }
  Nsec3Plan plan;
  for (const auto& owner : owners) {
    if (auto s = reconcile_owner(zone_key, *apex, state, owner, {0}, plan); !s) return s;
  }
  if (auto s = apply_nsec3_changes(zone_key, *apex, state, plan, false); !s) return s;
  if (finished) {
    state.phase = SigningState::kChain;
    state.walk_cursor.clear();
  }
  return {};
}

// ---- the command ----

Status Applier::zone_signing(const ZoneSigning& z) {
  const std::string zone_text = z.zone.to_text();
  NameKey zone_name(z.zone);
  auto zk = zone_name.bytes();
  if (!zone_serial(zk)) return make_error("no zone " + zone_text);
  SigningState* current = signing_state(zk);
  using A = ZoneSigning::Action;
  if (z.action == A::sign) {
    if (current != nullptr) return make_error("zone " + zone_text + " is already signed online");
    const auto& p = z.params;
    if (!dnssec::algorithm_supported(p.algorithm)) {
      return make_error("zone " + zone_text + ": unsupported algorithm " +
                        std::to_string(p.algorithm));
    }
    if (p.validity <= uint64_t{p.refresh} + p.jitter) {
      return make_error("zone " + zone_text +
                        ": the signature validity must exceed the refresh time plus the jitter");
    }
    SigningState state;
    state.params = p;
    state.clock = z.now;
    state.walk_started_at = z.now;
    bool ksk = false, zsk = false;
    for (const auto& nk : z.keys) {
      if (nk.algorithm != p.algorithm) {
        return make_error("zone " + zone_text + ": a key's algorithm differs from the policy's");
      }
      auto pair = dnssec::key_from_private(nk.algorithm, nk.flags, nk.private_key);
      if (!pair) return make_error("zone " + zone_text + ": " + pair.error());
      StoredKey k;
      k.key = std::move(*pair);
      k.tag = dnssec::key_tag(dnssec::dnskey_rdata(k.key));
      k.state = KeyState::active;
      k.published_at = k.active_at = z.now;
      // The first KSK's CDS stays until the operator says the parent has
      // the DS (RFC 8078 lets a parent take it from there).
      k.cds = k.key.is_ksk();
      (k.key.is_ksk() ? ksk : zsk) = true;
      state.keys.push_back(std::move(k));
    }
    if (!ksk || !zsk) return make_error("zone " + zone_text + ": signing needs a KSK and a ZSK");
    save_signing_state(zk, &state);
    touch(zk);
    start_whole_signing(zk);
    return {};
  }
  if (current == nullptr) return make_error("zone " + zone_text + " is not signed online");
  // A tick cannot be refused once the zone is signed: a check need not
  // sign its slice.
  if (check_only_ && z.action == A::tick) return {};
  SigningState state = *current;
  state.clock = seconds_until(z.now, state.clock) > 0 ? z.now : state.clock;
  switch (z.action) {
    case A::unsign:
      strip_signing(zk, true);
      save_signing_state(zk, nullptr);
      signing_dirty_.erase(str_of(zk));
      return {};
    case A::tick: {
      if (state.phase != SigningState::kComplete) {
        auto s = signing_slice(zk, state);
        save_signing_state(zk, &state);
        return s;
      }
      bool keys_changed = rollover_steps(state, z.keys.empty() ? nullptr : &z.keys.front());
      save_signing_state(zk, &state);
      if (keys_changed) write_key_rrsets(zk, state);
      auto s = renewal_walk(zk, state);
      if (!s) return s;
      save_signing_state(zk, &state);
      return {};
    }
    case A::roll: {
      if (state.phase != SigningState::kComplete) {
        return make_error("zone " + zone_text + " is still being signed; roll its keys after");
      }
      if (z.keys.size() != 1) return make_error("zone " + zone_text + ": a rollover needs one key");
      const auto& nk = z.keys.front();
      const bool ksk = (nk.flags & dnssec::flag::kSep) != 0;
      for (const auto& k : state.keys) {
        if (k.key.is_ksk() == ksk && k.state != KeyState::active) {
          return make_error("zone " + zone_text + ": a " + (ksk ? "KSK" : "ZSK") +
                            " rollover is already under way (key " + std::to_string(k.tag) + ")");
        }
      }
      size_t ksks = 0;
      for (const auto& k : state.keys) ksks += k.key.is_ksk() ? 1 : 0;
      if (ksk && ksks > 1) {
        return make_error("zone " + zone_text +
                          ": a KSK rollover is already under way (waiting for the new DS)");
      }
      if (nk.algorithm != state.params.algorithm) {
        return make_error("zone " + zone_text + ": the new key's algorithm differs from the policy's");
      }
      auto pair = dnssec::key_from_private(nk.algorithm, nk.flags, nk.private_key);
      if (!pair) return make_error("zone " + zone_text + ": " + pair.error());
      StoredKey k;
      k.key = std::move(*pair);
      k.tag = dnssec::key_tag(dnssec::dnskey_rdata(k.key));
      k.state = KeyState::published;
      k.published_at = state.clock;
      state.keys.push_back(std::move(k));
      rollover_steps(state, nullptr);
      save_signing_state(zk, &state);
      write_key_rrsets(zk, state);
      return {};
    }
    case A::ds_seen: {
      if (state.phase != SigningState::kComplete) {
        return make_error("zone " + zone_text +
                          " is still being signed; its DS must not be in the parent yet");
      }
      StoredKey* key = nullptr;
      size_t ksks = 0;
      for (auto& k : state.keys) {
        if (!k.key.is_ksk()) continue;
        ++ksks;
        if (k.tag == z.key_tag) key = &k;
      }
      if (key == nullptr) {
        return make_error("zone " + zone_text + " has no KSK with tag " +
                          std::to_string(z.key_tag));
      }
      if (key->state != KeyState::active) {
        return make_error("zone " + zone_text + ": KSK " + std::to_string(z.key_tag) +
                          " is not active yet; its DS cannot be in use");
      }
      key->ds_seen_at = state.clock;
      if (ksks == 1) key->cds = false;  // nothing to roll: the hand-off is done
      rollover_steps(state, nullptr);
      save_signing_state(zk, &state);
      write_key_rrsets(zk, state);
      return {};
    }
    case A::sign:
      break;
  }
  return {};
}

}  // namespace raftdns::store
