// TSIG signing and verification (RFC 8945) over libsodium's HMAC-SHA-2.
#include "daemon/tsig/tsig.h"

#include <sodium.h>

#include <algorithm>
#include <cstring>
#include <stdexcept>

#include "common/bytes.h"

namespace raftdns::tsig {
namespace {

using bytes::load_u16;
using bytes::store_u16;

constexpr uint16_t kClassAny = 255;
constexpr size_t kHeaderSize = 12;
constexpr unsigned kMaxUnsignedRun = 99;  // RFC 8945 §5.3.1

inline void put48(uint8_t* p, uint64_t v) noexcept {
  for (int i = 5; i >= 0; --i) {
    p[i] = static_cast<uint8_t>(v);
    v >>= 8;
  }
}
inline uint64_t get48(const uint8_t* p) noexcept {
  uint64_t v = 0;
  for (int i = 0; i < 6; ++i) v = v << 8 | p[i];
  return v;
}

void ensure_sodium() {
  if (sodium_init() < 0) throw std::runtime_error("libsodium cannot be initialised");
}

// HMAC over either hash, fed in pieces.
class Hmac {
 public:
  Hmac(Algorithm a, std::span<const uint8_t> secret) : alg_(a) {
    if (a == Algorithm::hmac_sha256) {
      crypto_auth_hmacsha256_init(&s256_, secret.data(), secret.size());
    } else {
      crypto_auth_hmacsha512_init(&s512_, secret.data(), secret.size());
    }
  }
  void update(std::span<const uint8_t> bytes) {
    if (bytes.empty()) return;
    if (alg_ == Algorithm::hmac_sha256) {
      crypto_auth_hmacsha256_update(&s256_, bytes.data(), bytes.size());
    } else {
      crypto_auth_hmacsha512_update(&s512_, bytes.data(), bytes.size());
    }
  }
  void update_u16(uint16_t v) {
    uint8_t b[2];
    store_u16(b, v);
    update(b);
  }
  // Writes mac_size(alg) bytes.
  void final(uint8_t* out) {
    if (alg_ == Algorithm::hmac_sha256) {
      crypto_auth_hmacsha256_final(&s256_, out);
    } else {
      crypto_auth_hmacsha512_final(&s512_, out);
    }
  }

 private:
  Algorithm alg_;
  crypto_auth_hmacsha256_state s256_{};
  crypto_auth_hmacsha512_state s512_{};
};

// Walks names and records of a message without decoding them.
class Walker {
 public:
  explicit Walker(std::span<const uint8_t> m) noexcept : m_(m) {}
  size_t pos() const noexcept { return pos_; }
  bool ok() const noexcept { return ok_; }
  bool need(size_t n) noexcept {
    if (!ok_ || m_.size() - pos_ < n) ok_ = false;
    return ok_;
  }
  void skip(size_t n) noexcept {
    if (need(n)) pos_ += n;
  }
  uint16_t u16() noexcept {
    if (!need(2)) return 0;
    uint16_t v = load_u16(m_.data() + pos_);
    pos_ += 2;
    return v;
  }
  // Skips a possibly compressed name (a pointer ends it).
  void skip_name() noexcept {
    for (size_t labels = 0; ok_ && labels < 128; ++labels) {
      if (!need(1)) return;
      uint8_t b = m_[pos_];
      if ((b & 0xc0) == 0xc0) {
        skip(2);
        return;
      }
      if (b & 0xc0) {
        ok_ = false;
        return;
      }
      skip(1u + b);
      if (b == 0) return;
    }
    ok_ = false;
  }
  // Reads an uncompressed name (TSIG owner and algorithm are never
  // compressed, RFC 8945 §4.2).
  bool plain_name(wire::Name& out) noexcept {
    size_t start = pos_;
    for (size_t labels = 0; labels < 128; ++labels) {
      if (!need(1)) return false;
      uint8_t b = m_[pos_];
      if (b & 0xc0) return ok_ = false;
      skip(1u + b);
      if (!ok_) return false;
      if (b == 0) return out.assign_from_wire(m_.subspan(start, pos_ - start)) || (ok_ = false);
    }
    return ok_ = false;
  }

