// RFC 2136 dynamic updates on the wire: reading an UPDATE message into a
// store::Update, deciding whether the update policy grants it, and writing
// the response. Pure functions, no sockets or threads: the DNS workers call
// them, and the fuzzer drives them directly.
//
// The prerequisites and updates themselves are judged by the store when the
// command is applied (store::Update), at its place in the log, so that every
// node reaches the same verdict. What is checked here is only what does not
// depend on the data: the message's form, and who may change what.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "daemon/store/command.h"
#include "daemon/wire/message.h"
#include "daemon/wire/name.h"

namespace raftdns::update {

// An UPDATE as read from the wire.
struct Request {
  wire::Header header;
  store::Update command;        // zone, prerequisites, updates
  std::optional<wire::Edns> edns;  // the request's OPT, answered with one of ours
};

// Why a message cannot be processed: the rcode of the answer and a reason
// for the log. `header` is set when the message had a readable header (the
// answer then echoes its ID); a message without one gets no answer.
struct Refusal {
  uint16_t rcode = 0;
  std::string reason;
  std::optional<wire::Header> header;
  std::optional<wire::Question> zone;
};

// Reads an UPDATE (opcode 5). The zone section must hold exactly one SOA
// question of class IN (RFC 2136 §3.1.1: FORMERR otherwise, NOTAUTH for
// another class). A TSIG record, which the caller has already verified, and
// the OPT record are not part of the command; other additional records are
// ignored (§3.1: the server may).
std::variant<Request, Refusal> parse(std::span<const uint8_t> message);

// A name pattern of a grant: the name itself, or with `below` every name
// strictly under it (written "*.dyn.example.com." in the configuration).
struct NamePattern {
  wire::Name name;
  bool below = false;

  static std::optional<NamePattern> parse(std::string_view text);
  bool matches(const wire::Name& n) const noexcept;
  std::string to_text() const;
};

// Who a grant is for: the key that signed the update, or a client address
// range for unsigned updates. Checked by the caller (it knows the key and
// the client); the policy only sees whether each grant applies.
struct Grant {
  wire::Name zone;
  std::vector<NamePattern> names;  // every name in the zone when empty
  std::vector<uint16_t> types;     // every type when empty
  std::string who;                 // "key acme." or "from 127.0.0.0/8", for log lines
};

// Whether the grants that apply to the requester allow every record the
// update touches. A record is allowed when one grant covers its zone, its
// owner and its type; a delete of every type at a name (class ANY, type
// ANY) needs a grant without a type list. Prerequisites only read, and need
// no grant. On refusal, the reason names the first record refused.
struct Verdict {
  bool allowed = false;
  std::string reason;
};
Verdict check(const store::Update& update, const std::vector<const Grant*>& grants);

// Writes the response to an update: the request's ID and opcode with QR set,
// the zone section echoed when known, an OPT when the request had one.
// Returns its length (0 when `out` is too small, which 512 octets never is).
size_t write_response(std::span<uint8_t> out, const wire::Header& request,
                      const std::optional<wire::Question>& zone, bool edns, uint16_t rcode);

}  // namespace raftdns::update
