// Driver: submitted requests, their routing to the leader (forwarding and its retry), peer messages.
#include "common/bytes.h"
#include "replication/address.h"
#include "replication/driver.h"

namespace raftdns::replication {

using bytes::get_u64_be;
using bytes::put_u64_be;

// ---- peer messages ----

void Driver::step(const raft::Message& m) {
  // A stale or unexpected message is normal under faults; the core ignores it.
  (void)node_->step(m);
  wake();
}

void Driver::on_message(const std::string& peer, uint8_t kind, std::span<const uint8_t> p) {
  if (stopped_) return;
  switch (kind) {
    case kRaft: {
      auto m = raft::decode_message(p);
      if (!m) {
        log("peer " + peer + ": bad raft message: " + m.error());
        return;
      }
      if (m->from != raft_id_of(peer)) {
        log("peer " + peer + ": raft message claims another sender; dropped");
        return;
      }
      if (m->type == raft::MessageType::snap || m->type == raft::MessageType::prop) {
        // A snapshot travels as chunks (kinds 2 and 3), and a proposal as a
        // driver envelope (kinds 6 and 8), which the origin can track.
        log("peer " + peer + ": raw " + std::string(raft::to_string(m->type)) +
            " message dropped");
        return;
      }
      if (syncing_ && m->type == raft::MessageType::app && m->from == syncing_->msg.from) {
        // Entries after the snapshot whose file is still being made durable:
        // our log cannot take them yet, and a rejection would make the leader
        // send the whole snapshot again. Dropped, as a network may; the
        // leader sends them again after its next heartbeat, which is
        // answered.
        return;
      }
      step(*m);
      return;
    }
    case kSnapshotChunk:
      return on_snapshot_chunk(peer, p);
    case kSnapshotDone:
      return on_snapshot_done(peer, p);
    case kStatusRequest:
      return on_status_request(peer, p);
    case kStatusReply:
      return on_status_reply(peer, p);
    case kForward:
      return on_forward(peer, p, false);
    case kForwardRetry:
      return on_forward(peer, p, true);
    case kForwardRefused: {
      uint64_t id = 0;
      if (!get_u64_be(p, id)) return;
      auto it = pending_.find(id);
      // It never entered the log: try again (maybe with the next leader).
      if (it != pending_.end()) it->second.proposed = false;
      return;
    }
    case kForwardRejected: {
      uint64_t id = 0;
      if (!get_u64_be(p, id)) return;
      std::string why(p.begin(), p.end());
      complete_request(id, make_error(why.empty() ? "refused by the leader" : why), 0);
      return;
    }
    case kRemoved: {
      uint64_t index = 0;
      if (!get_u64_be(p, index)) return;
      // Only a member that applied our removal says so; the frame is
      // authenticated with the cluster key.
      if (!members_.find(self_) || applied_ < index) {
        note_removed("at index " + std::to_string(index) + " (told by " + peer + ")");
      }
      return;
    }
    case kNotAMember: {
      uint64_t index = 0;
      if (!get_u64_be(p, index)) return;
      note_not_a_member(peer, index);
      return;
    }
    default:
      log("peer " + peer + ": unknown message kind " + std::to_string(kind));
  }
}

// A member that does not count this node among its peers said so: its
// membership, applied through `index`, lacks this node. A node whose own
// membership (applied through an earlier index) holds itself was removed in
// between, while it was down or cut off: a restarted node learns it this way.
// A joining node that holds no membership yet has only not been added yet.
void Driver::note_not_a_member(const std::string& peer, uint64_t index) {
  if (members_.find(self_) != nullptr) {
    if (applied_ < index) {
      note_removed("by index " + std::to_string(index) + " (told by " + peer +
                   ", whose membership applied through that index lacks it)");
    }
    return;
  }
  if (members_.members.empty() && !told_not_added_) {
    told_not_added_ = true;
    log("cluster: " + peer + " does not count " + cfg_.self_id +
        " as a member yet (its membership applied through index " + std::to_string(index) +
        "); waiting to be added with `dnsadm member add " + cfg_.self_id + " ADDRESS`");
  }
}

// Whether an entry past the applied index is a membership change. Cannot
// tell (a WAL read failed): says yes, which refuses rather than retries.
bool Driver::conf_change_in_flight() {
  const uint64_t last = wal_->last_index();
  uint64_t from = std::max<uint64_t>(applied_ + 1, wal_->first_index());
  while (from <= last) {
    auto got = wal_->entries(from, last + 1, 1u << 20);
    if (!got || got->empty()) return true;
    for (const auto& e : *got) {
      if (to_raft(e).type == raft::EntryType::conf_change) return true;
    }
    from = got->back().index + 1;
  }
  return false;
}

// What a node that holds the key but is not a peer is told: only a node
// that knows the membership (not one still waiting to join) says anything.
std::optional<StrangerNotice> Driver::notice_for_stranger(const std::string&) const {
  if (stopped_ || removed_ || members_.members.empty()) return std::nullopt;
  StrangerNotice notice;
  notice.kind = kNotAMember;
  put_u64_be(notice.payload, applied_);
  return notice;
}

// A joining node that no peer lets in because the MAC never matches was
// started with another cluster's key: waiting would be forever. A node that
// holds data keeps serving it (and keeps trying): it is not ours to stop.
void Driver::on_key_mismatch(const std::string& peer, const std::string& address) {
  if (stopped_ || fatal_ || !cfg_.join || !members_.members.empty()) return;
  const auto now = Clock::now();
  if (key_mismatches_++ == 0) first_key_mismatch_ = now;
  if (key_mismatches_ < kKeyMismatchAttempts || now - first_key_mismatch_ < kKeyMismatchWindow) {
    return;
  }
  fatal_ = true;
  const auto seconds =
      std::chrono::duration_cast<std::chrono::seconds>(now - first_key_mismatch_).count();
  std::string why = "cluster: cannot join: the cluster key does not match peer " + peer + " (" +
                    address + "): handshake MAC mismatch on " + std::to_string(key_mismatches_) +
                    " attempts over " + std::to_string(seconds) +
                    " s, and no peer accepted the key; start it with the cluster's key file";
  for (auto& [id, p] : pending_) {
    if (p.rejection.empty()) p.rejection = "the cluster key does not match";
    p.deadline = now;
  }
  // One line: the owner logs it (with what it knows, the key file) when it takes it.
  if (cfg_.on_fatal) {
    cfg_.on_fatal(why);
  } else {
    log(why);
  }
}

void Driver::on_peer_state(const std::string& peer, bool up) {
  if (stopped_) return;
  if (up) {
    key_mismatches_ = 0;  // a peer accepted the key
    for (auto& [id, p] : pending_) {
      if (!p.proposed) try_propose(id);
    }
    wake();
    return;
  }
  if (sending_.count(peer)) abort_snapshot_send(peer, "connection lost");
  // A forward that went out on this connection may have been lost with it,
  // or may already be in the leader's log: send it again, flagged so the
  // leader looks for it first.
  for (auto& [id, p] : pending_) {
    if (p.proposed && p.forwarded_to == peer) {
      p.proposed = false;
      p.retry = true;
    }
  }
}

void Driver::on_forward(const std::string& peer, std::span<const uint8_t> p, bool retry) {
  uint64_t scan_from = 0;
  if (retry && !get_u64_be(p, scan_from)) return;
  Envelope env;
  if (!decode_envelope(p, env) || env.origin != raft_id_of(peer)) return;
  std::string why = "not the leader";
  Proposal outcome = Proposal::retry;
  if (node_->role() == raft::Role::leader) {
    if (retry) flush_proposals();  // the log must hold all it will hold
    if (retry && !retry_can_be_judged()) {
      why = "the new leader has not yet committed an entry of its term";
    } else if (retry && log_holds_request(scan_from, env.origin, env.request)) {
      return;  // already in the log: the origin completes it when it applies it
    } else if (!retry && !env.conf_change) {
      queue_proposal({{p.begin(), p.end()}, 0, peer, env.request});
      return;
    } else {
      outcome = propose_envelope(p, why);
    }
  }
  if (outcome != Proposal::proposed) {
    std::vector<uint8_t> out;
    put_u64_be(out, env.request);
    out.insert(out.end(), why.begin(), why.end());
    network_->send(peer, outcome == Proposal::refused ? kForwardRejected : kForwardRefused, out);
  }
  wake();
}

// A retry is judged against the leader's log only once the leader has
// committed an entry of its own term: before that, an entry of an older term
// that this log lacks could still be committed by another leader.
bool Driver::retry_can_be_judged() const {
  return node_->log_term(node_->committed()) == node_->term();
}

// Whether the leader's log holds the envelope (origin, request) at or after
// `from`. A leader's log holds every entry that can still commit, so an
// envelope not found here can be proposed again without ever being applied
// twice. Entries compacted away were applied long ago (so were found by the
// origin itself); the scan starts after the compaction point.
bool Driver::log_holds_request(uint64_t from, uint64_t origin, uint64_t request) const {
  uint64_t lo = std::max(from, wal_->first_index());
  uint64_t hi = node_->last_index();
  // Entries not yet in the WAL are in this Ready's batch; there are none
  // between two Readies, which is when messages are handled.
  hi = std::min(hi, wal_->last_index());
  constexpr uint64_t kBatch = 4u << 20;
  while (lo <= hi) {
    auto got = wal_->entries(lo, hi + 1, kBatch);
    if (!got || got->empty()) return false;
    for (const auto& e : *got) {
      raft::Entry entry = to_raft(e);
      Envelope env;
      if (entry.type == raft::EntryType::normal && decode_envelope(entry.data, env) &&
          env.origin == origin && env.request == request) {
        return true;
      }
      if (entry.type == raft::EntryType::conf_change) {
        auto cc = raft::decode_conf_change(entry.data);
        auto ctx = cc ? decode_member_change(cc->context) : std::nullopt;
        if (ctx && ctx->origin == origin && ctx->request == request) return true;
      }
    }
    lo = got->back().index + 1;
  }
  return false;
}

void Driver::send_message(raft::Message m) {
  auto name = names_.find(m.to);
  if (name == names_.end() || !network_) return;
  if (m.type == raft::MessageType::snap) {
    start_snapshot_send(name->second, std::move(m));
    return;
  }
  auto bytes = raft::encode_message(m);
  if (!network_->send(name->second, kRaft, bytes) && m.type == raft::MessageType::app) {
    node_->report_unreachable(m.to);
  }
}

// ---- requests ----

void Driver::submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done) {
  if (stopped_) return done(make_error("the server is shutting down"), 0);
  if (removed_) return done(make_error("this node was removed from the cluster"), 0);
  uint64_t id = ++next_request_;
  Pending p;
  p.done = std::move(done);
  p.deadline = deadline;
  p.envelope = encode_envelope(self_, id, command);
  pending_.emplace(id, std::move(p));
  try_propose(id);
  wake();
}

