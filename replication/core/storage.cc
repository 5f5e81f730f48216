// MemoryStorage: the in-memory log used by the tests, the simulator and the benchmark.
#include "replication/core/storage.h"

#include <string>

namespace raftdns::raft {

const char* to_string(StorageError error) {
  switch (error) {
    case StorageError::compacted:
      return "requested index is compacted";
    case StorageError::unavailable:
      return "requested index is unavailable";
    case StorageError::snapshot_temporarily_unavailable:
      return "snapshot is temporarily unavailable";
  }
  return "unknown storage error";
}

MemoryStorage::MemoryStorage() : entries_(1) {}

MemoryStorage::MemoryStorage(ConfState initial) : entries_(1) {
  snapshot_.conf = std::move(initial);
}

InitialState MemoryStorage::initial_state() const { return {hard_state_, snapshot_.conf}; }

uint64_t MemoryStorage::first_index() const { return entries_.front().index + 1; }

uint64_t MemoryStorage::last_index() const { return entries_.front().index + entries_.size() - 1; }

StorageResult<std::vector<Entry>> MemoryStorage::entries(uint64_t lo, uint64_t hi,
                                                         uint64_t max_bytes) const {
  const uint64_t offset = entries_.front().index;
  if (lo <= offset) return StorageError::compacted;
  if (hi > last_index() + 1) return StorageError::unavailable;
  std::vector<Entry> out;
  uint64_t total = 0;
  for (uint64_t i = lo; i < hi; ++i) {
    const Entry& e = entries_[i - offset];
    total += entry_size(e);
    if (!out.empty() && total > max_bytes) break;
    out.push_back(e);
  }
  return out;
}

StorageResult<uint64_t> MemoryStorage::term(uint64_t i) const {
  const uint64_t offset = entries_.front().index;
  if (i < offset) return StorageError::compacted;
  if (i > last_index()) return StorageError::unavailable;
  return entries_[i - offset].term;
}

StorageResult<SnapshotMeta> MemoryStorage::snapshot() const { return snapshot_; }

Status MemoryStorage::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return {};
  const uint64_t first = first_index();
  const uint64_t last_new = entries.back().index;
  if (last_new < first) return {};  // all covered by the snapshot
  if (entries.front().index > last_index() + 1) {
    return make_error("memory storage: appending index " + std::to_string(entries.front().index) +
                      " leaves a gap after " + std::to_string(last_index()));
  }
  size_t skip = entries.front().index < first ? first - entries.front().index : 0;
  const uint64_t start = entries[skip].index;
  entries_.resize(start - entries_.front().index);
  entries_.insert(entries_.end(), entries.begin() + static_cast<std::ptrdiff_t>(skip),
                  entries.end());
  return {};
}

Status MemoryStorage::apply_snapshot(const SnapshotMeta& meta) {
  if (meta.index < snapshot_.index) {
    return make_error("memory storage: snapshot at " + std::to_string(meta.index) +
                      " is older than the current one at " + std::to_string(snapshot_.index));
  }
  snapshot_ = meta;
  entries_.assign(1, Entry{meta.index, meta.term, EntryType::normal, {}});
  return {};
}

Status MemoryStorage::create_snapshot(uint64_t index, const ConfState& conf) {
  if (index < snapshot_.index) {
    return make_error("memory storage: snapshot at " + std::to_string(index) +
                      " is older than the current one at " + std::to_string(snapshot_.index));
  }
  if (index > last_index()) {
    return make_error("memory storage: snapshot at " + std::to_string(index) +
                      " is beyond the last index " + std::to_string(last_index()));
  }
  auto t = term(index);
  if (!t.ok()) {
    return make_error("memory storage: snapshot at " + std::to_string(index) + ": " +
                      to_string(t.error()));
  }
  snapshot_ = SnapshotMeta{index, t.value(), conf};
  return {};
}

Status MemoryStorage::compact(uint64_t compact_index) {
  const uint64_t offset = entries_.front().index;
  if (compact_index <= offset) return {};
  if (compact_index > snapshot_.index) {
    // Dropping entries the snapshot does not cover would leave a hole no follower
    // could ever be repaired across.
    return make_error("memory storage: compacting to " + std::to_string(compact_index) +
                      " passes the snapshot at " + std::to_string(snapshot_.index));
  }
  const auto drop = static_cast<std::ptrdiff_t>(compact_index - offset);
  Entry placeholder{compact_index, entries_[static_cast<size_t>(drop)].term, EntryType::normal, {}};
  entries_.erase(entries_.begin(), entries_.begin() + drop);
  entries_.front() = std::move(placeholder);
  return {};
}

}  // namespace raftdns::raft
