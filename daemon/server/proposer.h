// Proposer: the one way a write reaches the store.
//
// The control service hands every change to a Proposer and answers the
// client from the callback. The daemon's proposer puts Raft behind it
// (propose, commit, apply on every node; a node without peers is a cluster
// of one); tests plug in one that applies directly.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "common/result.h"
#include "daemon/store/command.h"

namespace raftdns::replication {
class ClusterNode;
}

namespace raftdns::server {

struct ProposalOptions {
  // The client gives up at this point; a proposal not committed by then
  // fails with a reason and is not applied by this proposer afterwards.
  std::chrono::steady_clock::time_point deadline;
  // Answer only once every node in the configuration has applied it (the
  // same as a local apply on a single node).
  bool wait_for_all = false;
};

class Proposer {
 public:
  // `status` is the outcome of the apply (a refused command carries the
  // store's reason); `index` is the log index the command was applied at.
  using Callback = std::function<void(Status status, uint64_t index)>;

  virtual ~Proposer() = default;

  // Called on the main loop thread. `done` runs exactly once, on the main
  // loop thread, possibly before submit() returns.
  virtual void submit(store::Command command, const ProposalOptions& options, Callback done) = 0;
};

// The cluster: propose through Raft. The callback runs once the command is
// committed and applied on this node (with the apply's verdict: a change the
// store refuses, such as removing a record that is not there, is refused
// identically on every node and changes nothing), or, with wait_for_all,
// once every member has applied it.
class ClusterProposer final : public Proposer {
 public:
  explicit ClusterProposer(replication::ClusterNode& node);
  void submit(store::Command command, const ProposalOptions& options, Callback done) override;

 private:
  replication::ClusterNode& node_;
};

}  // namespace raftdns::server
