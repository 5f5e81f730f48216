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
constexpr uint8_t kConfEnvelopeVersion = 2;
}  // namespace

std::vector<uint8_t> encode_envelope(uint64_t origin, uint64_t request,
                                     std::span<const uint8_t> command, bool conf_change) {
  std::vector<uint8_t> out;
  out.reserve(1 + 8 + 8 + command.size());
  out.push_back(conf_change ? kConfEnvelopeVersion : kEnvelopeVersion);
  put_u64_be(out, origin);
  put_u64_be(out, request);
  out.insert(out.end(), command.begin(), command.end());
  return out;
}

bool decode_envelope(std::span<const uint8_t> in, Envelope& out) {
  if (in.empty() || (in[0] != kEnvelopeVersion && in[0] != kConfEnvelopeVersion)) return false;
  out.conf_change = in[0] == kConfEnvelopeVersion;
  in = in.subspan(1);
  if (!get_u64_be(in, out.origin) || !get_u64_be(in, out.request)) return false;
  out.command = in;
  return true;
}

std::optional<raft::ConfState> decode_membership(std::span<const uint8_t> in) {
  auto m = decode_membership_record(in);
  if (!m) return std::nullopt;
  return m->conf();
}

Driver::Driver(NodeConfig config, StateMachine& sm, std::unique_ptr<PeerNetwork> network,
               Hooks hooks)
    : cfg_(std::move(config)),
      sm_(sm),
      fs_(cfg_.fs ? *cfg_.fs : wal::posix_file_system()),
      hooks_(std::move(hooks)),
      self_(raft_id_of(cfg_.self_id)),
      network_(std::move(network)) {
  if (cfg_.advertise.empty()) cfg_.advertise = cfg_.listen;
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
  if (cfg_.join && cfg_.force_new_cluster) {
    return make_error("cluster: join and --force-new-cluster exclude each other");
  }
  if (auto s = open_wal(); !s) return s;
  AppliedPosition pos = sm_.applied();
  applied_ = pos.index;
  applied_term_ = pos.term;
  if (auto s = check_membership(); !s) return s;
  if (auto s = reconcile_wal_with_state(); !s) return s;
  if (cfg_.force_new_cluster) {
    if (sm_.membership().empty() && wal_->last_index() == 0) {
      return make_error("cluster: --force-new-cluster needs this node's data, but " +
                        cfg_.wal_dir + " and " + sm_.location() + " are empty");
    }
    if (auto s = force_new_cluster(); !s) return s;
  }
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
  if (hs.commit < applied_ || hs.term < applied_term_) {
    // A store restored from a backup may be ahead of a brand-new WAL: no
    // term below its own may be campaigned for.
    hs.commit = std::max(hs.commit, applied_);
    hs.term = std::max(hs.term, applied_term_);
    if (auto s = wal_->set_hard_state(hs); !s) return s;
  }
  persisted_term_ = hs.term;
  persisted_vote_ = hs.vote;
  conf_history_[applied_] = applied_conf_;
  refresh_peers();

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
  if (auto s = fs_.make_dir(trash_dir()); !s) {
    return make_error("snapshot dir " + trash_dir() + ": " + s.error());
  }
  // What was on its way out when the node stopped. Before the loop runs,
  // so unlinked here.
  if (auto names = fs_.list(trash_dir())) {
    for (const auto& n : *names) (void)fs_.unlink(trash_dir() + "/" + n);
  }
  reset_incoming();
  handed_ = applied_;
  if (cfg_.apply_thread) applier_ = std::make_unique<ApplyThread>(sm_, [this] { wake(); }, cfg_.apply_linger);
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
  if (membership.empty()) {
    // Nothing applied yet. A joining node must not have a log of its own
    // either: one would make it a member of a cluster it bootstrapped.
    if (cfg_.join && (wal_->last_index() > 0 || wal_->hard_state().term != 0 || applied_ != 0)) {
      return make_error("cluster: join = true, but " + cfg_.wal_dir +
                        " holds a Raft log of its own; a joining node starts from an empty "
                        "data_dir");
    }
    return {};
  }
  auto decoded = decode_membership_record(membership);
  if (!decoded) return make_error("state " + sm_.location() + ": membership record is malformed");
  members_ = std::move(*decoded);
  // A record from an older version holds ids only: the config names them.
  for (auto& m : members_.members) {
    if (!m.name.empty()) continue;
    auto n = names_.find(m.raft_id);
    if (n == names_.end()) {
      return make_error("state " + sm_.location() + ": member " + std::to_string(m.raft_id) +
                        " has no name in the stored membership and none in the config");
    }
    m.name = n->second;
    if (m.raft_id == self_) {
      m.address = cfg_.advertise;
    } else {
      for (const auto& p : cfg_.peers) {
        if (p.id == m.name) m.address = p.address;
      }
    }
  }
  applied_conf_ = members_.conf();
  if (cfg_.join && !members_.find(self_)) {
    return make_error("cluster: join = true, but the data directory holds the state of a cluster "
                      "of " + members_.describe() + ", of which " + cfg_.self_id +
                      " is not a member; a joining node starts from an empty data_dir");
  }
  // The stored membership rules from the first start on; a config that
  // disagrees is only out of date (members were added or removed since).
  std::vector<std::string> stored, configured{cfg_.self_id + "=" + cfg_.advertise};
  for (const auto& m : members_.members) stored.push_back(m.name + "=" + m.address);
  for (const auto& p : cfg_.peers) configured.push_back(p.id + "=" + p.address);
  std::sort(stored.begin(), stored.end());
  std::sort(configured.begin(), configured.end());
  if (stored != configured && !cfg_.force_new_cluster) {
    auto join = [](const std::vector<std::string>& v) {
      std::string out;
      for (const auto& x : v) out += (out.empty() ? "" : ", ") + x;
      return out;
    };
    log("cluster: warning: the config's peers (" + join(configured) +
        ") differ from the replicated membership (" + join(stored) +
        "); the replicated membership is used (the config's list is read on a first start only)");
  }
  return {};
}