// Voters this node can reach right now, itself included.
std::pair<size_t, size_t> Driver::reachable_voters() const {
  size_t total = 0, up = 0;
  for (uint64_t v : applied_conf_.voters) {
    ++total;
    if (v == self_ || peer_reachable(v)) ++up;
  }
  return {up, total};
}

bool Driver::peer_reachable(uint64_t id) const {
  auto it = names_.find(id);
  if (it == names_.end() || !network_) return false;
  auto st = network_->peer_stats(it->second);
  if (!st.connected || !st.last_heard) return false;
  auto horizon = cfg_.tick * cfg_.election_ticks * 2;
  return Clock::now() - *st.last_heard < horizon;
}

std::string Driver::no_quorum_reason() const {
  auto [up, total] = reachable_voters();
  return "no quorum: " + std::to_string(up) + " of " + std::to_string(total) +
         " voters reachable";
}

std::string Driver::no_leader_reason() const {
  return node_->lead() == raft::kNoNode ? no_quorum_reason() + ", no leader" : no_quorum_reason();
}

void Driver::try_propose(uint64_t id) {
  auto it = pending_.find(id);
  if (it == pending_.end() || it->second.proposed) return;
  Pending& p = it->second;
  auto [up, total] = reachable_voters();
  if (up * 2 <= total) return;  // wait for a quorum until the deadline
  if (p.scan_from == 0) p.scan_from = node_->committed() + 1;
  if (node_->role() == raft::Role::leader) {
    // A retried forward may already be in our log (we took it as a
    // follower, or as the leader it was forwarded to).
    if (p.retry) flush_proposals();  // the log must hold all it will hold
    if (p.retry && !retry_can_be_judged()) return;  // at a later tick
    if (p.retry && log_holds_request(p.scan_from, self_, id)) {
      p.proposed = true;
      return;
    }
    Envelope env;
    if (!p.retry && decode_envelope(p.envelope, env) && !env.conf_change) {
      p.proposed = true;
      p.forwarded_to.clear();
      queue_proposal({p.envelope, id, {}, 0});
      return;
    }
    std::string why;
    switch (propose_envelope(p.envelope, why)) {
      case Proposal::proposed:
        p.proposed = true;
        p.forwarded_to.clear();
        break;
      case Proposal::refused:
        // Failed at the next tick: the caller may be iterating pending_.
        p.rejection = why;
        p.deadline = Clock::now();
        p.proposed = true;
        break;
      case Proposal::retry:
        break;
    }
    return;
  }
  uint64_t lead = node_->lead();
  if (lead == raft::kNoNode || lead == self_) return;
  auto name = names_.find(lead);
  if (name == names_.end() || !peer_reachable(lead) || !network_) return;
  bool sent = false;
  if (p.retry) {
    std::vector<uint8_t> out;
    out.reserve(8 + p.envelope.size());
    put_u64_be(out, p.scan_from);
    out.insert(out.end(), p.envelope.begin(), p.envelope.end());
    sent = network_->send(name->second, kForwardRetry, out);
  } else {
    sent = network_->send(name->second, kForward, p.envelope);
  }
  if (sent) {
    p.proposed = true;
    p.forwarded_to = name->second;
  }
}

