// Checking a signed zone: RRSIG coverage per algorithm and the NSEC3 chain.
#include "daemon/dnssec/zone_check.h"

#include <algorithm>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "common/bytes.h"
#include "daemon/dnssec/denial.h"
#include "daemon/dnssec/key.h"
#include "daemon/dnssec/rrsig.h"
#include "daemon/dnssec/zone_signer.h"
#include "daemon/wire/nsec3.h"
#include "daemon/wire/types.h"

namespace raftdns::dnssec {
namespace {

struct CheckedRRset {
  uint16_t rclass = wire::rrclass::IN;
  uint32_t ttl = 0;
  std::vector<std::vector<uint8_t>> rdatas;
};

struct CheckedNode {
  wire::Name name;
  std::map<uint16_t, CheckedRRset> rrsets;  // without RRSIG
  std::vector<std::vector<uint8_t>> rrsigs;
  NodeKind kind = NodeKind::kAuthoritative;

  std::vector<uint16_t> types() const {
    std::vector<uint16_t> out;
    for (const auto& [t, s] : rrsets) out.push_back(t);
    return out;
  }
  bool only_nsec3() const { return rrsets.size() == 1 && rrsets.count(kTypeNsec3) == 1; }
};

std::string where(const wire::Name& owner, uint16_t type) {
  return owner.to_text() + " " + wire::type_to_text(type);
}

}  // namespace

Status check_signed_zone(const wire::Name& apex, std::span<const wire::Record> records,
                         uint32_t now) {
  std::map<std::string, CheckedNode> nodes;
  for (const auto& r : records) {
    if (!r.owner.is_subdomain_of(apex))
      return make_error(where(r.owner, r.type) + ": outside the zone");
    auto [it, inserted] = nodes.try_emplace(r.owner.canonical_key());
    if (inserted) it->second.name = r.owner;
    if (r.type == kTypeRrsig) {
      it->second.rrsigs.push_back(r.rdata);
    } else {
      auto& set = it->second.rrsets[r.type];
      set.rclass = r.rclass;
      set.ttl = r.ttl;
      set.rdatas.push_back(r.rdata);
    }
  }
  auto top = nodes.find(apex.canonical_key());
  if (top == nodes.end() || top->second.rrsets.count(kTypeDnskey) == 0) {
    return make_error(apex.to_text() + " has no DNSKEY RRset");
  }
  const auto& dnskeys = top->second.rrsets[kTypeDnskey].rdatas;
  std::set<uint8_t> algorithms;
  for (const auto& k : dnskeys) {
    if (k.size() > 4 && (bytes::load_u16(k.data()) & flag::kZone) != 0) algorithms.insert(k[3]);
  }
  if (algorithms.empty()) return make_error(apex.to_text() + " DNSKEY RRset has no zone key");

  // Cuts, in canonical order as the signer finds them.
  const wire::Name* cut = nullptr;
  for (auto& [key, node] : nodes) {
    if (cut != nullptr && node.name.is_subdomain_of(*cut)) {
      node.kind = NodeKind::kOccluded;
      continue;
    }
    cut = nullptr;
    if (node.name != apex && node.rrsets.count(wire::rrtype::NS) != 0) {
      node.kind = NodeKind::kDelegation;
      cut = &node.name;
    }
  }

  // Every RRset: signed where it must be, by every algorithm; unsigned elsewhere.
  for (const auto& [key, node] : nodes) {
    for (const auto& [type, set] : node.rrsets) {
      std::set<uint8_t> covered;
      bool any_rrsig = false;
      RRsetView view{node.name, type, set.rclass, set.ttl, set.rdatas};
      for (const auto& sig : node.rrsigs) {
        auto fields = parse_rrsig(sig);
        if (!fields || fields->type_covered != type) continue;
        any_rrsig = true;
        for (const auto& k : dnskeys) {
          if (k.size() > 4 && k[3] == fields->algorithm && key_tag(k) == fields->key_tag &&
              verify_rrsig(view, sig, k, now)) {
            covered.insert(fields->algorithm);
            break;
          }
        }
      }
      if (!is_signed_rrset(node.kind, type)) {
        if (any_rrsig)
          return make_error(where(node.name, type) + ": signed, but is not authoritative");
        continue;
      }
      for (uint8_t alg : algorithms) {
        if (covered.count(alg) == 0) {
          return make_error(where(node.name, type) + ": no valid RRSIG by algorithm " +
                            algorithm_name(alg) + " at " + std::to_string(now));
        }
      }
    }
  }

  // The NSEC3 chain.
  auto param = top->second.rrsets.find(kTypeNsec3param);
  if (param == top->second.rrsets.end() || param->second.rdatas.front().size() < 5) {
    return make_error(apex.to_text() + " has no NSEC3PARAM");
  }
  const auto& p = param->second.rdatas.front();
  const uint16_t iterations = bytes::load_u16(p.data() + 2);
  if (p.size() < 5u + p[4]) return make_error(apex.to_text() + " NSEC3PARAM is malformed");
  const std::vector<uint8_t> salt(p.begin() + 5, p.begin() + 5 + p[4]);

  std::map<std::string, std::vector<uint8_t>> chain;  // base32hex label -> NSEC3 RDATA
  bool optout = false;
  for (const auto& [key, node] : nodes) {
    auto it = node.rrsets.find(kTypeNsec3);
    if (it == node.rrsets.end()) continue;
    if (node.name.label_count() != apex.label_count() + 1) {
      return make_error(where(node.name, kTypeNsec3) + ": not directly below the apex");
    }
    const wire::Name lower = node.name.lowercased();
    auto label = lower.label(0);
    chain[std::string(label.begin(), label.end())] = it->second.rdatas.front();
    optout |=
        (it->second.rdatas.front().size() > 1 && (it->second.rdatas.front()[1] & kNsec3FlagOptOut));
  }

  // The names that must be hashed: every name but the NSEC3 owners, and
  // the empty non-terminals between them and the apex.
  std::map<std::string, std::pair<wire::Name, std::vector<uint8_t>>>
      expected;  // label -> name, bitmap
  auto expect = [&](const wire::Name& n, NodeKind kind, const std::vector<uint16_t>& types) {
    if (!has_nsec3(kind, types, optout)) return;
    uint8_t h[wire::kNsec3HashSize];
    wire::nsec3_hash(n, salt, iterations, h);
    expected[wire::base32hex_encode(h)] = {n, nsec3_bitmap(kind, types)};
  };
  std::set<std::string> present;
  for (const auto& [key, node] : nodes) present.insert(key);
  for (const auto& [key, node] : nodes) {
    if (node.only_nsec3() || node.kind == NodeKind::kOccluded) continue;
    auto types = node.types();
    types.erase(std::remove(types.begin(), types.end(), kTypeNsec3), types.end());
    expect(node.name, node.kind, types);
    for (wire::Name n = node.name.parent(); n.label_count() > apex.label_count(); n = n.parent()) {
      if (present.count(n.canonical_key()) != 0) break;
      expect(n, NodeKind::kAuthoritative, {});
    }
  }

  for (const auto& [label, want] : expected) {
    auto it = chain.find(label);
    if (it == chain.end()) return make_error(want.first.to_text() + ": no NSEC3 (" + label + ")");
    Nsec3Fields f;
    if (!parse_nsec3(it->second, f)) {
      return make_error(want.first.to_text() + ": malformed NSEC3 RDATA");
    }
    if (!std::equal(f.bitmap.begin(), f.bitmap.end(), want.second.begin(), want.second.end())) {
      return make_error(want.first.to_text() + ": NSEC3 type bitmap does not match its types");
    }
  }
  std::vector<std::string> labels;
  for (const auto& [label, rd] : chain) labels.push_back(label);
  for (size_t i = 0; i < labels.size(); ++i) {
    if (expected.count(labels[i]) == 0) {
      return make_error(labels[i] + "." + apex.to_text() + " NSEC3: matches no name in the zone");
    }
    Nsec3Fields f;
    parse_nsec3(chain[labels[i]], f);  // checked above
    const auto next = f.next_hash;
    if (wire::base32hex_encode(next) != labels[(i + 1) % labels.size()]) {
      return make_error(labels[i] + "." + apex.to_text() + " NSEC3: next hashed owner is " +
                        wire::base32hex_encode(next) + ", the chain's next is " +
                        labels[(i + 1) % labels.size()]);
    }
  }
  return {};
}

}  // namespace raftdns::dnssec