// Refreshes the id -> name map and the transport's peers from the applied
// membership. Before a node has one (a joining node), the config's list is
// all it knows.
void Driver::refresh_peers() {
  std::vector<PeerConfig> peers;
  if (members_.members.empty()) {
    peers = cfg_.peers;
  } else {
    for (const auto& m : members_.members) {
      names_[m.raft_id] = m.name;
      if (m.raft_id != self_ && !m.address.empty()) peers.push_back({m.name, m.address});
    }
  }
  for (const auto& [name, linger] : lingering_) {
    if (!members_.find_name(name)) peers.push_back({name, linger.first});
  }
  if (network_) network_->set_peers(peers);
}

void Driver::note_removed(const std::string& when_how) {
  if (removed_) return;
  removed_ = true;
  std::string why = "this node (" + cfg_.self_id + ") was removed from the cluster " + when_how +
                    "; it no longer serves: its data would go stale unnoticed";
  log("cluster: " + why);
  for (auto& [id, p] : pending_) {
    if (p.rejection.empty()) p.rejection = "this node was removed from the cluster";
    p.deadline = Clock::now();
  }
  if (cfg_.on_removed) cfg_.on_removed(why);
}

// Disaster recovery: after the permanent loss of a quorum, this node
// becomes a cluster of one. Every entry in its log is kept (it may have
// been committed: the node cannot tell), and conf change entries that remove
// every other member are appended behind them and committed at once. The
// core replays the log as usual on its way up and lands on a single voter.
Status Driver::force_new_cluster() {
  // The membership at the end of the log, from the applied one plus the
  // conf changes in the log after it.
  Membership at_end = members_;
  uint64_t last = wal_->last_index();
  uint64_t from = std::max<uint64_t>(applied_ + 1, wal_->first_index());
  while (from <= last) {
    auto got = wal_->entries(from, last + 1, 4u << 20);
    if (!got) return make_error("wal: " + got.error());
    if (got->empty()) break;
    for (const auto& e : *got) {
      raft::Entry entry = to_raft(e);
      if (entry.type != raft::EntryType::conf_change) continue;
      auto cc = raft::decode_conf_change(entry.data);
      if (!cc) return make_error("wal: conf change at " + std::to_string(e.index) + ": " + cc.error());
      apply_member_change(at_end, *cc);
    }
    from = got->back().index + 1;
  }
  if (!at_end.find(self_)) {
    return make_error("cluster: --force-new-cluster: " + cfg_.self_id +
                      " is not a member of its own stored cluster (" + at_end.describe() + ")");
  }
  wal::HardState hs = wal_->hard_state();
  uint64_t term = std::max<uint64_t>({hs.term, applied_term_, 1});
  if (last > 0) {
    if (auto t = wal_->term(last)) term = std::max(term, *t);
  }
  std::vector<wal::Entry> tail;
  uint64_t index = last;
  auto add = [&](raft::ConfChange::Type type, const Member& m) {
    MemberChange ctx;
    ctx.name = m.name;
    ctx.address = m.address;
    raft::ConfChange cc{type, m.raft_id, encode_member_change(ctx)};
    tail.push_back(to_wal(raft::Entry{++index, term, raft::EntryType::conf_change,
                                      raft::encode_conf_change(cc)}));
  };
  // Promote ourselves first if we were a learner, so removals never leave
  // the cluster without a voter.
  const Member* me = at_end.find(self_);
  if (!me->voter) add(raft::ConfChange::promote_learner, *me);
  std::vector<std::string> dropped;
  for (const auto& m : at_end.members) {
    if (m.raft_id == self_) continue;
    add(raft::ConfChange::remove_voter, m);
    dropped.push_back(m.name);
  }
  if (!tail.empty()) {
    if (auto s = wal_->append(tail); !s) return s;
    if (auto s = wal_->sync(); !s) return s;
  }
  // A term above any the old cluster used, so nothing of it can depose us.
  if (auto s = wal_->set_hard_state({term + 1, 0, index}); !s) return s;
  std::string list;
  for (const auto& d : dropped) list += (list.empty() ? "" : ", ") + d;
  log("cluster: --force-new-cluster: " + cfg_.self_id +
      " is now the only voter; kept every entry through index " + std::to_string(last) +
      (list.empty() ? std::string() : ", removed " + list) + " (committed at index " +
      std::to_string(index) + ")");
  return {};
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
  if (cfg_.join) {
    log("cluster: join = true: waiting for the leader to add " + cfg_.self_id + " (at " +
        cfg_.advertise + ") and send its state; this node never bootstraps a cluster of its own");
    return {};
  }
  if (wal_->last_index() > 0) {
    log("cluster: finishing a bootstrap that was interrupted (" +
        std::to_string(wal_->last_index()) + " entries without a hard state)");
    if (auto s = wal_->truncate_suffix(1); !s) return s;
  }
  std::vector<uint64_t> voters;
  for (const auto& [id, name] : names_) voters.push_back(id);
  std::sort(voters.begin(), voters.end());
  // Each bootstrap entry carries the member's name and peer address, so
  // that the replicated membership knows how to reach every member. Every
  // initial member writes these same bytes from its config.
  std::map<uint64_t, std::string> addresses{{self_, cfg_.advertise}};
  for (const auto& p : cfg_.peers) addresses[raft_id_of(p.id)] = p.address;
  std::vector<wal::Entry> boot;
  for (auto e : raft::bootstrap_entries(voters)) {
    auto cc = raft::decode_conf_change(e.data);
    if (!cc) return make_error("bootstrap entry: " + cc.error());
    MemberChange ctx;
    ctx.name = names_.at(cc->node_id);
    ctx.address = addresses[cc->node_id];
    cc->context = encode_member_change(ctx);
    e.data = raft::encode_conf_change(*cc);
    boot.push_back(to_wal(e));
  }
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
  ask_read_index();
  poll_peers_for_waits();
  maybe_promote_learners();
  check_transfers(false);
  if (!lingering_.empty()) {
    bool changed = false;
    for (auto it = lingering_.begin(); it != lingering_.end();) {
      if (--it->second.second <= 0) {
        it = lingering_.erase(it);
        changed = true;
      } else {
        ++it;
      }
    }
    if (changed) refresh_peers();
  }
  wake();
}

