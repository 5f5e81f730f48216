// Classifying responses into the per-worker DNS counters.
#include "daemon/server/dns_metrics.h"

namespace raftdns::server {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeOpt = 41;

struct QtypeName {
  uint16_t type;
  std::string_view name;
};
// Ordered as the slots; OTHER and NONE are the last two.
constexpr std::array<QtypeName, kQtypeSlots - 2> kQtypes = {{
    {1, "A"},       {2, "NS"},      {5, "CNAME"},  {6, "SOA"},   {12, "PTR"},   {13, "HINFO"},
    {15, "MX"},     {16, "TXT"},    {28, "AAAA"},  {29, "LOC"},  {33, "SRV"},   {35, "NAPTR"},
    {43, "DS"},     {46, "RRSIG"},  {47, "NSEC"},  {48, "DNSKEY"}, {50, "NSEC3"}, {52, "TLSA"},
    {64, "SVCB"},   {65, "HTTPS"},  {251, "IXFR"}, {252, "AXFR"}, {255, "ANY"},  {257, "CAA"},
}};

constexpr std::array<std::string_view, kRcodeSlots> kRcodes = {
    "NOERROR",  "FORMERR",  "SERVFAIL", "NXDOMAIN", "NOTIMP",   "REFUSED",
    "YXDOMAIN", "YXRRSET",  "NXRRSET",  "NOTAUTH",  "NOTZONE",  "DSOTYPENI",
    "RCODE12",  "RCODE13",  "RCODE14",  "RCODE15",  "BADVERS",  "OTHER"};

// qtype -> slot for the types below 258, built once at compile time.
constexpr std::array<uint8_t, 258> kSlotOf = [] {
  std::array<uint8_t, 258> table{};
  for (auto& s : table) s = static_cast<uint8_t>(kQtypeOther);
  for (size_t i = 0; i < kQtypes.size(); ++i) table[kQtypes[i].type] = static_cast<uint8_t>(i);
  return table;
}();

uint16_t read_u16(std::span<const uint8_t> m, size_t at) noexcept {
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

// Offset just past the uncompressed name at `at` (the engine writes the
// question name first, so it is never compressed), or 0 if it runs out.
size_t skip_question_name(std::span<const uint8_t> m, size_t at) noexcept {
  while (at < m.size()) {
    const uint8_t len = m[at];
    if (len == 0) return at + 1;
    if (len & 0xc0) return at + 2 <= m.size() ? at + 2 : 0;
    at += 1 + len;
  }
  return 0;
}

}  // namespace

std::string_view protocol_label(size_t protocol) noexcept { return protocol == 0 ? "udp" : "tcp"; }

std::string_view qtype_label(size_t slot) noexcept {
  if (slot < kQtypes.size()) return kQtypes[slot].name;
  return slot == kQtypeOther ? "OTHER" : "NONE";
}

size_t qtype_slot(uint16_t qtype) noexcept {
  return qtype < kSlotOf.size() ? kSlotOf[qtype] : kQtypeOther;
}

std::string_view rcode_label(size_t slot) noexcept {
  return slot < kRcodes.size() ? kRcodes[slot] : kRcodes.back();
}

void count_response(DnsMetrics& m, DnsProtocol protocol,
                    std::span<const uint8_t> response) noexcept {
  if (response.size() < kHeader) return;
  const size_t p = static_cast<size_t>(protocol);
  size_t rcode = response[3] & 0x0f;
  size_t qslot = kQtypeNone;
  if (read_u16(response, 4) == 1) {
    const size_t end = skip_question_name(response, kHeader);
    if (end != 0 && end + 4 <= response.size()) {
      qslot = qtype_slot(read_u16(response, end));
      // ancount == nscount == 0 and an additional record: an OPT there may
      // carry the upper eight bits of the rcode (RFC 6891 §6.1.3).
      const size_t opt = end + 4;
      if (read_u16(response, 6) == 0 && read_u16(response, 8) == 0 &&
          read_u16(response, 10) > 0 && opt + 11 <= response.size() && response[opt] == 0 &&
          read_u16(response, opt + 1) == kTypeOpt) {
        rcode |= size_t{response[opt + 5]} << 4;
      }
    }
  }
  if (rcode >= kRcodeSlots - 1) rcode = kRcodeSlots - 1;
  DnsMetrics::bump(m.responses[p][qslot][rcode]);
  if (response[2] & 0x02) DnsMetrics::bump(m.truncated[p]);
}

}  // namespace raftdns::server
