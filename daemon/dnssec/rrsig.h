// RRSIG creation and verification over the canonical form of an RRset
// (RFC 4034 §3.1.8.1 and §6, with the type list corrected by RFC 6840 §5.1).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "common/result.h"
#include "daemon/dnssec/key.h"
#include "daemon/wire/name.h"

namespace raftdns::dnssec {

inline constexpr uint16_t kTypeDs = 43, kTypeRrsig = 46, kTypeNsec = 47, kTypeDnskey = 48,
                          kTypeNsec3 = 50, kTypeNsec3param = 51, kTypeCds = 59, kTypeCdnskey = 60;

// RDATA in canonical form: the embedded domain names of the RFC 4034 §6.2
// item 3 types (NS, CNAME, SOA, PTR, MX, SRV, NAPTR, DNAME, RP, AFSDB, ...)
// lowercased. Other types, and malformed RDATA, are returned unchanged.
std::vector<uint8_t> canonical_rdata(uint16_t type, std::span<const uint8_t> rdata);

// The RRSIG RDATA fields other than the signature.
struct RrsigFields {
  uint16_t type_covered = 0;
  uint8_t algorithm = 0;
  uint8_t labels = 0;
  uint32_t original_ttl = 0;
  uint32_t expiration = 0;
  uint32_t inception = 0;
  uint16_t key_tag = 0;
  wire::Name signer;
};

// The Labels field for an owner: its label count, not counting a leading
// wildcard label (RFC 4034 §3.1.3).
uint8_t rrsig_labels(const wire::Name& owner) noexcept;

// One RRset as the signer sees it: every RR shares owner, type, class, TTL.
struct RRsetView {
  const wire::Name& owner;
  uint16_t type;
  uint16_t rclass;
  uint32_t ttl;
  std::span<const std::vector<uint8_t>> rdatas;
};

// RRSIG RDATA fields || RR(1) || RR(2) ... in canonical order, duplicates
// dropped (RFC 4034 §3.1.8.1). The owner is rewritten to the wildcard that
// `fields.labels` implies when the owner has more labels.
std::vector<uint8_t> signature_input(const RrsigFields& fields, const RRsetView& rrset);

// A complete RRSIG RDATA over `rrset`, signed by `key` for zone `signer`.
Result<std::vector<uint8_t>> make_rrsig(const KeyPair& key, uint16_t tag, const wire::Name& signer,
                                        const RRsetView& rrset, uint32_t inception,
                                        uint32_t expiration);

// Splits RRSIG RDATA into its fields and signature; nullopt if malformed.
std::optional<RrsigFields> parse_rrsig(std::span<const uint8_t> rdata,
                                       std::span<const uint8_t>* signature = nullptr);

// Checks an RRSIG against the RRset and a DNSKEY RDATA: type, algorithm, key
// tag, labels and the signature itself. Time validity is the caller's (it
// passes `now` in seconds since the epoch, compared with RFC 1982 arithmetic
// as RFC 4034 §3.1.5 asks).
Status verify_rrsig(const RRsetView& rrset, std::span<const uint8_t> rrsig_rdata,
                    std::span<const uint8_t> dnskey_rdata, uint32_t now);

}  // namespace raftdns::dnssec