void Driver::process_ready() {
  if (stopped_ || !node_) return;
  collect_applied();
  flush_proposals();
  while (node_->has_ready()) {
    raft::Ready rd = node_->ready();
    if (rd.snapshot) install_snapshot(*rd.snapshot);
    // A leader's appends and heartbeats leave before its own write (Raft
    // thesis 10.2.1), so the followers' writes overlap the leader's: they
    // vouch for nothing on this node's disk. The leader counts its own new
    // entries toward a commit at once, but a commit needs acknowledgements
    // too, and this loop steps none before the sync below is done.
    if (node_->role() == raft::Role::leader && !rd.snapshot &&
        (!rd.hard_state ||
         (rd.hard_state->term == persisted_term_ && rd.hard_state->vote == persisted_vote_))) {
      std::vector<raft::Message> later;
      for (auto& m : rd.messages) {
        if (m.type == raft::MessageType::app || m.type == raft::MessageType::heartbeat) {
          send_message(std::move(m));
        } else {
          later.push_back(std::move(m));
        }
      }
      rd.messages = std::move(later);
    }
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
    if (!rd.read_states.empty()) on_read_states(rd.read_states);
    node_->advance(rd);
    if (rd.soft_state) on_role_change(*rd.soft_state);
    flush_proposals();  // what a new leader queued just now
  }
  collect_applied();
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
  // A change of leader can lose what was proposed and not yet applied: an
  // entry the old leader never replicated is cut from every log, and a
  // forward to a leader that stepped down may never have been appended.
  // Each goes out again as a retry, which the leader first looks for in its
  // log, so none is lost and none is applied twice.
  if (ss.lead != seen_lead_) {
    for (auto& [id, p] : pending_) {
      if (p.proposed && p.rejection.empty()) {
        p.proposed = false;
        p.retry = true;
      }
    }
  }
  seen_lead_ = ss.lead;
  // A new leader may let queued requests through now.
  for (auto& [id, p] : pending_) {
    if (!p.proposed) try_propose(id);
  }
}