 private:
  std::span<const uint8_t> m_;
  size_t pos_ = 0;
  bool ok_ = true;
};

// Feeds the message as it was before the TSIG record was added: the
// original ID, ARCOUNT one lower, and the bytes up to the record.
void update_stripped(Hmac& h, std::span<const uint8_t> message, const Record& r) {
  uint8_t header[kHeaderSize];
  std::memcpy(header, message.data(), kHeaderSize);
  store_u16(header, r.original_id);
  store_u16(header + 10, static_cast<uint16_t>(load_u16(header + 10) - 1));
  h.update(header);
  h.update(message.subspan(kHeaderSize, r.offset - kHeaderSize));
}

// The TSIG variables (§4.3.3), or only the timers (§4.3.1) for a later
// message of a stream.
void update_variables(Hmac& h, const wire::Name& key_name, const wire::Name& algorithm,
                      uint64_t time_signed, uint16_t fudge, uint16_t error,
                      std::span<const uint8_t> other, bool timers_only) {
  uint8_t timers[8];
  put48(timers, time_signed);
  store_u16(timers + 6, fudge);
  if (timers_only) {
    h.update(timers);
    return;
  }
  wire::Name k = key_name.lowercased(), a = algorithm.lowercased();
  h.update(k.wire());
  uint8_t class_ttl[6] = {0, 0, 0, 0, 0, 0};
  store_u16(class_ttl, kClassAny);
  h.update(class_ttl);
  h.update(a.wire());
  h.update(timers);
  h.update_u16(error);
  h.update_u16(static_cast<uint16_t>(other.size()));
  h.update(other);
}

void update_prior_mac(Hmac& h, std::span<const uint8_t> mac) {
  h.update_u16(static_cast<uint16_t>(mac.size()));
  h.update(mac);
}

bool within_fudge(uint64_t time_signed, uint16_t fudge, uint64_t now) noexcept {
  uint64_t skew = now > time_signed ? now - time_signed : time_signed - now;
  return skew <= fudge;
}

// Writes a TSIG record at `p` (room checked by the caller).
size_t write_record(uint8_t* p, const wire::Name& key_name, const wire::Name& algorithm,
                    uint64_t time_signed, uint16_t fudge, std::span<const uint8_t> mac,
                    uint16_t original_id, uint16_t error, std::span<const uint8_t> other) {
  uint8_t* start = p;
  wire::Name k = key_name.lowercased(), a = algorithm.lowercased();
  std::memcpy(p, k.wire().data(), k.wire_length());
  p += k.wire_length();
  store_u16(p, kType);
  store_u16(p + 2, kClassAny);
  std::memset(p + 4, 0, 4);  // TTL
  uint8_t* rdlength = p + 8;
  p += 10;
  uint8_t* rdata = p;
  std::memcpy(p, a.wire().data(), a.wire_length());
  p += a.wire_length();
  put48(p, time_signed);
  store_u16(p + 6, fudge);
  store_u16(p + 8, static_cast<uint16_t>(mac.size()));
  p += 10;
  if (!mac.empty()) std::memcpy(p, mac.data(), mac.size());
  p += mac.size();
  store_u16(p, original_id);
  store_u16(p + 2, error);
  store_u16(p + 4, static_cast<uint16_t>(other.size()));
  p += 6;
  if (!other.empty()) std::memcpy(p, other.data(), other.size());
  p += other.size();
  store_u16(rdlength, static_cast<uint16_t>(p - rdata));
  return static_cast<size_t>(p - start);
}

size_t record_size_for(const wire::Name& key_name, const wire::Name& algorithm, size_t mac_len,
                       size_t other_len) noexcept {
  return key_name.wire_length() + 10 + algorithm.wire_length() + 10 + mac_len + 6 + other_len;
}

}  // namespace

std::string_view algorithm_text(Algorithm a) noexcept {
  return a == Algorithm::hmac_sha256 ? "hmac-sha256" : "hmac-sha512";
}

std::optional<Algorithm> algorithm_from_text(std::string_view text) noexcept {
  std::string lower(text);
  for (char& c : lower) c = static_cast<char>(c >= 'A' && c <= 'Z' ? c + 32 : c);
  if (!lower.empty() && lower.back() == '.') lower.pop_back();
  if (lower == "hmac-sha256") return Algorithm::hmac_sha256;
  if (lower == "hmac-sha512") return Algorithm::hmac_sha512;
  return std::nullopt;
}

const wire::Name& algorithm_name(Algorithm a) noexcept {
  static const wire::Name sha256 = *wire::Name::from_text("hmac-sha256.");
  static const wire::Name sha512 = *wire::Name::from_text("hmac-sha512.");
  return a == Algorithm::hmac_sha256 ? sha256 : sha512;
}

std::optional<Algorithm> algorithm_from_name(const wire::Name& n) noexcept {
  if (n == algorithm_name(Algorithm::hmac_sha256)) return Algorithm::hmac_sha256;
  if (n == algorithm_name(Algorithm::hmac_sha512)) return Algorithm::hmac_sha512;
  return std::nullopt;
}

size_t mac_size(Algorithm a) noexcept {
  return a == Algorithm::hmac_sha256 ? crypto_auth_hmacsha256_BYTES : crypto_auth_hmacsha512_BYTES;
}

Result<Key> make_key(std::string_view name, std::string_view algorithm,
                     std::string_view secret_base64) {
  ensure_sodium();
  auto n = wire::Name::from_text(name);
  if (!n) return make_error("TSIG key name \"" + std::string(name) + "\": " + n.error());
  auto a = algorithm_from_text(algorithm);
  if (!a) {
    return make_error("TSIG key " + n->to_text() + ": unsupported algorithm \"" +
                      std::string(algorithm) + "\" (use hmac-sha256 or hmac-sha512)");
  }
  std::string text(secret_base64);
  std::vector<uint8_t> secret(text.size());
  size_t len = 0;
  const char* end = nullptr;
  if (text.empty() ||
      sodium_base642bin(secret.data(), secret.size(), text.data(), text.size(), " \t\r\n", &len,
                        &end, sodium_base64_VARIANT_ORIGINAL) != 0 ||
      end != text.data() + text.size() || len == 0) {
    return make_error("TSIG key " + n->to_text() + ": the secret is not valid base64");
  }
  secret.resize(len);
  return Key{n->lowercased(), *a, std::move(secret)};
}

std::string to_base64(std::span<const uint8_t> bytes) {
  ensure_sodium();
  std::string out(sodium_base64_ENCODED_LEN(bytes.size(), sodium_base64_VARIANT_ORIGINAL), '\0');
  sodium_bin2base64(out.data(), out.size(), bytes.data(), bytes.size(),
                    sodium_base64_VARIANT_ORIGINAL);
  out.resize(std::strlen(out.c_str()));
  return out;
}

std::string random_secret(Algorithm a) {
  ensure_sodium();
  std::vector<uint8_t> secret(mac_size(a));
  randombytes_buf(secret.data(), secret.size());
  return to_base64(secret);
}

Status KeyRing::add(Key key) {
  if (find(key.name)) return make_error("TSIG key " + key.name.to_text() + " is defined twice");
  keys_.push_back(std::move(key));
  return {};
}

const Key* KeyRing::find(const wire::Name& name) const noexcept {
  for (const Key& k : keys_)
    if (k.name == name) return &k;
  return nullptr;
}

Find find(std::span<const uint8_t> message, Record& out) noexcept {
  if (message.size() < kHeaderSize) return Find::none;
  const uint8_t* h = message.data();
  const uint32_t qd = load_u16(h + 4);
  const uint32_t records = uint32_t{load_u16(h + 6)} + load_u16(h + 8) + load_u16(h + 10);
  const uint32_t additional_start = records - load_u16(h + 10);
  Walker w(message);
  w.skip(kHeaderSize);
  for (uint32_t i = 0; i < qd && w.ok(); ++i) {
    w.skip_name();
    w.skip(4);
  }
  if (!w.ok()) return Find::none;  // the caller's own parser reports it
  for (uint32_t i = 0; i < records; ++i) {
    const size_t start = w.pos();
    w.skip_name();
    const uint16_t type = w.u16();
    const uint16_t rclass = w.u16();
    w.skip(4);
    const uint16_t rdlength = w.u16();
    if (!w.need(rdlength)) return Find::none;
    if (type != kType) {
      w.skip(rdlength);
      continue;
    }
    // RFC 8945 §5.2: a TSIG record anywhere but last in the additional
    // section is a format error.
    if (i + 1 != records || i < additional_start || rclass != kClassAny) return Find::malformed;
    Walker owner(message);
    owner.skip(start);
    if (!owner.plain_name(out.key_name)) return Find::malformed;
    out.offset = start;
    const size_t rdata_end = w.pos() + rdlength;
    if (!w.plain_name(out.algorithm)) return Find::malformed;
    if (!w.need(10)) return Find::malformed;
    out.time_signed = get48(message.data() + w.pos());
    w.skip(6);
    out.fudge = w.u16();
    const uint16_t mac_len = w.u16();
    if (!w.need(mac_len)) return Find::malformed;
    out.mac = message.subspan(w.pos(), mac_len);
    w.skip(mac_len);
    out.original_id = w.u16();
    out.error = w.u16();
    const uint16_t other_len = w.u16();
    if (!w.need(other_len)) return Find::malformed;
    out.other = message.subspan(w.pos(), other_len);
    w.skip(other_len);
    if (!w.ok() || w.pos() != rdata_end || rdata_end != message.size()) return Find::malformed;
    return Find::found;
  }
  return Find::none;
}

uint16_t RequestCheck::tsig_error() const noexcept {
  switch (outcome) {
    case Outcome::badkey:
      return error::BADKEY;
    case Outcome::badsig:
      return error::BADSIG;
    case Outcome::badtime:
      return error::BADTIME;
    case Outcome::badtrunc:
      return error::BADTRUNC;
    default:
      return error::NOERROR;
  }
}

const char* outcome_text(RequestCheck::Outcome o) noexcept {
  using O = RequestCheck::Outcome;
  switch (o) {
    case O::unsigned_request:
      return "unsigned";
    case O::ok:
      return "signed";
    case O::formerr:
      return "malformed TSIG record";
    case O::badkey:
      return "unknown TSIG key (BADKEY)";
    case O::badsig:
      return "bad TSIG signature (BADSIG)";
    case O::badtime:
      return "TSIG time outside the fudge window (BADTIME)";
    case O::badtrunc:
      return "truncated TSIG MAC (BADTRUNC)";
  }
  return "?";
}

RequestCheck verify_request(std::span<const uint8_t> message, const KeyRing& keys, uint64_t now) {
  using O = RequestCheck::Outcome;
  RequestCheck c;
  switch (find(message, c.record)) {
    case Find::none:
      return c;
    case Find::malformed:
      c.outcome = O::formerr;
      return c;
    case Find::found:
      break;
  }
  const Record& r = c.record;
  c.unsigned_length = r.offset;
  const Key* key = keys.find(r.key_name);
  if (!key || algorithm_from_name(r.algorithm) != key->algorithm) {
    c.outcome = O::badkey;
    return c;
  }
  const size_t full = mac_size(key->algorithm);
  // §5.2.2.1: longer than the hash, or shorter than max(10, half), is a
  // format error.
  if (r.mac.size() > full || r.mac.size() < std::max<size_t>(10, full / 2)) {
    c.outcome = O::formerr;
    return c;
  }
  ensure_sodium();
  Hmac h(key->algorithm, key->secret);
  update_stripped(h, message, r);
  update_variables(h, r.key_name, r.algorithm, r.time_signed, r.fudge, r.error, r.other, false);
  uint8_t mac[kMaxMacSize];
  h.final(mac);
  if (sodium_memcmp(mac, r.mac.data(), r.mac.size()) != 0) {
    c.outcome = O::badsig;
    return c;
  }
  c.key = key;
  c.mac.assign(r.mac.begin(), r.mac.end());
  if (r.mac.size() < full) {
    c.outcome = O::badtrunc;
    c.key = nullptr;
    return c;
  }
  c.outcome = within_fudge(r.time_signed, r.fudge, now) ? O::ok : O::badtime;
  return c;
}

Signer::Signer(const Key& key, std::span<const uint8_t> request_mac) : key_(key) {
  ensure_sodium();
  mac_len_ = std::min(request_mac.size(), kMaxMacSize);
  if (mac_len_) std::memcpy(mac_, request_mac.data(), mac_len_);
}

size_t Signer::record_size(size_t other_length) const noexcept {
  return record_size_for(key_.name, algorithm_name(key_.algorithm), mac_size(key_.algorithm),
                         other_length);
}

size_t Signer::sign(std::span<uint8_t> buffer, size_t length, uint64_t now, uint16_t error,
                    std::span<const uint8_t> other) {
  if (length < kHeaderSize || buffer.size() < length ||
      buffer.size() - length < record_size(other.size())) {
    return 0;
  }
  const wire::Name& alg = algorithm_name(key_.algorithm);
  Hmac h(key_.algorithm, key_.secret);
  if (mac_len_) update_prior_mac(h, {mac_, mac_len_});
  h.update(pending_);
  pending_.clear();
  h.update(buffer.subspan(0, length));
  update_variables(h, key_.name, alg, now, kDefaultFudge, error, other, !first_);
  h.final(mac_);
  mac_len_ = mac_size(key_.algorithm);
  first_ = false;
  const uint16_t id = load_u16(buffer.data());
  length += write_record(buffer.data() + length, key_.name, alg, now, kDefaultFudge,
                         {mac_, mac_len_}, id, error, other);
  store_u16(buffer.data() + 10, static_cast<uint16_t>(load_u16(buffer.data() + 10) + 1));
  return length;
}

void Signer::add_unsigned(std::span<const uint8_t> message) {
  pending_.insert(pending_.end(), message.begin(), message.end());
}

size_t append_unsigned_error(std::span<uint8_t> buffer, size_t length, const Record& request,
                             uint64_t now, uint16_t error) noexcept {
  const size_t need = record_size_for(request.key_name, request.algorithm, 0, 0);
  if (length < kHeaderSize || buffer.size() < length || buffer.size() - length < need) return 0;
  length += write_record(buffer.data() + length, request.key_name, request.algorithm, now,
                         request.fudge, {}, load_u16(buffer.data()), error, {});
  store_u16(buffer.data() + 10, static_cast<uint16_t>(load_u16(buffer.data() + 10) + 1));
  return length;
}

ResponseVerifier::ResponseVerifier(const Key& key, std::span<const uint8_t> request_mac)
    : key_(key), prior_mac_(request_mac.begin(), request_mac.end()) {
  ensure_sodium();
}

Status ResponseVerifier::next(std::span<const uint8_t> message, uint64_t now) {
  Record r;
  switch (find(message, r)) {
    case Find::malformed:
      return make_error("the response has a malformed TSIG record");
    case Find::none:
      if (first_) return make_error("the response is not signed (TSIG key " +
                                    key_.name.to_text() + ")");
      if (++unsigned_run_ > kMaxUnsignedRun) {
        return make_error("more than 99 unsigned messages in a row in a signed transfer");
      }
      pending_.insert(pending_.end(), message.begin(), message.end());
      last_signed_ = false;
      return {};
    case Find::found:
      break;
  }
  if (r.key_name != key_.name || algorithm_from_name(r.algorithm) != key_.algorithm) {
    return make_error("the response is signed with key " + r.key_name.to_text() +
                      ", not with " + key_.name.to_text());
  }
  if (r.error != error::NOERROR) {
    std::string what = r.error == error::BADKEY    ? "BADKEY (it does not know the key)"
                       : r.error == error::BADSIG  ? "BADSIG (the secrets differ)"
                       : r.error == error::BADTIME ? "BADTIME (the clocks differ too much)"
                                                   : "TSIG error " + std::to_string(r.error);
    return make_error("the server answered " + what + " for key " + key_.name.to_text());
  }
  if (r.mac.size() != mac_size(key_.algorithm)) {
    return make_error("the response's TSIG MAC has the wrong length");
  }
  Hmac h(key_.algorithm, key_.secret);
  update_prior_mac(h, prior_mac_);
  h.update(pending_);
  update_stripped(h, message, r);
  update_variables(h, r.key_name, r.algorithm, r.time_signed, r.fudge, r.error, r.other, !first_);
  uint8_t mac[kMaxMacSize];
  h.final(mac);
  if (sodium_memcmp(mac, r.mac.data(), r.mac.size()) != 0) {
    return make_error("the response's TSIG signature does not verify with key " +
                      key_.name.to_text());
  }
  if (!within_fudge(r.time_signed, r.fudge, now)) {
    return make_error("the response's TSIG time is outside the fudge window (clock skew)");
  }
  prior_mac_.assign(r.mac.begin(), r.mac.end());
  pending_.clear();
  unsigned_run_ = 0;
  first_ = false;
  last_signed_ = true;
  return {};
}

}  // namespace raftdns::tsig
