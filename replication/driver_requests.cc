// Driver: submitted requests, their routing to the leader (forwarding and its retry), peer messages.
#include "common/bytes.h"
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
    default:
      log("peer " + peer + ": unknown message kind " + std::to_string(kind));
  }
}

void Driver::on_peer_state(const std::string& peer, bool up) {
  if (stopped_) return;
  if (up) {
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
  Status s;
  if (node_->role() != raft::Role::leader) {
    s = make_error("not the leader");
  } else if (retry && log_holds_request(scan_from, env.origin, env.request)) {
    return;  // already in the log: the origin completes it when it applies it
  } else {
    s = node_->propose({p.begin(), p.end()});
  }
  if (!s) {
    std::vector<uint8_t> out;
    put_u64_be(out, env.request);
    out.insert(out.end(), s.error().begin(), s.error().end());
    network_->send(peer, kForwardRefused, out);
  }
  wake();
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
    if (p.retry && log_holds_request(p.scan_from, self_, id)) {
      p.proposed = true;
      return;
    }
    if (node_->propose(p.envelope)) {
      p.proposed = true;
      p.forwarded_to.clear();
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
    if (!p.proposed) {
      p.done(make_error(node_->lead() == raft::kNoNode ? no_quorum_reason() + ", no leader"
                                                       : no_quorum_reason()),
             0);
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
