// ClusterProposer: writes go through the replication driver (Raft).
#include "daemon/server/proposer.h"

#include <vector>

#include "replication/node.h"

namespace raftdns::server {

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
