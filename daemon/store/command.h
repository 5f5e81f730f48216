// Command: the typed, versioned unit of change. Every write to the store is
// one Command, encoded in a binary format whose first byte is the version.
//
// Applying a command is deterministic: the same store and the same command
// give the same bytes on every node (no clocks, randomness or local config).
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/result.h"
#include "daemon/wire/rr.h"

namespace raftdns::store {

inline constexpr uint8_t kCommandVersion = 1;

// Adds RRs; each goes into the closest enclosing zone held by the store.
// The RRset TTL becomes the TTL of the newest record (RFC 2181 §5.2).
struct AddRecords {
  std::vector<wire::Record> records;
};
// Removes RRs matching owner, type and RDATA exactly (TTL ignored).
struct RemoveRecords {
  std::vector<wire::Record> records;
};
// Removes a whole RRset (owner, type).
struct RemoveRRset {
  wire::Name owner;
  uint16_t type = 0;
};
// Creates or replaces a whole zone (import). `records` includes the SOA.
struct PutZone {
  wire::Name zone;
  std::vector<wire::Record> records;
};
struct RemoveZone {
  wire::Name zone;
};
// Raft membership as the store records it in `meta` (opaque to the store).
struct SetMembership {
  std::vector<uint8_t> encoded;
};
struct Batch;  // atomic: all or nothing

// An RFC 2136 UPDATE, kept in the RFC's own terms: the records of the
// prerequisite and update sections, whose CLASS (the zone's, ANY or NONE),
// TTL, type and RDATA length say what each one means (RFC 2136 §2.4, §2.5).
// The prerequisites are judged, and the updates made, when the command is
// applied: at its place in the log, identically on every node, so two
// updates racing from two nodes are judged in the order they committed.
//
// A refused update changes nothing, and its reason begins with the rcode
// that the client gets ("NXRRSET: ..."); update_rcode() reads it back on the
// node that received the UPDATE.
struct Update {
  wire::Name zone;
  std::vector<wire::Record> prerequisites;
  std::vector<wire::Record> updates;
};

// A zone import of any size is four kinds of command, each a bounded Raft
// entry (docs/ARCHITECTURE.md, "Big zones"):
//   ImportBegin   opens import `id` for `zone`: a fresh, unread generation of
//                 the zone's content;
//   ImportChunk   merges some of the zone's records into it, with the same
//                 rules PutZone enforces (a refused chunk ends the import,
//                 but for one ahead of its turn: see chunk_ahead_error);
//   ImportCommit  checks the whole (exactly one apex SOA, every chunk there)
//                 and repoints the zone at the staged content in one step;
//   ImportAbort   drops the import.
// The old content, and the content of an aborted import, go to the store's
// trash and are reclaimed in bounded slices. `id` is chosen by the client
// (random); an import that sees no chunk for kImportStaleEntries log
// entries is dropped by the apply itself, the same on every node.
struct ImportBegin {
  uint64_t id = 0;
  wire::Name zone;
};
struct ImportChunk {
  uint64_t id = 0;
  // 0, 1, 2...: the chunk's place in the import. A chunk whose sequence is
  // below the next one is a resent copy and changes nothing; one above it
  // is refused.
  uint32_t sequence = 0;
  std::vector<wire::Record> records;
};
struct ImportCommit {
  uint64_t id = 0;
  uint32_t chunks = 0;  // how many chunks the client sent
};
struct ImportAbort {
  uint64_t id = 0;
};
inline constexpr uint64_t kImportStaleEntries = 10000;

// Online DNSSEC signing (docs/ARCHITECTURE.md, "Online signing"). Every node
// signs for itself when it applies a change, deterministically, so all nodes
// hold the same signed bytes at the same index. What is random (the keys)
// and what is local (the clock) comes in the command, from the node that
// proposed it.

// A key pair as a command carries it: made on the node that proposed the
// command. The private half travels only inside the cluster (the Raft log,
// the store, snapshots: all mode 0600) and is never printed.
struct NewKey {
  uint8_t algorithm = 0;
  uint16_t flags = 0;  // 257: a KSK, 256: a ZSK
  std::vector<uint8_t> private_key;
};

// The signing policy of a zone, fixed when signing is turned on. Times are
// seconds.
struct SigningParams {
  uint8_t algorithm = 13;
  bool nsec3_optout = false;
  uint32_t validity = 14 * 86400;      // an RRSIG is valid this long after it is made
  uint32_t refresh = 7 * 86400;        // and renewed once it has less than this left
  uint32_t jitter = 86400;             // expirations spread over this much (< refresh)
  uint32_t inception_offset = 3600;    // inception this far in the past (clock skew)
  uint32_t dnskey_ttl = 3600;
  uint32_t publish_wait = 2 * 3600;    // a new key is published this long before it signs
  uint32_t retire_wait = 2 * 86400;    // a replaced ZSK stays published this long
  uint32_t ds_wait = 2 * 86400;        // after the new DS is seen, before the old KSK goes
  uint32_t zsk_lifetime = 30 * 86400;  // 0: no automatic ZSK rollover
  uint32_t ksk_lifetime = 0;           // 0: KSK rollovers only when asked

