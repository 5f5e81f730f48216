// DNS code points and their mnemonics.
#include "daemon/wire/types.h"

#include <charconv>
#include <cstring>

namespace raftdns::wire {
namespace {

struct Mnemonic {
  uint16_t code;
  const char* text;
};

// IANA "Resource Record (RR) TYPEs" registry, the assigned data and meta types.
constexpr Mnemonic kTypes[] = {
    {1, "A"},         {2, "NS"},          {3, "MD"},          {4, "MF"},      {5, "CNAME"},
    {6, "SOA"},       {7, "MB"},          {8, "MG"},          {9, "MR"},      {10, "NULL"},
    {11, "WKS"},      {12, "PTR"},        {13, "HINFO"},      {14, "MINFO"},  {15, "MX"},
    {16, "TXT"},      {17, "RP"},         {18, "AFSDB"},      {19, "X25"},    {20, "ISDN"},
    {21, "RT"},       {22, "NSAP"},       {23, "NSAP-PTR"},   {24, "SIG"},    {25, "KEY"},
    {26, "PX"},       {27, "GPOS"},       {28, "AAAA"},       {29, "LOC"},    {30, "NXT"},
    {33, "SRV"},      {35, "NAPTR"},      {36, "KX"},         {37, "CERT"},   {38, "A6"},
    {39, "DNAME"},    {41, "OPT"},        {42, "APL"},        {43, "DS"},     {44, "SSHFP"},
    {45, "IPSECKEY"}, {46, "RRSIG"},      {47, "NSEC"},       {48, "DNSKEY"}, {49, "DHCID"},
    {50, "NSEC3"},    {51, "NSEC3PARAM"}, {52, "TLSA"},       {53, "SMIMEA"}, {55, "HIP"},
    {59, "CDS"},      {60, "CDNSKEY"},    {61, "OPENPGPKEY"}, {62, "CSYNC"},  {63, "ZONEMD"},
    {64, "SVCB"},     {65, "HTTPS"},      {99, "SPF"},        {104, "NID"},   {105, "L32"},
    {106, "L64"},     {107, "LP"},        {108, "EUI48"},     {109, "EUI64"}, {249, "TKEY"},
    {250, "TSIG"},    {251, "IXFR"},      {252, "AXFR"},      {253, "MAILB"}, {254, "MAILA"},
    {255, "ANY"},     {256, "URI"},       {257, "CAA"},       {32768, "TA"},  {32769, "DLV"},
};

constexpr Mnemonic kRcodes[] = {
    {0, "NOERROR"},  {1, "FORMERR"},  {2, "SERVFAIL"},   {3, "NXDOMAIN"}, {4, "NOTIMP"},
    {5, "REFUSED"},  {6, "YXDOMAIN"}, {7, "YXRRSET"},    {8, "NXRRSET"},  {9, "NOTAUTH"},
    {10, "NOTZONE"}, {16, "BADVERS"}, {23, "BADCOOKIE"},
};

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'a' && x <= 'z') x = static_cast<char>(x - 32);
    if (y >= 'a' && y <= 'z') y = static_cast<char>(y - 32);
    if (x != y) return false;
  }
  return true;
}

// Parses the numeric tail of "TYPEnnn"/"CLASSnnn" (decimal, 0..65535).
std::optional<uint16_t> numeric_suffix(std::string_view text, std::string_view prefix) {
  if (text.size() <= prefix.size() || !iequals(text.substr(0, prefix.size()), prefix)) {
    return std::nullopt;
  }
  std::string_view digits = text.substr(prefix.size());
  if (digits.size() > 5) return std::nullopt;
  unsigned v = 0;
  auto [ptr, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), v);
  if (ec != std::errc() || ptr != digits.data() + digits.size() || v > 65535) return std::nullopt;
  return static_cast<uint16_t>(v);
}

}  // namespace

std::string type_to_text(uint16_t type) {
  for (const auto& m : kTypes) {
    if (m.code == type) return m.text;
  }
  return "TYPE" + std::to_string(type);
}

std::optional<uint16_t> type_from_text(std::string_view text) {
  for (const auto& m : kTypes) {
    if (iequals(text, m.text)) return m.code;
  }
  return numeric_suffix(text, "TYPE");
}

std::string class_to_text(uint16_t rclass) {
  switch (rclass) {
    case rrclass::IN:
      return "IN";
    case rrclass::CH:
      return "CH";
    case 4:
      return "HS";
    case rrclass::NONE:
      return "NONE";
    case rrclass::ANY:
      return "ANY";
    default:
      return "CLASS" + std::to_string(rclass);
  }
}

std::string rcode_to_text(uint16_t rcode) {
  for (const auto& m : kRcodes) {
    if (m.code == rcode) return m.text;
  }
  return "RCODE" + std::to_string(rcode);
}

bool has_known_codec(uint16_t type) {
  switch (type) {
    case rrtype::A:
    case rrtype::AAAA:
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::SOA:
    case rrtype::MX:
    case rrtype::TXT:
    case rrtype::PTR:
    case rrtype::SRV:
    case rrtype::CAA:
    case rrtype::DNAME:
    case rrtype::NAPTR:
    case rrtype::SSHFP:
    case rrtype::TLSA:
    case rrtype::SVCB:
    case rrtype::HTTPS:
      return true;
    default:
      return false;
  }
}

}  // namespace raftdns::wire