void Driver::queue_proposal(Queued q) {
  queued_.push_back(std::move(q));
  wake();
}

void Driver::flush_proposals() {
  if (queued_.empty()) return;
  std::vector<Queued> batch = std::move(queued_);
  queued_.clear();
  std::vector<std::vector<uint8_t>> commands;
  commands.reserve(batch.size());
  for (const auto& q : batch) commands.push_back(q.envelope);
  Status s = node_->propose_batch(std::move(commands));
  if (s) return;
  // Nothing of the batch entered the log (the core checks before it
  // appends): each request is as if it had never been proposed.
  for (const auto& q : batch) {
    if (q.local != 0) {
      if (auto it = pending_.find(q.local); it != pending_.end()) it->second.proposed = false;
    } else if (network_) {
      std::vector<uint8_t> out;
      put_u64_be(out, q.request);
      out.insert(out.end(), s.error().begin(), s.error().end());
      network_->send(q.peer, kForwardRefused, out);
    }
  }
}

// ---- membership changes and leadership transfer ----

// The leader proposes an envelope: a command as it is, a membership change
// once it fits the applied membership. `why` says what stopped it: retry
// (no leader here, a transfer under way) or refused for good.
Driver::Proposal Driver::propose_envelope(std::span<const uint8_t> envelope, std::string& why) {
  Envelope env;
  if (!decode_envelope(envelope, env)) {
    why = "malformed request";
    return Proposal::refused;
  }
  if (env.conf_change) return propose_member_change(env, why);
  if (auto s = node_->propose({envelope.begin(), envelope.end()}); !s) {
    why = s.error();
    return Proposal::retry;
  }
  return Proposal::proposed;
}

