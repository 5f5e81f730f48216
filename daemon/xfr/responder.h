// The transfer side of a DNS worker: TSIG on every request, AXFR (RFC 5936)
// and IXFR (RFC 1995) streams, and the transfer policy.
//
// A worker shows each query to inspect() before its answer engine sees it:
//  - an ordinary unsigned query passes straight on (the common case costs a
//    header peek and a walk over the records to look for a TSIG record);
//  - a signed query is verified; an ordinary one then goes to the engine
//    without its TSIG record, and its answer is signed with sign_answer();
//    a failure is answered here (NOTAUTH with BADKEY/BADSIG/BADTIME);
//  - AXFR and IXFR are checked against the policy and answered here: over
//    TCP with an OutgoingTransfer, a stream of messages produced on demand
//    from its own store read transaction (one consistent version of the
//    zone, however long the client takes to read it).
// Everything here is per worker thread; only the RefusalLog is shared.
#pragma once

#include <sys/socket.h>

#include <cstddef>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>

#include "daemon/store/read_txn.h"
#include "daemon/tsig/tsig.h"
#include "daemon/wire/message.h"
#include "daemon/xfr/policy.h"

namespace raftdns::store {
class Store;
}

namespace raftdns::xfr {

// What the worker's configuration gives the transfer code. Immutable once
// built; the workers share it.
struct TransferSettings {
  tsig::KeyRing keys;
  TransferPolicy policy;
  // Where refusals (warn) and transfers served (info) are reported: the
  // daemon's log. Either may be empty.
  std::function<void(const std::string&)> warn;
  std::function<void(const std::string&)> info;
};

// One AXFR or IXFR in progress on a TCP connection.
class OutgoingTransfer {
 public:
  virtual ~OutgoingTransfer() = default;
  // Writes the next message of the stream into `out` (at least 65535
  // bytes) and returns its length; 0 once the stream is complete.
  virtual size_t next(std::span<uint8_t> out, uint64_t now) = 0;
  virtual bool done() const = 0;
};

class Responder {
 public:
  Responder(std::shared_ptr<const TransferSettings> settings, const store::Store& store,
            RefusalLog& refusals);

  enum class Kind : uint8_t {
    pass,             // not ours: the engine answers `query` as it is
    reply,            // `length` bytes of reply are in `out`
    engine_then_sign, // the engine answers `unsigned_query`; sign its answer
    transfer,         // stream `transfer` (TCP only)
  };
  struct Outcome {
    Kind kind = Kind::pass;
    size_t length = 0;
    // engine_then_sign: the query without its TSIG record (ARCOUNT one
    // lower), valid until the next inspect().
    std::span<const uint8_t> unsigned_query;
    std::unique_ptr<OutgoingTransfer> transfer;
  };

  // `now` is the wall clock in seconds (TSIG time). `view` is the worker's
  // current read view (used for answers that fit one message).
  Outcome inspect(std::span<const uint8_t> query, const sockaddr* client, bool tcp,
                  const store::ReadTxn& view, std::span<uint8_t> out, uint64_t now);

  // Signs the engine's answer to the signed query inspect() just passed on
  // (engine_then_sign). Returns the new length, or 0 (drop) in the rare
  // case that the TSIG record does not fit in `out`.
  size_t sign_answer(std::span<uint8_t> out, size_t length, uint64_t now);

  // Any thread (a metrics scrape): this worker's counts so far.
  uint64_t transfers_started() const noexcept { return transfers_.load(std::memory_order_relaxed); }
  uint64_t transfers_refused() const noexcept { return refused_.load(std::memory_order_relaxed); }

 private:
  size_t refuse(const wire::QueryView& q, std::span<const uint8_t> query, const sockaddr* client,
                std::span<uint8_t> out, uint16_t rcode, const std::string& reason, uint64_t now);
  size_t tsig_failure(const wire::QueryView& q, std::span<const uint8_t> query,
                      const sockaddr* client, std::span<uint8_t> out, uint64_t now);
  void warn(const std::string& line) const;
  void info(const std::string& line) const;
  size_t simple(const wire::QueryView& q, std::span<uint8_t> out, uint16_t rcode);
  size_t finish_signed(std::span<uint8_t> out, size_t length, uint64_t now);

  std::shared_ptr<const TransferSettings> settings_;
  const store::Store& store_;
  RefusalLog& refusals_;
  tsig::RequestCheck check_;      // the last signed request seen
  std::vector<uint8_t> stripped_;  // that request without its TSIG record
  // Written by the worker's thread only; read by a scraper.
  std::atomic<uint64_t> transfers_{0}, refused_{0};
};

// A NOTIFY (RFC 1996) for `zone` carrying its SOA in the answer section,
// with message id `id`; signed when `key` is set. Returns the length.
size_t make_notify(std::span<uint8_t> out, uint16_t id, const wire::Name& zone,
                   std::span<const uint8_t> soa_rdata, uint32_t soa_ttl, const tsig::Key* key,
                   uint64_t now, std::vector<uint8_t>* request_mac);

}  // namespace raftdns::xfr
