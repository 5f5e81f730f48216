// UpdateService: RFC 2136 dynamic updates, from a DNS worker to the log and
// back.
//
// On the worker's thread: the TSIG check (RFC 8945), the message's form and
// the grant check ([[update.grant]], default deny). A refusal is answered at
// once. An update that passes goes to the main loop as a store::Update
// command, through the same Proposer as every dnsadm write: a follower
// forwards it to the leader, and the prerequisites are judged when the entry
// is applied, identically on every node. The answer goes back to the worker
// once the update is committed and applied on this node (so a query to this
// node sees it), with the rcode the apply gave. Without a quorum it fails at
// update.timeout with SERVFAIL, and nothing is applied.
#pragma once

#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <vector>

#include "daemon/server/config.h"
#include "daemon/server/inbox.h"
#include "daemon/tsig/tsig.h"

namespace raftdns::store {
class Store;
}

namespace raftdns::server {

class Proposer;

// Updates by outcome, for status and metrics readers.
struct UpdateCounters {
  std::atomic<uint64_t> applied{0};          // NOERROR
  std::atomic<uint64_t> prerequisite_failed{0};  // YXDOMAIN, YXRRSET, NXDOMAIN, NXRRSET
  std::atomic<uint64_t> refused{0};          // not granted, or a zone rule refused it
  std::atomic<uint64_t> notauth{0};          // bad or unknown TSIG key, zone not served
  std::atomic<uint64_t> malformed{0};        // FORMERR, NOTZONE
  std::atomic<uint64_t> failed{0};           // SERVFAIL: no quorum, timeout
};

class UpdateService {
 public:
  using Reply = std::function<void(std::vector<uint8_t> response)>;
  using Clock = std::function<uint64_t()>;  // seconds since the epoch (TSIG time)

  // `main` is the main loop's inbox; `keys` the TSIG keys ([[tsig]]);
  // `store` tells which zones this node serves (NOTAUTH for the others).
  UpdateService(const Config& config, tsig::KeyRing keys, const store::Store& store,
                std::shared_ptr<Inbox> main, Clock clock = {});

  // Main thread, before the main loop runs. Until then updates get SERVFAIL.
  void set_proposer(Proposer* proposer) { proposer_ = proposer; }

  // True for a message whose opcode is UPDATE (byte 2, bits 3-6).
  static bool is_update(std::span<const uint8_t> message) noexcept {
    return message.size() >= 4 && ((message[2] >> 3) & 0xf) == 5;
  }

  // Worker thread. Answers the UPDATE `message` from `client`: `reply` runs
  // on the worker's loop (through `worker`), now for a refusal or later for
  // an update that went to the log. It is never run when the worker's inbox
  // has closed, and not at all for a message too broken to answer.
  void handle(std::span<const uint8_t> message, const sockaddr* client,
              const std::shared_ptr<Inbox>& worker, Reply reply);

  const UpdateCounters& counters() const { return counters_; }

 private:
  struct Job;
  void count(uint16_t rcode);
  bool serves_zone(const wire::Name& zone) const;
  void propose_on_main(std::shared_ptr<Job> job);
  std::vector<uint8_t> respond(const Job& job, uint16_t rcode);

  std::vector<UpdateGrantConfig> grants_;
  tsig::KeyRing keys_;
  const store::Store& store_;
  std::shared_ptr<Inbox> main_;
  Clock clock_;
  std::chrono::milliseconds timeout_;
  Proposer* proposer_ = nullptr;  // main thread only
  xfr::RefusalLog refusal_log_;
  UpdateCounters counters_;
};

}  // namespace raftdns::server