Driver::Proposal Driver::propose_member_change(const Envelope& env, std::string& why) {
  auto cc = raft::decode_conf_change(env.command);
  auto ctx = cc ? decode_member_change(cc->context) : std::nullopt;
  if (!cc || !ctx) {
    why = "malformed membership change";
    return Proposal::refused;
  }
  const std::string& name = ctx->name;
  const Member* m = members_.find(cc->node_id);
  auto st = node_->status();
  switch (cc->type) {
    case raft::ConfChange::add_learner:
    case raft::ConfChange::add_voter: {
      if (m) {
        why = "member " + name + " already exists (" + (m->voter ? "voter" : "learner") + " at " +
              m->address + ")";
        return Proposal::refused;
      }
      if (const Member* other = members_.find_address(ctx->address)) {
        why = "address " + ctx->address + " is already used by member " + other->name;
        return Proposal::refused;
      }
      break;
    }
    case raft::ConfChange::promote_learner: {
      if (!m) {
        why = "no member " + name;
        return Proposal::refused;
      }
      if (m->voter) {
        why = "member " + name + " is already a voter";
        return Proposal::refused;
      }
      uint64_t match = 0;
      for (const auto& pg : st.progress) {
        if (pg.id == cc->node_id) match = pg.match;
      }
      if (match == 0) {
        // A new leader has not heard from it yet (or it never came up):
        // ask again until the deadline.
        why = "the leader has not heard from learner " + name + " yet";
        return Proposal::retry;
      }
      if (match + kCaughtUpEntries < st.commit) {
        why = "learner " + name + " has not caught up: it holds the log to index " +
              std::to_string(match) + " of " + std::to_string(st.commit) +
              "; promote it once it has";
        return Proposal::refused;
      }
      break;
    }
    case raft::ConfChange::remove_voter: {
      if (!m) {
        why = "no member " + name;
        return Proposal::refused;
      }
      if (m->voter && members_.voter_count() == 1) {
        why = "cannot remove " + name + ": it is the last voter";
        return Proposal::refused;
      }
      if (cc->node_id == self_) {
        // The leader hands over first; the removal then goes to the new
        // leader like any forwarded request.
        uint64_t to = best_transferee();
        if (to == raft::kNoNode) {
          why = "cannot remove the leader " + name + ": no other voter is reachable to take over";
          return Proposal::retry;
        }
        if (st.lead_transferee == raft::kNoNode) {
          log("cluster: removing this node (the leader): handing leadership to " + names_[to] +
              " first");
          (void)node_->transfer_leadership(to);
        }
        why = "the leader is handing over before its removal";
        return Proposal::retry;
      }
      break;
    }
  }
  if (auto s = node_->propose_conf_change(*cc); !s) {
    why = s.error();
    // Only a change still in flight is the caller's problem; the rest
    // (a new leader not settled yet) passes with a retry.
    if (why.find("is not applied yet") != std::string::npos) {
      if (!conf_change_in_flight()) {
        // A new leader counts its whole unapplied log as a possible change
        // until it applies it: a moment, not the caller's problem.
        why = "the new leader has not applied its log yet";
        return Proposal::retry;
      }
      why = "another membership change is pending (" + why + "); try again when it is applied";
      return Proposal::refused;
    }
    return Proposal::retry;
  }
  log("cluster: proposed " +
      std::string(cc->type == raft::ConfChange::add_learner     ? "adding learner "
                  : cc->type == raft::ConfChange::add_voter       ? "adding voter "
                  : cc->type == raft::ConfChange::promote_learner ? "promoting "
                                                                  : "removing ") +
      name + (ctx->address.empty() ? "" : " at " + ctx->address));
  return Proposal::proposed;
}

