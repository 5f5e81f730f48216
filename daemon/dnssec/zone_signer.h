// Whole-zone signing as a pure function: unsigned records plus keys and a
// policy in, the signed zone out (DNSKEY, NSEC3 chain with NSEC3PARAM, CDS
// and CDNSKEY on request, RRSIGs). No clock and no randomness, so every node
// of the cluster that runs it on the same input produces the same bytes.
//
// Which RRsets are signed and which names get NSEC3s follows RFC 4035 §2 and
// RFC 5155 §7.1: the apex and every authoritative name, empty non-terminals
// included; at a delegation point only DS is signed and the NSEC3 is omitted
// under opt-out when there is no DS; names below a delegation are neither
// signed nor hashed. Hashing uses RFC 9276's parameters unless told
// otherwise.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

#include "common/result.h"
#include "daemon/dnssec/key.h"
#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"

namespace raftdns::dnssec {

struct ZoneKey {
  KeyPair key;
  bool published = true;     // its DNSKEY is in the apex DNSKEY RRset
  bool signs_keys = false;   // signs DNSKEY, CDS and CDNSKEY (the KSK role)
  bool signs_zone = false;   // signs every other RRset (the ZSK role)
  bool publish_cds = false;  // a CDS and CDNSKEY for it go in the apex
};

struct SigningPolicy {
  uint32_t inception = 0;   // seconds since the epoch (RFC 4034 §3.1.5)
  uint32_t expiration = 0;  // latest expiration; see jitter
  // Each RRSIG expires up to `jitter` seconds before `expiration`, by an
  // amount derived from its owner and type, so renewals spread out.
  uint32_t jitter = 0;
  uint32_t dnskey_ttl = 3600;
  bool nsec3_optout = false;
  uint16_t nsec3_iterations = 0;
  std::vector<uint8_t> nsec3_salt;
};

// True for the types the signer owns and rebuilds: RRSIG, NSEC, NSEC3 and
// NSEC3PARAM. Records of these types in the input are dropped.
bool is_signer_managed_type(uint16_t type) noexcept;

// The expiration a policy gives to the RRSIG over (owner, type).
uint32_t rrsig_expiration(const SigningPolicy& policy, const wire::Name& owner,
                          uint16_t type) noexcept;

// Where a name stands in its zone, for what gets signed and hashed there.
enum class NodeKind {
  kAuthoritative,  // the apex or a name with authoritative data (or none: an empty non-terminal)
  kDelegation,     // NS below the apex: only DS is signed
  kOccluded,       // strictly below a delegation: neither signed nor hashed
};

// Whether the RRset of `type` at a name of `kind` is signed (RFC 4035 §2.2).
bool is_signed_rrset(NodeKind kind, uint16_t type) noexcept;

// The NSEC3 type bitmap for a name holding `types`: those types, plus RRSIG
// when any of them is signed. Empty for an empty non-terminal.
std::vector<uint8_t> nsec3_bitmap(NodeKind kind, std::span<const uint16_t> types);

// True when a name of `kind` holding `types` gets an NSEC3 (RFC 5155 §7.1):
// occluded names never, an insecure delegation not under opt-out.
bool has_nsec3(NodeKind kind, std::span<const uint16_t> types, bool optout) noexcept;

// The RRSIGs (RDATA) over one RRset, one per key whose role covers it: the
// apex DNSKEY, CDS and CDNSKEY RRsets by the keys that sign keys, every
// other RRset by the keys that sign the zone. The caller has checked
// is_signed_rrset().
Result<std::vector<std::vector<uint8_t>>> sign_rrset(const wire::Name& apex,
                                                     std::span<const ZoneKey> keys,
                                                     const SigningPolicy& policy,
                                                     const wire::Name& owner, uint16_t type,
                                                     uint16_t rclass, uint32_t ttl,
                                                     std::span<const std::vector<uint8_t>> rdatas);

// Signs the zone `apex` made of `records` (which must lie at or below the
// apex and include the SOA). Needs at least one key in each role; a CSK has
// both. Returns every record of the signed zone sorted by owner in canonical
// order, then type (RRSIGs among themselves by the type they cover).
Result<std::vector<wire::Record>> sign_zone(const wire::Name& apex,
                                            std::span<const wire::Record> records,
                                            std::span<const ZoneKey> keys,
                                            const SigningPolicy& policy);

}  // namespace raftdns::dnssec
