// RaftLog: the node's view of its log, durable entries in Storage plus an unstable tail.
#pragma once

#include <cstdint>
#include <optional>
#include <utility>
#include <vector>

#include "replication/core/storage.h"
#include "replication/core/types.h"

namespace raftdns::raft {

// Entries (and at most one snapshot) that the core has accepted but the driver has not
// yet reported durable through advance(). They sit in front of Storage: an index is
// looked up here first.
class Unstable {
 public:
  // Index of the first unstable entry (valid also when entries_ is empty).
  uint64_t offset() const { return offset_; }
  const std::vector<Entry>& entries() const { return entries_; }
  const std::optional<SnapshotMeta>& snapshot() const { return snapshot_; }

  std::optional<uint64_t> maybe_first_index() const;
  std::optional<uint64_t> maybe_last_index() const;
  std::optional<uint64_t> maybe_term(uint64_t i) const;

  void set_offset(uint64_t offset) { offset_ = offset; }
  void stable_to(uint64_t index, uint64_t term);
  void stable_snapshot_to(uint64_t index);
  void restore(const SnapshotMeta& snapshot);
  void truncate_and_append(const std::vector<Entry>& entries);
  std::vector<Entry> slice(uint64_t lo, uint64_t hi) const;

 private:
  std::optional<SnapshotMeta> snapshot_;
  std::vector<Entry> entries_;
  uint64_t offset_ = 0;
};

class RaftLog {
 public:
  RaftLog(const Storage* storage, uint64_t max_applying_bytes);

  uint64_t first_index() const;
  uint64_t last_index() const;
  uint64_t last_term() const;
  uint64_t committed() const { return committed_; }
  uint64_t applied() const { return applied_; }

  // The term at i; compacted/unavailable as Storage::term.
  StorageResult<uint64_t> term(uint64_t i) const;
  // The term at i, or 0 if the index is outside the log (compacted or beyond the end).
  uint64_t term_or_zero(uint64_t i) const;
  bool match_term(uint64_t i, uint64_t t) const;

  // §5.4.1: a log is at least as up to date as (last_index, last_term) if its last term is
  // higher, or equal with an index at least as large.
  bool is_up_to_date(uint64_t last_index, uint64_t last_term) const;

  // The follower side of AppendEntries: if our entry at `index` has term `log_term`,
  // merge `entries`, commit up to min(commit, last new index) and return the last new
  // index; otherwise nothing.
  std::optional<uint64_t> maybe_append(uint64_t index, uint64_t log_term, uint64_t commit,
                                       const std::vector<Entry>& entries);
  // Appends after the last index, truncating any conflicting unstable tail. Returns the
  // new last index.
  uint64_t append(const std::vector<Entry>& entries);

  // The first index whose term differs from ours (or that we do not have), or 0.
  uint64_t find_conflict(const std::vector<Entry>& entries) const;
  // The fast-backtracking hint: the largest index <= `index` whose term is <= `term`, with
  // that term (0 if unknown). Lets a leader skip a whole term of mismatching entries.
  std::pair<uint64_t, uint64_t> find_conflict_by_term(uint64_t index, uint64_t term) const;

  // Entries in [lo, hi) from storage and the unstable tail, up to max_bytes (at least one).
  StorageResult<std::vector<Entry>> slice(uint64_t lo, uint64_t hi, uint64_t max_bytes) const;
  StorageResult<std::vector<Entry>> entries_from(uint64_t lo, uint64_t max_bytes) const;

  const std::vector<Entry>& unstable_entries() const { return unstable_.entries(); }
  const std::optional<SnapshotMeta>& pending_snapshot() const { return unstable_.snapshot(); }
  bool has_pending_snapshot() const { return unstable_.snapshot().has_value(); }
  StorageResult<SnapshotMeta> snapshot() const;

  // Committed entries not yet handed to the application, bounded by max_applying_bytes.
  bool has_next_committed_entries() const;
  std::vector<Entry> next_committed_entries() const;

  void commit_to(uint64_t commit);
  // Figure 8 (§5.4.2): an index commits by counting replicas only if its entry is from
  // the leader's current term.
  bool maybe_commit(uint64_t max_index, uint64_t term);
  void applied_to(uint64_t index);
  void stable_to(uint64_t index, uint64_t term) { unstable_.stable_to(index, term); }
  void stable_snapshot_to(uint64_t index) { unstable_.stable_snapshot_to(index); }
  void restore(const SnapshotMeta& snapshot);

 private:
  void check_bounds(uint64_t lo, uint64_t hi) const;

  const Storage* storage_;
  Unstable unstable_;
  uint64_t committed_ = 0;
  uint64_t applied_ = 0;
  uint64_t max_applying_bytes_;
};

}  // namespace raftdns::raft
