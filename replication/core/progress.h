// What a leader knows of each peer: Progress (probe/replicate/snapshot), Inflights, quorum.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <map>
#include <optional>
#include <vector>

#include "replication/core/types.h"

namespace raftdns::raft {

// The leader's flow-control state for one follower.
enum class ProgressState : uint8_t {
  // Where the follower's log matches is unknown: send one append at a time and wait for
  // its answer (or a heartbeat response) before the next.
  probe = 0,
  // The follower's log is known to match up to `match`: stream appends optimistically,
  // bounded by the Inflights window.
  replicate = 1,
  // The follower needs entries we compacted: a snapshot is on its way; send nothing else
  // until the driver reports it done or failed.
  snapshot = 2,
};

const char* to_string(ProgressState state);

// A sliding window of appends sent but not yet acknowledged, limited in count and bytes.
class Inflights {
 public:
  Inflights(size_t max_count, uint64_t max_bytes) : max_count_(max_count), max_bytes_(max_bytes) {}

  // Records an append whose last entry is `last_index`; indexes must increase.
  void add(uint64_t last_index, uint64_t bytes);
  // Frees every append whose last index is <= index (acknowledged).
  void free_le(uint64_t index);
  void free_first_one();
  bool full() const;
  size_t count() const { return window_.size(); }
  uint64_t bytes() const { return bytes_; }
  void reset();

 private:
  struct Flight {
    uint64_t last_index;
    uint64_t bytes;
  };
  size_t max_count_;
  uint64_t max_bytes_;  // 0 = no byte limit
  std::deque<Flight> window_;
  uint64_t bytes_ = 0;
};

struct Progress {
  Progress(uint64_t next_in, size_t max_inflight, uint64_t max_inflight_bytes, bool learner)
      : next(next_in), inflights(max_inflight, max_inflight_bytes), is_learner(learner) {}

  uint64_t match = 0;
  uint64_t next = 1;
  ProgressState state = ProgressState::probe;
  // In snapshot state: the index of the snapshot being sent.
  uint64_t pending_snapshot = 0;
  // Heard from since the last CheckQuorum round (the leader's own entry is always true).
  bool recent_active = false;
  // Probe state: an append is outstanding; wait for its answer or a heartbeat response.
  bool probe_sent = false;
  Inflights inflights;
  bool is_learner = false;

  void become_probe();
  void become_replicate();
  void become_snapshot(uint64_t snapshot_index);
  // An acknowledgement up to n: raises match (returns true if it did) and next.
  bool maybe_update(uint64_t n);
  // Bookkeeping after sending `count` entries ending at last_index (count may be 0).
  void sent_entries(uint64_t count, uint64_t last_index, uint64_t bytes);
  // A rejection of the append at `rejected`: move next back, towards match_hint + 1.
  // Returns false if the rejection is stale (for an append already superseded).
  bool maybe_decrease_to(uint64_t rejected, uint64_t match_hint);
  // Whether the leader should hold further appends to this follower.
  bool is_paused() const;

 private:
  void reset_state(ProgressState s);
};

// The membership and per-member progress, as seen by this node (all roles keep it; only
// the leader uses the progress part).
class ProgressTracker {
 public:
  ProgressTracker(size_t max_inflight, uint64_t max_inflight_bytes)
      : max_inflight_(max_inflight), max_inflight_bytes_(max_inflight_bytes) {}

  const std::map<uint64_t, Progress>& progress() const { return progress_; }
  Progress* get(uint64_t id);
  const Progress* get(uint64_t id) const;
  bool is_voter(uint64_t id) const;
  bool is_learner(uint64_t id) const;
  std::vector<uint64_t> voters() const;
  ConfState conf_state() const;
  size_t voter_count() const;
  size_t quorum() const { return voter_count() / 2 + 1; }

  // Replaces the membership; progress of members that stay is kept.
  void set_conf(const ConfState& conf, uint64_t next_index);
  // Resets every member's progress (on a role change).
  void reset_all(uint64_t next_index);

  // The largest index replicated on a quorum of voters (by match).
  uint64_t committed_index() const;
  // Whether a quorum of voters has been active since the last reset_recent_active().
  bool quorum_active(uint64_t self) const;
  void reset_recent_active(uint64_t self);

  enum class VoteResult { pending, won, lost };
  void reset_votes() { votes_.clear(); }
  void record_vote(uint64_t id, bool granted);
  VoteResult tally_votes(size_t* granted = nullptr, size_t* rejected = nullptr) const;

 private:
  Progress fresh_progress(uint64_t next_index, bool learner) const;

  size_t max_inflight_;
  uint64_t max_inflight_bytes_;
  std::map<uint64_t, Progress> progress_;  // ordered: message order is deterministic
  std::map<uint64_t, bool> votes_;
};

}  // namespace raftdns::raft
