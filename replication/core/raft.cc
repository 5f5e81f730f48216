// The Raft protocol: role transitions, elections, log replication, reads, membership.
#include <algorithm>
#include <string>
#include <utility>

#include "replication/core/invariant.h"
#include "replication/core/raft_state.h"

namespace raftdns::raft {

namespace {

std::string u(uint64_t v) { return std::to_string(v); }

// Tags a vote request that comes from a leadership transfer: it may break a lease.
const std::vector<uint8_t> kCampaignTransfer = {'x', 'f', 'e', 'r'};

MessageType vote_response_type(MessageType t) {
  return t == MessageType::pre_vote ? MessageType::pre_vote_resp : MessageType::vote_resp;
}

}  // namespace

const char* to_string(Role role) {
  switch (role) {
    case Role::follower:
      return "follower";
    case Role::pre_candidate:
      return "pre-candidate";
    case Role::candidate:
      return "candidate";
    case Role::leader:
      return "leader";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------
// ReadOnlyQueue

void ReadOnlyQueue::add(uint64_t index, uint64_t from, const std::vector<uint8_t>& context) {
  if (pending_.contains(context)) return;  // a retried request keeps its first read index
  pending_.emplace(context, Request{index, from, context, {}});
  order_.push_back(context);
}

const std::set<uint64_t>* ReadOnlyQueue::ack(uint64_t from, const std::vector<uint8_t>& context) {
  auto it = pending_.find(context);
  if (it == pending_.end()) return nullptr;
  it->second.acks.insert(from);
  return &it->second.acks;
}

std::vector<ReadOnlyQueue::Request> ReadOnlyQueue::release_through(
    const std::vector<uint8_t>& context) {
  std::vector<Request> out;
  if (!pending_.contains(context)) return out;
  // A heartbeat round confirms leadership for every request queued before this one too.
  while (!order_.empty()) {
    std::vector<uint8_t> ctx = std::move(order_.front());
    order_.pop_front();
    auto it = pending_.find(ctx);
    out.push_back(std::move(it->second));
    pending_.erase(it);
    if (ctx == context) break;
  }
  return out;
}

const std::vector<uint8_t>* ReadOnlyQueue::last_context() const {
  return order_.empty() ? nullptr : &order_.back();
}

void ReadOnlyQueue::clear() {
  pending_.clear();
  order_.clear();
}

// ---------------------------------------------------------------------------------------
// Construction and role transitions

Raft::Raft(const Config& config)
    : id_(config.id),
      log_(config.storage, std::max<uint64_t>(config.max_committed_size_per_ready, 1)),
      tracker_(config.max_inflight_msgs, config.max_inflight_bytes),
      election_timeout_(config.election_tick),
      heartbeat_timeout_(config.heartbeat_tick),
      check_quorum_(config.check_quorum),
      pre_vote_(config.pre_vote),
      max_msg_size_(config.max_size_per_msg),
      rng_state_(config.seed ^ (config.id * 0x9e3779b97f4a7c15ULL)) {
  const InitialState initial = config.storage->initial_state();
  tracker_.set_conf(initial.conf_state, log_.last_index() + 1);
  const HardState& hs = initial.hard_state;
  if (hs != HardState{}) {
    RAFT_INVARIANT(hs.commit <= log_.last_index(),
                   "node " + u(id_) + ": persisted commit index " + u(hs.commit) +
                       " is beyond the last log index " + u(log_.last_index()) +
                       " (the log lost synced entries)");
    // A commit-only hard state may be older than the snapshot (it need not be synced);
    // the snapshot is itself proof of commitment, so the larger value stands.
    log_.commit_to(hs.commit);
    term_ = hs.term;
    vote_ = hs.vote;
  }
  if (config.applied > 0) {
    RAFT_INVARIANT(config.applied <= log_.last_index(),
                   "node " + u(id_) + ": applied index " + u(config.applied) +
                       " is beyond the last log index " + u(log_.last_index()));
    // Likewise the state machine only ever applied committed entries.
    log_.commit_to(config.applied);
    log_.applied_to(config.applied);
  }
  become_follower(term_, kNoNode);
}

uint64_t Raft::next_random() {
  // splitmix64: small, fast and fully determined by the seed.
  uint64_t z = (rng_state_ += 0x9e3779b97f4a7c15ULL);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
  return z ^ (z >> 31);
}

void Raft::reset_randomized_election_timeout() {
  randomized_election_timeout_ =
      election_timeout_ +
      static_cast<int>(next_random() % static_cast<uint64_t>(election_timeout_));
}

void Raft::reset(uint64_t term) {
  if (term != term_) {
    term_ = term;
    vote_ = kNoNode;
  }
  lead_ = kNoNode;
  election_elapsed_ = 0;
  heartbeat_elapsed_ = 0;
  reset_randomized_election_timeout();
  abort_leader_transfer();
  tracker_.reset_votes();
  tracker_.reset_all(log_.last_index() + 1);
  if (Progress* self = tracker_.get(id_)) {
    self->match = log_.last_index();
    self->recent_active = true;
  }
  pending_conf_index_ = 0;
  read_only_.clear();
  deferred_reads_.clear();
}

void Raft::become_follower(uint64_t term, uint64_t lead) {
  step_fn_ = &Raft::step_follower;
  tick_fn_ = &Raft::tick_election;
  reset(term);
  lead_ = lead;
  role_ = Role::follower;
}

void Raft::become_pre_candidate() {
  RAFT_INVARIANT(role_ != Role::leader,
                 "node " + u(id_) + ": a leader cannot become a pre-candidate");
  // PreVote changes neither term nor vote: a failed pre-election leaves no trace.
  step_fn_ = &Raft::step_candidate;
  tick_fn_ = &Raft::tick_election;
  tracker_.reset_votes();
  lead_ = kNoNode;
  role_ = Role::pre_candidate;
}

void Raft::become_candidate() {
  RAFT_INVARIANT(role_ != Role::leader, "node " + u(id_) + ": a leader cannot become a candidate");
  step_fn_ = &Raft::step_candidate;
  tick_fn_ = &Raft::tick_election;
  reset(term_ + 1);
  vote_ = id_;
  role_ = Role::candidate;
}

void Raft::become_leader() {
  RAFT_INVARIANT(role_ != Role::follower, "node " + u(id_) + ": a follower cannot become leader");
  step_fn_ = &Raft::step_leader;
  tick_fn_ = &Raft::tick_heartbeat;
  reset(term_);
  lead_ = id_;
  role_ = Role::leader;
  if (Progress* self = tracker_.get(id_)) self->become_replicate();
  // Entries before this point may hold a configuration change not yet applied; no new
  // change is accepted until they are.
  pending_conf_index_ = log_.last_index();
  // The empty entry of the new term lets earlier entries commit (Figure 8).
  append_entries({Entry{0, 0, EntryType::normal, {}}});
}

// ---------------------------------------------------------------------------------------
// Ticks

void Raft::tick_election() {
  ++election_elapsed_;
  if (promotable() && past_election_timeout()) {
    election_elapsed_ = 0;
    hup(pre_vote_ ? CampaignKind::pre_election : CampaignKind::election);
  }
}

void Raft::tick_heartbeat() {
  ++heartbeat_elapsed_;
  ++election_elapsed_;
  if (election_elapsed_ >= election_timeout_) {
    election_elapsed_ = 0;
    if (check_quorum_) {
      // Thesis §6.2: a leader that cannot reach a quorum steps down, so clients stop
      // waiting on it and the reachable majority can elect a leader.
      if (!tracker_.quorum_active(id_)) {
        become_follower(term_, kNoNode);
        return;
      }
      tracker_.reset_recent_active(id_);
    }
    // A transfer that has not finished in an election timeout has failed; resume service.
    if (lead_transferee_ != kNoNode) abort_leader_transfer();
  }
  if (heartbeat_elapsed_ >= heartbeat_timeout_) {
    heartbeat_elapsed_ = 0;
    const std::vector<uint8_t>* ctx = read_only_.last_context();
    bcast_heartbeat(ctx ? *ctx : std::vector<uint8_t>{});
  }
}

// ---------------------------------------------------------------------------------------
// Elections

bool Raft::promotable() const { return tracker_.is_voter(id_) && !log_.has_pending_snapshot(); }

bool Raft::has_unapplied_conf_change() const {
  if (log_.committed() <= log_.applied()) return false;
  const uint64_t from = std::max(log_.applied() + 1, log_.first_index());
  if (from > log_.committed()) return false;
  auto ents = log_.slice(from, log_.committed() + 1, UINT64_MAX);
  if (!ents.ok()) return false;
  for (const Entry& e : ents.value()) {
    if (e.type == EntryType::conf_change) return true;
  }
  return false;
}

void Raft::hup(CampaignKind kind) {
  if (role_ == Role::leader || !promotable()) return;
  // A committed but unapplied membership change may remove this node or change the
  // quorum; campaigning under the old membership could elect the wrong leader.
  if (has_unapplied_conf_change()) return;
  campaign(kind);
}

void Raft::campaign(CampaignKind kind) {
  MessageType vote_type;
  uint64_t vote_term;
  if (kind == CampaignKind::pre_election) {
    become_pre_candidate();
    vote_type = MessageType::pre_vote;
    vote_term = term_ + 1;  // the term it would campaign at; its own term stays
  } else {
    become_candidate();
    vote_type = MessageType::vote;
    vote_term = term_;
  }
  tracker_.record_vote(id_, true);
  const auto result = tracker_.tally_votes();
  if (result == ProgressTracker::VoteResult::won) {
    on_vote_result(result);  // a single-voter cluster wins at once
    return;
  }
  for (uint64_t voter : tracker_.voters()) {
    if (voter == id_) continue;
    Message m;
    m.type = vote_type;
    m.to = voter;
    m.term = vote_term;
    m.index = log_.last_index();
    m.log_term = log_.last_term();
    if (kind == CampaignKind::transfer) m.context = kCampaignTransfer;
    send(std::move(m));
  }
}

void Raft::on_vote_result(ProgressTracker::VoteResult result) {
  if (result == ProgressTracker::VoteResult::won) {
    if (role_ == Role::pre_candidate) {
      campaign(CampaignKind::election);
    } else {
      become_leader();
      bcast_append();
    }
  } else if (result == ProgressTracker::VoteResult::lost) {
    // A lost pre-election leaves the term unchanged (term_ was never raised).
    become_follower(term_, kNoNode);
  }
}

void Raft::handle_vote_request(const Message& m) {
  // §5.2 one vote per term: a repeat request from the same candidate is re-granted.
  // A pre-vote for a future term commits to nothing, so it is judged on the log alone.
  const bool can_vote = vote_ == m.from || (vote_ == kNoNode && lead_ == kNoNode) ||
                        (m.type == MessageType::pre_vote && m.term > term_);
  Message resp;
  resp.type = vote_response_type(m.type);
  resp.to = m.from;
  // §5.4.1 election restriction: only a candidate whose log is at least as up to date.
  if (can_vote && log_.is_up_to_date(m.index, m.log_term)) {
    // The grant carries the request's term: for a pre-vote ours has not moved.
    resp.term = m.term;
    if (m.type == MessageType::vote) {
      election_elapsed_ = 0;
      vote_ = m.from;
    }
  } else {
    resp.term = term_;
    resp.reject = true;
  }
  send(std::move(resp));
}

// ---------------------------------------------------------------------------------------
// Step: the term check common to every role, then the role's step function.

Status Raft::step(const Message& m) {
  if (m.term == 0) {
    // Termless messages are forwarded requests (prop, read_index) handled by role.
  } else if (m.term > term_) {
    if (m.type == MessageType::vote || m.type == MessageType::pre_vote) {
      const bool forced = m.context == kCampaignTransfer;
      // Thesis §4.2.3 / §6.2: while we hear from a leader, a vote request is ignored
      // (not even its term is adopted), so a node that reaches us but not the leader
      // cannot depose it.
      const bool in_lease =
          check_quorum_ && lead_ != kNoNode && election_elapsed_ < election_timeout_;
      if (!forced && in_lease) return {};
    }
    if (m.type == MessageType::pre_vote) {
      // Never change term on a pre-vote request.
    } else if (m.type == MessageType::pre_vote_resp && !m.reject) {
      // A granted pre-vote carries the future term; the term rises when we campaign.
    } else if (m.type == MessageType::app || m.type == MessageType::heartbeat ||
               m.type == MessageType::snap) {
      become_follower(m.term, m.from);
    } else {
      become_follower(m.term, kNoNode);
    }
  } else if (m.term < term_) {
    // §5.1 stale terms are rejected. A stale leader's append gets an answer carrying our
    // term so it steps down; otherwise a node whose term ran ahead while it was cut off
    // (and that PreVote or leases keep from winning) would stay stuck beside it.
    if ((check_quorum_ || pre_vote_) &&
        (m.type == MessageType::heartbeat || m.type == MessageType::app)) {
      Message resp;
      resp.type = MessageType::app_resp;
      resp.to = m.from;
      send(std::move(resp));
    } else if (m.type == MessageType::pre_vote) {
      Message resp;
      resp.type = MessageType::pre_vote_resp;
      resp.to = m.from;
      resp.term = term_;
      resp.reject = true;
      send(std::move(resp));
    }
    return {};
  }

  if (m.type == MessageType::vote || m.type == MessageType::pre_vote) {
    handle_vote_request(m);
  } else {
    (this->*step_fn_)(m);
  }
  return {};
}

void Raft::step_follower(const Message& m) {
  switch (m.type) {
    case MessageType::prop:
    case MessageType::read_index:
    case MessageType::transfer_leader:
      if (lead_ == kNoNode) return;  // dropped; the requester times out and retries
      {
        // Forwarded with the original sender, so the leader answers it directly.
        Message fwd = m;
        fwd.to = lead_;
        send(std::move(fwd));
      }
      return;
    case MessageType::app:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_append(m);
      return;
    case MessageType::heartbeat:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_heartbeat(m);
      return;
    case MessageType::snap:
      election_elapsed_ = 0;
      lead_ = m.from;
      handle_snapshot(m);
      return;
    case MessageType::timeout_now:
      // Thesis §3.10: the leader says we are up to date; campaign now, skipping PreVote.
      hup(CampaignKind::transfer);
      return;
    case MessageType::read_index_resp:
      read_states_.push_back(ReadState{m.index, m.context});
      return;
    default:
      return;
  }
}

void Raft::step_candidate(const Message& m) {
  const MessageType my_response =
      role_ == Role::pre_candidate ? MessageType::pre_vote_resp : MessageType::vote_resp;
  switch (m.type) {
    case MessageType::app:
      // §5.2 candidate fallback: an append at our term means a leader won this term.
      become_follower(m.term, m.from);
      handle_append(m);
      return;
    case MessageType::heartbeat:
      become_follower(m.term, m.from);
      handle_heartbeat(m);
      return;
    case MessageType::snap:
      become_follower(m.term, m.from);
      handle_snapshot(m);
      return;
    default:
      break;
  }
  if (m.type == my_response) {
    tracker_.record_vote(m.from, !m.reject);
    on_vote_result(tracker_.tally_votes());
  }
  // Proposals, reads and transfers are dropped: there is no leader to serve them.
}

void Raft::step_leader(const Message& m) {
  switch (m.type) {
    case MessageType::prop: {
      if (lead_transferee_ != kNoNode || !tracker_.get(id_)) return;
      std::vector<Entry> entries = m.entries;
      for (Entry& e : entries) {
        // Forwarded configuration changes bypass propose_conf_change's checks; one that
        // would break "one change at a time" is turned into a no-op.
        if (e.type == EntryType::conf_change &&
            (pending_conf_index_ > log_.applied() || !committed_entry_in_current_term())) {
          e = Entry{};
        } else if (e.type == EntryType::conf_change) {
          pending_conf_index_ = log_.last_index() + entries.size();
        }
      }
      leader_append_proposal(std::move(entries));
      return;
    }
    case MessageType::read_index:
      leader_read_index(m.from, m.context);
      return;
    case MessageType::transfer_leader:
      leader_transfer(m.index);  // transfer_leader carries the transferee in index
      return;
    case MessageType::app_resp:
      handle_append_response(m);
      return;
    case MessageType::heartbeat_resp:
      handle_heartbeat_response(m);
      return;
    default:
      return;  // stale vote responses and the like
  }
}

// ---------------------------------------------------------------------------------------
// Follower handlers

void Raft::handle_append(const Message& m) {
  Message resp;
  resp.type = MessageType::app_resp;
  resp.to = m.from;
  if (m.index < log_.committed()) {
    // Everything up to our commit index already matches any leader of this term.
    resp.index = log_.committed();
    send(std::move(resp));
    return;
  }
  if (auto last_new = log_.maybe_append(m.index, m.log_term, m.commit, m.entries)) {
    resp.index = *last_new;
    send(std::move(resp));
    return;
  }
  // Figure 7 reconciliation with a fast-backtracking hint: the leader can jump straight
  // to the last index where our term is <= its entry's term.
  const uint64_t hint_from = std::min(m.index, log_.last_index());
  const auto [hint_index, hint_term] = log_.find_conflict_by_term(hint_from, m.log_term);
  resp.index = m.index;
  resp.reject = true;
  resp.reject_hint = hint_index;
  resp.log_term = hint_term;
  send(std::move(resp));
}

void Raft::handle_heartbeat(const Message& m) {
  // The leader sends min(our match, its commit): never beyond what we hold.
  log_.commit_to(m.commit);
  Message resp;
  resp.type = MessageType::heartbeat_resp;
  resp.to = m.from;
  resp.context = m.context;
  send(std::move(resp));
}

void Raft::handle_snapshot(const Message& m) {
  Message resp;
  resp.type = MessageType::app_resp;
  resp.to = m.from;
  if (m.snapshot && restore(*m.snapshot)) {
    resp.index = log_.last_index();
  } else {
    resp.index = log_.committed();
  }
  send(std::move(resp));
}

bool Raft::restore(const SnapshotMeta& snapshot) {
  if (snapshot.index <= log_.committed()) return false;
  RAFT_INVARIANT(
      role_ == Role::follower,
      "node " + u(id_) + ": only a follower restores a snapshot, not a " + to_string(role_));
  if (log_.match_term(snapshot.index, snapshot.term)) {
    // We already hold the snapshot's last entry: just learn that it is committed.
    log_.commit_to(snapshot.index);
    return false;
  }
  log_.restore(snapshot);
  tracker_.set_conf(snapshot.conf, log_.last_index() + 1);
  return true;
}

// ---------------------------------------------------------------------------------------
// Leader handlers

void Raft::handle_append_response(const Message& m) {
  Progress* pr = tracker_.get(m.from);
  if (pr == nullptr) return;
  pr->recent_active = true;
  if (m.reject) {
    uint64_t next_probe = m.reject_hint;
    if (m.log_term > 0) {
      // Skip past every entry of ours whose term is above the follower's hint term: none
      // of them can match.
      next_probe = log_.find_conflict_by_term(m.reject_hint, m.log_term).first;
    }
    if (pr->maybe_decrease_to(m.index, next_probe)) {
      if (pr->state == ProgressState::replicate) pr->become_probe();
      send_append(m.from);
    }
    return;
  }
  const bool was_paused = pr->is_paused();
  if (!pr->maybe_update(m.index)) return;
  switch (pr->state) {
    case ProgressState::probe:
      pr->become_replicate();
      break;
    case ProgressState::snapshot:
      // The follower caught up past our first index (by the snapshot or otherwise).
      if (pr->match + 1 >= log_.first_index()) {
        pr->become_probe();
        pr->become_replicate();
      }
      break;
    case ProgressState::replicate:
      pr->inflights.free_le(m.index);
      break;
  }
  if (maybe_commit()) {
    after_commit();
    bcast_append();
  } else if (was_paused) {
    send_append(m.from);
  }
  while (maybe_send_append(m.from, false)) {
  }
  if (m.from == lead_transferee_ && pr->match == log_.last_index()) {
    Message now;
    now.type = MessageType::timeout_now;
    now.to = m.from;
    send(std::move(now));
  }
}

void Raft::handle_heartbeat_response(const Message& m) {
  Progress* pr = tracker_.get(m.from);
  if (pr == nullptr) return;
  pr->recent_active = true;
  pr->probe_sent = false;
  // A full window may be full of lost appends; free one slot so the flow restarts.
  if (pr->state == ProgressState::replicate && pr->inflights.full()) pr->inflights.free_first_one();
  if (pr->match < log_.last_index()) send_append(m.from);

  if (m.context.empty()) return;
  if (!tracker_.is_voter(m.from)) return;
  const std::set<uint64_t>* acks = read_only_.ack(m.from, m.context);
  if (acks == nullptr) return;
  size_t voter_acks = 0;
  for (uint64_t id : *acks) voter_acks += tracker_.is_voter(id) ? 1 : 0;
  if (voter_acks < tracker_.quorum()) return;
  for (const auto& request : read_only_.release_through(m.context)) {
    send_read_index_response(request);
  }
}

void Raft::send_read_index_response(const ReadOnlyQueue::Request& request) {
  if (request.from == id_ || request.from == kNoNode) {
    read_states_.push_back(ReadState{request.index, request.context});
    return;
  }
  Message resp;
  resp.type = MessageType::read_index_resp;
  resp.to = request.from;
  resp.index = request.index;
  resp.context = request.context;
  send(std::move(resp));
}

void Raft::leader_read_index(uint64_t from, const std::vector<uint8_t>& context) {
  const ReadOnlyQueue::Request request{log_.committed(), from == kNoNode ? id_ : from, context, {}};
  if (tracker_.voter_count() == 1 && tracker_.is_voter(id_)) {
    send_read_index_response(request);  // a lone voter is its own quorum
    return;
  }
  if (!committed_entry_in_current_term()) {
    Message deferred;
    deferred.type = MessageType::read_index;
    deferred.from = request.from;
    deferred.context = context;
    deferred_reads_.push_back(std::move(deferred));
    return;
  }
  read_only_.add(request.index, request.from, context);
  if (tracker_.is_voter(id_)) read_only_.ack(id_, context);
  bcast_heartbeat(context);
}

void Raft::leader_transfer(uint64_t transferee) {
  Progress* pr = tracker_.get(transferee);
  if (pr == nullptr || pr->is_learner) return;
  if (lead_transferee_ != kNoNode) {
    if (lead_transferee_ == transferee) return;  // already under way
    abort_leader_transfer();
  }
  if (transferee == id_) return;
  // The transfer must finish within an election timeout (checked in tick_heartbeat).
  election_elapsed_ = 0;
  lead_transferee_ = transferee;
  if (pr->match == log_.last_index()) {
    Message now;
    now.type = MessageType::timeout_now;
    now.to = transferee;
    send(std::move(now));
  } else {
    send_append(transferee);
  }
}

void Raft::leader_append_proposal(std::vector<Entry> entries) {
  append_entries(std::move(entries));
  bcast_append();
}

bool Raft::committed_entry_in_current_term() const {
  return log_.term_or_zero(log_.committed()) == term_;
}

void Raft::append_entries(std::vector<Entry> entries) {
  uint64_t index = log_.last_index();
  for (Entry& e : entries) {
    e.index = ++index;
    e.term = term_;
  }
  const uint64_t last = log_.append(entries);
  // The leader counts itself as holding the entries now: the Ready contract persists
  // them before any message that could let them commit leaves this node.
  if (Progress* self = tracker_.get(id_)) self->maybe_update(last);
  if (maybe_commit()) after_commit();
}

bool Raft::maybe_commit() { return log_.maybe_commit(tracker_.committed_index(), term_); }

void Raft::after_commit() {
  if (deferred_reads_.empty() || !committed_entry_in_current_term()) return;
  std::vector<Message> reads = std::move(deferred_reads_);
  deferred_reads_.clear();
  for (const Message& r : reads) leader_read_index(r.from, r.context);
}

void Raft::bcast_append() {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != id_) send_append(id);
  }
}

void Raft::bcast_heartbeat(const std::vector<uint8_t>& context) {
  for (const auto& [id, pr] : tracker_.progress()) {
    if (id != id_) send_heartbeat(id, context);
  }
}

void Raft::send_heartbeat(uint64_t to, const std::vector<uint8_t>& context) {
  const Progress* pr = tracker_.get(to);
  Message m;
  m.type = MessageType::heartbeat;
  m.to = to;
  // A follower may lag; never tell it to commit past what it is known to hold.
  m.commit = std::min(pr->match, log_.committed());
  m.context = context;
  send(std::move(m));
}

bool Raft::maybe_send_append(uint64_t to, bool send_if_empty) {
  Progress* pr = tracker_.get(to);
  if (pr == nullptr || pr->is_paused()) return false;
  const uint64_t prev_index = pr->next - 1;
  auto prev_term = log_.term(prev_index);
  auto ents = log_.entries_from(pr->next, max_msg_size_);
  if (ents.ok() && ents.value().empty() && !send_if_empty) return false;
  if (!prev_term.ok() || !ents.ok()) return send_snapshot(to, *pr);

  Message m;
  m.type = MessageType::app;
  m.to = to;
  m.index = prev_index;
  m.log_term = prev_term.value();
  m.entries = std::move(ents.value());
  m.commit = log_.committed();
  uint64_t bytes = 0;
  for (const Entry& e : m.entries) bytes += entry_size(e);
  pr->sent_entries(m.entries.size(), m.entries.empty() ? prev_index : m.entries.back().index,
                   bytes);
  send(std::move(m));
  return true;
}

bool Raft::send_snapshot(uint64_t to, Progress& pr) {
  // A follower that has not answered lately is probably down; don't make the driver
  // stream a whole store copy into the void.
  if (!pr.recent_active) return false;
  auto snap = log_.snapshot();
  if (!snap.ok()) {
    RAFT_INVARIANT(snap.error() == StorageError::snapshot_temporarily_unavailable,
                   "node " + u(id_) + ": cannot read the snapshot for node " + u(to) + ": " +
                       to_string(snap.error()));
    return false;
  }
  RAFT_INVARIANT(snap.value().index != 0,
                 "node " + u(id_) + ": entries are compacted but the snapshot is empty");
  pr.become_snapshot(snap.value().index);
  Message m;
  m.type = MessageType::snap;
  m.to = to;
  m.snapshot = std::move(snap.value());
  send(std::move(m));
  return true;
}

void Raft::send(Message m) {
  if (m.from == kNoNode) m.from = id_;
  if (m.type == MessageType::vote || m.type == MessageType::pre_vote ||
      m.type == MessageType::vote_resp || m.type == MessageType::pre_vote_resp) {
    RAFT_INVARIANT(m.term != 0, "node " + u(id_) + ": " + to_string(m.type) + " without a term");
  } else if (m.type != MessageType::prop && m.type != MessageType::read_index) {
    m.term = term_;
  }
  outbox_.push_back(std::move(m));
}

// ---------------------------------------------------------------------------------------
// Local requests

Error Raft::fail(const std::string& what) const {
  std::string lead = lead_ == kNoNode ? "no leader is known" : "the leader is node " + u(lead_);
  return make_error("raft node " + u(id_) + " (term " + u(term_) + ", " + to_string(role_) +
                    "): " + what + "; " + lead);
}

Status Raft::propose(std::vector<uint8_t> data) {
  std::vector<std::vector<uint8_t>> one;
  one.push_back(std::move(data));
  return propose_batch(std::move(one));
}

Status Raft::propose_batch(std::vector<std::vector<uint8_t>> commands) {
  if (role_ != Role::leader) return fail("not the leader");
  if (lead_transferee_ != kNoNode) {
    return fail("leadership transfer to node " + u(lead_transferee_) + " in progress");
  }
  if (tracker_.get(id_) == nullptr) return fail("this node was removed from the cluster");
  if (commands.empty()) return {};
  std::vector<Entry> entries;
  entries.reserve(commands.size());
  for (auto& c : commands) entries.push_back(Entry{0, 0, EntryType::normal, std::move(c)});
  leader_append_proposal(std::move(entries));
  return {};
}

Status Raft::propose_conf_change(const ConfChange& change) {
  if (role_ != Role::leader) return fail("not the leader");
  if (lead_transferee_ != kNoNode) {
    return fail("leadership transfer to node " + u(lead_transferee_) + " in progress");
  }
  if (tracker_.get(id_) == nullptr) return fail("this node was removed from the cluster");
  if (pending_conf_index_ > log_.applied()) {
    return fail("the configuration change at index " + u(pending_conf_index_) +
                " is not applied yet (applied " + u(log_.applied()) + ")");
  }
  if (!committed_entry_in_current_term()) {
    return fail("the leader has not yet committed an entry of its term");
  }
  const uint64_t n = change.node_id;
  if (n == kNoNode) return fail("configuration change names no node");
  switch (change.type) {
    case ConfChange::add_voter:
      if (tracker_.is_voter(n)) return fail("node " + u(n) + " is already a voter");
      break;
    case ConfChange::add_learner:
      if (tracker_.is_voter(n)) return fail("node " + u(n) + " is a voter, not a learner");
      if (tracker_.is_learner(n)) return fail("node " + u(n) + " is already a learner");
      break;
    case ConfChange::promote_learner:
      if (!tracker_.is_learner(n)) return fail("node " + u(n) + " is not a learner");
      break;
    case ConfChange::remove_voter:
      if (tracker_.get(n) == nullptr) return fail("node " + u(n) + " is not a member");
      if (tracker_.is_voter(n) && tracker_.voter_count() == 1) {
        return fail("cannot remove node " + u(n) + ", the last voter");
      }
      break;
    default:
      return fail("unknown configuration change type");
  }
  leader_append_proposal({Entry{0, 0, EntryType::conf_change, encode_conf_change(change)}});
  pending_conf_index_ = log_.last_index();
  return {};
}

ConfState Raft::apply_conf_change(const ConfChange& change) {
  ConfState cs = tracker_.conf_state();
  auto erase = [](std::vector<uint64_t>& v, uint64_t id) { std::erase(v, id); };
  auto contains = [](const std::vector<uint64_t>& v, uint64_t id) {
    return std::find(v.begin(), v.end(), id) != v.end();
  };
  const uint64_t n = change.node_id;
  // Applied in log order on every node, so every branch is deterministic: a change that
  // does not fit the membership (validated at proposal, but forwarded entries are not)
  // leaves it unchanged everywhere.
  if (n != kNoNode) {
    switch (change.type) {
      case ConfChange::add_voter:
        erase(cs.learners, n);
        if (!contains(cs.voters, n)) cs.voters.push_back(n);
        break;
      case ConfChange::remove_voter:
        if (!(contains(cs.voters, n) && cs.voters.size() == 1)) {
          erase(cs.voters, n);
          erase(cs.learners, n);
        }
        break;
      case ConfChange::add_learner:
        if (!contains(cs.voters, n) && !contains(cs.learners, n)) cs.learners.push_back(n);
        break;
      case ConfChange::promote_learner:
        if (contains(cs.learners, n)) {
          erase(cs.learners, n);
          cs.voters.push_back(n);
        }
        break;
    }
  }
  std::sort(cs.voters.begin(), cs.voters.end());
  std::sort(cs.learners.begin(), cs.learners.end());
  switch_to_config(cs);
  return cs;
}

void Raft::switch_to_config(const ConfState& conf) {
  // A new member starts probing at our last entry (not after it), so that the first
  // probe carries an entry and goes out at once instead of waiting for a heartbeat.
  tracker_.set_conf(conf, std::max<uint64_t>(log_.last_index(), 1));
  if (role_ != Role::leader) return;
  if (!tracker_.is_voter(id_)) {
    // A leader that applied its own removal tells everyone the commit index (so they
    // apply the removal too) and steps down; the remaining voters elect a successor.
    bcast_append();
    become_follower(term_, kNoNode);
    return;
  }
  // The quorum may have shrunk: something may commit now. New members get probed.
  if (maybe_commit()) {
    after_commit();
    bcast_append();
  } else {
    for (const auto& [id, pr] : tracker_.progress()) {
      if (id != id_) maybe_send_append(id, false);
    }
  }
  if (lead_transferee_ != kNoNode && !tracker_.is_voter(lead_transferee_)) abort_leader_transfer();
}

Status Raft::campaign_now() {
  if (role_ == Role::leader) return {};
  if (!promotable()) return fail("this node is not a voter and cannot campaign");
  hup(pre_vote_ ? CampaignKind::pre_election : CampaignKind::election);
  return {};
}

Status Raft::transfer_leadership(uint64_t transferee) {
  if (role_ == Role::leader) {
    const Progress* pr = tracker_.get(transferee);
    if (pr == nullptr || pr->is_learner) {
      return fail("node " + u(transferee) + " is not a voter and cannot lead");
    }
    leader_transfer(transferee);
    return {};
  }
  if (lead_ == kNoNode) return fail("cannot forward the transfer request");
  Message m;
  m.type = MessageType::transfer_leader;
  m.to = lead_;
  m.index = transferee;
  send(std::move(m));
  return {};
}

Status Raft::read_index(std::vector<uint8_t> context) {
  if (role_ == Role::leader) {
    leader_read_index(id_, context);
    return {};
  }
  if (lead_ == kNoNode) return fail("cannot serve a linearizable read");
  Message m;
  m.type = MessageType::read_index;
  m.to = lead_;
  m.context = std::move(context);
  send(std::move(m));
  return {};
}

void Raft::report_unreachable(uint64_t id) {
  if (role_ != Role::leader) return;
  Progress* pr = tracker_.get(id);
  // Stop streaming optimistically; probe again once it answers a heartbeat.
  if (pr != nullptr && pr->state == ProgressState::replicate) pr->become_probe();
}

void Raft::report_snapshot(uint64_t id, bool success) {
  if (role_ != Role::leader) return;
  Progress* pr = tracker_.get(id);
  if (pr == nullptr || pr->state != ProgressState::snapshot) return;
  if (!success) pr->pending_snapshot = 0;
  pr->become_probe();
  // Wait for a heartbeat response before probing: the follower may still be installing.
  pr->probe_sent = true;
}

}  // namespace raftdns::raft
