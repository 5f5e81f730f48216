// Zones: master-file import (via libzscanner), export, and the checks a zone must pass.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"

namespace raftdns::zone {

struct ParsedZone {
  wire::Name origin;
  std::vector<wire::Record> records;
};

// Imports a master file (RFC 1035 §5: $ORIGIN, $TTL, $INCLUDE, relative
// names, parentheses, escapes). Errors read "FILE:LINE: reason"; inside an
// included file they name that file and its line. The whole file is
// rejected on the first error, then validate_zone() runs on the result.
// Exact duplicate records are dropped (RFC 2181 §5).
Result<ParsedZone> load_zone_file(const std::string& path, const wire::Name& origin,
                                  uint32_t default_ttl = 3600);
Result<ParsedZone> load_zone_text(std::string_view text, const wire::Name& origin,
                                  const std::string& source_name = "<input>",
                                  uint32_t default_ttl = 3600);

// Checks, in record order, reporting the first failure:
//  - every record is class IN, at or below `origin`, with well-formed RDATA;
//  - exactly one SOA, at the apex;
//  - below a zone cut (NS not at the apex) only glue A/AAAA; at the cut only
//    NS, DS, glue, RRSIG and NSEC;
//  - CNAME does not share its owner with other data (RFC 1034 §3.6.2; RRSIG
//    and NSEC exempt), and there is at most one CNAME and one DNAME per owner;
//  - nothing lies below a DNAME (RFC 6672 §2.3).
// Messages name the offending record.
Status validate_zone(const wire::Name& origin, const std::vector<wire::Record>& records);

// Parses one presentation line "name [ttl] [class] type rdata" through the
// same libzscanner path as zone files. Relative names complete with `origin`
// (without one, names are absolute). Directives ($INCLUDE, ...) are refused.
Result<wire::Record> parse_record(std::string_view line, const wire::Name* origin = nullptr,
                                  uint32_t default_ttl = 3600);

// A master file that load_zone_text() imports back to the same records:
// an $ORIGIN line, the SOA first, then the other records in canonical order.
std::string export_zone(const wire::Name& origin, const std::vector<wire::Record>& records);

}  // namespace raftdns::zone