void Driver::change_membership(const MemberRequest& request, Clock::time_point deadline,
                               Done done) {
  if (stopped_) return done(make_error("the server is shutting down"), 0);
  if (removed_) return done(make_error("this node was removed from the cluster"), 0);
  raft::ConfChange cc;
  cc.node_id = raft_id_of(request.name);
  MemberChange ctx;
  ctx.origin = self_;
  ctx.name = request.name;
  switch (request.kind) {
    case MemberRequest::Kind::add: {
      auto addr = parse_socket_address(request.address);
      if (!addr) return done(make_error("member " + request.name + ": " + addr.error()), 0);
      if (addr->port() == 0 || addr->is_wildcard()) {
        return done(make_error("member " + request.name + ": " + request.address +
                               " is not an address peers can dial"),
                    0);
      }
      cc.type = raft::ConfChange::add_learner;
      ctx.address = addr->to_text();
      ctx.auto_promote = !request.stay_learner;
      break;
    }
    case MemberRequest::Kind::promote:
      cc.type = raft::ConfChange::promote_learner;
      break;
    case MemberRequest::Kind::remove:
      cc.type = raft::ConfChange::remove_voter;
      break;
  }
  uint64_t id = ++next_request_;
  ctx.request = id;
  cc.context = encode_member_change(ctx);
  Pending p;
  p.done = std::move(done);
  p.deadline = deadline;
  p.envelope = encode_envelope(self_, id, raft::encode_conf_change(cc), true);
  pending_.emplace(id, std::move(p));
  try_propose(id);
  wake();
}

// The voter other than us that holds the most of the log and is reachable.
uint64_t Driver::best_transferee() const {
  auto st = node_->status();
  uint64_t best = raft::kNoNode, best_match = 0;
  for (const auto& pg : st.progress) {
    if (pg.id == self_ || pg.is_learner || !peer_reachable(pg.id)) continue;
    if (best == raft::kNoNode || pg.match > best_match) {
      best = pg.id;
      best_match = pg.match;
    }
  }
  return best;
}

