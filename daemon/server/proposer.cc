// Proposers: the single-node write path (check, then apply) and the cluster one (Raft).
#include "daemon/server/proposer.h"

#include <vector>

#include "daemon/store/store.h"
#include "replication/node.h"

namespace raftdns::server {

// A single node has one term forever; 1 rather than 0 because Raft reserves
// term 0 for "no entry".
constexpr uint64_t kSingleNodeTerm = 1;

LocalProposer::LocalProposer(store::Store& store)
    : store_(store), last_index_(store.stats().applied_index) {}

void LocalProposer::submit(store::Command command, const ProposalOptions& options, Callback done) {
  if (std::chrono::steady_clock::now() > options.deadline) {
    done(make_error("timed out before the change could be applied"), 0);
    return;
  }
  if (Status checked = store_.check(command); !checked) {
    done(std::move(checked), 0);
    return;
  }
  std::vector<uint8_t> encoded = store::encode_command(command);
  const uint64_t index = last_index_ + 1;
  store::ApplyItem item{index, kSingleNodeTerm, encoded};
  std::vector<Status> outcomes;
  Status applied = store_.apply({&item, 1}, &outcomes);
  if (!applied) {
    done(make_error("store failure: " + applied.error()), 0);
    return;
  }
  last_index_ = index;
  if (!outcomes.empty() && !outcomes.front()) {
    done(std::move(outcomes.front()), index);
    return;
  }
  done({}, index);
}

ClusterProposer::ClusterProposer(replication::ClusterNode& node) : node_(node) {}

void ClusterProposer::submit(store::Command command, const ProposalOptions& options,
                             Callback done) {
  // No check against the local store first: it may lag the cluster (a node
  // just restarted, or a follower a few entries behind), and would refuse a
  // change that is valid at the point in the log where it will apply. The
  // apply itself enforces the rules on every node and its verdict comes back.
  const auto deadline = options.deadline;
  const bool wait_for_all = options.wait_for_all;
  node_.submit(store::encode_command(command), deadline,
               [this, deadline, wait_for_all, done = std::move(done)](Status s, uint64_t index) {
                 if (!s || !wait_for_all) return done(std::move(s), index);
                 node_.wait_applied_everywhere(index, deadline, [done, index](Status all) {
                   done(std::move(all), index);
                 });
               });
}

}  // namespace raftdns::server
