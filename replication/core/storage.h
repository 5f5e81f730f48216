// The log storage the Raft core reads from, and MemoryStorage for tests and the simulator.
#pragma once

#include <cstdint>
#include <utility>
#include <variant>
#include <vector>

#include "replication/core/types.h"

namespace raftdns::raft {

// The only failures a Storage may report. Anything else (an unreadable disk) has no
// safe answer inside Raft: the implementation must abort instead of returning.
enum class StorageError : uint8_t {
  // The requested index is at or below the last snapshot: the entries are gone.
  compacted = 1,
  // The requested index is above last_index(): the entries do not exist (yet).
  unavailable = 2,
  // snapshot() only: a snapshot is being produced; the leader retries later.
  snapshot_temporarily_unavailable = 3,
};

const char* to_string(StorageError error);

// A value or one of the named storage errors.
template <class T>
class [[nodiscard]] StorageResult {
 public:
  StorageResult(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  StorageResult(StorageError e) : v_(e) {}          // NOLINT: implicit by design

  bool ok() const { return v_.index() == 0; }
  T& value() { return std::get<0>(v_); }
  const T& value() const { return std::get<0>(v_); }
  StorageError error() const { return std::get<1>(v_); }

 private:
  std::variant<T, StorageError> v_;
};

struct InitialState {
  HardState hard_state;
  // The membership as of Config::applied: the Node builds its configuration from it and
  // re-learns later changes only from entries after that index. With applied at the
  // snapshot point this is the snapshot's ConfState; a driver whose state machine is
  // ahead of its snapshot must return the membership its state machine recorded.
  ConfState conf_state;
};

// Read access to the durable log. The core calls it only from the thread that drives
// the Node, and never concurrently with the driver's writes to it.
//
// The log is the snapshot point S = (snapshot().index, its term) followed by the entries
// first_index() .. last_index(), where first_index() == S.index + 1. An empty log has
// first_index() == last_index() + 1.
class Storage {
 public:
  virtual ~Storage() = default;

  // The hard state and membership saved before the last restart (see InitialState).
  virtual InitialState initial_state() const = 0;

  // Entries in the half-open range [lo, hi), in order, with no gaps.
  // - compacted if lo <= snapshot index; unavailable if hi > last_index() + 1.
  // - Stops before the entry that would push the total entry_size() past max_bytes,
  //   but always returns at least one entry when the range is non-empty.
  virtual StorageResult<std::vector<Entry>> entries(uint64_t lo, uint64_t hi,
                                                    uint64_t max_bytes) const = 0;

  // The term of the entry at index i, for i in [first_index() - 1, last_index()]
  // (first_index() - 1 is the snapshot point, whose term is remembered).
  // - compacted if i < first_index() - 1; unavailable if i > last_index().
  virtual StorageResult<uint64_t> term(uint64_t i) const = 0;

  virtual uint64_t first_index() const = 0;
  virtual uint64_t last_index() const = 0;

  // Metadata of the most recent snapshot, sent to a follower that needs compacted
  // entries. May return snapshot_temporarily_unavailable.
  virtual StorageResult<SnapshotMeta> snapshot() const = 0;
};

// An in-memory Storage. Not thread-safe; tests and the simulator drive it from one thread.
class MemoryStorage final : public Storage {
 public:
  MemoryStorage();
  // A storage whose snapshot point (index 0, term 0) carries the initial membership.
  explicit MemoryStorage(ConfState initial);

  InitialState initial_state() const override;
  StorageResult<std::vector<Entry>> entries(uint64_t lo, uint64_t hi,
                                            uint64_t max_bytes) const override;
  StorageResult<uint64_t> term(uint64_t i) const override;
  uint64_t first_index() const override;
  uint64_t last_index() const override;
  StorageResult<SnapshotMeta> snapshot() const override;

  void set_hard_state(const HardState& hs) { hard_state_ = hs; }
  const HardState& hard_state() const { return hard_state_; }

  // Appends entries, replacing any existing suffix from entries.front().index on.
  // Entries below first_index() are skipped (they are covered by the snapshot).
  // Fails if the entries would leave a gap after last_index().
  Status append(const std::vector<Entry>& entries);

  // Replaces the whole log by a snapshot point. Fails if older than the current one.
  Status apply_snapshot(const SnapshotMeta& meta);

  // Records a snapshot at index (which must be <= last_index()) with membership conf,
  // keeping the entries; compact() drops them later.
  Status create_snapshot(uint64_t index, const ConfState& conf);

  // Drops entries up to and including compact_index (which must be <= last_index()).
  Status compact(uint64_t compact_index);

 private:
  HardState hard_state_;
  SnapshotMeta snapshot_;
  // entries_[0] is a placeholder for the compaction point (index, term), so that
  // term(first_index() - 1) is always answerable.
  std::vector<Entry> entries_;
};

}  // namespace raftdns::raft
