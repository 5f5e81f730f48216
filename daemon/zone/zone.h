// Zones: master-file import (via libzscanner), export, and the checks a zone must pass.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <span>
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
  // One line each, for the operator (occluded data, clamped or mixed TTLs).
  std::vector<std::string> warnings;
  // Positions in `records` of the RRsets whose TTL is not the one they get
  // when their records (as parsed, duplicates included) are merged in file
  // order with the last one's TTL holding, as the store merges them. A
  // streamed load (LoadStream) sends these again at its end.
  std::vector<uint32_t> restated;
};

// A streamed load: `sink` gets the records in file order, in batches of
// about `batch`, as they are parsed, before the whole-file steps (duplicate
// removal, the RRset TTL rule, validate_zone) that decide the result. It
// runs on the loading thread; returning false stops the load, which then
// fails ("stopped"). A load that fails may have handed on records first.
struct LoadStream {
  size_t batch = 5000;
  std::function<bool(std::span<const wire::Record>)> sink;
};

// Imports a master file (RFC 1035 §5: $ORIGIN, $TTL, $INCLUDE, relative
// names, parentheses, escapes). Errors read "FILE:LINE: reason"; inside an
// included file they name that file and its line. The whole file is
// rejected on the first error, then validate_zone() runs on the result.
// Exact duplicate records are dropped (RFC 2181 §5). TTLs above 2^31-1 are
// clamped to it (RFC 2181 §8, as NSD does), and the records of an RRset
// given different TTLs all get the lowest (RFC 2181 §5.2); each of these,
// and occluded data, adds one warning line for the zone.
Result<ParsedZone> load_zone_file(const std::string& path, const wire::Name& origin,
                                  uint32_t default_ttl = 3600,
                                  const LoadStream* stream = nullptr);
Result<ParsedZone> load_zone_text(std::string_view text, const wire::Name& origin,
                                  const std::string& source_name = "<input>",
                                  uint32_t default_ttl = 3600);

// Checks, in record order, reporting the first failure:
//  - every record is class IN, at or below `origin`, with well-formed RDATA
//    of a type that can be zone data;
//  - exactly one SOA, at the apex;
//  - CNAME does not share its owner with other data (RFC 1034 §3.6.2; RRSIG
//    and NSEC exempt), and there is at most one CNAME and one DNAME per owner.
// Messages name the offending record. These are the rules the store's apply
// enforces for `dnsadm add` and `batch` as well, so all doors agree.
//
// Occluded data (see occlusion_of) is accepted, as NSD, Knot, BIND and
// PowerDNS accept it: it is kept and exported, and the answer engine never
// serves it. When `warnings` is given, one line per zone is added that gives
// the count of occluded records and their first few owners.
Status validate_zone(const wire::Name& origin, const std::vector<wire::Record>& records,
                     std::vector<std::string>* warnings = nullptr);

// Why a record is occluded: the cut (NS below the apex) or DNAME that hides it.
struct Occlusion {
  wire::Name by;
  uint16_t type;  // NS or DNAME
};
// Whether a record of `type` at `owner` in zone `origin` is occluded, given
// `has(name, NS|DNAME)` for the names of the zone:
//  - anything below a DNAME (RFC 6672 §2.3);
//  - anything below a zone cut but glue (A, AAAA; RFC 1034 §4.2.1);
//  - at a zone cut, anything but NS, DS, glue, RRSIG and NSEC (that data
//    belongs to the child zone).
// The first cut or DNAME from the apex down decides.
std::optional<Occlusion> occlusion_of(const wire::Name& origin, const wire::Name& owner,
                                      uint16_t type,
                                      const std::function<bool(const wire::Name&, uint16_t)>& has);
// The one warning line for a zone's occluded records: count and first owners.
std::string occlusion_warning(const wire::Name& origin,
                              const std::vector<const wire::Record*>& occluded);

// Parses one presentation line "name [ttl] [class] type rdata" through the
// same libzscanner path as zone files. Relative names complete with `origin`
// (without one, names are absolute). Directives ($INCLUDE, ...) are refused.
// A TTL above 2^31-1 is clamped to it (RFC 2181 §8), with a warning.
Result<wire::Record> parse_record(std::string_view line, const wire::Name* origin = nullptr,
                                  uint32_t default_ttl = 3600,
                                  std::vector<std::string>* warnings = nullptr);

// The RDATA text for a record whose value an operator typed as separate
// words (dnsadm add/remove arguments, or a batch line split by split_words),
// so that what was typed is stored exactly, or refused with a reason:
//  - TXT and SPF: a word that starts with '"' is in master-file form, one or
//    more quoted strings with \X and \DDD escapes and nothing outside the
//    quotes; any other word is literal text, ';', '"' and '\' included.
//    Each word is one value; a value longer than 255 octets is split into
//    255-octet strings, which readers join again (RFC 7208 §3.3, RFC 6376
//    §3.6.2.2, DKIM keys).
//  - other types: the words joined by blanks; a ';' outside quotes, which
//    would start a comment and cut the value, is refused.
Result<std::string> rdata_text_from_words(uint16_t type, const std::vector<std::string>& words);
// Splits text at blanks outside double quotes; quotes and escapes are kept
// in the words. An unterminated quote is an error.
Result<std::vector<std::string>> split_words(std::string_view text);

// A master file that load_zone_text() imports back to the same records:
// an $ORIGIN line, the SOA first, then the other records in canonical order.
std::string export_zone(const wire::Name& origin, const std::vector<wire::Record>& records);

}  // namespace raftdns::zone
