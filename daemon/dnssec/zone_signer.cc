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

NodeKind kind_of(const Node& node) {
  if (node.occluded) return NodeKind::kOccluded;
  return node.delegation ? NodeKind::kDelegation : NodeKind::kAuthoritative;
}

std::vector<uint16_t> types_of(const Node& node) {
  std::vector<uint16_t> types;
  for (const auto& s : node.rrsets) types.push_back(s.type);
  return types;
}

}  // namespace

bool is_signer_managed_type(uint16_t type) noexcept {
  return type == kTypeRrsig || type == kTypeNsec || type == kTypeNsec3 || type == kTypeNsec3param;
}

uint32_t rrsig_expiration(const SigningPolicy& policy, const wire::Name& owner,
                          uint16_t type) noexcept {
  if (policy.jitter == 0) return policy.expiration;
  uint64_t h = bytes::fnv1a64(owner.lowercased().wire());
  h = bytes::fnv1a64_step(h, static_cast<uint8_t>(type >> 8));
  h = bytes::fnv1a64_step(h, static_cast<uint8_t>(type));
  return policy.expiration - static_cast<uint32_t>(h % (uint64_t{policy.jitter} + 1));
}

bool is_signed_rrset(NodeKind kind, uint16_t type) noexcept {
  switch (kind) {
    case NodeKind::kAuthoritative:
      return type != kTypeRrsig;
    case NodeKind::kDelegation:
      return type == kTypeDs;
    case NodeKind::kOccluded:
      return false;
  }
  return false;
}

std::vector<uint8_t> nsec3_bitmap(NodeKind kind, std::span<const uint16_t> types) {
  std::vector<uint16_t> listed(types.begin(), types.end());
  bool any_signed = false;
  for (uint16_t t : types) any_signed |= is_signed_rrset(kind, t);
  if (any_signed) listed.push_back(kTypeRrsig);
  return type_bitmap(std::move(listed));
}

bool has_nsec3(NodeKind kind, std::span<const uint16_t> types, bool optout) noexcept {
  if (kind == NodeKind::kOccluded) return false;
  if (kind == NodeKind::kDelegation && optout) {
    return std::find(types.begin(), types.end(), kTypeDs) != types.end();
  }
  return true;
}

Result<std::vector<std::vector<uint8_t>>> sign_rrset(const wire::Name& apex,
                                                     std::span<const ZoneKey> keys,
                                                     const SigningPolicy& policy,
                                                     const wire::Name& owner, uint16_t type,
                                                     uint16_t rclass, uint32_t ttl,
                                                     std::span<const std::vector<uint8_t>> rdatas) {
  const bool key_set =
      owner == apex && (type == kTypeDnskey || type == kTypeCds || type == kTypeCdnskey);
  RRsetView view{owner, type, rclass, ttl, rdatas};
  const uint32_t expiration = rrsig_expiration(policy, owner, type);
  std::vector<std::vector<uint8_t>> out;
  for (const auto& k : keys) {
    if (key_set ? !k.signs_keys : !k.signs_zone) continue;
    auto sig =
        make_rrsig(k.key, key_tag(dnskey_rdata(k.key)), apex, view, policy.inception, expiration);
    if (!sig) {
      return make_error("signing " + owner.to_text() + " " + wire::type_to_text(type) + ": " +
                        sig.error());
    }
    out.push_back(std::move(*sig));
  }
  return out;
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
    return make_error("zone " + apex.to_text() +
                      " needs a key signing keys and one signing the zone");
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
        add_unique(top.get(kTypeCdnskey, wire::rrclass::IN, policy.dnskey_ttl),
                   dnskey_rdata(k.key));
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
    if (!has_nsec3(kind_of(node), types_of(node), policy.nsec3_optout)) continue;
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
    const auto& next = chain[(i + 1) % chain.size()].hash;
    auto label = wire::base32hex_encode(chain[i].hash);
    auto owner = wire::Name::from_text(label + "." + apex.to_text());
    if (!owner) return make_error("NSEC3 owner for zone " + apex.to_text() + ": " + owner.error());
    nsec3s.emplace_back(*owner, nsec3_rdata(nsec3_flags, policy.nsec3_iterations, policy.nsec3_salt,
                                            next, nsec3_bitmap(kind_of(node), types_of(node))));
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
  std::vector<wire::Record> out;
  out.reserve(records.size() * 2 + nsec3s.size() * 2);
  for (const auto& [key, node] : nodes) {
    std::vector<wire::Record> sigs;
    for (const auto& set : node.rrsets) {
      for (const auto& rd : set.rdatas)
        out.push_back({node.name, set.type, set.rclass, set.ttl, rd});
      if (!is_signed_rrset(kind_of(node), set.type)) continue;
      auto rrsigs =
          sign_rrset(apex, keys, policy, node.name, set.type, set.rclass, set.ttl, set.rdatas);
      if (!rrsigs) return std::move(rrsigs).take_error();
      for (auto& rd : *rrsigs)
        sigs.push_back({node.name, kTypeRrsig, set.rclass, set.ttl, std::move(rd)});
    }
    out.insert(out.end(), std::make_move_iterator(sigs.begin()),
               std::make_move_iterator(sigs.end()));
  }
  return out;
}

}  // namespace raftdns::dnssec
