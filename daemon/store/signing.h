// Online signing state of a zone, as the store keeps it (meta table, key
// "signing" 0x00 zone key), and the key rollover rules every node and the
// leader's clock read the same way. docs/ARCHITECTURE.md, "Online signing".
#pragma once

#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/dnssec/key.h"
#include "daemon/store/command.h"

namespace raftdns::store {

// A key's place in its life (RFC 6781 §4.1.1.1 pre-publication for ZSKs,
// §4.1.2 double-KSK with CDS for KSKs):
//   published  in the DNSKEY RRset; a ZSK does not sign yet, a KSK already
//              signs the DNSKEY RRset beside the old one
//   active     signs (a ZSK: the zone; a KSK: DNSKEY, CDS, CDNSKEY)
//   retired    a replaced ZSK: still published, signs nothing, removed once
//              no signature of it is left and retire_wait has passed
enum class KeyState : uint8_t { published = 1, active = 2, retired = 3 };
const char* key_state_name(KeyState s) noexcept;

struct StoredKey {
  dnssec::KeyPair key;
  uint16_t tag = 0;
  KeyState state = KeyState::published;
  uint32_t published_at = 0;
  uint32_t active_at = 0;   // 0 until active
  uint32_t retired_at = 0;  // 0 unless retired
  bool cds = false;         // a CDS and CDNSKEY for it are published
  uint32_t ds_seen_at = 0;  // when the operator said the parent has its DS
  bool unused = false;      // retired, and a full renewal pass has replaced its signatures
};

struct SigningState {
  SigningParams params;
  uint32_t clock = 0;             // the zone's signing time: the newest `now` applied
  std::vector<StoredKey> keys;
  std::vector<uint8_t> walk_cursor;  // where the walk resumes (rrsets or nsec3 key after the content prefix)
  uint32_t walk_started_at = 0;      // the clock when the current walk began
  // Whole-zone signing of a big zone runs in slices, one per tick:
  // kComplete once every name is signed; before that kNames (signing the
  // names from walk_cursor, NSEC3s put in the chain unsigned), then kChain
  // (signing the NSEC3 chain from walk_cursor).
  enum Phase : uint8_t { kComplete = 0, kNames = 1, kChain = 2 };
  uint8_t phase = kComplete;

  std::string encode() const;
  static Result<SigningState> decode(std::span<const uint8_t> bytes);
};

// The meta key of a zone's signing state.
std::string signing_meta_key(std::span<const uint8_t> zone_key);
inline constexpr std::string_view kSigningMetaPrefix{"signing\0", 8};

// What `dnsadm zone keys` and the leader's clock see of a signed zone: all
// but the private keys.
struct SigningKeyInfo {
  uint16_t tag = 0;
  uint8_t algorithm = 0;
  uint16_t flags = 0;
  KeyState state = KeyState::published;
  uint32_t published_at = 0, active_at = 0, retired_at = 0, ds_seen_at = 0;
  bool cds = false;
  std::vector<uint8_t> dnskey;  // DNSKEY RDATA
};
struct SigningInfo {
  wire::Name zone;
  SigningParams params;
  uint32_t clock = 0;
  std::vector<SigningKeyInfo> keys;
  // False while a big zone is still being signed in slices: its DS must not
  // go to the parent yet, and the leader sends ticks back to back.
  bool complete = true;
};
SigningInfo signing_info(const wire::Name& zone, const SigningState& state);

// The flags (257 KSK, 256 ZSK) of the key a tick at `now` would start an
// automatic rollover with, or nullopt when none is due. The leader asks
// before it proposes a tick, and the apply asks the same question.
std::optional<uint16_t> signing_key_needed(const SigningInfo& info, uint32_t now);

// A fresh key for a command (the only randomness in signing).
Result<NewKey> make_new_key(uint8_t algorithm, uint16_t flags);

// How many RRsets one tick's renewal walk looks at.
inline constexpr size_t kRenewalSlice = 5000;
// A zone of at most this many records is signed whole in the apply that
// turns signing on (or replaces its content); a bigger one in slices of
// kSigningSliceNames names, then kSigningSliceChain NSEC3s, one per tick.
inline constexpr uint64_t kWholeSigningLimit = 5000;
inline constexpr size_t kSigningSliceNames = 2000;
inline constexpr size_t kSigningSliceChain = 5000;

}  // namespace raftdns::store
