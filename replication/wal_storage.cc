// WalStorage: Raft Storage over wal::Log (entry type folded into the payload).
#include "replication/wal_storage.h"

#include <cstdio>
#include <cstdlib>

namespace raftdns::replication {

namespace {
// A WAL read error other than compacted/unavailable means the disk gave us
// something we cannot trust; Raft has no safe answer, so stop here.
[[noreturn]] void fatal_wal(const std::string& what) {
  std::fprintf(stderr, "raftdnsd: fatal: WAL read failed: %s\n", what.c_str());
  std::abort();
}
}  // namespace

raft::HardState to_raft(const wal::HardState& hs) { return {hs.term, hs.vote, hs.commit}; }
wal::HardState to_wal(const raft::HardState& hs) { return {hs.term, hs.vote, hs.commit}; }

raft::Entry to_raft(wal::Entry e) {
  raft::Entry out;
  out.index = e.index;
  out.term = e.term;
  if (e.payload.empty()) fatal_wal("entry " + std::to_string(e.index) + " has no type byte");
  out.type = e.payload[0] == 1 ? raft::EntryType::conf_change : raft::EntryType::normal;
  out.data.assign(e.payload.begin() + 1, e.payload.end());
  return out;
}

wal::Entry to_wal(const raft::Entry& e) {
  wal::Entry out;
  out.index = e.index;
  out.term = e.term;
  out.payload.reserve(e.data.size() + 1);
  out.payload.push_back(e.type == raft::EntryType::conf_change ? 1 : 0);
  out.payload.insert(out.payload.end(), e.data.begin(), e.data.end());
  return out;
}

WalStorage::WalStorage(wal::Log& log, raft::ConfState initial_conf,
                       std::function<raft::SnapshotMeta()> snapshot_meta)
    : log_(log), initial_conf_(std::move(initial_conf)), snapshot_meta_(std::move(snapshot_meta)) {}

raft::InitialState WalStorage::initial_state() const {
  return {to_raft(log_.hard_state()), initial_conf_};
}

raft::StorageResult<std::vector<raft::Entry>> WalStorage::entries(uint64_t lo, uint64_t hi,
                                                                  uint64_t max_bytes) const {
  if (lo <= log_.snapshot_index()) return raft::StorageError::compacted;
  if (hi > log_.last_index() + 1) return raft::StorageError::unavailable;
  std::vector<raft::Entry> out;
  if (lo >= hi) return out;
  auto got = log_.entries(lo, hi, max_bytes);
  if (!got) {
    if (log_.last_error() == wal::ErrorCode::compacted) return raft::StorageError::compacted;
    if (log_.last_error() == wal::ErrorCode::unavailable) return raft::StorageError::unavailable;
    fatal_wal(got.error());
  }
  out.reserve(got->size());
  for (auto& e : *got) out.push_back(to_raft(std::move(e)));
  return out;
}

raft::StorageResult<uint64_t> WalStorage::term(uint64_t i) const {
  if (i < log_.snapshot_index()) return raft::StorageError::compacted;
  if (i > log_.last_index()) return raft::StorageError::unavailable;
  auto t = log_.term(i);
  if (!t) fatal_wal(t.error());
  return *t;
}

uint64_t WalStorage::first_index() const { return log_.first_index(); }
uint64_t WalStorage::last_index() const { return log_.last_index(); }

raft::StorageResult<raft::SnapshotMeta> WalStorage::snapshot() const {
  raft::SnapshotMeta meta = snapshot_meta_();
  if (meta.index == 0) return raft::StorageError::snapshot_temporarily_unavailable;
  return meta;
}

}  // namespace raftdns::replication
