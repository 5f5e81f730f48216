// Applying an RFC 2136 UPDATE: the prerequisites (§3.2) are judged and the
// updates (§3.4) made against the store as it stands at the command's place
// in the log. Every refusal starts with the rcode the client gets.
//
// What RFC 2136 tells a server to skip silently is skipped here too: an SOA
// whose serial is not newer (§3.4.2.2), a CNAME next to other data and other
// data next to a CNAME (§3.4.2.2), deleting the apex SOA or apex NS RRset
// (§3.4.2.3) and deleting the last apex NS record (§3.4.2.4). An addition
// that breaks a zone rule the RFC does not name (data below a zone cut, a
// second DNAME) is REFUSED, and the whole update with it.
#include <algorithm>
#include <cstring>
#include <map>
#include <set>

#include "daemon/store/apply.h"
#include "daemon/store/scan.h"

namespace raftdns::store {
namespace {

namespace T = wire::rrtype;
namespace C = wire::rrclass;

// Types that only a query may name (RFC 2136 §3.4.1.2: ANY, AXFR, MAILA,
// MAILB; also IXFR, OPT and type 0).
bool is_query_only_type(uint16_t t) { return t == 0 || t == T::OPT || (t >= 249 && t <= 255); }

Error refusal(uint16_t rcode, const std::string& why) {
  return make_error(wire::rcode_to_text(rcode) + ": " + why);
}

std::string rr_text(const wire::Record& r) {
  return r.owner.to_text() + " " + wire::class_to_text(r.rclass) + " " +
         wire::type_to_text(r.type);
}

}  // namespace

std::vector<uint16_t> Applier::types_at(std::span<const uint8_t> zone_key,
                                        std::span<const uint8_t> owner_key) {
  std::vector<uint16_t> types;
  KeyBuffer prefix;
  if (owner_key.size() + 1 + kGenerationSize + 1 + 2 > kMaxLmdbKey) return types;  // cannot exist
  make_owner_prefix(zone_key, generation_of(zone_key), owner_key, prefix);
  lmdb::Cursor cursor;
  if (int rc = lmdb::Cursor::open(txn_, env_.rrsets, cursor)) {
    throw LmdbFailure{rc, std::string("cursor: ") + mdb_strerror(rc)};
  }
  MDB_val k = lmdb::val(prefix.data, prefix.size), v;
  int rc = cursor.get(&k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size == prefix.size + 2 &&
         std::memcmp(k.mv_data, prefix.data, prefix.size) == 0) {
    types.push_back(load_u16(static_cast<const uint8_t*>(k.mv_data) + prefix.size));
    rc = cursor.get(&k, &v, MDB_NEXT);
  }
  if (rc != 0 && rc != MDB_NOTFOUND) {
    throw LmdbFailure{rc, std::string("scan: ") + mdb_strerror(rc)};
  }
  return types;
}

Status Applier::update(const Update& u) {
  const std::string zone_text = u.zone.to_text();
  NameKey zone_name_key(u.zone);
  const auto zk = zone_name_key.bytes();
  KeyBuffer zkey;
  if (zk.size() + 4 > kMaxLmdbKey) {
    return refusal(wire::rcode::NOTAUTH, "not authoritative for zone " + zone_text);
  }
  make_zone_key(zk, zkey);
  if (!get(env_.zones, zkey.span())) {
    return refusal(wire::rcode::NOTAUTH, "not authoritative for zone " + zone_text);
  }
  const size_t apex_labels = zone_name_key.labels();

  // Every name must be in this zone, and not in another zone hosted here
  // below it (RFC 2136 §3.2.5, §3.4.1.3).
  auto in_zone = [&](const wire::Name& n) {
    if (!n.is_subdomain_of(u.zone)) return false;
    NameKey key(n);
    ZoneRef z;
    return scan::find_zone(txn_, env_.zones, key, wire::kMaxLabels, z) &&
           z.apex_labels == apex_labels;
  };
  auto rrset_of = [&](const wire::Name& owner, uint16_t type) -> std::optional<RRsetData> {
    NameKey key(owner);
    if (key.bytes().size() + 1 + kGenerationSize + 1 + 2 > kMaxLmdbKey) return std::nullopt;
    return read_rrset(zk, key.bytes(), type);
  };

  // ---- prerequisites (§3.2), in order; value-dependent ones as whole RRsets
  using Owned = std::pair<std::string, uint16_t>;  // (owner key, type)
  std::map<Owned, std::pair<const wire::Record*, std::set<std::vector<uint8_t>>>> wanted;
  for (const auto& r : u.prerequisites) {
    if (r.ttl != 0) return refusal(wire::rcode::FORMERR, "prerequisite " + rr_text(r) + " has a TTL");
    if (!in_zone(r.owner)) {
      return refusal(wire::rcode::NOTZONE, "prerequisite " + r.owner.to_text() +
                                               " is outside zone " + zone_text);
    }
    NameKey key(r.owner);
    if (r.rclass == C::ANY || r.rclass == C::NONE) {
      if (!r.rdata.empty()) {
        return refusal(wire::rcode::FORMERR, "prerequisite " + rr_text(r) + " has RDATA");
      }
      const bool want_present = r.rclass == C::ANY;
      bool present;
      if (r.type == T::ANY) {
        present = !types_at(zk, key.bytes()).empty();
        if (present != want_present) {
          return refusal(want_present ? wire::rcode::NXDOMAIN : wire::rcode::YXDOMAIN,
                         "prerequisite failed: " + r.owner.to_text() +
                             (want_present ? " is not in use" : " is in use"));
        }
      } else {
        present = rrset_of(r.owner, r.type).has_value();
        if (present != want_present) {
          return refusal(want_present ? wire::rcode::NXRRSET : wire::rcode::YXRRSET,
                         "prerequisite failed: " + r.owner.to_text() + " " +
                             wire::type_to_text(r.type) +
                             (want_present ? " does not exist" : " exists"));
        }
      }
    } else if (r.rclass == C::IN) {
      if (is_query_only_type(r.type)) {
        return refusal(wire::rcode::FORMERR, "prerequisite " + rr_text(r) + " names a query type");
      }
      auto& w = wanted[{std::string(reinterpret_cast<const char*>(key.bytes().data()),
                                    key.bytes().size()),
                        r.type}];
      w.first = &r;
      w.second.insert(canonical_rdata(r.type, r.rdata));
    } else {
      return refusal(wire::rcode::FORMERR, "prerequisite " + rr_text(r) + " has a bad class");
    }
  }
  for (const auto& [owned, w] : wanted) {
    std::set<std::vector<uint8_t>> have;
    if (auto data = rrset_of(w.first->owner, owned.second)) {
      for (const auto& rd : data->rdatas) have.insert(canonical_rdata(owned.second, rd));
    }
    if (have != w.second) {
      return refusal(wire::rcode::NXRRSET, "prerequisite failed: the " +
                                               w.first->owner.to_text() + " " +
                                               wire::type_to_text(owned.second) +
                                               " RRset does not hold exactly the records given");
    }
  }

  // ---- prescan of the updates (§3.4.1): nothing is changed if one is bad
  for (const auto& r : u.updates) {
    if (!in_zone(r.owner)) {
      return refusal(wire::rcode::NOTZONE,
                     "update " + r.owner.to_text() + " is outside zone " + zone_text);
    }
    if (r.rclass == C::IN) {
      if (is_query_only_type(r.type)) {
        return refusal(wire::rcode::FORMERR, "update " + rr_text(r) + " adds a query type");
      }
      if (auto s = wire::validate_rdata(r.type, r.rdata); !s) {
        return refusal(wire::rcode::FORMERR, wire::record_to_text(r) + ": " + s.error());
      }
    } else if (r.rclass == C::ANY) {
      if (r.ttl != 0 || !r.rdata.empty() || (is_query_only_type(r.type) && r.type != T::ANY)) {
        return refusal(wire::rcode::FORMERR, "update " + rr_text(r) +
                                                 ": a delete needs TTL 0, no RDATA and a type");
      }
    } else if (r.rclass == C::NONE) {
      if (r.ttl != 0 || is_query_only_type(r.type)) {
        return refusal(wire::rcode::FORMERR,
                       "update " + rr_text(r) + ": a record delete needs TTL 0 and a type");
      }
    } else {
      return refusal(wire::rcode::FORMERR, "update " + rr_text(r) + " has a bad class");
    }
  }

  // ---- the updates (§3.4.2), in order
  for (const auto& r : u.updates) {
    NameKey key(r.owner);
    const auto ok = key.bytes();
    const bool at_apex = key.labels() == apex_labels;
    if (r.rclass == C::IN) {
      if (r.type == T::SOA) {
        if (!at_apex) continue;  // there is no SOA to replace below the apex
        auto old = read_rrset(zk, ok, T::SOA);
        auto fresh = wire::soa_fields(r.rdata);
        if (!old || old->rdatas.empty() || !fresh) continue;
        auto current = wire::soa_fields(old->rdatas.front());
        if (!current || !wire::serial_gt(fresh->serial, current->serial)) continue;
      }
      const auto types = types_at(zk, ok);
      auto has = [&](uint16_t t) { return std::find(types.begin(), types.end(), t) != types.end(); };
      if (r.type == T::CNAME) {
        const bool other_data = std::any_of(types.begin(), types.end(), [](uint16_t t) {
          return t != T::CNAME && t != 46 /*RRSIG*/ && t != 47 /*NSEC*/;
        });
        if (other_data) continue;
        if (has(T::CNAME)) write_rrset(zk, ok, T::CNAME, RRsetData{});  // replaced
      } else if (has(T::CNAME) && r.type != 46 && r.type != 47) {
        continue;
      }
      auto s = add_to_rrset(zk, apex_labels, r.owner, r.type, r.rclass, r.ttl, {r.rdata});
      if (!s) return refusal(wire::rcode::REFUSED, s.error());
    } else if (r.rclass == C::ANY) {
      if (r.type == T::ANY) {
        for (uint16_t t : types_at(zk, ok)) {
          if (at_apex && (t == T::SOA || t == T::NS)) continue;
          write_rrset(zk, ok, t, RRsetData{});
        }
      } else {
        if (at_apex && (r.type == T::SOA || r.type == T::NS)) continue;
        if (rrset_of(r.owner, r.type)) write_rrset(zk, ok, r.type, RRsetData{});
      }
    } else {  // NONE: delete one record
      if (r.type == T::SOA) continue;
      auto data = rrset_of(r.owner, r.type);
      if (!data) continue;
      if (at_apex && r.type == T::NS && data->rdatas.size() == 1) continue;
      const auto want = canonical_rdata(r.type, r.rdata);
      auto it = std::find_if(data->rdatas.begin(), data->rdatas.end(), [&](const auto& rd) {
        return canonical_rdata(r.type, rd) == want;
      });
      if (it == data->rdatas.end()) continue;
      data->rdatas.erase(it);
      write_rrset(zk, ok, r.type, *data);
    }
  }
  return {};
}

}  // namespace raftdns::store
