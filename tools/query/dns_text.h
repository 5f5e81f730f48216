// Mnemonics for DNS types, classes, rcodes and opcodes, and presentation escaping, for
// raftdns-query.
//
// raftdns-query deliberately does not use daemon/wire: it must stay an
// independent client, so a bug in our own encoder cannot hide itself behind
// the same bug in the decoder that checks it.
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>

namespace raftdns::query_tool {

inline constexpr uint16_t kTypeA = 1;
inline constexpr uint16_t kTypeNs = 2;
inline constexpr uint16_t kTypeCname = 5;
inline constexpr uint16_t kTypeSoa = 6;
inline constexpr uint16_t kTypePtr = 12;
inline constexpr uint16_t kTypeMx = 15;
inline constexpr uint16_t kTypeTxt = 16;
inline constexpr uint16_t kTypeAaaa = 28;
inline constexpr uint16_t kTypeSrv = 33;
inline constexpr uint16_t kTypeNaptr = 35;
inline constexpr uint16_t kTypeDname = 39;
inline constexpr uint16_t kTypeOpt = 41;
inline constexpr uint16_t kTypeAny = 255;
inline constexpr uint16_t kTypeUri = 256;
inline constexpr uint16_t kTypeCaa = 257;

inline constexpr uint16_t kClassIn = 1;

// "A", "TYPE65280" for types without a mnemonic (RFC 3597 section 5).
std::string type_to_text(uint16_t type);
// Accepts mnemonics in any case and the generic TYPEnnn form.
std::optional<uint16_t> type_from_text(std::string_view text);

std::string class_to_text(uint16_t rclass);
std::optional<uint16_t> class_from_text(std::string_view text);

// Extended rcodes (up to 12 bits with EDNS) by their RFC 6895 names.
std::string rcode_to_text(int rcode);
// Accepts names in any case and decimal numbers.
std::optional<int> rcode_from_text(std::string_view text);

std::string opcode_to_text(int opcode);

// One character-string in quoted presentation form: '"' and '\' are
// backslash-escaped, bytes outside printable ASCII become \DDD.
std::string quote_character_string(std::span<const uint8_t> bytes);

// A name as c-ares hands it over (no trailing dot, "" for the root) in
// absolute presentation form.
std::string absolute_name(std::string_view cares_name);

std::string to_lower_ascii(std::string_view text);

}  // namespace raftdns::query_tool
