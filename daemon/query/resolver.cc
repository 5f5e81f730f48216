// The authoritative answer steps: zone selection, the descent through the
// zone (delegations, DNAME), exact matches and CNAME chains, wildcards, and
// negative answers, with additional-section address records.
#include "daemon/query/resolver.h"

#include "daemon/wire/rr.h"
#include "daemon/wire/types.h"

namespace raftdns::query {

namespace T = wire::rrtype;
using store::NameKey;
using store::NodeView;
using store::RRsetView;
using store::ZoneRef;

void Resolver::resolve(const wire::Name& qname) noexcept {
  const wire::Name* visited[kMaxChain + 1];
  size_t nvisited = 0;
  const wire::Name* current = &qname;
  visited[nvisited++] = current;
  for (bool first = true;; first = false) {
    if (lookup(*current, first) != Next::follow) break;
    // RFC 1034 §3.6.2: chains are followed, but never round a loop and
    // never beyond kMaxChain links.
    if (nvisited > kMaxChain || next_ == nullptr) break;
    bool seen = false;
    for (size_t i = 0; i < nvisited; ++i) seen = seen || *visited[i] == *next_;
    if (seen) break;
    current = visited[nvisited++] = next_;
  }
  if (!minimal_) add_apex_ns();
  add_additional_addresses();
}

// Without minimal responses, a positive authoritative answer names the
// servers of the zone whose data gave its last link in authority (RFC 1034
// §4.3.2 step 3a leaves it optional; NSD and BIND do it by default). A chain
// that ends on a DNAME (a loop, or a CNAME query answered by the synthesized
// CNAME) gets none, as in NSD.
void Resolver::add_apex_ns() noexcept {
  if (r_.rcode != wire::rcode::NOERROR || !r_.aa || r_.answer.count == 0 || !last_apex_) return;
  if (r_.authority.count != 0 || ended_at_synthesized_cname_) return;
  // A DS answer comes from the parent side of a cut; NSD adds no NS there.
  if (qtype_ == 43 /* DS */) return;
  if (r_.answer.contains(*last_apex_, T::NS)) return;
  RRsetView ns;
  NameKey apex(*last_apex_);
  if (!view_.get_rrset(last_zone_, apex.bytes(), T::NS, ns)) return;
  const size_t before = r_.authority.count;
  add(r_.authority, last_zone_, apex.bytes(), last_apex_, ns, ns.ttl);
  if (r_.authority.count > before) apex_ns_owner_ = last_apex_;
}

// RFC 1034 §4.3.2 steps 2-3: find the zone, then walk down from its apex
// towards `name`, stopping at a zone cut (3b), a DNAME (RFC 6672 §3.2), or
// the first name that does not exist (3c).
Resolver::Next Resolver::lookup(const wire::Name& name, bool first) noexcept {
  next_ = nullptr;
  NameKey key(name);
  ZoneRef z;
  if (!view_.find_zone(key, z)) {
    if (first) r_.rcode = wire::rcode::REFUSED;  // not ours (out-of-zone CNAME targets just end)
    return Next::done;
  }
  // RFC 4035 §3.1.4.1: DS at a zone apex is answered from the parent side,
  // when we also serve the parent and it delegates to this zone.
  if (qtype_ == 43 /*DS*/ && z.apex_labels == key.labels() && key.labels() > 0) {
    ZoneRef parent;
    RRsetView ns;
    if (view_.find_zone(key, parent, key.labels() - 1) &&
        view_.get_rrset(parent, key.bytes(), T::NS, ns)) {
      z = parent;
    }
  }
  if (first) r_.aa = true;

  // `name` is the question's name or a chain target kept in the response, so
  // it outlives the lookup and can own answer RRsets directly.
  const size_t labels = key.labels();
  NodeView node;
  // The descent from the apex only matters when something can interrupt
  // it; most zones have no cuts or DNAMEs and go straight to the name.
  if (z.has_cuts || z.has_dnames) {
    for (size_t n = z.has_dnames ? z.apex_labels : z.apex_labels + 1; n < labels; ++n) {
      view_.load_node(z, key.prefix(n), node);
      if (!node.exists()) {
        if (n == z.apex_labels) return damaged_zone();
        return answer_name_error(z, key, &name, n - 1);
      }
      if (n > z.apex_labels && node.find(T::NS)) return answer_delegation(z, key, name, n, node);
      if (node.find(T::DNAME)) return answer_dname(z, key, name, n, node);
    }
  }
  view_.load_node(z, key.bytes(), node);
  if (!node.exists()) {
    if (labels == z.apex_labels) return damaged_zone();
    size_t closest_encloser = labels - 1;
    if (z.has_wildcards && !(z.has_cuts || z.has_dnames)) {
      // Not walked down: find the deepest existing ancestor now.
      NodeView up;
      for (; closest_encloser > z.apex_labels; --closest_encloser) {
        view_.load_node(z, key.prefix(closest_encloser), up);
        if (up.exists()) break;
      }
    }
    return answer_name_error(z, key, &name, closest_encloser);
  }
  // A delegation point answers with a referral for every type but DS.
  if (labels > z.apex_labels && z.has_cuts && node.find(T::NS) && qtype_ != 43) {
    return answer_delegation(z, key, name, labels, node);
  }
  return answer_node(z, key, key.bytes(), node, &name);
}

Resolver::Next Resolver::damaged_zone() noexcept {
  r_.rcode = wire::rcode::SERVFAIL;  // a zone without its apex data
  return Next::done;
}

// RFC 1034 §4.3.2 step 3a, RFC 8482 for ANY, RFC 2308 §2.2 for NODATA.
Resolver::Next Resolver::answer_node(const ZoneRef& z, const NameKey& key,
                                     std::span<const uint8_t> node_key, const NodeView& node,
                                     const wire::Name* owner) noexcept {
  RRsetView rrset;
  if (qtype_ == T::ANY) {
    // RFC 8482 §4.1: one RRset is enough; the first in type order.
    if (node.count > 0) {
      add(r_.answer, z, node_key, owner, node.rrsets[0], node.rrsets[0].ttl);
      answered_in(z, *owner);
      if (dnssec_ && wildcard_encloser_ != kNoWildcard) {
        prove_wildcard(z, key, *owner, wildcard_encloser_, false);
      }
      return Next::done;
    }
    answer_nodata(z, key, *owner);
    return Next::done;
  }
  if (view_.find_type(z, node_key, node, qtype_, rrset)) {
    add(r_.answer, z, node_key, owner, rrset, rrset.ttl);
    answered_in(z, *owner);
    // RFC 4035 §3.1.3.3: a wildcard answer proves the name itself absent.
    if (dnssec_ && wildcard_encloser_ != kNoWildcard) {
      prove_wildcard(z, key, *owner, wildcard_encloser_, false);
    }
    return Next::done;
  }
  if (qtype_ != T::CNAME && view_.find_type(z, node_key, node, T::CNAME, rrset)) {
    add(r_.answer, z, node_key, owner, rrset, rrset.ttl);
    answered_in(z, *owner);
    if (dnssec_ && wildcard_encloser_ != kNoWildcard) {
      prove_wildcard(z, key, *owner, wildcard_encloser_, false);
    }
    return follow_cname(rrset);
  }
  answer_nodata(z, key, *owner);
  return Next::done;
}

void Resolver::answered_in(const ZoneRef& z, const wire::Name& owner) noexcept {
  if (minimal_) return;
  last_zone_ = z;
  last_apex_ = r_.keep(owner.strip_left(owner.label_count() - z.apex_labels));
}

Resolver::Next Resolver::follow_cname(const RRsetView& cname) noexcept {
  auto it = cname.begin();
  if (it == cname.end()) return Next::done;
  auto target = wire::rdata_target(T::CNAME, *it);
  if (!target) return Next::done;
  next_ = r_.keep(*target);
  return next_ ? Next::follow : Next::done;
}

// RFC 1034 §4.3.2 step 3c with RFC 4592 §3.3: the name does not exist; if
// the closest encloser has a wildcard child, synthesize from it, else
// NXDOMAIN. A name that exists (even as an empty non-terminal) never gets
// here, so it is never matched by a wildcard.
Resolver::Next Resolver::answer_name_error(const ZoneRef& z, const NameKey& key,
                                           const wire::Name* name,
                                           size_t closest_encloser) noexcept {
  if (!z.has_wildcards) {
    answer_nxdomain(z, key, *name);
    return Next::done;
  }
  // Source of synthesis: "*" below the closest encloser.
  store::KeyBuffer wildcard;
  wildcard.append(key.prefix(closest_encloser));
  wildcard.push('*');
  wildcard.push(0);
  NodeView node;
  view_.load_node(z, wildcard.span(), node);
  if (node.exists()) {
    // RFC 4592 §3.3.1/§4: the answer's owner is the query name; a wildcard
    // without the type (or an empty one) gives NODATA.
    wildcard_encloser_ = closest_encloser;
    const Next next = answer_node(z, key, wildcard.span(), node, name);
    wildcard_encloser_ = kNoWildcard;
    return next;
  }
  answer_nxdomain(z, key, *name);
  return Next::done;
}

// RFC 1034 §4.3.2 step 3b: a referral. NS in authority, glue in additional,
// and not authoritative (AA clear) unless an earlier link of a chain was.
Resolver::Next Resolver::answer_delegation(const ZoneRef& z, const NameKey& key,
                                           const wire::Name& name, size_t cut_labels,
                                           const NodeView& node) noexcept {
  const wire::Name* cut = r_.keep(name.strip_left(name.label_count() - cut_labels));
  const RRsetView* ns = node.find(T::NS);
  if (r_.answer.count == 0) r_.aa = false;
  if (!cut || !ns) return Next::done;
  // The parent does not sign the NS RRset at a cut (RFC 4035 §2.2).
  r_.authority.push(cut, *ns, ns->ttl);
  if (dnssec_) {
    // RFC 4035 §3.1.4: the DS RRset with its RRSIGs, or the proof that
    // there is none (an insecure delegation).
    RRsetView ds;
    const auto cut_key = key.prefix(cut_labels);
    if (view_.find_type(z, cut_key, node, T::DS, ds)) {
      add(r_.authority, z, cut_key, cut, ds, ds.ttl);
    } else {
      prove_no_ds(z, key, name, cut_labels);
    }
  }
  return Next::done;
}

// RFC 6672 §2.2/§3.2: the DNAME, a CNAME synthesized from it with the
// DNAME's TTL, then the lookup goes on at the new name. A substituted name
// longer than 255 octets is YXDOMAIN.
Resolver::Next Resolver::answer_dname(const ZoneRef& z, const NameKey& key,
                                      const wire::Name& name, size_t owner_labels,
                                      const NodeView& node) noexcept {
  const RRsetView* dname = node.find(T::DNAME);
  const wire::Name* owner = r_.keep(name.strip_left(name.label_count() - owner_labels));
  if (!dname || !owner) return Next::done;
  last_apex_ = nullptr;  // the chain goes on from a DNAME, not from zone data
  // A chain that passes the same DNAME twice shows it once.
  if (!r_.answer.contains(*owner, T::DNAME)) {
    add(r_.answer, z, key.prefix(owner_labels), owner, *dname, dname->ttl);
  }
  auto it = dname->begin();
  if (it == dname->end()) return Next::done;
  auto target = wire::rdata_target(T::DNAME, *it);
  if (!target) return Next::done;
  auto substituted = name.replace_suffix(*owner, *target);
  if (!substituted) {
    r_.rcode = wire::rcode::YXDOMAIN;
    return Next::done;
  }
  const wire::Name* cname_owner = &name;
  next_ = r_.keep(*substituted);
  RRsetView cname;
  if (!next_ || !r_.synthesize(T::CNAME, dname->rclass, dname->ttl, next_->wire(), cname)) {
    return Next::done;
  }
  r_.spells_query_name = true;
  r_.answer.push(cname_owner, cname, dname->ttl);
  // A query for the CNAME itself is answered by the synthesized CNAME; the
  // chain is followed only for other types (RFC 1034 §4.3.2 step 3a).
  if (qtype_ == T::CNAME) {
    ended_at_synthesized_cname_ = true;
    return Next::done;
  }
  return Next::follow;
}

// RFC 2308 §2.2: NODATA is NOERROR with the zone's SOA in authority.
void Resolver::answer_nodata(const ZoneRef& z, const NameKey& key,
                             const wire::Name& name) noexcept {
  add_negative_soa(z, key, name);
  if (!dnssec_) return;
  if (wildcard_encloser_ != kNoWildcard) {
    prove_wildcard(z, key, name, wildcard_encloser_, true);
  } else {
    prove_nodata(z, key, name);
  }
}

// RFC 2308 §2.1 (and RFC 6604 for the end of a chain): NXDOMAIN with the SOA.
void Resolver::answer_nxdomain(const ZoneRef& z, const NameKey& key,
                               const wire::Name& name) noexcept {
  r_.rcode = wire::rcode::NXDOMAIN;
  add_negative_soa(z, key, name);
  if (dnssec_) prove_nxdomain(z, key, name);
}

// RFC 2308 §3/§5: the SOA's TTL in a negative answer is min(TTL, MINIMUM).
void Resolver::add_negative_soa(const ZoneRef& z, const NameKey& key,
                                const wire::Name& name) noexcept {
  const RRsetView& soa = z.soa;
  auto it = soa.begin();
  if (it == soa.end()) return;
  uint32_t ttl = soa.ttl;
  if (auto f = wire::soa_fields(*it); f && f->minimum < ttl) ttl = f->minimum;
  const wire::Name* apex = r_.keep(name.strip_left(name.label_count() - z.apex_labels));
  // Its RRSIGs go with the same TTL (RFC 4035 §3.1.3, RFC 2308 §5).
  add(r_.authority, z, key.prefix(z.apex_labels), apex, soa, ttl);
}

// RFC 1035 §3.3.9/§3.3.11, RFC 2782: addresses of MX, NS and SRV targets,
// limited to what the zone holding the RRset says with authority (RFC 2181
// §5.4.1): no data of another hosted zone and none that is occluded. A
// referral's NS RRset gets its glue instead (RFC 9471), which is required
// for servers inside the delegated domain.
void Resolver::add_additional_addresses() noexcept {
  auto from = [&](const auto& section, bool authority) {
    for (size_t i = 0; i < section.count; ++i) {
      const OutRRset& s = section[i];
      if (s.type != T::NS && s.type != T::MX && s.type != T::SRV) continue;
      // An NS RRset in authority below its zone's apex is a referral.
      bool referral = authority && s.type == T::NS && s.owner != apex_ns_owner_;
      for (auto rd : s.rdatas) {
        auto target = wire::rdata_target(s.type, rd);
        if (target && !target->is_root()) add_addresses_for(*s.owner, *target, referral);
      }
    }
  };
  from(r_.answer, false);
  from(r_.authority, true);
}

// Whether the data at `target` is not this zone's to give: below a DNAME,
// or (unless it is a referral's glue) at or below a zone cut.
bool Resolver::hidden_in_zone(const ZoneRef& z, const NameKey& target,
                              bool referral) const noexcept {
  if (!z.has_cuts && !z.has_dnames) return false;
  NodeView node;
  for (size_t n = z.apex_labels; n <= target.labels(); ++n) {
    view_.load_node(z, target.prefix(n), node);
    if (!node.exists()) return false;  // nothing there to hide (or to give)
    if (n < target.labels() && node.find(T::DNAME)) return true;
    if (n > z.apex_labels && node.find(T::NS)) return !referral;
  }
  return false;
}

void Resolver::add_addresses_for(const wire::Name& owner, const wire::Name& target,
                                 bool referral) noexcept {
  for (size_t i = 0; i < r_.additional.count; ++i)
    if (*r_.additional[i].owner == target) return;  // already added
  // The zone holding the RRset: for a referral, the parent of the cut.
  NameKey owner_key(owner);
  ZoneRef z;
  size_t max_labels =
      referral && owner_key.labels() > 0 ? owner_key.labels() - 1 : owner_key.labels();
  if (!view_.find_zone(owner_key, z, max_labels)) return;
  if (target.label_count() < z.apex_labels ||
      !target.is_subdomain_of(owner.strip_left(owner.label_count() - z.apex_labels))) {
    return;  // another zone's name: not ours to vouch for here
  }
  NameKey key(target);
  if (hidden_in_zone(z, key, referral)) return;
  RRsetView a, aaaa;
  // An address RRset the answer section already holds is not repeated.
  bool has_a = view_.get_rrset(z, key.bytes(), T::A, a) && !r_.answer.contains(target, T::A);
  bool has_aaaa =
      view_.get_rrset(z, key.bytes(), T::AAAA, aaaa) && !r_.answer.contains(target, T::AAAA);
  if (!has_a && !has_aaaa) return;
  // RFC 9471 §3.1: glue of a server inside the delegated domain must be sent.
  const bool required = referral && target.is_subdomain_of(owner);
  const wire::Name* kept = r_.keep(target);
  if (has_a) add(r_.additional, z, key.bytes(), kept, a, a.ttl, required);
  if (has_aaaa) add(r_.additional, z, key.bytes(), kept, aaaa, aaaa.ttl, required);
}

}  // namespace raftdns::query
