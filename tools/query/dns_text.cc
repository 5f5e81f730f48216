// Mnemonic tables and presentation escaping for raftdns-query.
#include "tools/query/dns_text.h"

#include <array>
#include <charconv>
#include <utility>

namespace raftdns::query_tool {
namespace {

struct Mnemonic {
  uint16_t value;
  std::string_view text;
};

constexpr std::array kTypes{
    Mnemonic{1, "A"},      Mnemonic{2, "NS"},          Mnemonic{5, "CNAME"},
    Mnemonic{6, "SOA"},    Mnemonic{12, "PTR"},        Mnemonic{13, "HINFO"},
    Mnemonic{15, "MX"},    Mnemonic{16, "TXT"},        Mnemonic{28, "AAAA"},
    Mnemonic{33, "SRV"},   Mnemonic{35, "NAPTR"},      Mnemonic{39, "DNAME"},
    Mnemonic{41, "OPT"},   Mnemonic{43, "DS"},         Mnemonic{44, "SSHFP"},
    Mnemonic{46, "RRSIG"}, Mnemonic{47, "NSEC"},       Mnemonic{48, "DNSKEY"},
    Mnemonic{50, "NSEC3"}, Mnemonic{51, "NSEC3PARAM"}, Mnemonic{52, "TLSA"},
    Mnemonic{64, "SVCB"},  Mnemonic{65, "HTTPS"},      Mnemonic{99, "SPF"},
    Mnemonic{251, "IXFR"}, Mnemonic{252, "AXFR"},      Mnemonic{255, "ANY"},
    Mnemonic{256, "URI"},  Mnemonic{257, "CAA"},
};

constexpr std::array kClasses{
    Mnemonic{1, "IN"},     Mnemonic{3, "CH"},    Mnemonic{4, "HS"},
    Mnemonic{254, "NONE"}, Mnemonic{255, "ANY"},
};

constexpr std::array kRcodes{
    Mnemonic{0, "NOERROR"},    Mnemonic{1, "FORMERR"},  Mnemonic{2, "SERVFAIL"},
    Mnemonic{3, "NXDOMAIN"},   Mnemonic{4, "NOTIMP"},   Mnemonic{5, "REFUSED"},
    Mnemonic{6, "YXDOMAIN"},   Mnemonic{7, "YXRRSET"},  Mnemonic{8, "NXRRSET"},
    Mnemonic{9, "NOTAUTH"},    Mnemonic{10, "NOTZONE"}, Mnemonic{16, "BADVERS"},
    Mnemonic{23, "BADCOOKIE"},
};

bool equal_ignoring_case(std::string_view a, std::string_view b) {
  return to_lower_ascii(a) == to_lower_ascii(b);
}

template <class Table>
std::optional<uint16_t> lookup(const Table& table, std::string_view text,
                               std::string_view generic_prefix) {
  for (const auto& entry : table) {
    if (equal_ignoring_case(entry.text, text)) return entry.value;
  }
  if (text.size() > generic_prefix.size() &&
      equal_ignoring_case(text.substr(0, generic_prefix.size()), generic_prefix)) {
    auto digits = text.substr(generic_prefix.size());
    unsigned value = 0;
    auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (ec == std::errc() && end == digits.data() + digits.size() && value <= 0xFFFF) {
      return static_cast<uint16_t>(value);
    }
  }
  return std::nullopt;
}

template <class Table>
std::string name_of(const Table& table, unsigned value, std::string_view generic_prefix) {
  for (const auto& entry : table) {
    if (entry.value == value) return std::string(entry.text);
  }
  return std::string(generic_prefix) + std::to_string(value);
}

}  // namespace

std::string to_lower_ascii(std::string_view text) {
  std::string lowered(text);
  for (char& c : lowered) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return lowered;
}

std::string type_to_text(uint16_t type) { return name_of(kTypes, type, "TYPE"); }

std::optional<uint16_t> type_from_text(std::string_view text) {
  return lookup(kTypes, text, "TYPE");
}

std::string class_to_text(uint16_t rclass) { return name_of(kClasses, rclass, "CLASS"); }

std::optional<uint16_t> class_from_text(std::string_view text) {
  return lookup(kClasses, text, "CLASS");
}

std::string rcode_to_text(int rcode) {
  return name_of(kRcodes, static_cast<unsigned>(rcode), "RCODE");
}

std::optional<int> rcode_from_text(std::string_view text) {
  if (auto named = lookup(kRcodes, text, "RCODE")) {
    if (*named <= 0xFFF) return *named;
    return std::nullopt;
  }
  unsigned value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec == std::errc() && end == text.data() + text.size() && value <= 0xFFF) {
    return static_cast<int>(value);
  }
  return std::nullopt;
}

std::string opcode_to_text(int opcode) {
  switch (opcode) {
    case 0:
      return "QUERY";
    case 1:
      return "IQUERY";
    case 2:
      return "STATUS";
    case 4:
      return "NOTIFY";
    case 5:
      return "UPDATE";
    default:
      return "OPCODE" + std::to_string(opcode);
  }
}

std::string quote_character_string(std::span<const uint8_t> bytes) {
  std::string out = "\"";
  for (uint8_t byte : bytes) {
    if (byte == '"' || byte == '\\') {
      out += '\\';
      out += static_cast<char>(byte);
    } else if (byte < 0x20 || byte > 0x7E) {
      char escaped[5];
      escaped[0] = '\\';
      escaped[1] = static_cast<char>('0' + byte / 100);
      escaped[2] = static_cast<char>('0' + (byte / 10) % 10);
      escaped[3] = static_cast<char>('0' + byte % 10);
      escaped[4] = '\0';
      out += escaped;
    } else {
      out += static_cast<char>(byte);
    }
  }
  out += '"';
  return out;
}

std::string absolute_name(std::string_view cares_name) {
  if (cares_name.empty() || cares_name == ".") return ".";
  std::string out(cares_name);
  // c-ares never returns a trailing dot, but a name passed through twice
  // must not gain a second one; an escaped final dot ("a\.") is a label char.
  bool ends_with_separator = out.back() == '.' && (out.size() < 2 || out[out.size() - 2] != '\\');
  if (!ends_with_separator) out += '.';
  return out;
}

}  // namespace raftdns::query_tool