void Driver::transfer_leadership(const std::string& target, Clock::time_point deadline,
                                 std::function<void(Status)> done) {
  if (removed_) return done(make_error("this node was removed from the cluster"));
  uint64_t to = raft::kNoNode;
  if (!target.empty()) {
    const Member* m = members_.find_name(target);
    if (!m) return done(make_error("no member " + target));
    if (!m->voter) return done(make_error("member " + target + " is a learner; only a voter can lead"));
    to = m->raft_id;
  } else if (node_->role() == raft::Role::leader) {
    to = best_transferee();
    if (to == raft::kNoNode) return done(make_error("no other voter is reachable to take over"));
  } else {
    // Any voter but the current leader: the most caught-up one is the
    // leader's choice, which a follower cannot see; pick by order.
    for (const auto& m : members_.members) {
      if (m.voter && m.raft_id != node_->lead()) {
        to = m.raft_id;
        if (m.raft_id != self_) break;
      }
    }
    if (to == raft::kNoNode) return done(make_error("no other voter to take over"));
  }
  if (node_->lead() == to) return done({});
  log("cluster: leadership transfer to " + names_[to] + " requested");
  transfers_.push_back({to, deadline, std::move(done), 0});
  check_transfers(false);
  wake();
}

void Driver::check_transfers(bool) {
  if (transfers_.empty()) return;
  auto now = Clock::now();
  for (auto it = transfers_.begin(); it != transfers_.end();) {
    if (node_->lead() == it->target) {
      auto done = std::move(it->done);
      it = transfers_.erase(it);
      done({});
    } else if (now >= it->deadline) {
      auto done = std::move(it->done);
      auto lead = names_.find(node_->lead());
      it = transfers_.erase(it);
      done(make_error("leadership did not move by the deadline (leader: " +
                      (lead == names_.end() ? std::string("none") : lead->second) + ")"));
    } else {
      // Ask (again: the core gives up after an election timeout, and a
      // forwarded request may be lost) once a leader is known.
      bool leading = node_->role() == raft::Role::leader;
      if (node_->lead() != raft::kNoNode &&
          (leading ? node_->status().lead_transferee == raft::kNoNode : it->wait_ticks <= 0)) {
        (void)node_->transfer_leadership(it->target);
        it->wait_ticks = cfg_.election_ticks;
      } else {
        --it->wait_ticks;
      }
      ++it;
    }
  }
}

// The leader promotes a learner added without --learner once its log has
// caught up with the commit index (within kCaughtUpEntries).
void Driver::maybe_promote_learners() {
  if (node_->role() != raft::Role::leader) return;
  auto st = node_->status();
  if (st.lead_transferee != raft::kNoNode) return;
  for (const auto& m : members_.members) {
    if (m.voter || !m.auto_promote) continue;
    for (const auto& pg : st.progress) {
      if (pg.id != m.raft_id || !pg.recent_active || pg.match + kCaughtUpEntries < st.commit ||
          pg.match == 0) {
        continue;
      }
      MemberChange ctx;
      ctx.name = m.name;
      ctx.address = m.address;
      raft::ConfChange cc{raft::ConfChange::promote_learner, m.raft_id, encode_member_change(ctx)};
      if (node_->propose_conf_change(cc)) {
        log("cluster: learner " + m.name + " has caught up (index " + std::to_string(pg.match) +
            "); promoting it to voter");
        wake();
      }
      return;  // one change at a time
    }
  }
}

void Driver::complete_request(uint64_t request, Status outcome, uint64_t index) {
  auto it = pending_.find(request);
  if (it == pending_.end()) return;
  Pending p = std::move(it->second);
  pending_.erase(it);
  p.done(std::move(outcome), index);
}

void Driver::expire_requests() {
  auto now = Clock::now();
  for (auto it = pending_.begin(); it != pending_.end();) {
    if (now < it->second.deadline) {
      if (!it->second.proposed) try_propose(it->first);
      ++it;
      continue;
    }
    Pending p = std::move(it->second);
    it = pending_.erase(it);
    if (!p.rejection.empty()) {
      p.done(make_error(p.rejection), 0);
    } else if (!p.proposed) {
      p.done(make_error(no_leader_reason()), 0);
    } else {
      p.done(make_error("timed out waiting for the change to commit (" + no_quorum_reason() +
                        "); it may still be applied later"),
             0);
    }
  }
  expire_reports(now);
  check_waits(true);
}

}  // namespace raftdns::replication
