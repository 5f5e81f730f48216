// A bounds-checked walk over a DNS reply's sections, and record presentation through c-ares'
// parsers.
//
// c-ares 1.18 parses the answer section of one record type at a time and has
// no API for the header flags or the other sections. The walker here reads
// the header, the question and every section's record headers itself; the
// rdata of each record is then handed to c-ares' own parser for its type
// (ares_parse_a_reply, _mx_, _txt_, ...) by wrapping that one record in a
// small self-contained message. Types c-ares has no parser for are shown in
// the RFC 3597 generic form.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace raftdns::query_tool {

struct Question {
  std::vector<uint8_t> name_wire;  // uncompressed wire form
  std::string name;                // absolute presentation form
  uint16_t type = 0;
  uint16_t rclass = 0;
};

struct ResourceRecord {
  std::vector<uint8_t> owner_wire;
  std::string owner;
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  size_t rdata_offset = 0;  // into the reply
  size_t rdata_length = 0;
};

struct EdnsInfo {
  uint16_t udp_size = 0;
  uint8_t version = 0;
  bool dnssec_ok = false;
  uint16_t other_flags = 0;  // the Z bits other than DO
  std::vector<std::pair<uint16_t, std::vector<uint8_t>>> options;
};

struct Reply {
  uint16_t id = 0;
  uint16_t flags = 0;  // the header's second 16-bit word, rcode bits included
  int rcode = 0;       // header rcode, extended by the OPT record when present
  uint16_t section_counts[4] = {0, 0, 0, 0};
  std::vector<Question> questions;
  std::vector<ResourceRecord> answer;
  std::vector<ResourceRecord> authority;
  std::vector<ResourceRecord> additional;  // without the OPT record
  std::optional<EdnsInfo> edns;
};

// Header flag bits in Reply::flags.
inline constexpr uint16_t kFlagQr = 0x8000;
inline constexpr uint16_t kFlagAa = 0x0400;
inline constexpr uint16_t kFlagTc = 0x0200;
inline constexpr uint16_t kFlagRd = 0x0100;
inline constexpr uint16_t kFlagRa = 0x0080;
inline constexpr uint16_t kFlagZ = 0x0040;
inline constexpr uint16_t kFlagAd = 0x0020;
inline constexpr uint16_t kFlagCd = 0x0010;

// Walks the whole reply. Fails, naming the section, record and offset, on
// anything that runs past the end, a compression pointer that does not point
// backwards, a name over 255 octets, a second OPT, or trailing bytes.
Result<Reply> parse_reply(std::span<const uint8_t> message);

// Presentation of one record's rdata.
struct RdataText {
  std::string text;         // standard presentation form
  std::string joined_text;  // TXT only: the character-strings concatenated, unquoted
  bool parsed_by_cares = false;
  std::string note;  // set when c-ares could not parse rdata of a type it knows
};

RdataText present_rdata(std::span<const uint8_t> message, const ResourceRecord& record);

// "owner ttl class type rdata", tab separated like a master file.
std::string present_record(std::span<const uint8_t> message, const ResourceRecord& record);

}  // namespace raftdns::query_tool
