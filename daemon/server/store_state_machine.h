// StoreStateMachine: the LMDB store bound to the replication driver's StateMachine interface.
#pragma once

#include "daemon/store/store.h"
#include "replication/state_machine.h"

namespace raftdns::server {

class StoreStateMachine final : public replication::StateMachine {
 public:
  explicit StoreStateMachine(store::Store& store) : store_(store) {}

  replication::AppliedPosition applied() const override;
  std::vector<uint8_t> membership() const override;
  // Commands are encoded store::Commands; a membership item becomes a
  // SetMembership command in the same write transaction.
  Status apply(std::span<const replication::ApplyItem> items,
               std::vector<Status>* outcomes) override;
  Status sync() override;
  Result<replication::SnapshotFile> write_snapshot(const std::string& dir) const override;
  Status install_snapshot(const std::string& file) override;
  std::string digest() const override;
  std::function<std::string()> digest_job() const override;
  std::string location() const override;

 private:
  store::Store& store_;
};

}  // namespace raftdns::server
