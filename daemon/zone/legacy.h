// Record types that older master files use and NSD and BIND read, but
// libzscanner does not: rewritten, before scanning, into text it reads.
// Internal to the zone library.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "common/result.h"

namespace raftdns::zone::detail {

// What a rewritten line stands for: the record read from it gets `type`
// instead of its carrier's, after a check of its character-string count.
struct LegacyRecord {
  uint16_t type = 0;
  uint8_t min_strings = 0, max_strings = 0;  // 0/0: the RDATA is not strings
};

// Rewrites the records of these types in `text` (one master file, without
// its $INCLUDEs), keeping every line where it was so that errors still name
// the right line:
//  - WKS (RFC 1035 §3.4.2; protocol tcp, udp or a number; services by number
//    or by their /etc/services name) and NSAP (RFC 1706 §5, "0x" and hex)
//    become their RFC 3597 generic form;
//  - MD, MF, MB, MG, MR and NSAP-PTR (one domain name) are read as PTR, and
//    X25, ISDN and GPOS (character-strings) as TXT, then retyped by line
//    through `retype`.
// Fails with "SOURCE:LINE: reason" on RDATA of these types that is bad.
Result<std::string> rewrite_legacy_types(std::string_view text, const std::string& source,
                                         std::map<uint64_t, LegacyRecord>& retype);

}  // namespace raftdns::zone::detail
