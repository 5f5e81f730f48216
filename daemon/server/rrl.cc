// Response rate limiting: response classification, bucket table, slip form.
#include "daemon/server/rrl.h"

#include <netinet/in.h>

#include <algorithm>
#include <bit>
#include <cstring>

#include "common/bytes.h"

namespace raftdns::server {
namespace {

constexpr size_t kHeaderSize = 12;
constexpr uint32_t kResponseCost = 1000;  // tokens are thousandths of a response
constexpr size_t kWays = 4;
// A name has at most 127 labels; more pointer hops than that is a loop.
constexpr int kMaxNameSteps = 128;

constexpr uint8_t kRcodeNoError = 0;
constexpr uint8_t kRcodeNxdomain = 3;

uint16_t read_u16(std::span<const uint8_t> m, size_t at) {
  return static_cast<uint16_t>(m[at] << 8 | m[at + 1]);
}

uint64_t mix(uint64_t h, uint64_t v) {
  // splitmix64's finalizer over (h + v): cheap and spreads every input bit.
  h += v + 0x9e3779b97f4a7c15ULL;
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// Hashes the name at `at` case-insensitively, following compression
// pointers. Sets `end` to the offset just past the name where it starts (not
// where a pointer led). False when the name runs off the message or loops.
bool hash_name(std::span<const uint8_t> m, size_t at, uint64_t& hash, size_t& end) {
  uint64_t h = bytes::kFnv64Offset;
  bool jumped = false;
  for (int step = 0; step < kMaxNameSteps; ++step) {
    if (at >= m.size()) return false;
    uint8_t len = m[at];
    if ((len & 0xc0) == 0xc0) {
      if (at + 1 >= m.size()) return false;
      if (!jumped) end = at + 2;
      jumped = true;
      at = static_cast<size_t>(len & 0x3f) << 8 | m[at + 1];
      continue;
    }
    if (len & 0xc0) return false;  // reserved label types
    if (at + 1 + len > m.size()) return false;
    h = bytes::fnv1a64_step(h, len);
    for (size_t i = 0; i < len; ++i) {
      uint8_t c = m[at + 1 + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
      h = bytes::fnv1a64_step(h, c);
    }
    at += 1 + len;
    if (len == 0) {
      if (!jumped) end = at;
      hash = h;
      return true;
    }
  }
  return false;
}

// Steps over one resource record; false when it does not fit.
bool skip_record(std::span<const uint8_t> m, size_t& at) {
  uint64_t ignored;
  size_t end = 0;
  if (!hash_name(m, at, ignored, end)) return false;
  if (end + 10 > m.size()) return false;
  size_t rdlength = read_u16(m, end + 8);
  if (end + 10 + rdlength > m.size()) return false;
  at = end + 10 + rdlength;
  return true;
}

}  // namespace

ClassifiedResponse classify_response(std::span<const uint8_t> m) noexcept {
  ClassifiedResponse out;
  out.question_end = kHeaderSize;
  if (m.size() < kHeaderSize) {
    out.question_end = 0;
    return out;
  }
  const uint8_t rcode = m[3] & 0x0f;
  const bool authoritative = (m[2] & 0x04) != 0;
  const uint16_t qdcount = read_u16(m, 4);
  const uint16_t ancount = read_u16(m, 6);
  const uint16_t nscount = read_u16(m, 8);
  if (qdcount != 1) return out;

  uint64_t qname_hash = 0;
  size_t at = 0;
  if (!hash_name(m, kHeaderSize, qname_hash, at) || at + 4 > m.size()) return out;
  const uint16_t qtype = read_u16(m, at);
  at += 4;
  out.question_end = at;
  if (rcode != kRcodeNoError && rcode != kRcodeNxdomain) return out;

  if (rcode == kRcodeNoError && ancount > 0) {
    out.response_class = ResponseClass::answer;
    out.qtype = qtype;
    out.name_hash = qname_hash;
    return out;
  }
  if (rcode == kRcodeNxdomain) {
    out.response_class = ResponseClass::nxdomain;
  } else {
    out.response_class = authoritative ? ResponseClass::nodata : ResponseClass::referral;
  }
  // The zone or delegation point is the owner of the first authority record
  // (the SOA, or the NS set). A CNAME chain before it is stepped over.
  out.name_hash = qname_hash;
  if (nscount == 0) return out;
  for (uint16_t i = 0; i < ancount; ++i) {
    if (!skip_record(m, at)) return out;
  }
  uint64_t owner_hash = 0;
  size_t ignored = 0;
  if (hash_name(m, at, owner_hash, ignored)) out.name_hash = owner_hash;
  return out;
}

size_t make_slip_response(std::span<uint8_t> m, size_t question_end) noexcept {
  if (m.size() < kHeaderSize || question_end < kHeaderSize || question_end > m.size()) {
    return 0;
  }
  m[2] |= 0x02;  // TC
  if (question_end == kHeaderSize) {
    m[4] = m[5] = 0;  // no question could be walked: header only
  }
  std::memset(&m[6], 0, 6);  // ANCOUNT, NSCOUNT, ARCOUNT
  return question_end;
}

ResponseRateLimiter::ResponseRateLimiter(const RrlConfig& config, uint64_t seed)
    : config_(config),
      seed_(seed),
      capacity_(config.rate * kResponseCost),
      slip_countdown_(config.slip) {
  const unsigned v4 = std::min<unsigned>(config.ipv4_prefix, 32);
  ipv4_mask_ = v4 == 0 ? 0 : ~uint32_t{0} << (32 - v4);
  const unsigned v6 = std::min<unsigned>(config.ipv6_prefix, 128);
  ipv6_high_mask_ = v6 == 0 ? 0 : v6 >= 64 ? ~uint64_t{0} : ~uint64_t{0} << (64 - v6);
  ipv6_low_mask_ = v6 <= 64 ? 0 : v6 == 128 ? ~uint64_t{0} : ~uint64_t{0} << (128 - v6);
  size_t size = std::bit_ceil(std::max<size_t>(config.table_size, kWays));
  buckets_.resize(size);
}

uint64_t ResponseRateLimiter::key_of(const sockaddr* client,
                                     const ClassifiedResponse& response) const noexcept {
  uint64_t h = seed_;
  if (client->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(client);
    h = mix(h, 4);
    h = mix(h, ntohl(a->sin_addr.s_addr) & ipv4_mask_);
  } else if (client->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(client);
    uint64_t high = 0, low = 0;
    for (int i = 0; i < 8; ++i) high = high << 8 | a->sin6_addr.s6_addr[i];
    for (int i = 8; i < 16; ++i) low = low << 8 | a->sin6_addr.s6_addr[i];
    h = mix(h, 6);
    h = mix(h, high & ipv6_high_mask_);
    h = mix(h, low & ipv6_low_mask_);
  }
  h = mix(h, static_cast<uint64_t>(response.response_class) << 16 | response.qtype);
  h = mix(h, response.name_hash);
  return h == 0 ? 1 : h;  // 0 marks a free bucket
}

RrlVerdict ResponseRateLimiter::check(const sockaddr* client, const ClassifiedResponse& response,
                                      uint32_t now_ms) noexcept {
  const uint64_t key = key_of(client, response);
  const size_t mask = buckets_.size() - 1;
  const size_t set = static_cast<size_t>(key) & mask & ~(kWays - 1);
  Bucket* bucket = nullptr;
  Bucket* oldest = nullptr;
  uint32_t oldest_idle = 0;
  for (size_t way = 0; way < kWays; ++way) {
    Bucket& b = buckets_[set + way];
    if (b.key == key) {
      bucket = &b;
      break;
    }
    const uint32_t idle = b.key == 0 ? UINT32_MAX : now_ms - b.last_ms;
    if (!oldest || idle > oldest_idle) {
      oldest = &b;
      oldest_idle = idle;
    }
  }
  if (bucket) {
    // Past one second the bucket is full anyway; the cap also keeps the
    // product below 2^32.
    const uint32_t elapsed = std::min<uint32_t>(now_ms - bucket->last_ms, 1000);
    bucket->tokens = std::min(capacity_, bucket->tokens + elapsed * config_.rate);
  } else {
    bucket = oldest;
    bucket->key = key;
    bucket->tokens = capacity_;
  }
  bucket->last_ms = now_ms;
  if (bucket->tokens >= kResponseCost) {
    bucket->tokens -= kResponseCost;
    return RrlVerdict::send;
  }
  if (config_.slip == 0) return RrlVerdict::drop;
  if (--slip_countdown_ > 0) return RrlVerdict::drop;
  slip_countdown_ = config_.slip;
  return RrlVerdict::slip;
}

}  // namespace raftdns::server
