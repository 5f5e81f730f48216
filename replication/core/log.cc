// RaftLog and Unstable: merging the durable log with the tail not yet persisted.
#include "replication/core/log.h"

#include <algorithm>
#include <string>

#include "replication/core/invariant.h"

namespace raftdns::raft {

namespace {
std::string u(uint64_t v) { return std::to_string(v); }
}  // namespace

std::optional<uint64_t> Unstable::maybe_first_index() const {
  if (snapshot_) return snapshot_->index + 1;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::maybe_last_index() const {
  if (!entries_.empty()) return offset_ + entries_.size() - 1;
  if (snapshot_) return snapshot_->index;
  return std::nullopt;
}

std::optional<uint64_t> Unstable::maybe_term(uint64_t i) const {
  if (i < offset_) {
    if (snapshot_ && snapshot_->index == i) return snapshot_->term;
    return std::nullopt;
  }
  auto last = maybe_last_index();
  if (!last || i > *last) return std::nullopt;
  return entries_[i - offset_].term;
}

void Unstable::stable_to(uint64_t index, uint64_t term) {
  auto t = maybe_term(index);
  if (!t) return;
  // Only drop entries the driver persisted: if the entry at `index` was replaced in the
  // meantime (a new leader overwrote it), the durable copy is stale and must stay here.
  if (*t == term && index >= offset_) {
    entries_.erase(entries_.begin(),
                   entries_.begin() + static_cast<std::ptrdiff_t>(index + 1 - offset_));
    offset_ = index + 1;
  }
}

void Unstable::stable_snapshot_to(uint64_t index) {
  if (snapshot_ && snapshot_->index == index) snapshot_.reset();
}

void Unstable::restore(const SnapshotMeta& snapshot) {
  offset_ = snapshot.index + 1;
  entries_.clear();
  snapshot_ = snapshot;
}

void Unstable::truncate_and_append(const std::vector<Entry>& entries) {
  const uint64_t after = entries.front().index;
  if (after == offset_ + entries_.size()) {
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  } else if (after <= offset_) {
    // The new entries replace everything unstable, and some durable entries too; the
    // driver overwrites those when it persists this tail.
    offset_ = after;
    entries_ = entries;
  } else {
    entries_.resize(after - offset_);
    entries_.insert(entries_.end(), entries.begin(), entries.end());
  }
}

std::vector<Entry> Unstable::slice(uint64_t lo, uint64_t hi) const {
  RAFT_INVARIANT(lo >= offset_ && hi <= offset_ + entries_.size() && lo <= hi,
                 "unstable slice [" + u(lo) + "," + u(hi) + ") outside [" + u(offset_) + "," +
                     u(offset_ + entries_.size()) + ")");
  return {entries_.begin() + static_cast<std::ptrdiff_t>(lo - offset_),
          entries_.begin() + static_cast<std::ptrdiff_t>(hi - offset_)};
}

RaftLog::RaftLog(const Storage* storage, uint64_t max_applying_bytes)
    : storage_(storage), max_applying_bytes_(max_applying_bytes) {
  RAFT_INVARIANT(storage_ != nullptr, "the raft log needs a storage");
  const uint64_t first = storage_->first_index();
  const uint64_t last = storage_->last_index();
  unstable_.set_offset(last + 1);
  committed_ = first - 1;
  applied_ = first - 1;
}

uint64_t RaftLog::first_index() const {
  if (auto i = unstable_.maybe_first_index()) return *i;
  return storage_->first_index();
}

uint64_t RaftLog::last_index() const {
  if (auto i = unstable_.maybe_last_index()) return *i;
  return storage_->last_index();
}

uint64_t RaftLog::last_term() const {
  auto t = term(last_index());
  RAFT_INVARIANT(t.ok(), "term of the last index " + u(last_index()) + " is unknown");
  return t.value();
}

StorageResult<uint64_t> RaftLog::term(uint64_t i) const {
  // The valid range includes the index just before the first entry, whose term is kept.
  const uint64_t dummy = first_index() - 1;
  if (i < dummy) return StorageError::compacted;
  if (i > last_index()) return StorageError::unavailable;
  if (auto t = unstable_.maybe_term(i)) return *t;
  return storage_->term(i);
}

uint64_t RaftLog::term_or_zero(uint64_t i) const {
  auto t = term(i);
  return t.ok() ? t.value() : 0;
}

bool RaftLog::match_term(uint64_t i, uint64_t t) const {
  auto got = term(i);
  return got.ok() && got.value() == t;
}

bool RaftLog::is_up_to_date(uint64_t last_index_in, uint64_t last_term_in) const {
  const uint64_t our_term = last_term();
  return last_term_in > our_term || (last_term_in == our_term && last_index_in >= last_index());
}

std::optional<uint64_t> RaftLog::maybe_append(uint64_t index, uint64_t log_term, uint64_t commit,
                                              const std::vector<Entry>& entries) {
  if (!match_term(index, log_term)) return std::nullopt;
  const uint64_t last_new = index + entries.size();
  const uint64_t conflict = find_conflict(entries);
  if (conflict != 0) {
    RAFT_INVARIANT(conflict > committed_, "entry " + u(conflict) +
                                              " conflicts with a committed entry (committed " +
                                              u(committed_) + ")");
    const uint64_t offset = index + 1;
    std::vector<Entry> tail(entries.begin() + static_cast<std::ptrdiff_t>(conflict - offset),
                            entries.end());
    append(tail);
  }
  commit_to(std::min(commit, last_new));
  return last_new;
}

uint64_t RaftLog::append(const std::vector<Entry>& entries) {
  if (entries.empty()) return last_index();
  const uint64_t after = entries.front().index - 1;
  RAFT_INVARIANT(
      after >= committed_,
      "appending after " + u(after) + " would overwrite committed entries up to " + u(committed_));
  RAFT_INVARIANT(after <= last_index(),
                 "appending after " + u(after) + " leaves a gap past " + u(last_index()));
  unstable_.truncate_and_append(entries);
  return last_index();
}

uint64_t RaftLog::find_conflict(const std::vector<Entry>& entries) const {
  for (const Entry& e : entries) {
    if (!match_term(e.index, e.term)) return e.index;
  }
  return 0;
}

std::pair<uint64_t, uint64_t> RaftLog::find_conflict_by_term(uint64_t index,
                                                             uint64_t term_in) const {
  if (index > last_index()) return {index, 0};
  while (true) {
    auto t = term(index);
    if (!t.ok()) return {index, 0};
    if (t.value() <= term_in) return {index, t.value()};
    if (index == 0) return {0, 0};
    --index;
  }
}

void RaftLog::check_bounds(uint64_t lo, uint64_t hi) const {
  RAFT_INVARIANT(lo <= hi, "invalid slice [" + u(lo) + "," + u(hi) + ")");
  RAFT_INVARIANT(hi <= last_index() + 1,
                 "slice [" + u(lo) + "," + u(hi) + ") is beyond the last index " + u(last_index()));
}

StorageResult<std::vector<Entry>> RaftLog::slice(uint64_t lo, uint64_t hi,
                                                 uint64_t max_bytes) const {
  check_bounds(lo, hi);
  if (lo < first_index()) return StorageError::compacted;
  std::vector<Entry> out;
  if (lo == hi) return out;
  const uint64_t offset = unstable_.offset();
  if (lo < offset) {
    const uint64_t stored_hi = std::min(hi, offset);
    auto stored = storage_->entries(lo, stored_hi, max_bytes);
    if (!stored.ok()) {
      RAFT_INVARIANT(stored.error() == StorageError::compacted,
                     "storage has no entries [" + u(lo) + "," + u(stored_hi) +
                         "): " + to_string(stored.error()));
      return StorageError::compacted;
    }
    out = std::move(stored.value());
    if (out.size() < stored_hi - lo) return out;  // the size limit was hit
  }
  if (hi > offset) {
    uint64_t total = 0;
    for (const Entry& e : out) total += entry_size(e);
    for (const Entry& e : unstable_.slice(std::max(lo, offset), hi)) {
      total += entry_size(e);
      if (!out.empty() && total > max_bytes) break;
      out.push_back(e);
    }
  }
  return out;
}

StorageResult<std::vector<Entry>> RaftLog::entries_from(uint64_t lo, uint64_t max_bytes) const {
  if (lo > last_index()) return std::vector<Entry>{};
  return slice(lo, last_index() + 1, max_bytes);
}

StorageResult<SnapshotMeta> RaftLog::snapshot() const {
  if (unstable_.snapshot()) return *unstable_.snapshot();
  return storage_->snapshot();
}

bool RaftLog::has_next_committed_entries() const {
  if (has_pending_snapshot()) return false;
  const uint64_t from = std::max(applied_ + 1, first_index());
  return committed_ + 1 > from;
}

std::vector<Entry> RaftLog::next_committed_entries() const {
  if (!has_next_committed_entries()) return {};
  const uint64_t from = std::max(applied_ + 1, first_index());
  auto ents = slice(from, committed_ + 1, max_applying_bytes_);
  RAFT_INVARIANT(ents.ok(), "committed entries from " + u(from) +
                                " are unreadable: " + to_string(ents.error()));
  return std::move(ents.value());
}

void RaftLog::commit_to(uint64_t commit) {
  if (commit <= committed_) return;  // the commit index never moves backwards
  RAFT_INVARIANT(commit <= last_index(), "commit index " + u(commit) +
                                             " is beyond the last index " + u(last_index()) +
                                             " (log corrupt or truncated?)");
  committed_ = commit;
}

bool RaftLog::maybe_commit(uint64_t max_index, uint64_t term_in) {
#ifdef RAFTDNS_RAFT_BROKEN_COMMIT
  // Deliberately wrong (built only for the checker's self-test): commits entries of
  // earlier terms by counting replicas, the mistake Figure 8 of the paper warns against.
  (void)term_in;
  if (max_index > committed_) {
    commit_to(max_index);
    return true;
  }
  return false;
#else
  if (max_index > committed_ && term_or_zero(max_index) == term_in) {
    commit_to(max_index);
    return true;
  }
  return false;
#endif
}

void RaftLog::applied_to(uint64_t index) {
  if (index == 0) return;
  RAFT_INVARIANT(
      index <= committed_ && index >= applied_,
      "applied index " + u(index) + " is outside [" + u(applied_) + "," + u(committed_) + "]");
  applied_ = index;
}

void RaftLog::restore(const SnapshotMeta& snapshot) {
  committed_ = snapshot.index;
  unstable_.restore(snapshot);
}

}  // namespace raftdns::raft
