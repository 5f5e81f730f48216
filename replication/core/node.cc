// Node: the driver-facing wrapper that batches Raft's output into Ready and takes it back.
#include <string>

#include "replication/core/invariant.h"
#include "replication/core/raft.h"
#include "replication/core/raft_state.h"

namespace raftdns::raft {

Status validate(const Config& c) {
  if (c.id == kNoNode) return make_error("raft config: id must not be 0 (0 means no node)");
  if (c.heartbeat_tick <= 0) return make_error("raft config: heartbeat_tick must be positive");
  if (c.election_tick <= c.heartbeat_tick) {
    return make_error("raft config: election_tick (" + std::to_string(c.election_tick) +
                      ") must be greater than heartbeat_tick (" + std::to_string(c.heartbeat_tick) +
                      ")");
  }
  if (c.storage == nullptr) return make_error("raft config: storage is required");
  if (c.max_inflight_msgs == 0)
    return make_error("raft config: max_inflight_msgs must be positive");
  if (c.max_inflight_bytes != 0 && c.max_inflight_bytes < c.max_size_per_msg) {
    return make_error("raft config: max_inflight_bytes must be 0 or at least max_size_per_msg");
  }
  return {};
}

std::vector<Entry> bootstrap_entries(const std::vector<uint64_t>& voters) {
  std::vector<Entry> out;
  uint64_t index = 0;
  for (uint64_t id : voters) {
    out.push_back(Entry{++index, 1, EntryType::conf_change,
                        encode_conf_change(ConfChange{ConfChange::add_voter, id, {}})});
  }
  return out;
}

namespace {
const Raft& checked(const std::unique_ptr<Raft>& r) { return *r; }

std::unique_ptr<Raft> make_raft(const Config& config) {
  Status valid = validate(config);
  RAFT_INVARIANT(valid.ok(), valid.error());
  return std::make_unique<Raft>(config);
}
}  // namespace

Node::Node(const Config& config) : raft_(make_raft(config)) {
  prev_soft_ = raft_->soft_state();
  prev_hard_ = raft_->hard_state();
}

Node::~Node() = default;

void Node::tick() { raft_->tick(); }

Status Node::step(const Message& m) {
  if (m.to != raft_->id()) {
    return make_error("raft node " + std::to_string(raft_->id()) + ": message " + describe(m) +
                      " is addressed to another node");
  }
  if (m.from == kNoNode) return make_error("raft: message " + describe(m) + " has no sender");
  if (m.term == 0 && m.type != MessageType::prop && m.type != MessageType::read_index) {
    return make_error("raft: message " + describe(m) + " has no term");
  }
  const bool is_response = m.type == MessageType::app_resp || m.type == MessageType::vote_resp ||
                           m.type == MessageType::pre_vote_resp ||
                           m.type == MessageType::heartbeat_resp;
  if (is_response && raft_->tracker().get(m.from) == nullptr) {
    return make_error("raft node " + std::to_string(raft_->id()) + ": response " + describe(m) +
                      " from node " + std::to_string(m.from) + ", which is not a member");
  }
  return raft_->step(m);
}

Status Node::propose(std::vector<uint8_t> data) { return raft_->propose(std::move(data)); }

Status Node::propose_batch(std::vector<std::vector<uint8_t>> commands) {
  return raft_->propose_batch(std::move(commands));
}

Status Node::propose_conf_change(const ConfChange& change) {
  return raft_->propose_conf_change(change);
}

ConfState Node::apply_conf_change(const ConfChange& change) {
  return raft_->apply_conf_change(change);
}

Status Node::campaign() { return raft_->campaign_now(); }

Status Node::transfer_leadership(uint64_t transferee) {
  return raft_->transfer_leadership(transferee);
}

Status Node::read_index(std::vector<uint8_t> context) {
  return raft_->read_index(std::move(context));
}

bool Node::has_ready() const {
  const Raft& r = checked(raft_);
  if (r.soft_state() != prev_soft_) return true;
  if (r.hard_state() != prev_hard_) return true;
  if (r.log().has_pending_snapshot()) return true;
  if (!r.log().unstable_entries().empty()) return true;
  if (r.log().has_next_committed_entries()) return true;
  return !raft_->outbox().empty() || !raft_->read_states().empty();
}

Ready Node::ready() {
  RAFT_INVARIANT(!ready_outstanding_,
                 "node " + std::to_string(raft_->id()) + ": ready() called again before advance()");
  Ready rd;
  RaftLog& log = raft_->log();
  rd.entries = log.unstable_entries();
  rd.snapshot = log.pending_snapshot();
  rd.committed_entries = log.next_committed_entries();
  const SoftState soft = raft_->soft_state();
  if (soft != prev_soft_) {
    rd.soft_state = soft;
    prev_soft_ = soft;
  }
  const HardState hard = raft_->hard_state();
  if (hard != prev_hard_) rd.hard_state = hard;
  rd.must_sync = !rd.entries.empty() || rd.snapshot.has_value() || hard.term != prev_hard_.term ||
                 hard.vote != prev_hard_.vote;
  prev_hard_ = hard;
  rd.messages = std::move(raft_->outbox());
  raft_->outbox().clear();
  rd.read_states = std::move(raft_->read_states());
  raft_->read_states().clear();
  ready_outstanding_ = true;
  return rd;
}

void Node::advance(const Ready& rd) {
  RAFT_INVARIANT(ready_outstanding_,
                 "node " + std::to_string(raft_->id()) + ": advance() without a ready()");
  RaftLog& log = raft_->log();
  if (rd.snapshot) {
    log.stable_snapshot_to(rd.snapshot->index);
    // The driver installed the snapshot into the state machine as well.
    if (rd.snapshot->index > log.applied()) log.applied_to(rd.snapshot->index);
  }
  if (!rd.entries.empty()) log.stable_to(rd.entries.back().index, rd.entries.back().term);
  if (!rd.committed_entries.empty()) log.applied_to(rd.committed_entries.back().index);
  ready_outstanding_ = false;
}

NodeStatus Node::status() const {
  const Raft& r = checked(raft_);
  NodeStatus s;
  s.id = r.id();
  s.term = r.term();
  s.vote = r.vote();
  s.role = r.role();
  s.lead = r.lead();
  s.commit = r.log().committed();
  s.applied = r.log().applied();
  s.last_index = r.log().last_index();
  s.lead_transferee = r.lead_transferee();
  s.conf = r.tracker().conf_state();
  if (r.role() == Role::leader) {
    for (const auto& [id, pr] : r.tracker().progress()) {
      s.progress.push_back(PeerProgress{id, pr.match, pr.next, pr.state, pr.recent_active,
                                        pr.is_learner, pr.inflights.count()});
    }
  }
  return s;
}

void Node::report_unreachable(uint64_t id) { raft_->report_unreachable(id); }
void Node::report_snapshot(uint64_t id, bool success) { raft_->report_snapshot(id, success); }

uint64_t Node::id() const { return raft_->id(); }
uint64_t Node::term() const { return raft_->term(); }
Role Node::role() const { return raft_->role(); }
uint64_t Node::lead() const { return raft_->lead(); }
uint64_t Node::last_index() const { return raft_->log().last_index(); }
uint64_t Node::committed() const { return raft_->log().committed(); }

std::optional<uint64_t> Node::log_term(uint64_t index) const {
  auto t = raft_->log().term(index);
  if (!t.ok()) return std::nullopt;
  return t.value();
}

}  // namespace raftdns::raft
