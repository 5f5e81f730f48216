// Whole-zone signing: RRset grouping, delegation cuts, the NSEC3 chain and RRSIGs.
#include "daemon/dnssec/zone_signer.h"

#include <algorithm>
#include <array>
#include <map>
#include <string>

#include "common/bytes.h"
#include "daemon/dnssec/denial.h"
#include "daemon/dnssec/rrsig.h"
#include "daemon/wire/nsec3.h"
#include "daemon/wire/types.h"

namespace raftdns::dnssec {
namespace {

struct RRset {
  uint16_t type = 0;
  uint16_t rclass = wire::rrclass::IN;
  uint32_t ttl = 0;
  std::vector<std::vector<uint8_t>> rdatas;
};

struct Node {
  wire::Name name;
  std::vector<RRset> rrsets;  // sorted by type
  bool delegation = false;    // NS below the apex
  bool occluded = false;      // strictly below a delegation point

  RRset* find(uint16_t type) {
    for (auto& s : rrsets) {
      if (s.type == type) return &s;
    }
    return nullptr;
  }
  const RRset* find(uint16_t type) const { return const_cast<Node*>(this)->find(type); }
  // The RRset of `type`, added if missing; adding one invalidates references
  // to the others.
  RRset& get(uint16_t type, uint16_t rclass, uint32_t ttl) {
    if (RRset* s = find(type)) return *s;
    rrsets.push_back(RRset{type, rclass, ttl, {}});
    std::sort(rrsets.begin(), rrsets.end(),
              [](const RRset& a, const RRset& b) { return a.type < b.type; });
    return *find(type);
  }
};

void add_unique(RRset& set, std::vector<uint8_t> rdata) {
  if (std::find(set.rdatas.begin(), set.rdatas.end(), rdata) == set.rdatas.end()) {
    set.rdatas.push_back(std::move(rdata));
  }
}

bool signed_at(const Node& node, uint16_t type) {
  if (node.occluded) return false;
  if (node.delegation) return type == kTypeDs;
  return true;
}

}  // namespace

bool is_signer_managed_type(uint16_t type) noexcept {
  return type == kTypeRrsig || type == kTypeNsec || type == kTypeNsec3 ||
         type == kTypeNsec3param;
}

uint32_t rrsig_expiration(const SigningPolicy& policy, const wire::Name& owner,
                          uint16_t type) noexcept {
  if (policy.jitter == 0) return policy.expiration;
  uint64_t h = bytes::fnv1a64(owner.lowercased().wire());
  h = bytes::fnv1a64_step(h, static_cast<uint8_t>(type >> 8));
  h = bytes::fnv1a64_step(h, static_cast<uint8_t>(type));
  return policy.expiration - static_cast<uint32_t>(h % (uint64_t{policy.jitter} + 1));
}

Result<std::vector<wire::Record>> sign_zone(const wire::Name& apex,
                                            std::span<const wire::Record> records,
                                            std::span<const ZoneKey> keys,
                                            const SigningPolicy& policy) {
  bool have_ksk = false, have_zsk = false;
  for (const auto& k : keys) {
    have_ksk |= k.signs_keys;
    have_zsk |= k.signs_zone;
  }
  if (!have_ksk || !have_zsk) {
    return make_error("zone " + apex.to_text() + " needs a key signing keys and one signing the zone");
  }

  // Group into nodes keyed by canonical order.
  std::map<std::string, Node> nodes;
  for (const auto& rr : records) {
    if (!rr.owner.is_subdomain_of(apex)) {
      return make_error("record " + rr.owner.to_text() + " is outside zone " + apex.to_text());
    }
    if (is_signer_managed_type(rr.type)) continue;
    auto [it, inserted] = nodes.try_emplace(rr.owner.canonical_key());
    if (inserted) it->second.name = rr.owner;
    RRset& set = it->second.get(rr.type, rr.rclass, rr.ttl);
    set.ttl = std::min(set.ttl, rr.ttl);  // an RRset has one TTL (RFC 2181 §5.2)
    add_unique(set, rr.rdata);
  }
  auto apex_it = nodes.find(apex.canonical_key());
  if (apex_it == nodes.end() || apex_it->second.find(wire::rrtype::SOA) == nullptr) {
    return make_error("zone " + apex.to_text() + " has no SOA record");
  }
  auto soa = wire::soa_fields(apex_it->second.find(wire::rrtype::SOA)->rdatas.front());
  if (!soa) return make_error("zone " + apex.to_text() + " has a malformed SOA record");
  // RFC 9077: NSEC3 TTL is the smaller of the SOA TTL and SOA MINIMUM.
  uint32_t nsec3_ttl = std::min(apex_it->second.find(wire::rrtype::SOA)->ttl, soa->minimum);

  // The apex keys, CDS/CDNSKEY and NSEC3PARAM.
  {
    Node& top = apex_it->second;
    // get() may add an RRset and move the others, so no reference is kept.
    top.get(kTypeDnskey, wire::rrclass::IN, policy.dnskey_ttl).ttl = policy.dnskey_ttl;
    for (const auto& k : keys) {
      if (!k.published) continue;
      add_unique(top.get(kTypeDnskey, wire::rrclass::IN, policy.dnskey_ttl), dnskey_rdata(k.key));
      if (k.publish_cds) {
        add_unique(top.get(kTypeCdnskey, wire::rrclass::IN, policy.dnskey_ttl), dnskey_rdata(k.key));
        add_unique(top.get(kTypeCds, wire::rrclass::IN, policy.dnskey_ttl),
                   ds_rdata(apex, dnskey_rdata(k.key)));
      }
    }
    top.get(kTypeNsec3param, wire::rrclass::IN, 0)
        .rdatas.push_back(nsec3param_rdata(policy.nsec3_iterations, policy.nsec3_salt));
  }

  // Delegation cuts: in canonical order a name's descendants follow it.
  const wire::Name* cut = nullptr;
  for (auto& [key, node] : nodes) {
    if (cut != nullptr && node.name.is_subdomain_of(*cut)) {
      node.occluded = true;
      continue;
    }
    cut = nullptr;
    if (node.name != apex && node.find(wire::rrtype::NS) != nullptr) {
      node.delegation = true;
      cut = &node.name;
    }
  }

  // Empty non-terminals: every missing ancestor of an authoritative name.
  std::vector<wire::Name> empty;
  for (const auto& [key, node] : nodes) {
    if (node.occluded) continue;
    for (wire::Name n = node.name.parent(); n.label_count() > apex.label_count(); n = n.parent()) {
      if (nodes.count(n.canonical_key()) != 0) break;
      empty.push_back(n);
    }
  }
  for (const auto& n : empty) nodes.try_emplace(n.canonical_key()).first->second.name = n;

  // The NSEC3 chain.
  struct Hashed {
    std::array<uint8_t, wire::kNsec3HashSize> hash;
    const Node* node;
  };
  std::vector<Hashed> chain;
  chain.reserve(nodes.size());
  for (const auto& [key, node] : nodes) {
    if (node.occluded) continue;
    if (policy.nsec3_optout && node.delegation && node.find(kTypeDs) == nullptr) {
      continue;
    }
    Hashed h{};
    h.node = &node;
    wire::nsec3_hash(node.name, policy.nsec3_salt, policy.nsec3_iterations, h.hash.data());
    chain.push_back(h);
  }
  std::sort(chain.begin(), chain.end(),
            [](const Hashed& a, const Hashed& b) { return a.hash < b.hash; });
  for (size_t i = 1; i < chain.size(); ++i) {
    if (chain[i].hash == chain[i - 1].hash) {
      return make_error("NSEC3 hash collision between " + chain[i - 1].node->name.to_text() +
                        " and " + chain[i].node->name.to_text());
    }
  }
  uint8_t nsec3_flags = policy.nsec3_optout ? kNsec3FlagOptOut : 0;
  std::vector<std::pair<wire::Name, std::vector<uint8_t>>> nsec3s;
  nsec3s.reserve(chain.size());
  for (size_t i = 0; i < chain.size(); ++i) {
    const Node& node = *chain[i].node;
    std::vector<uint16_t> types;
    bool any_signed = false;
    for (const auto& s : node.rrsets) {
      types.push_back(s.type);
      any_signed |= signed_at(node, s.type);
    }
    if (any_signed) types.push_back(kTypeRrsig);
    const auto& next = chain[(i + 1) % chain.size()].hash;
    auto label = wire::base32hex_encode(chain[i].hash);
    auto owner = wire::Name::from_text(label + "." + apex.to_text());
    if (!owner) return make_error("NSEC3 owner for zone " + apex.to_text() + ": " + owner.error());
    nsec3s.emplace_back(*owner, nsec3_rdata(nsec3_flags, policy.nsec3_iterations,
                                            policy.nsec3_salt, next, type_bitmap(types)));
  }
  for (auto& [owner, rdata] : nsec3s) {
    auto [it, inserted] = nodes.try_emplace(owner.canonical_key());
    if (!inserted) {
      return make_error("NSEC3 owner " + owner.to_text() + " collides with a name in the zone");
    }
    it->second.name = owner;
    it->second.get(kTypeNsec3, wire::rrclass::IN, nsec3_ttl).rdatas.push_back(std::move(rdata));
  }
  // The NSEC3PARAM TTL follows the NSEC3s'.
  apex_it->second.find(kTypeNsec3param)->ttl = nsec3_ttl;

  // Emit every RRset, then its signatures.
  std::vector<uint16_t> tags;
  for (const auto& k : keys) tags.push_back(key_tag(dnskey_rdata(k.key)));
  std::vector<wire::Record> out;
  out.reserve(records.size() * 2 + nsec3s.size() * 2);
  for (const auto& [key, node] : nodes) {
    std::vector<wire::Record> sigs;
    for (const auto& set : node.rrsets) {
      for (const auto& rd : set.rdatas) out.push_back({node.name, set.type, set.rclass, set.ttl, rd});
      if (!signed_at(node, set.type)) continue;
      bool key_set = node.name == apex &&
                     (set.type == kTypeDnskey || set.type == kTypeCds || set.type == kTypeCdnskey);
      RRsetView view{node.name, set.type, set.rclass, set.ttl, set.rdatas};
      uint32_t expiration = rrsig_expiration(policy, node.name, set.type);
      for (size_t i = 0; i < keys.size(); ++i) {
        if (key_set ? !keys[i].signs_keys : !keys[i].signs_zone) continue;
        auto sig = make_rrsig(keys[i].key, tags[i], apex, view, policy.inception, expiration);
        if (!sig) {
          return make_error("signing " + node.name.to_text() + " " + wire::type_to_text(set.type) +
                            ": " + sig.error());
        }
        sigs.push_back({node.name, kTypeRrsig, set.rclass, set.ttl, std::move(*sig)});
      }
    }
    out.insert(out.end(), std::make_move_iterator(sigs.begin()),
               std::make_move_iterator(sigs.end()));
  }
  return out;
}

}  // namespace raftdns::dnssec
