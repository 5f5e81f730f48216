// A signed zone's self-check: every RRset that must be signed carries a
// valid RRSIG for each algorithm of the apex DNSKEY RRset (RFC 4035 §2.2),
// and the NSEC3 chain names exactly the zone's hashed names with the right
// type bitmaps, in one closed loop (RFC 5155 §7.1). For tests and for a
// node to check what it built; dnssec-verify and ldns-verify-zone check the
// same from outside.
#pragma once

#include <cstdint>
#include <span>

#include "common/result.h"
#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"

namespace raftdns::dnssec {

// The first problem found, naming the owner and type; `now` is the time the
// signatures must be valid at (seconds since the epoch).
Status check_signed_zone(const wire::Name& apex, std::span<const wire::Record> records,
                         uint32_t now);

}  // namespace raftdns::dnssec
