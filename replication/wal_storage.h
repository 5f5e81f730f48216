// WalStorage: the Raft core's Storage interface served from the on-disk WAL.
//
// The WAL holds the entries and the hard state; the store holds the applied
// state. The snapshot point that the core sees is the store's applied index:
// a follower that needs entries the WAL no longer has gets a copy of the
// store, which is exactly the state at that index.
#pragma once

#include <functional>

#include "replication/core/storage.h"
#include "wal/log.h"

namespace raftdns::replication {

raft::HardState to_raft(const wal::HardState& hs);
wal::HardState to_wal(const raft::HardState& hs);
raft::Entry to_raft(wal::Entry e);
wal::Entry to_wal(const raft::Entry& e);

// The entry payload in the WAL carries the entry type in its first byte, so
// the WAL stays free of Raft types.
class WalStorage final : public raft::Storage {
 public:
  // `snapshot_meta` returns the metadata of the snapshot a leader would send
  // now (the store's applied index, its term and the membership there).
  WalStorage(wal::Log& log, raft::ConfState initial_conf,
             std::function<raft::SnapshotMeta()> snapshot_meta);

  raft::InitialState initial_state() const override;
  raft::StorageResult<std::vector<raft::Entry>> entries(uint64_t lo, uint64_t hi,
                                                        uint64_t max_bytes) const override;
  raft::StorageResult<uint64_t> term(uint64_t i) const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  raft::StorageResult<raft::SnapshotMeta> snapshot() const override;

 private:
  wal::Log& log_;
  raft::ConfState initial_conf_;
  std::function<raft::SnapshotMeta()> snapshot_meta_;
};

}  // namespace raftdns::replication