void Driver::apply_committed(const std::vector<raft::Entry>& entries) {
  // A cluster of one need not wait an election timeout for itself.
  if (applied_conf_.voters.size() == 1 && applied_conf_.voters[0] == self_ &&
      node_->role() != raft::Role::leader) {
    (void)node_->campaign();
  }
  if (applier_) {
    const bool conf_change = std::any_of(entries.begin(), entries.end(), [](const raft::Entry& e) {
      return e.type == raft::EntryType::conf_change;
    });
    if (!conf_change) {
      hand_to_applier(entries);
      return;
    }
    // A membership change moves the core's configuration as it is applied,
    // in step with the store's record of it: the loop applies this run
    // itself, once the thread has applied everything before it.
    drain_applier();
  }
  std::vector<ApplyItem> items;
  std::vector<std::vector<uint8_t>> memberships;
  memberships.reserve(entries.size());
  items.reserve(entries.size());
  struct Mine {
    size_t item;
    uint64_t request;
  };
  std::vector<Mine> mine;
  std::vector<ConfApplied> conf_applied;
  for (const auto& e : entries) {
    if (e.index <= applied_) continue;  // in the state machine already (a snapshot)
    ApplyItem item{e.index, e.term, ApplyItem::Kind::none, {}};
    if (e.type == raft::EntryType::conf_change) {
      auto cc = raft::decode_conf_change(e.data);
      if (!cc) fatal("committed conf change " + std::to_string(e.index) + ": " + cc.error());
      applied_conf_ = node_->apply_conf_change(*cc);
      Membership before = members_;
      apply_member_change(members_, *cc);
      if (members_.conf() != applied_conf_) {
        fatal("membership record " + members_.describe() + " disagrees with the core after entry " +
              std::to_string(e.index));
      }
      conf_history_[e.index] = applied_conf_;
      memberships.push_back(encode_membership(members_));
      conf_applied.push_back({e.index, std::move(before), *cc});
      item.kind = ApplyItem::Kind::membership;
      item.data = memberships.back();
    } else {
      std::optional<uint64_t> request;
      item = command_item(e, request);
      if (request) mine.push_back({items.size(), *request});
    }
    items.push_back(item);
  }
  if (items.empty()) return;
  std::vector<Status> outcomes;
  const auto apply_start = std::chrono::steady_clock::now();
  if (auto s = sm_.apply(items, &outcomes); !s) fatal("state machine apply failed: " + s.error());
  if (cfg_.metrics) cfg_.metrics->apply_seconds.observe(std::chrono::steady_clock::now() - apply_start);
  applied_ = items.back().index;
  applied_term_ = items.back().term;
  handed_ = std::max(handed_, applied_);
  for (const auto& m : mine) {
    Status outcome = m.item < outcomes.size() ? std::move(outcomes[m.item]) : Status{};
    complete_request(m.request, std::move(outcome), items[m.item].index);
  }
  if (!conf_applied.empty()) on_conf_applied(conf_applied);
  check_waits(false);
}

