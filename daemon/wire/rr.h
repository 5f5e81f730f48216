// Resource records: the in-memory form shared by zone, store, query and control.
//
// RDATA is always held in uncompressed wire form. Names inside RDATA keep
// their case; comparisons lowercase them where the RFCs say so.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/wire/name.h"
#include "daemon/wire/types.h"

namespace raftdns::wire {

struct Record {
  Name owner;
  uint16_t type = 0;
  uint16_t rclass = rrclass::IN;
  uint32_t ttl = 0;
  std::vector<uint8_t> rdata;

  friend bool operator==(const Record&, const Record&) = default;
};

// Checks that `rdata` is well-formed for `type` (names parse, fixed fields
// have their length, strings fit). Unknown types accept any bytes.
Status validate_rdata(uint16_t type, std::span<const uint8_t> rdata);

// RDATA in presentation form (RFC 1035 §5.1 and each type's RFC). Types
// without a codec use the RFC 3597 "\# len hex" form. Never fails: malformed
// RDATA of a known type falls back to the RFC 3597 form.
std::string rdata_to_text(uint16_t type, std::span<const uint8_t> rdata);

// "owner TTL CLASS TYPE rdata" on one line, owner absolute.
std::string record_to_text(const Record& rr);

// The name an RR points at, for additional-section processing and chains:
// NS nsdname, MX exchange, SRV target, CNAME/DNAME target, PTR. nullopt
// for other types or malformed RDATA.
std::optional<Name> rdata_target(uint16_t type, std::span<const uint8_t> rdata);

// For SOA RDATA: the serial and minimum fields, and a copy with a new serial.
struct SoaFields {
  uint32_t serial, refresh, retry, expire, minimum;
};
std::optional<SoaFields> soa_fields(std::span<const uint8_t> rdata);
std::vector<uint8_t> soa_with_serial(std::span<const uint8_t> rdata, uint32_t serial);

// RFC 1982 serial arithmetic: the next serial after `s` (skipping 0 is not
// required; s+1 mod 2^32).
inline uint32_t serial_next(uint32_t s) { return s + 1u; }
// True when a > b in RFC 1982 sense.
inline bool serial_gt(uint32_t a, uint32_t b) {
  return a != b && ((a > b && a - b < 0x80000000u) || (a < b && b - a > 0x80000000u));
}

}  // namespace raftdns::wire
