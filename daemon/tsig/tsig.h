// TSIG (RFC 8945): keys, signing and verification of DNS messages with
// HMAC-SHA256 and HMAC-SHA512.
//
// Shared by everything that authenticates DNS messages: zone transfers and
// NOTIFY now, RFC 2136 UPDATE later. It works on finished wire messages:
//  - a signer appends the TSIG record to a message that is otherwise
//    complete (and bumps ARCOUNT);
//  - a verifier finds the TSIG record (it must be the last record of the
//    additional section), rebuilds the digest over the message as it was
//    before signing (original ID, ARCOUNT one lower, TSIG removed) and the
//    TSIG variables, and compares MACs in constant time.
//
// Multi-message answers (AXFR, IXFR) chain: the first response's digest
// starts with the request's MAC, each later one with the MAC of the message
// before it and covers only the timers of the TSIG variables (§5.3.1). A
// receiver accepts up to 99 unsigned messages between signed ones; their
// bytes go into the next signed message's digest.
//
// Time is passed in by the caller (seconds since the epoch), so the code is
// deterministic under test. Only full-length MACs are produced; a truncated
// MAC (§5.2.2.1) is refused with BADTRUNC, or FORMERR below the floor.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.h"
#include "daemon/wire/name.h"

namespace raftdns::tsig {

inline constexpr uint16_t kType = 250;
inline constexpr uint16_t kDefaultFudge = 300;  // seconds, RFC 8945 §10
inline constexpr size_t kMaxMacSize = 64;

// TSIG error codes (the RR's Error field; the header RCODE is NOTAUTH).
namespace error {
inline constexpr uint16_t NOERROR = 0, BADSIG = 16, BADKEY = 17, BADTIME = 18, BADTRUNC = 22;
}
inline constexpr uint8_t kRcodeNotAuth = 9;

enum class Algorithm : uint8_t { hmac_sha256, hmac_sha512 };

// "hmac-sha256" / "hmac-sha512" (as in BIND, Knot and NSD configs).
std::string_view algorithm_text(Algorithm a) noexcept;
std::optional<Algorithm> algorithm_from_text(std::string_view text) noexcept;
// The algorithm's domain name in TSIG RDATA ("hmac-sha256.").
const wire::Name& algorithm_name(Algorithm a) noexcept;
std::optional<Algorithm> algorithm_from_name(const wire::Name& n) noexcept;
size_t mac_size(Algorithm a) noexcept;

struct Key {
  wire::Name name;  // compared case-insensitively; sent lowercased
  Algorithm algorithm = Algorithm::hmac_sha256;
  std::vector<uint8_t> secret;
};

// Builds a key from its parts; the secret is base64 (RFC 4648, padded).
Result<Key> make_key(std::string_view name, std::string_view algorithm,
                     std::string_view secret_base64);
// A fresh random secret of the algorithm's MAC size, as base64.
std::string random_secret(Algorithm a);
std::string to_base64(std::span<const uint8_t> bytes);

// Keys by name. Small and read-only once built: a linear scan.
class KeyRing {
 public:
  // Fails when a key of that name is already present.
  Status add(Key key);
  const Key* find(const wire::Name& name) const noexcept;
  bool empty() const noexcept { return keys_.empty(); }
  const std::vector<Key>& keys() const noexcept { return keys_; }

 private:
  std::vector<Key> keys_;
};

// A TSIG record located in a message.
struct Record {
  size_t offset = 0;  // where the record (its owner name) starts
  wire::Name key_name;
  wire::Name algorithm;
  uint64_t time_signed = 0;  // 48 bits
  uint16_t fudge = 0;
  std::span<const uint8_t> mac;
  uint16_t original_id = 0;
  uint16_t error = 0;
  std::span<const uint8_t> other;
};

enum class Find : uint8_t {
  none,       // the message carries no TSIG record
  found,      // the last additional record is a TSIG record
  malformed,  // a TSIG record elsewhere, twice, with a bad class or RDATA (FORMERR)
};
// Walks the message's sections; noexcept and allocation-free.
Find find(std::span<const uint8_t> message, Record& out) noexcept;

// The outcome of checking a signed request (RFC 8945 §5.2).
struct RequestCheck {
  enum class Outcome : uint8_t { unsigned_request, ok, formerr, badkey, badsig, badtime, badtrunc };
  Outcome outcome = Outcome::unsigned_request;
  const Key* key = nullptr;       // set for ok and badtime (the response is signed then)
  Record record;                  // the TSIG record as received (when one was found)
  size_t unsigned_length = 0;     // the message length without its TSIG record
  std::vector<uint8_t> mac;       // the request MAC, which a signed response digests first