// After a run that changed the membership: log each change, complete the
// requests submitted here, keep removed members dialable for a moment and
// tell them, and notice our own removal.
void Driver::on_conf_applied(const std::vector<ConfApplied>& changes) {
  for (const auto& c : changes) {
    auto ctx = decode_member_change(c.change.context);
    const Member* was = c.before.find(c.change.node_id);
    const Member* now = members_.find(c.change.node_id);
    std::string name = now ? now->name : was ? was->name : ctx ? ctx->name : std::to_string(c.change.node_id);
    if (was && !now) {
      lingering_[name] = {was->address, cfg_.election_ticks * 4};
      if (c.change.node_id != self_ && network_) {
        std::vector<uint8_t> out;
        put_u64_be(out, c.index);
        network_->send(name, kRemoved, out);
      }
    }
    log("cluster: membership at index " + std::to_string(c.index) + ": " + members_.describe());
    if (ctx && ctx->origin == self_) complete_request(ctx->request, {}, c.index);
    if (was && !now && c.change.node_id == self_) {
      note_removed("at index " + std::to_string(c.index) + " (applied its removal)");
    }
  }
  refresh_peers();
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
  // The WAL may only forget what the state machine holds durably. The
  // state machine is the loop's alone while it syncs.
  drain_applier();
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
    h.notice_for_stranger = [this](const std::string& node) { return notice_for_stranger(node); };
    h.on_key_mismatch = [this](const std::string& peer, const std::string& address) {
      on_key_mismatch(peer, address);
    };
    if (auto s = network_->start(std::move(h)); !s) return s;
  }
  wake();
  return {};
}

void Driver::stop() {
  if (stopped_) return;
  stopped_ = true;
  // What the thread has not started stays in the WAL, to be applied at the
  // next start; the run it is applying finishes first.
  if (applier_) applier_->stop();
  if (wal_ && !wal_->poisoned()) (void)wal_->sync();
  for (auto& [id, p] : pending_) {
    if (p.done) p.done(make_error("the server is shutting down"), 0);
  }
  pending_.clear();
  queued_.clear();
  for (auto& w : waits_) w.done(make_error("the server is shutting down"));
  waits_.clear();
  for (auto& [id, b] : barriers_) b.done(make_error("the server is shutting down"), 0);
  barriers_.clear();
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
  reap_removals(true);
  receiving_ = {};
  syncing_.reset();  // waits for its fsync; never stepped now
  if (network_) network_->stop();
  update_pump();
}

}  // namespace raftdns::replication
