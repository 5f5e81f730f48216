// DNS messages: a bounds-checked reader and a compressing writer.
//
// The reader keeps its first error sticky (after a failed read every later
// call is a no-op returning the same error). Compression pointers must point
// strictly backwards and at most kMaxPointers are followed per name.
// Everything on this path is noexcept and allocation-free except where a
// std::vector is the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <vector>

#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"

namespace raftdns::wire {

inline constexpr size_t kHeaderSize = 12;
inline constexpr size_t kMaxPointers = 64;
inline constexpr uint16_t kMinUdpSize = 512;

enum class WireError : uint8_t {
  ok = 0,
  truncated,      // a read ran past the end of the message
  bad_label,      // label length > 63 or a reserved label type
  name_too_long,  // > 255 octets after decompression
  bad_pointer,    // forward or self pointer, or too many pointers
  bad_rdata,      // RDATA malformed for its type or RDLENGTH mismatch
  trailing_data,  // bytes after the last record
  bad_opt,        // OPT not in additional, at non-root, or twice
  no_space,       // writer: the output buffer is full
};
const char* wire_error_text(WireError e) noexcept;

struct Header {
  uint16_t id = 0;
  bool qr = false, aa = false, tc = false, rd = false, ra = false, ad = false, cd = false;
  uint8_t opcode = 0;
  uint8_t rcode = 0;  // low 4 bits
  uint16_t qdcount = 0, ancount = 0, nscount = 0, arcount = 0;
};

struct Question {
  Name name;
  uint16_t qtype = 0;
  uint16_t qclass = rrclass::IN;
};

struct Edns {
  uint16_t udp_size = kMinUdpSize;  // clamped to >= 512 by the reader
  uint8_t version = 0;
  uint8_t extended_rcode = 0;  // high 8 bits of the rcode
  bool do_bit = false;
  std::vector<uint8_t> options;  // raw option TLVs
};

// A fully parsed message (used by tests, dnsadm-side tools and the fuzzers).
struct Message {
  Header header;
  std::vector<Question> questions;
  std::vector<Record> answer, authority, additional;  // OPT is not kept here
  std::optional<Edns> edns;
};

// Parses a whole message; names in known RDATA are decompressed.
WireError parse_message(std::span<const uint8_t> packet, Message& out);

// What the query path needs, parsed without allocation: the header, the
// first question (if QDCOUNT >= 1) and the OPT record. The answer engine
// checks QDCOUNT itself. Trailing garbage after the OPT is an error.
struct QueryView {
  Header header;
  Question question;
  bool has_question = false;
  bool has_edns = false;
  uint16_t edns_udp_size = kMinUdpSize;
  uint8_t edns_version = 0;
  bool edns_do = false;
  // RFC 7873 COOKIE option: the client cookie (8 octets) and the server
  // cookie that came with it (8 to 32 octets, 0 when none). A COOKIE option
  // of any other length, or a second one, is bad_opt.
  bool has_cookie = false;
  uint8_t client_cookie[8] = {};
  uint8_t server_cookie[32] = {};
  uint8_t server_cookie_length = 0;
};
inline constexpr uint16_t kOptionCookie = 10;
// On an error, `out.header` is still filled when the packet holds at least
// the 12-octet header, so the caller can answer FORMERR with the same ID.
// Question and ANSWER/AUTHORITY records (NOTIFY, UPDATE) are read and
// checked; an OPT outside the additional section, at a non-root owner,
// repeated, or with a malformed option list is bad_opt. EDNS versions above
// 0 parse fine (edns_version tells the caller to answer BADVERS).
WireError parse_query(std::span<const uint8_t> packet, QueryView& out) noexcept;

enum class Section : uint8_t { answer, authority, additional };

// Writes a message into a caller-owned buffer, compressing owner names and
// the names inside NS, CNAME, SOA, MX and PTR RDATA (RFC 3597 §4); a DNAME
// target is never compressed (RFC 6672 §2.5).
// Records are appended section by section in order. add_* returns false when
// the record does not fit in `limit` octets (minus the space reserved for an
// OPT record); the message is then left as it was before the call, so the
// caller may set TC or stop adding additional records.
class MessageWriter {
 public:
  MessageWriter(std::span<uint8_t> buffer, size_t limit) noexcept;

  void set_header(const Header& h) noexcept;  // counts are managed by the writer
  Header& header() noexcept { return header_; }
  bool add_question(const Question& q) noexcept;
  // Reserves room for an OPT record so that later adds leave space for it.
  void reserve_opt(const Edns& e) noexcept;
  bool add_record(Section s, const Name& owner, uint16_t type, uint16_t rclass, uint32_t ttl,
                  std::span<const uint8_t> rdata) noexcept;
  bool add_record(Section s, const Record& rr) noexcept {
    return add_record(s, rr.owner, rr.type, rr.rclass, rr.ttl, rr.rdata);
  }
  // Writes the OPT record (if reserved), the header counts, and returns the
  // message length. An rcode above 15 may be set in header().rcode (e.g.
  // BADVERS): its low 4 bits go in the header and the rest in the OPT TTL;
  // otherwise the OPT carries Edns::extended_rcode. The OPT is written once.
  size_t finish() noexcept;

  size_t size() const noexcept { return pos_; }

  // A point to go back to, so that a whole RRset is either written or not.
  struct Mark {
    size_t pos, ntargets;
    uint16_t ancount, nscount, arcount;
  };
  Mark mark() const noexcept {
    return {pos_, ntargets_, header_.ancount, header_.nscount, header_.arcount};
  }
  // Drops everything added since `m` was taken.
  void rewind(const Mark& m) noexcept {
    pos_ = m.pos;
    ntargets_ = m.ntargets;
    header_.ancount = m.ancount;
    header_.nscount = m.nscount;
    header_.arcount = m.arcount;
  }

 private:
  bool write_name(const Name& n) noexcept;
  std::span<uint8_t> buf_;
  size_t limit_;
  size_t pos_ = kHeaderSize;
  size_t opt_reserved_ = 0;
  Header header_{};
  std::optional<Edns> opt_;
  // Compression targets: offsets of names already written (suffix matches).
  static constexpr size_t kMaxTargets = 96;
  uint16_t targets_[kMaxTargets]{};
  uint8_t target_labels_[kMaxTargets]{};  // labels in the name at targets_[i]
  size_t ntargets_ = 0;
};

// Encodes a whole Message (test and tool convenience). Sets TC and drops
// records that do not fit `limit`.
std::vector<uint8_t> encode_message(const Message& m, size_t limit = 65535);

}  // namespace raftdns::wire
