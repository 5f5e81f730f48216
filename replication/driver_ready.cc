// Driver: open and recovery, the Ready loop (persist, send, apply, advance) and WAL compaction.
#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <random>

#include "common/bytes.h"
#include "replication/driver.h"

namespace raftdns::replication {

using bytes::get_u64_be;
using bytes::put_u64_be;

uint64_t raft_id_of(const std::string& node_id) {
  uint64_t h = bytes::fnv1a64(
      {reinterpret_cast<const uint8_t*>(node_id.data()), node_id.size()});
  return h == 0 ? 1 : h;
}

namespace {
constexpr uint8_t kEnvelopeVersion = 1;
constexpr uint8_t kMembershipVersion = 1;
}  // namespace

std::vector<uint8_t> encode_envelope(uint64_t origin, uint64_t request,
                                     std::span<const uint8_t> command) {
  std::vector<uint8_t> out;
  out.reserve(1 + 8 + 8 + command.size());
  out.push_back(kEnvelopeVersion);
  put_u64_be(out, origin);
  put_u64_be(out, request);
  out.insert(out.end(), command.begin(), command.end());
  return out;
}

bool decode_envelope(std::span<const uint8_t> in, Envelope& out) {
  if (in.empty() || in[0] != kEnvelopeVersion) return false;
  in = in.subspan(1);
  if (!get_u64_be(in, out.origin) || !get_u64_be(in, out.request)) return false;
  out.command = in;
  return true;
}

std::vector<uint8_t> encode_membership(const raft::ConfState& c) {
  std::vector<uint8_t> out{kMembershipVersion};
  put_u64_be(out, c.voters.size());
  for (auto v : c.voters) put_u64_be(out, v);
  put_u64_be(out, c.learners.size());
  for (auto v : c.learners) put_u64_be(out, v);
  return out;
}

std::optional<raft::ConfState> decode_membership(std::span<const uint8_t> in) {
  if (in.empty() || in[0] != kMembershipVersion) return std::nullopt;
  in = in.subspan(1);
  raft::ConfState c;
  uint64_t n = 0;
  if (!get_u64_be(in, n) || n > in.size() / 8) return std::nullopt;
  for (uint64_t i = 0, v = 0; i < n && get_u64_be(in, v); ++i) c.voters.push_back(v);
  if (!get_u64_be(in, n) || n > in.size() / 8) return std::nullopt;
  for (uint64_t i = 0, v = 0; i < n && get_u64_be(in, v); ++i) c.learners.push_back(v);
  if (!in.empty()) return std::nullopt;
  return c;
}

Driver::Driver(NodeConfig config, StateMachine& sm, std::unique_ptr<PeerNetwork> network,
               Hooks hooks)
    : cfg_(std::move(config)),
      sm_(sm),
      fs_(cfg_.fs ? *cfg_.fs : wal::posix_file_system()),
      hooks_(std::move(hooks)),
      self_(raft_id_of(cfg_.self_id)),
      network_(std::move(network)) {
  names_[self_] = cfg_.self_id;
  for (const auto& p : cfg_.peers) names_[raft_id_of(p.id)] = p.id;
  std::random_device rd;
  next_request_ =
      (uint64_t{rd()} << 32) ^ rd() ^
      static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
}

Driver::~Driver() { stop(); }

void Driver::log(const std::string& line) const {
  if (cfg_.log) {
    cfg_.log(line);
  } else {
    std::fprintf(stderr, "%s\n", line.c_str());
  }
}

void Driver::fatal(const std::string& what) const {
  if (cfg_.fatal) cfg_.fatal(what);
  std::fprintf(stderr, "raftdnsd: fatal: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

void Driver::wake() {
  if (hooks_.wake) hooks_.wake();
}

// ---- open and recovery ----

Status Driver::open() {
  if (names_.size() != cfg_.peers.size() + 1) {
    return make_error("cluster: node ids must be distinct (self " + cfg_.self_id + ")");
  }
  if (auto s = open_wal(); !s) return s;
  AppliedPosition pos = sm_.applied();
  applied_ = pos.index;
  applied_term_ = pos.term;
  if (auto s = check_membership(); !s) return s;
  if (auto s = reconcile_wal_with_state(); !s) return s;
  if (auto s = bootstrap_if_new(); !s) return s;

  wal::HardState hs = wal_->hard_state();
  if (hs.commit > wal_->last_index()) {
    // The driver makes entries durable before the hard state that commits
    // them, so only a WAL written by an older version (or a disk that lost
    // synced data) gets here. The entries past the last index are gone from
    // this node either way; the leader sends them again.
    log("wal: the hard state's commit index " + std::to_string(hs.commit) +
        " is beyond the last entry " + std::to_string(wal_->last_index()) +
        "; lowering it (the leader re-sends what is missing)");
    hs.commit = std::max(applied_, wal_->last_index());
    if (auto s = wal_->set_hard_state(hs); !s) return s;
  }
  if (hs.commit < applied_) {
    hs.commit = applied_;
    if (auto s = wal_->set_hard_state(hs); !s) return s;
  }
  persisted_term_ = hs.term;
  persisted_vote_ = hs.vote;
  conf_history_[applied_] = applied_conf_;

  storage_ =
      std::make_unique<WalStorage>(*wal_, applied_conf_, [this] { return snapshot_meta(); });
  raft::Config rc;
  rc.id = self_;
  rc.election_tick = cfg_.election_ticks;
  rc.heartbeat_tick = cfg_.heartbeat_ticks;
  rc.storage = storage_.get();
  rc.max_size_per_msg = 1 << 20;
  rc.max_inflight_msgs = 256;
  rc.pre_vote = true;
  rc.check_quorum = true;
  rc.seed = self_ ^ next_request_;
  rc.applied = applied_;
  if (auto s = raft::validate(rc); !s) return s;
  node_ = std::make_unique<raft::Node>(rc);
  if (auto s = fs_.make_dir(cfg_.snapshot_dir); !s) {
    return make_error("snapshot dir " + cfg_.snapshot_dir + ": " + s.error());
  }
  reset_incoming();
  return {};
}

Status Driver::open_wal() {
  wal::Options wo;
  wo.fs = &fs_;
  wo.segment_size = cfg_.wal_segment_bytes;
  wo.log = [this](const std::string& l) { log("wal: " + l); };
  if (cfg_.metrics) wo.metrics = &cfg_.metrics->wal;
  auto w = wal::Log::open(cfg_.wal_dir, wo);
  if (!w) return make_error(w.error());
  wal_ = std::move(*w);
  return {};
}

Status Driver::check_membership() {
  auto membership = sm_.membership();
  if (membership.empty()) return {};
  auto conf = decode_membership(membership);
  if (!conf) return make_error("state " + sm_.location() + ": membership record is malformed");
  applied_conf_ = *conf;
  // Membership is fixed at a cluster's first start. A node whose state was
  // built with other members must not quietly form its own cluster.
  std::vector<uint64_t> stored = applied_conf_.voters;
  stored.insert(stored.end(), applied_conf_.learners.begin(), applied_conf_.learners.end());
  std::sort(stored.begin(), stored.end());
  std::vector<uint64_t> configured;
  for (const auto& [id, name] : names_) configured.push_back(id);
  if (stored == configured) return {};
  auto list = [this](const std::vector<uint64_t>& ids) {
    std::string out;
    for (uint64_t id : ids) {
      auto n = names_.find(id);
      out += (out.empty() ? "" : ", ") + (n == names_.end() ? std::to_string(id) : n->second);
    }
    return out;
  };
  return make_error("cluster: the store in this data directory belongs to a cluster of " +
                    std::to_string(stored.size()) + " (" + list(stored) +
                    "), but the config names " + std::to_string(configured.size()) + " (" +
                    list(configured) +
                    "); membership is fixed when a cluster first starts — start this node "
                    "with an empty data_dir to join the configured cluster");
}

Status Driver::reconcile_wal_with_state() {
  // The WAL forgot entries up to its snapshot index only after the state
  // machine had them durably. A state machine behind that point lost its
  // data (wiped, or restored from an old copy): those entries can never be
  // replayed, and applying the rest on top would serve a wrong state for
  // ever. Refuse, and say what to do.
  if (applied_ < wal_->snapshot_index()) {
    return make_error(
        "the store at " + sm_.location() + " has applied index " + std::to_string(applied_) +
        " but the WAL at " + cfg_.wal_dir + " was compacted through index " +
        std::to_string(wal_->snapshot_index()) +
        ": the entries in between are gone; restore the store that belongs with this WAL, "
        "or empty both directories so the node catches up from the leader");
  }
  // A snapshot installed just before a crash leaves the WAL behind it (or
  // holding a divergent tail there): restart the log at the state's point.
  // Everything at or below it is in the state machine already.
  if (applied_ == 0) return {};
  bool behind = wal_->last_index() < applied_;
  bool diverged = false;
  if (!behind) {
    auto t = wal_->term(applied_);
    diverged = !t || *t != applied_term_;
  }
  if (!behind && !diverged) return {};
  log("wal: resetting to the store's applied point " + std::to_string(applied_) + " (term " +
      std::to_string(applied_term_) + ")");
  return wal_->reset_to_snapshot(applied_, applied_term_);
}

Status Driver::bootstrap_if_new() {
  // No hard state was ever written, so this node has never voted nor
  // accepted an entry from a leader: it is brand new, or its bootstrap was
  // cut short after the entries were written. Either way the log is
  // (re)written from scratch, entries durable first, then the hard state
  // that commits them, so a crash at any point leaves a node that starts.
  if (applied_ != 0 || wal_->snapshot_index() != 0 || wal_->hard_state().term != 0) return {};
  if (wal_->last_index() > 0) {
    log("cluster: finishing a bootstrap that was interrupted (" +
        std::to_string(wal_->last_index()) + " entries without a hard state)");
    if (auto s = wal_->truncate_suffix(1); !s) return s;
  }
  std::vector<uint64_t> voters;
  for (const auto& [id, name] : names_) voters.push_back(id);
  std::sort(voters.begin(), voters.end());
  std::vector<wal::Entry> boot;
  for (const auto& e : raft::bootstrap_entries(voters)) boot.push_back(to_wal(e));
  if (auto s = wal_->append(boot); !s) return s;
  if (auto s = wal_->sync(); !s) return s;
  if (auto s = wal_->set_hard_state({1, 0, boot.size()}); !s) return s;
  log("cluster: bootstrapped a new log with " + std::to_string(voters.size()) + " voters");
  return {};
}

// ---- the Ready loop ----

void Driver::tick() {
  if (stopped_) return;
  node_->tick();
  expire_requests();
  poll_peers_for_waits();
  wake();
}

void Driver::process_ready() {
  if (stopped_ || !node_) return;
  while (node_->has_ready()) {
    raft::Ready rd = node_->ready();
    if (rd.snapshot) install_snapshot(*rd.snapshot);
    // The entries reach the disk before the hard state: its commit index
    // may cover them, and a commit index durable before its entries is a
    // promise the node cannot keep after a power cut. The segment's
    // fdatasync is the Ready's one sync; the meta file costs a second only
    // when term or vote changed (elections).
    if (!rd.entries.empty()) persist_entries(rd.entries);
    if (rd.must_sync) {
      if (auto s = wal_->sync(); !s) fatal("WAL sync failed: " + s.error());
    }
    if (rd.hard_state) persist_hard_state(*rd.hard_state);
    for (auto& m : rd.messages) send_message(std::move(m));
    if (!rd.committed_entries.empty()) apply_committed(rd.committed_entries);
    node_->advance(rd);
    if (rd.soft_state) on_role_change(*rd.soft_state);
  }
  maybe_compact();
}

void Driver::persist_entries(const std::vector<raft::Entry>& entries) {
  uint64_t first = entries.front().index;
  if (first <= wal_->last_index()) {
    if (auto s = wal_->truncate_suffix(first); !s) fatal("WAL truncate failed: " + s.error());
  }
  std::vector<wal::Entry> out;
  out.reserve(entries.size());
  for (const auto& e : entries) out.push_back(to_wal(e));
  if (auto s = wal_->append(out); !s) fatal("WAL append failed: " + s.error());
}

void Driver::persist_hard_state(const raft::HardState& hs) {
  // Term and vote must be durable before any message vouching for them
  // leaves; the commit index may lag (it is recomputed after a restart).
  if (hs.term == persisted_term_ && hs.vote == persisted_vote_) return;
  if (auto s = wal_->set_hard_state(to_wal(hs)); !s) fatal("hard state write failed: " + s.error());
  persisted_term_ = hs.term;
  persisted_vote_ = hs.vote;
}

void Driver::on_role_change(const raft::SoftState& ss) {
  if (cfg_.metrics && ss.lead != raft::kNoNode && ss.lead != last_lead_) {
    cfg_.metrics->leader_changes.fetch_add(1, std::memory_order_relaxed);
  }
  if (ss.lead != raft::kNoNode) last_lead_ = ss.lead;
  auto lead = names_.find(ss.lead);
  log(std::string("raft: role ") + raft::to_string(ss.role) + " at term " +
      std::to_string(node_->term()) + ", leader " +
      (lead == names_.end() ? std::string("none") : lead->second));
  // A new leader may let queued requests through now.
  for (auto& [id, p] : pending_) {
    if (!p.proposed) try_propose(id);
  }
}

void Driver::apply_committed(const std::vector<raft::Entry>& entries) {
  std::vector<ApplyItem> items;
  std::vector<std::vector<uint8_t>> memberships;
  memberships.reserve(entries.size());
  items.reserve(entries.size());
  struct Mine {
    size_t item;
    uint64_t request;
  };
  std::vector<Mine> mine;
  for (const auto& e : entries) {
    if (e.index <= applied_) continue;  // in the state machine already (a snapshot)
    ApplyItem item{e.index, e.term, ApplyItem::Kind::none, {}};
    if (e.type == raft::EntryType::conf_change) {
      auto cc = raft::decode_conf_change(e.data);
      if (!cc) fatal("committed conf change " + std::to_string(e.index) + ": " + cc.error());
      applied_conf_ = node_->apply_conf_change(*cc);
      conf_history_[e.index] = applied_conf_;
      memberships.push_back(encode_membership(applied_conf_));
      item.kind = ApplyItem::Kind::membership;
      item.data = memberships.back();
    } else if (!e.data.empty()) {
      Envelope env;
      if (decode_envelope(e.data, env)) {
        item.kind = ApplyItem::Kind::command;
        item.data = env.command;
        if (env.origin == self_) mine.push_back({items.size(), env.request});
      } else {
        log("raft: entry " + std::to_string(e.index) + " has a malformed envelope; skipped");
      }
    }
    items.push_back(item);
  }
  if (items.empty()) return;
  // A cluster of one need not wait an election timeout for itself.
  if (applied_conf_.voters.size() == 1 && applied_conf_.voters[0] == self_ &&
      node_->role() != raft::Role::leader) {
    (void)node_->campaign();
  }
  std::vector<Status> outcomes;
  const auto apply_start = std::chrono::steady_clock::now();
  if (auto s = sm_.apply(items, &outcomes); !s) fatal("state machine apply failed: " + s.error());
  if (cfg_.metrics) cfg_.metrics->apply_seconds.observe(std::chrono::steady_clock::now() - apply_start);
  applied_ = items.back().index;
  applied_term_ = items.back().term;
  for (const auto& m : mine) {
    Status outcome = m.item < outcomes.size() ? std::move(outcomes[m.item]) : Status{};
    complete_request(m.request, std::move(outcome), items[m.item].index);
  }
  check_waits(false);
}

// Compacts the WAL once enough has been applied since the last time. It
// keeps the newest half of `compact_entries` so a follower that is only a
// little behind catches up from the log, not with a whole snapshot.
void Driver::maybe_compact() {
  uint64_t since = applied_ > wal_->snapshot_index() ? applied_ - wal_->snapshot_index() : 0;
  if (since == 0) return;
  uint64_t grown = wal_->size_bytes() > wal_bytes_after_compact_
                       ? wal_->size_bytes() - wal_bytes_after_compact_
                       : 0;
  if (since < cfg_.compact_entries && grown < cfg_.compact_bytes) return;
  uint64_t keep = cfg_.compact_entries / 2;
  uint64_t upto = applied_ > keep ? applied_ - keep : 0;
  if (upto <= wal_->snapshot_index()) return;
  auto term = wal_->term(upto);
  if (!term) return;
  // The WAL may only forget what the state machine holds durably.
  if (auto s = sm_.sync(); !s) fatal("store sync before compaction failed: " + s.error());
  if (auto s = wal_->compact_prefix(upto, *term); !s) fatal("WAL compaction failed: " + s.error());
  wal_bytes_after_compact_ = wal_->size_bytes();
  // Memberships older than the oldest snapshot we could still be asked for
  // are of no use; keep the one in force at `upto`.
  auto keep_from = conf_history_.upper_bound(upto);
  if (keep_from != conf_history_.begin()) --keep_from;
  conf_history_.erase(conf_history_.begin(), keep_from);
  log("wal: compacted through index " + std::to_string(upto));
}

raft::SnapshotMeta Driver::snapshot_meta() const {
  raft::SnapshotMeta m;
  m.index = applied_;
  m.term = applied_term_;
  m.conf = applied_conf_;
  return m;
}

bool Driver::is_leader() const { return node_ && node_->role() == raft::Role::leader; }

Status Driver::start() {
  if (started_) return {};
  started_ = true;
  if (network_) {
    PeerNetwork::Handlers h;
    h.on_message = [this](const std::string& peer, uint8_t kind, std::span<const uint8_t> p) {
      on_message(peer, kind, p);
    };
    h.on_peer_state = [this](const std::string& peer, bool up) { on_peer_state(peer, up); };
    if (auto s = network_->start(std::move(h)); !s) return s;
  }
  wake();
  return {};
}

void Driver::stop() {
  if (stopped_) return;
  stopped_ = true;
  if (wal_ && !wal_->poisoned()) (void)wal_->sync();
  for (auto& [id, p] : pending_) {
    if (p.done) p.done(make_error("the server is shutting down"), 0);
  }
  pending_.clear();
  for (auto& w : waits_) w.done(make_error("the server is shutting down"));
  waits_.clear();
  for (auto& [id, r] : reports_) {
    if (r.done) r.done(std::move(r.reports));
  }
  reports_.clear();
  // A copy thread still running is waited for here.
  for (auto& [peer, s] : sending_) {
    if (s.copy.valid()) abandoned_.push_back({s.dir, std::move(s.copy)});
  }
  sending_.clear();
  reap_abandoned(true);
  receiving_ = {};
  if (network_) network_->stop();
  update_pump();
}

}  // namespace raftdns::replication
