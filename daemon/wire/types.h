// DNS code points: RR types, classes, opcodes and rcodes, with their mnemonics.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace raftdns::wire {

namespace rrtype {
inline constexpr uint16_t A = 1, NS = 2, CNAME = 5, SOA = 6, PTR = 12, HINFO = 13, MX = 15,
                          TXT = 16, AAAA = 28, SRV = 33, NAPTR = 35, DNAME = 39, OPT = 41,
                          SSHFP = 44, TLSA = 52, SVCB = 64, HTTPS = 65, IXFR = 251, AXFR = 252,
                          ANY = 255, CAA = 257;
// DNSSEC (RFC 4034, RFC 5155).
inline constexpr uint16_t DS = 43, RRSIG = 46, NSEC = 47, DNSKEY = 48, NSEC3 = 50,
                          NSEC3PARAM = 51;
}  // namespace rrtype

namespace rrclass {
inline constexpr uint16_t IN = 1, CH = 3, NONE = 254, ANY = 255;
}

namespace opcode {
inline constexpr uint8_t QUERY = 0, IQUERY = 1, STATUS = 2, NOTIFY = 4, UPDATE = 5;
}

namespace rcode {
// Values above 15 need EDNS: the high 8 bits go in the OPT TTL.
inline constexpr uint16_t NOERROR = 0, FORMERR = 1, SERVFAIL = 2, NXDOMAIN = 3, NOTIMP = 4,
                          REFUSED = 5, YXDOMAIN = 6, YXRRSET = 7, NXRRSET = 8, NOTAUTH = 9,
                          NOTZONE = 10, BADVERS = 16;
}  // namespace rcode

// "A", "AAAA", ... or "TYPE12345" (RFC 3597 §5) for types without a mnemonic.
std::string type_to_text(uint16_t type);
// Accepts mnemonics case-insensitively and the TYPEnnn form.
std::optional<uint16_t> type_from_text(std::string_view text);

std::string class_to_text(uint16_t rclass);  // "IN", "CH", or "CLASSnnn"
std::string rcode_to_text(uint16_t rcode);   // "NOERROR", "NXDOMAIN", ...

// True for the types whose RDATA has its own codec and presentation here
// (A, AAAA, NS, CNAME, SOA, MX, TXT, PTR, SRV, CAA, DNAME, NAPTR, SSHFP, TLSA,
// SVCB, HTTPS). Every other type is opaque RFC 3597 data.
bool has_known_codec(uint16_t type);

// False for the code points that can never be zone data: type 0, OPT
// (RFC 6891 §6.1.1) and the QTYPE-only range TKEY..ANY (249-255).
constexpr bool is_storable_type(uint16_t type) {
  return type != 0 && type != rrtype::OPT && !(type >= 249 && type <= 255);
}

}  // namespace raftdns::wire
