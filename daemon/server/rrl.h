// Response rate limiting (RRL) for UDP answers: per client prefix and
// response class, with slip.
//
// Why: an authoritative server answers anyone, so a forged-source UDP flood
// turns it into an amplifier aimed at the forged address. RRL caps how many
// identical-looking responses one network receives per second. A limited
// response is dropped, except every `slip`-th one, which goes out as a short
// truncated reply (TC=1, question only). A real resolver behind that prefix
// then retries over TCP, which cannot be forged, so it keeps getting answers;
// a forged victim only ever gets a few tiny packets.
//
// The bucket key is (client prefix, response class, qtype, name), where the
// name is the one a flood would vary least:
//   answer   - the query name and type;
//   nodata   - the zone (owner of the authority SOA), any type;
//   nxdomain - the zone, so a flood of random names shares one bucket;
//   referral - the delegation point (owner of the authority NS);
//   error    - none: every error to a prefix shares one bucket.
//
// Each bucket is a token bucket in thousandths of a response: it refills at
// `rate` responses per second up to one second's worth, and a response
// costs one. The table is a fixed array (a power of two at least
// `table_size`), four-way set-associative, allocated once: a check is a hash
// and at most four probes, and never allocates. When all four slots of a set
// belong to other keys, the one idle longest is reused; an evicted bucket
// restarts full, so eviction errs towards answering.
//
// One limiter belongs to one worker thread and takes no lock. SO_REUSEPORT
// spreads clients over workers by address and port, so the limit holds per
// worker: one client socket sees `rate`; a flood spread over many source
// ports may see up to `workers` x `rate`.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace raftdns::server {

struct RrlConfig {
  uint32_t rate = 0;  // responses per second per bucket; 0 turns RRL off
  // Every slip-th limited response is sent truncated; 0 drops them all,
  // 1 truncates them all.
  uint32_t slip = 2;
  uint8_t ipv4_prefix = 24;
  uint8_t ipv6_prefix = 56;
  uint32_t table_size = 65536;  // buckets per worker (rounded up to a power of two)

  bool enabled() const { return rate != 0; }
};

enum class ResponseClass : uint8_t { answer, nodata, nxdomain, referral, error };

struct ClassifiedResponse {
  ResponseClass response_class = ResponseClass::error;
  uint16_t qtype = 0;       // only for answers
  uint64_t name_hash = 0;   // see the key table above; 0 for errors
  size_t question_end = 0;  // offset just past the question; 12 when there is none
};

// Classifies a response the engine produced. Never reads past `response`;
// anything it cannot walk is an error-class response.
ClassifiedResponse classify_response(std::span<const uint8_t> response) noexcept;

// Rewrites `response` in place into its slip form: the header with TC=1 and
// the counts of every section but the question set to 0, then the question.
// Returns the new length (at most `question_end`).
size_t make_slip_response(std::span<uint8_t> response, size_t question_end) noexcept;

enum class RrlVerdict : uint8_t { send, drop, slip };

class ResponseRateLimiter {
 public:
  // `seed` keys the bucket hash, so a remote party cannot aim collisions.
  ResponseRateLimiter(const RrlConfig& config, uint64_t seed);

  // One call per UDP response about to be sent to `client`. `now_ms` is a
  // monotonic clock in milliseconds (it may wrap).
  RrlVerdict check(const sockaddr* client, const ClassifiedResponse& response,
                   uint32_t now_ms) noexcept;

  size_t bucket_count() const { return buckets_.size(); }

 private:
  struct Bucket {
    uint64_t key = 0;     // 0: free
    uint32_t tokens = 0;  // thousandths of a response
    uint32_t last_ms = 0;
  };
  uint64_t key_of(const sockaddr* client, const ClassifiedResponse& response) const noexcept;

  RrlConfig config_;
  uint64_t seed_;
  uint64_t ipv6_high_mask_, ipv6_low_mask_;
  uint32_t ipv4_mask_;
  uint32_t capacity_;  // one second's worth, in thousandths
  uint32_t slip_countdown_;
  std::vector<Bucket> buckets_;
};

}  // namespace raftdns::server