  bool signed_ok() const noexcept { return outcome == Outcome::ok; }
  // The TSIG error code for the response (0 for ok and unsigned).
  uint16_t tsig_error() const noexcept;
};
const char* outcome_text(RequestCheck::Outcome o) noexcept;

// Checks a request. `now` is the server's time in seconds since the epoch.
RequestCheck verify_request(std::span<const uint8_t> message, const KeyRing& keys, uint64_t now);

// Signs a message or a stream of messages with one key.
//
// As a client (no request MAC) the first sign() makes a signed request; as a
// server pass the request's MAC (RequestCheck::mac) and the request's ID.
// Each later sign() continues the chain: its digest starts with the MAC of
// the message signed before it, and covers only the timers.
class Signer {
 public:
  Signer(const Key& key, std::span<const uint8_t> request_mac);

  // Appends the TSIG record to the finished message `buffer[0, length)` and
  // bumps ARCOUNT. `error` and `other` fill those fields (BADTIME carries
  // the server's time in `other`). Returns the new length, or 0 when the
  // record does not fit in `buffer`.
  size_t sign(std::span<uint8_t> buffer, size_t length, uint64_t now, uint16_t error = 0,
              std::span<const uint8_t> other = {});
  // Records a message of the stream sent without a TSIG record; the next
  // sign() covers it (RFC 8945 §5.3.1: at most 99 in a row).
  void add_unsigned(std::span<const uint8_t> message);
  // Room a TSIG record of this key needs at the end of a message.
  size_t record_size(size_t other_length = 0) const noexcept;
  // The MAC of the last message signed.
  std::span<const uint8_t> last_mac() const noexcept { return {mac_, mac_len_}; }

 private:
  const Key& key_;
  uint8_t mac_[kMaxMacSize];
  size_t mac_len_ = 0;
  bool first_ = true;
  std::vector<uint8_t> pending_;  // unsigned messages since the last signed one
};

// Adds an unsigned TSIG record carrying only an error (BADKEY, BADSIG: the
// server cannot or must not sign, RFC 8945 §5.3.2) to a finished message.
// The key and algorithm names are echoed from the request. Returns the new
// length or 0 when it does not fit.
size_t append_unsigned_error(std::span<uint8_t> buffer, size_t length, const Record& request,
                             uint64_t now, uint16_t error) noexcept;

// Verifies a stream of responses to a request signed with `key`, as a client
// (AXFR and IXFR) does: the first message must be signed; later ones may go
// unsigned for up to 99 in a row, and the last one must be signed (the
// caller asks is_complete_signed() when the stream ends).
class ResponseVerifier {
 public:
  ResponseVerifier(const Key& key, std::span<const uint8_t> request_mac);

  // Checks the next message. `now` in seconds since the epoch. On failure
  // the message says why (BADSIG from the server, MAC mismatch, clock skew).
  Status next(std::span<const uint8_t> message, uint64_t now);
  // True when the last message passed to next() was signed.
  bool last_was_signed() const noexcept { return last_signed_; }

 private:
  const Key& key_;
  std::vector<uint8_t> prior_mac_;
  std::vector<uint8_t> pending_;  // unsigned messages since the last signed one
  unsigned unsigned_run_ = 0;
  bool first_ = true;
  bool last_signed_ = false;
};

}  // namespace raftdns::tsig