  friend bool operator==(const SigningParams&, const SigningParams&) = default;
};

// One command for every signing step of a zone:
//   sign     turns online signing on with `params` and `keys` (a KSK and a
//            ZSK) and signs the whole zone;
//   unsign   turns it off and drops every signature, NSEC3 and key record;
//   tick     the leader's clock: renews signatures nearing expiry (a bounded
//            slice of the zone per tick) and takes the key rollovers' timed
//            steps; carries `keys[0]` when a rollover needs a fresh key;
//   roll     starts a rollover of the KSK or ZSK (by `keys[0].flags`) now;
//   ds_seen  the operator's word that the parent publishes the DS of the
//            KSK with tag `key_tag`, which lets a KSK rollover finish.
// `now` never moves a zone's signing clock backwards.
struct ZoneSigning {
  enum class Action : uint8_t { sign = 1, unsign = 2, tick = 3, roll = 4, ds_seen = 5 };
  Action action = Action::tick;
  wire::Name zone;
  uint32_t now = 0;
  SigningParams params;       // sign
  std::vector<NewKey> keys;   // sign, tick, roll
  uint16_t key_tag = 0;       // ds_seen
};
const char* signing_action_name(ZoneSigning::Action a) noexcept;

using Command = std::variant<AddRecords, RemoveRecords, RemoveRRset, PutZone, RemoveZone,
                             SetMembership, Batch, Update, ImportBegin, ImportChunk, ImportCommit,
                             ImportAbort, ZoneSigning>;

struct Batch {
  std::vector<Command> commands;
};

std::vector<uint8_t> encode_command(const Command& c);
// Fails on an unknown version, unknown tag, truncation or trailing bytes.
Result<Command> decode_command(std::span<const uint8_t> bytes);

// The rcode a refused Update's reason starts with ("NXRRSET: ..."); nullopt
// for any other reason (the client then gets SERVFAIL).
std::optional<uint16_t> update_rcode(std::string_view reason);

// An import id as 16 hex digits, as logs and errors show it.
std::string import_id_text(uint64_t id);

// The refusal of an import chunk that arrives ahead of its turn: one before
// it was lost with a leader while the client had several in flight, and is
// being sent again. Unlike every other refused chunk, it leaves the import
// as it was (the refusal changes nothing), so the resend goes on.
std::string chunk_ahead_error(uint64_t id, uint32_t sequence, uint32_t expected);
bool is_chunk_ahead(std::string_view reason);

// A one-line human description ("add 2 records", "put zone example.com.").
std::string describe(const Command& c);

}  // namespace raftdns::store
