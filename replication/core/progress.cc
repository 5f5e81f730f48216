// Progress state transitions, the Inflights window and quorum arithmetic.
#include "replication/core/progress.h"

#include <algorithm>
#include <functional>
#include <string>

#include "replication/core/invariant.h"

namespace raftdns::raft {

const char* to_string(ProgressState state) {
  switch (state) {
    case ProgressState::probe:
      return "probe";
    case ProgressState::replicate:
      return "replicate";
    case ProgressState::snapshot:
      return "snapshot";
  }
  return "unknown";
}

void Inflights::add(uint64_t last_index, uint64_t bytes) {
  RAFT_INVARIANT(window_.empty() || window_.back().last_index < last_index,
                 "inflight appends must have increasing indexes");
  window_.push_back({last_index, bytes});
  bytes_ += bytes;
}

void Inflights::free_le(uint64_t index) {
  while (!window_.empty() && window_.front().last_index <= index) {
    bytes_ -= window_.front().bytes;
    window_.pop_front();
  }
}

void Inflights::free_first_one() {
  if (window_.empty()) return;
  bytes_ -= window_.front().bytes;
  window_.pop_front();
}

bool Inflights::full() const {
  return window_.size() >= max_count_ || (max_bytes_ != 0 && bytes_ >= max_bytes_);
}

void Inflights::reset() {
  window_.clear();
  bytes_ = 0;
}

void Progress::reset_state(ProgressState s) {
  probe_sent = false;
  pending_snapshot = 0;
  state = s;
  inflights.reset();
}

void Progress::become_probe() {
  // Coming back from a snapshot, the follower has at least the snapshot; start probing
  // just after it rather than at a match index that predates it.
  if (state == ProgressState::snapshot) {
    const uint64_t snapshot_index = pending_snapshot;
    reset_state(ProgressState::probe);
    next = std::max(match + 1, snapshot_index + 1);
  } else {
    reset_state(ProgressState::probe);
    next = match + 1;
  }
}

void Progress::become_replicate() {
  reset_state(ProgressState::replicate);
  next = match + 1;
}

void Progress::become_snapshot(uint64_t snapshot_index) {
  reset_state(ProgressState::snapshot);
  pending_snapshot = snapshot_index;
}

bool Progress::maybe_update(uint64_t n) {
  bool updated = false;
  if (match < n) {
    match = n;
    updated = true;
    probe_sent = false;
  }
  next = std::max(next, n + 1);
  return updated;
}

void Progress::sent_entries(uint64_t count, uint64_t last_index, uint64_t bytes) {
  switch (state) {
    case ProgressState::replicate:
      if (count > 0) {
        next = last_index + 1;
        inflights.add(last_index, bytes);
      }
      break;
    case ProgressState::probe:
      if (count > 0) probe_sent = true;
      break;
    case ProgressState::snapshot:
      RAFT_INVARIANT(false, "sending entries to a follower that is receiving a snapshot");
  }
}

bool Progress::maybe_decrease_to(uint64_t rejected, uint64_t match_hint) {
  if (state == ProgressState::replicate) {
    // In replicate state every append after match was optimistic; a rejection at or
    // below match is from an older append and carries no news.
    if (rejected <= match) return false;
    next = match + 1;
    return true;
  }
  // In probe state only the last probe (at next - 1) counts.
  if (next == 0 || next - 1 != rejected) return false;
  next = std::max(std::min(rejected, match_hint + 1), match + 1);
  probe_sent = false;
  return true;
}

bool Progress::is_paused() const {
  switch (state) {
    case ProgressState::probe:
      return probe_sent;
    case ProgressState::replicate:
      return inflights.full();
    case ProgressState::snapshot:
      return true;
  }
  return true;
}

Progress* ProgressTracker::get(uint64_t id) {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

const Progress* ProgressTracker::get(uint64_t id) const {
  auto it = progress_.find(id);
  return it == progress_.end() ? nullptr : &it->second;
}

bool ProgressTracker::is_voter(uint64_t id) const {
  const Progress* pr = get(id);
  return pr != nullptr && !pr->is_learner;
}

bool ProgressTracker::is_learner(uint64_t id) const {
  const Progress* pr = get(id);
  return pr != nullptr && pr->is_learner;
}

std::vector<uint64_t> ProgressTracker::voters() const {
  std::vector<uint64_t> out;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) out.push_back(id);
  }
  return out;
}

size_t ProgressTracker::voter_count() const {
  size_t n = 0;
  for (const auto& [id, pr] : progress_) n += pr.is_learner ? 0 : 1;
  return n;
}

ConfState ProgressTracker::conf_state() const {
  ConfState cs;
  for (const auto& [id, pr] : progress_) (pr.is_learner ? cs.learners : cs.voters).push_back(id);
  return cs;
}

Progress ProgressTracker::fresh_progress(uint64_t next_index, bool learner) const {
  Progress pr(next_index, max_inflight_, max_inflight_bytes_, learner);
  // A new member counts as active so that adding it cannot make the leader fail its
  // very next CheckQuorum round.
  pr.recent_active = true;
  return pr;
}

void ProgressTracker::set_conf(const ConfState& conf, uint64_t next_index) {
  std::map<uint64_t, Progress> next_progress;
  auto take = [&](uint64_t id, bool learner) {
    auto it = progress_.find(id);
    if (it != progress_.end()) {
      it->second.is_learner = learner;
      next_progress.emplace(id, std::move(it->second));
    } else {
      next_progress.emplace(id, fresh_progress(next_index, learner));
    }
  };
  for (uint64_t id : conf.voters) take(id, false);
  for (uint64_t id : conf.learners) {
    RAFT_INVARIANT(!next_progress.contains(id),
                   "node " + std::to_string(id) + " is both a voter and a learner");
    take(id, true);
  }
  progress_ = std::move(next_progress);
}

void ProgressTracker::reset_all(uint64_t next_index) {
  for (auto& [id, pr] : progress_)
    pr = Progress(next_index, max_inflight_, max_inflight_bytes_, pr.is_learner);
}

uint64_t ProgressTracker::committed_index() const {
  std::vector<uint64_t> matches;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner) matches.push_back(pr.match);
  }
  if (matches.empty()) return 0;
  // The quorum-th largest match is on a majority of voters.
  std::sort(matches.begin(), matches.end(), std::greater<>());
  return matches[matches.size() / 2];
}

bool ProgressTracker::quorum_active(uint64_t self) const {
  size_t active = 0;
  for (const auto& [id, pr] : progress_) {
    if (!pr.is_learner && (id == self || pr.recent_active)) ++active;
  }
  return active >= quorum();
}

void ProgressTracker::reset_recent_active(uint64_t self) {
  for (auto& [id, pr] : progress_) pr.recent_active = (id == self);
}

void ProgressTracker::record_vote(uint64_t id, bool granted) {
  votes_.try_emplace(id, granted);  // a voter's first answer in a term is the one that counts
}

ProgressTracker::VoteResult ProgressTracker::tally_votes(size_t* granted_out,
                                                         size_t* rejected_out) const {
  size_t granted = 0, rejected = 0;
  for (const auto& [id, pr] : progress_) {
    if (pr.is_learner) continue;
    auto it = votes_.find(id);
    if (it == votes_.end()) continue;
    (it->second ? granted : rejected)++;
  }
  if (granted_out) *granted_out = granted;
  if (rejected_out) *rejected_out = rejected;
  const size_t q = quorum();
  if (granted >= q) return VoteResult::won;
  if (rejected >= q || voter_count() - rejected < q) return VoteResult::lost;
  return VoteResult::pending;
}

}  // namespace raftdns::raft
