// The DNSSEC side of an answer to a DO query, for zones signed elsewhere
// and imported with their signatures (the NSD model): the RRSIGs that go
// with each RRset, and the NSEC or NSEC3 records that prove a name or type
// absent (RFC 4035 §3.1, RFC 5155 §7.2). Nothing here allocates: the
// records are views into the store, found through ReadTxn::nsec_before and
// the NSEC3 hash index.
#include <algorithm>
#include <cstring>
#include <string_view>

#include "daemon/query/resolver.h"
#include "daemon/wire/nsec3.h"
#include "daemon/wire/types.h"

namespace raftdns::query {

namespace T = wire::rrtype;
using store::KeyBuffer;
using store::NameKey;
using store::NodeView;
using store::RRsetView;
using store::ZoneRef;

namespace {

// An NSEC3 or NSEC3PARAM RDATA: hash algorithm u8 | flags u8 | iterations
// u16 | salt length u8 | salt | ... (RFC 5155 §3.2, §4.2).
bool nsec3_parameters(std::span<const uint8_t> rd, uint8_t& algorithm, uint16_t& iterations,
                      std::span<const uint8_t>& salt) noexcept {
  if (rd.size() < 5 || rd.size() < 5u + rd[4]) return false;
  algorithm = rd[0];
  iterations = static_cast<uint16_t>(rd[2] << 8 | rd[3]);
  salt = rd.subspan(5, rd[4]);
  return true;
}

std::string_view chars(std::span<const uint8_t> b) noexcept {
  return {reinterpret_cast<const char*>(b.data()), b.size()};
}

}  // namespace

// The RRSIGs at `owner_key` whose type covered is `covered`. Stored RDATA
// is in canonical order (RFC 4034 §6.3), which sorts RRSIGs by the type
// covered first: those of one type are one run of the packed RDATA, so the
// answer is a view of that run.
bool Resolver::signatures_for(const ZoneRef& z, std::span<const uint8_t> owner_key,
                              uint16_t covered, RRsetView& out) const noexcept {
  RRsetView all;
  if (!view_.get_rrset(z, owner_key, T::RRSIG, all)) return false;
  const uint8_t* first = nullptr;
  const uint8_t* last = nullptr;
  uint16_t count = 0;
  for (auto rd : all) {
    const bool match = rd.size() >= 2 && (rd[0] << 8 | rd[1]) == covered;
    if (match && !first) first = rd.data() - 2;
    if (match) {
      last = rd.data() + rd.size();
      ++count;
    } else if (first) {
      break;
    }
  }
  if (count == 0) return false;
  out = all;
  out.count = count;
  out.packed = {first, static_cast<size_t>(last - first)};
  return true;
}

Resolver::Denial Resolver::denial_of(const ZoneRef& z, const NameKey& key) const noexcept {
  Denial d;
  const auto apex = key.prefix(z.apex_labels);
  RRsetView set;
  // RFC 5155 §4: the NSEC3PARAM at the apex names the chain to answer
  // from; a zone with none is NSEC-signed if its apex has an NSEC.
  if (view_.get_rrset(z, apex, T::NSEC3PARAM, set)) {
    for (auto rd : set) {
      if (nsec3_parameters(rd, d.algorithm, d.iterations, d.salt) &&
          d.algorithm == wire::kNsec3Sha1 && rd[1] == 0) {
        d.kind = Denial::nsec3;
        return d;
      }
    }
  }
  if (view_.get_rrset(z, apex, T::NSEC, set)) d.kind = Denial::nsec;
  return d;
}

// The deepest existing ancestor of `key` with at most `from` labels.
size_t Resolver::closest_encloser(const ZoneRef& z, const NameKey& key,
                                  size_t from) const noexcept {
  NodeView node;
  for (size_t n = from; n > z.apex_labels; --n) {
    view_.load_node(z, key.prefix(n), node);
    if (node.exists()) return n;
  }
  return z.apex_labels;
}

// An NSEC or NSEC3 RRset for the authority section, once, with its RRSIGs.
void Resolver::add_denial(const ZoneRef& z, std::span<const uint8_t> owner_key,
                          const RRsetView& rrset) noexcept {
  auto owner = wire::Name::from_canonical_key(chars(owner_key));
  if (!owner || r_.authority.contains(*owner, rrset.type)) return;
  add(r_.authority, z, owner_key, r_.keep(*owner), rrset, rrset.ttl);
}

bool Resolver::add_nsec_at(const ZoneRef& z, std::span<const uint8_t> owner_key) noexcept {
  RRsetView nsec;
  if (!view_.get_rrset(z, owner_key, T::NSEC, nsec)) return false;
  add_denial(z, owner_key, nsec);
  return true;
}

void Resolver::add_nsec_covering(const ZoneRef& z, std::span<const uint8_t> name_key) noexcept {
  KeyBuffer owner;
  RRsetView nsec;
  if (view_.nsec_before(z, name_key, owner, nsec)) add_denial(z, owner.span(), nsec);
}

// The NSEC3 of the zone's chain that matches `name` (`match`), or that
// covers it: the one with the nearest hash below the name's. Returns
// whether one was found (and added). NSEC3 records of another chain (other
// parameters, as during a change of salt) are passed over.
bool Resolver::add_nsec3(const ZoneRef& z, const NameKey& key, const Denial& d,
                         const wire::Name& name, bool match) noexcept {
  constexpr size_t kMaxOtherChains = 8;
  uint8_t hash[wire::kNsec3HashSize];
  wire::nsec3_hash(name, d.salt, d.iterations, hash);
  const auto zone_key = key.prefix(z.apex_labels);
  uint8_t found[store::kMaxNsec3Hash];
  std::span<const uint8_t> from(hash, sizeof hash);
  bool strict = !match;
  for (size_t tries = 0; tries < kMaxOtherChains; ++tries) {
    const size_t n = view_.nsec3_at_or_before(z, zone_key, from, strict, found);
    if (n == 0) return false;
    const bool same = n == sizeof hash && std::memcmp(found, hash, n) == 0;
    if (match && !same) return false;
    // The owner: the hash in base32hex, one label below the apex.
    KeyBuffer owner;
    owner.append(zone_key);
    char label[wire::base32hex_encoded_size(store::kMaxNsec3Hash)];
    const size_t len = wire::base32hex_encode({found, n}, label);
    owner.append({reinterpret_cast<const uint8_t*>(label), len});
    owner.push(0);
    RRsetView nsec3;
    if (view_.get_rrset(z, owner.span(), T::NSEC3, nsec3)) {
      for (auto rd : nsec3) {
        uint8_t algorithm = 0;
        uint16_t iterations = 0;
        std::span<const uint8_t> salt;
        if (nsec3_parameters(rd, algorithm, iterations, salt) && algorithm == d.algorithm &&
            iterations == d.iterations && salt.size() == d.salt.size() &&
            std::equal(salt.begin(), salt.end(), d.salt.begin())) {
          add_denial(z, owner.span(), nsec3);
          return true;
        }
      }
    }
    if (match) return false;
    // Another chain's record: keep walking down this one's hashes.
    std::memcpy(hash, found, std::min(n, sizeof hash));
    from = {hash, std::min(n, sizeof hash)};
    strict = true;
  }
  return false;
}

// RFC 5155 §7.2.1: the closest provable encloser of `name`, searched from
// its ancestor with `from` labels upwards: the NSEC3 matching it, and the
// one covering the next closer name (when the encloser is not the name
// itself). Returns the encloser's label count.
size_t Resolver::add_closest_encloser_proof(const ZoneRef& z, const NameKey& key,
                                            const Denial& d, const wire::Name& name,
                                            size_t from) noexcept {
  const size_t labels = name.label_count();
  for (size_t n = from;; --n) {
    if (add_nsec3(z, key, d, name.strip_left(labels - n), true)) {
      if (n < labels) add_nsec3(z, key, d, name.strip_left(labels - n - 1), false);
      return n;
    }
    if (n <= z.apex_labels) return z.apex_labels;
  }
}

// RFC 4035 §3.1.3.2 and RFC 5155 §7.2.2: no such name, and no wildcard at
// its closest encloser that could have answered.
void Resolver::prove_nxdomain(const ZoneRef& z, const NameKey& key,
                              const wire::Name& name) noexcept {
  const Denial d = denial_of(z, key);
  if (d.kind == Denial::none) return;
  size_t ce = closest_encloser(z, key, key.labels() - 1);
  if (d.kind == Denial::nsec3) ce = add_closest_encloser_proof(z, key, d, name, ce);
  KeyBuffer wildcard;
  wildcard.append(key.prefix(ce));
  wildcard.push('*');
  wildcard.push(0);
  if (d.kind == Denial::nsec) {
    add_nsec_covering(z, key.bytes());
    add_nsec_covering(z, wildcard.span());
    return;
  }
  auto star = name.strip_left(name.label_count() - ce).wildcard_child();
  if (star) add_nsec3(z, key, d, *star, false);
}

// RFC 4035 §3.1.3.1 and RFC 5155 §7.2.3/§7.2.4: the name exists without
// the type. An empty non-terminal has no NSEC, so the NSEC that covers it
// speaks for it; in an opt-out NSEC3 zone, a DS query at an insecure
// delegation without its own NSEC3 gets the closest provable encloser.
void Resolver::prove_nodata(const ZoneRef& z, const NameKey& key,
                            const wire::Name& name) noexcept {
  const Denial d = denial_of(z, key);
  if (d.kind == Denial::nsec) {
    if (!add_nsec_at(z, key.bytes())) add_nsec_covering(z, key.bytes());
  } else if (d.kind == Denial::nsec3) {
    add_closest_encloser_proof(z, key, d, name, key.labels());
  }
}

// RFC 4035 §3.1.3.3/§3.1.3.4 and RFC 5155 §7.2.5/§7.2.6: an answer made
// from the wildcard below `encloser` proves that no closer name exists;
// a wildcard without the type also shows the wildcard's own types.
void Resolver::prove_wildcard(const ZoneRef& z, const NameKey& key, const wire::Name& name,
                              size_t encloser, bool nodata) noexcept {
  const Denial d = denial_of(z, key);
  if (d.kind == Denial::none) return;
  KeyBuffer wildcard;
  wildcard.append(key.prefix(encloser));
  wildcard.push('*');
  wildcard.push(0);
  const size_t labels = name.label_count();
  if (d.kind == Denial::nsec) {
    add_nsec_covering(z, key.bytes());
    if (nodata) add_nsec_at(z, wildcard.span());
    return;
  }
  if (nodata) {
    // The closest encloser proof, then the wildcard's NSEC3.
    add_closest_encloser_proof(z, key, d, name, encloser);
    auto star = name.strip_left(labels - encloser).wildcard_child();
    if (star) add_nsec3(z, key, d, *star, true);
  } else if (encloser < labels) {
    add_nsec3(z, key, d, name.strip_left(labels - encloser - 1), false);
  }
}

// RFC 4035 §3.1.4.1 and RFC 5155 §7.2.7: a referral to an unsigned child.
// NSEC: the NSEC at the cut, whose bitmap has NS and no DS. NSEC3: the
// NSEC3 matching the cut, or in an opt-out zone the closest provable
// encloser with an opt-out NSEC3 covering the next closer name.
void Resolver::prove_no_ds(const ZoneRef& z, const NameKey& key, const wire::Name& name,
                           size_t cut_labels) noexcept {
  const Denial d = denial_of(z, key);
  if (d.kind == Denial::nsec) {
    add_nsec_at(z, key.prefix(cut_labels));
  } else if (d.kind == Denial::nsec3) {
    add_closest_encloser_proof(z, key, d, name.strip_left(name.label_count() - cut_labels),
                               cut_labels);
  }
}

}  // namespace raftdns::query
