// ClusterNode: the driver loop (persist, send, apply, advance), request
// routing, snapshot streaming and cluster status. See node.h for the design.
#include "replication/node.h"

#include <event2/event.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <random>

#include "daemon/store/command.h"
#include "daemon/store/store.h"
#include "replication/core/raft.h"
#include "replication/event_adapter.h"
#include "replication/wal_storage.h"
#include "wal/log.h"

namespace raftdns::replication {

namespace fs = std::filesystem;
using Clock = ClusterNode::Clock;

uint64_t raft_id_of(const std::string& node_id) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : node_id) {
    h ^= c;
    h *= 1099511628211ull;
  }
  return h == 0 ? 1 : h;
}

namespace {

// Message kinds on the peer transport (opaque to the transport itself).
enum Kind : uint8_t {
  kRaft = 1,            // an encoded raft::Message
  kSnapshotChunk = 2,   // u64 snapshot index | u64 total size | u64 offset | bytes
  kSnapshotDone = 3,    // u64 total size | encoded raft::Message (type snap)
  kStatusRequest = 4,   // u64 request id
  kStatusReply = 5,     // u64 request id | JSON NodeReport
  kForward = 6,         // an envelope for the leader to propose
  kForwardRefused = 7,  // u64 request id | reason (the envelope never entered the log)
};

constexpr uint8_t kEnvelopeVersion = 1;
constexpr size_t kEnvelopeHeader = 1 + 8 + 8;

void put_u64(std::vector<uint8_t>& out, uint64_t v) {
  for (int i = 7; i >= 0; --i) out.push_back(static_cast<uint8_t>(v >> (8 * i)));
}
bool get_u64(std::span<const uint8_t>& in, uint64_t& v) {
  if (in.size() < 8) return false;
  v = 0;
  for (int i = 0; i < 8; ++i) v = (v << 8) | in[i];
  in = in.subspan(8);
  return true;
}

std::vector<uint8_t> make_envelope(uint64_t origin, uint64_t request,
                                   std::span<const uint8_t> cmd) {
  std::vector<uint8_t> out;
  out.reserve(kEnvelopeHeader + cmd.size());
  out.push_back(kEnvelopeVersion);
  put_u64(out, origin);
  put_u64(out, request);
  out.insert(out.end(), cmd.begin(), cmd.end());
  return out;
}

struct Envelope {
  uint64_t origin = 0, request = 0;
  std::span<const uint8_t> command;
};
bool parse_envelope(std::span<const uint8_t> in, Envelope& e) {
  if (in.empty() || in[0] != kEnvelopeVersion) return false;
  in = in.subspan(1);
  if (!get_u64(in, e.origin) || !get_u64(in, e.request)) return false;
  e.command = in;
  return true;
}

std::vector<uint8_t> encode_conf(const raft::ConfState& c) {
  std::vector<uint8_t> out{1};
  put_u64(out, c.voters.size());
  for (auto v : c.voters) put_u64(out, v);
  put_u64(out, c.learners.size());
  for (auto v : c.learners) put_u64(out, v);
  return out;
}
std::optional<raft::ConfState> decode_conf(std::span<const uint8_t> in) {
  if (in.empty() || in[0] != 1) return std::nullopt;
  in = in.subspan(1);
  raft::ConfState c;
  uint64_t n = 0;
  if (!get_u64(in, n) || n > in.size() / 8) return std::nullopt;
  for (uint64_t i = 0, v = 0; i < n && get_u64(in, v); ++i) c.voters.push_back(v);
  if (!get_u64(in, n) || n > in.size() / 8) return std::nullopt;
  for (uint64_t i = 0, v = 0; i < n && get_u64(in, v); ++i) c.learners.push_back(v);
  if (!in.empty()) return std::nullopt;
  return c;
}

nlohmann::json to_json(const NodeReport& r) {
  nlohmann::json peers = nlohmann::json::array();
  for (const auto& p : r.peers) {
    peers.push_back({{"id", p.id},
                     {"reachable", p.reachable},
                     {"match", p.match},
                     {"lag", p.lag},
                     {"last_heard_ms", p.last_heard_ms}});
  }
  return {{"id", r.id},
          {"reachable", r.reachable},
          {"error", r.error},
          {"role", r.role},
          {"term", r.term},
          {"leader", r.leader},
          {"commit", r.commit},
          {"applied", r.applied},
          {"wal_bytes", r.wal_bytes},
          {"snapshot_index", r.snapshot_index},
          {"digest", r.digest},
          {"peers", peers}};
}

NodeReport report_from_json(const nlohmann::json& j) {
  NodeReport r;
  r.id = j.value("id", "");
  r.reachable = j.value("reachable", true);
  r.error = j.value("error", "");
  r.role = j.value("role", "");
  r.term = j.value("term", uint64_t{0});
  r.leader = j.value("leader", "");
  r.commit = j.value("commit", uint64_t{0});
  r.applied = j.value("applied", uint64_t{0});
  r.wal_bytes = j.value("wal_bytes", uint64_t{0});
  r.snapshot_index = j.value("snapshot_index", uint64_t{0});
  r.digest = j.value("digest", "");
  if (j.contains("peers") && j["peers"].is_array()) {
    for (const auto& p : j["peers"]) {
      r.peers.push_back(PeerReport{p.value("id", ""), p.value("reachable", false),
                                   p.value("match", uint64_t{0}), p.value("lag", uint64_t{0}),
                                   p.value("last_heard_ms", int64_t{-1})});
    }
  }
  return r;
}

[[noreturn]] void fatal(const std::string& what) {
  std::fprintf(stderr, "raftdnsd: fatal: %s\n", what.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace

class ClusterNode::Impl {
 public:
  Impl(event_base* base, NodeConfig cfg, store::Store& store)
      : base_(base), cfg_(std::move(cfg)), store_(store), self_(raft_id_of(cfg_.self_id)) {
    names_[self_] = cfg_.self_id;
    for (const auto& p : cfg_.peers) names_[raft_id_of(p.id)] = p.id;
    std::random_device rd;
    next_request_ =
        (uint64_t{rd()} << 32) ^ rd() ^
        static_cast<uint64_t>(std::chrono::system_clock::now().time_since_epoch().count());
  }

  ~Impl() { stop(); }

  void log(const std::string& line) const {
    if (cfg_.log) {
      cfg_.log(line);
    } else {
      std::fprintf(stderr, "%s\n", line.c_str());
    }
  }

  Status open() {
    if (names_.size() != cfg_.peers.size() + 1) {
      return make_error("cluster: node ids must be distinct (self " + cfg_.self_id + ")");
    }
    wal::Options wo;
    wo.log = [this](const std::string& l) { log("wal: " + l); };
    if (cfg_.metrics) wo.metrics = &cfg_.metrics->wal;
    auto w = wal::Log::open(cfg_.wal_dir, wo);
    if (!w) return make_error(w.error());
    wal_ = std::move(*w);

    auto st = store_.stats();
    applied_ = st.applied_index;
    applied_term_ = st.applied_term;
    auto membership = store_.membership();
    if (!membership.empty()) {
      auto conf = decode_conf(membership);
      if (!conf) return make_error("store: membership record is malformed");
      applied_conf_ = *conf;
      // Membership is fixed at a cluster's first start. A node whose store
      // was built with other members must not quietly form its own cluster.
      std::vector<uint64_t> stored = applied_conf_.voters;
      stored.insert(stored.end(), applied_conf_.learners.begin(), applied_conf_.learners.end());
      std::sort(stored.begin(), stored.end());
      std::vector<uint64_t> configured;
      for (const auto& [id, name] : names_) configured.push_back(id);
      if (stored != configured) {
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
    }

    // A snapshot swapped into the store just before a crash leaves the WAL
    // behind it (or holding a divergent tail there): restart the log at the
    // store's point. Everything at or below it is in the store already.
    if (applied_ > 0) {
      bool behind = wal_->last_index() < applied_;
      bool diverged = false;
      if (!behind && applied_ >= wal_->snapshot_index()) {
        auto t = wal_->term(applied_);
        diverged = !t || *t != applied_term_;
      }
      if (behind || diverged) {
        log("wal: resetting to the store's applied point " + std::to_string(applied_) + " (term " +
            std::to_string(applied_term_) + ")");
        if (auto s = wal_->reset_to_snapshot(applied_, applied_term_); !s) return s;
      }
    }

    if (applied_ == 0 && wal_->last_index() == 0 && wal_->hard_state().term == 0) {
      // A brand-new member of a new cluster: every configured node is a voter.
      std::vector<uint64_t> voters;
      for (const auto& [id, name] : names_) voters.push_back(id);
      std::sort(voters.begin(), voters.end());
      std::vector<wal::Entry> boot;
      for (const auto& e : raft::bootstrap_entries(voters)) boot.push_back(to_wal(e));
      if (auto s = wal_->append(boot); !s) return s;
      if (auto s = wal_->sync(); !s) return s;
      if (auto s = wal_->set_hard_state({1, 0, boot.size()}); !s) return s;
      log("cluster: bootstrapped a new log with " + std::to_string(voters.size()) + " voters");
    }
    wal::HardState hs = wal_->hard_state();
    if (hs.commit < applied_) {
      hs.commit = applied_;
      if (auto s = wal_->set_hard_state(hs); !s) return s;
    }
    persisted_term_ = hs.term;
    persisted_vote_ = hs.vote;

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
    std::error_code ec;
    fs::create_directories(cfg_.snapshot_dir, ec);
    if (ec) return make_error("snapshot dir " + cfg_.snapshot_dir + ": " + ec.message());
    return {};
  }

  Status start() {
    if (!cfg_.peers.empty() || !cfg_.listen.empty()) {
      if (auto s = start_transport(); !s) return s;
    }
    tick_ev_.reset(event_new(base_, -1, EV_PERSIST, forward_to<&Impl::on_tick>, this));
    ready_ev_.reset(event_new(base_, -1, 0, forward_to<&Impl::on_ready>, this));
    pump_ev_.reset(event_new(base_, -1, EV_PERSIST, forward_to<&Impl::on_pump>, this));
    const auto tick_us = std::chrono::duration_cast<std::chrono::microseconds>(cfg_.tick).count();
    timeval tv{static_cast<time_t>(tick_us / 1000000), static_cast<suseconds_t>(tick_us % 1000000)};
    event_add(tick_ev_.get(), &tv);
    schedule_ready();
    return {};
  }

  Status start_transport() {
    TransportConfig tc;
    tc.self_id = cfg_.self_id;
    tc.listen = cfg_.listen;
    tc.key = cfg_.key;
    tc.peers = cfg_.peers;
    tc.on_message = [this](const std::string& peer, uint8_t kind, std::span<const uint8_t> p) {
      on_message(peer, kind, p);
    };
    tc.on_peer_state = [this](const std::string& peer, bool up) {
      if (!up) {
        auto it = sending_.find(peer);
        if (it != sending_.end()) abort_snapshot_send(peer, "connection lost");
      }
    };
    tc.log = [this](const std::string& l) { log("peer: " + l); };
    transport_ = std::make_unique<Transport>(base_, std::move(tc));
    return transport_->start();
  }

  void stop() {
    if (stopped_) return;
    stopped_ = true;
    if (wal_) (void)wal_->sync();
    for (auto& [id, p] : pending_) {
      if (p.done) p.done(make_error("the server is shutting down"), 0);
    }
    pending_.clear();
    for (auto& w : waits_) w.done(make_error("the server is shutting down"));
    waits_.clear();
    for (auto& r : reports_) finish_report(r.second);
    reports_.clear();
    for (auto& [peer, s] : sending_) ::close(s.fd);
    sending_.clear();
    if (receiving_.fd >= 0) ::close(receiving_.fd), receiving_.fd = -1;
    tick_ev_.reset();
    ready_ev_.reset();
    pump_ev_.reset();
    if (transport_) transport_->stop();
  }

  // ---- requests ----

  void submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done) {
    if (stopped_) return done(make_error("the server is shutting down"), 0);
    uint64_t id = ++next_request_;
    Pending p;
    p.done = std::move(done);
    p.deadline = deadline;
    p.envelope = make_envelope(self_, id, command);
    pending_.emplace(id, std::move(p));
    try_propose(id);
    schedule_ready();
  }

  // Voters this node can reach right now, itself included.
  std::pair<size_t, size_t> reachable_voters() const {
    size_t total = 0, up = 0;
    for (uint64_t v : current_conf().voters) {
      ++total;
      if (v == self_ || peer_reachable(v)) ++up;
    }
    return {up, total};
  }

  bool peer_reachable(uint64_t id) const {
    auto it = names_.find(id);
    if (it == names_.end() || !transport_) return false;
    auto st = transport_->peer_stats(it->second);
    if (!st.connected || !st.last_heard) return false;
    auto horizon = cfg_.tick * cfg_.election_ticks * 2;
    return Clock::now() - *st.last_heard < horizon;
  }

  std::string no_quorum_reason() const {
    auto [up, total] = reachable_voters();
    return "no quorum: " + std::to_string(up) + " of " + std::to_string(total) +
           " voters reachable";
  }

  const raft::ConfState& current_conf() const { return applied_conf_; }

  void try_propose(uint64_t id) {
    auto it = pending_.find(id);
    if (it == pending_.end() || it->second.proposed) return;
    Pending& p = it->second;
    auto [up, total] = reachable_voters();
    if (up * 2 <= total) return;  // wait for a quorum until the deadline
    if (node_->role() == raft::Role::leader) {
      if (node_->propose(p.envelope)) p.proposed = true;
      return;
    }
    uint64_t lead = node_->lead();
    if (lead == raft::kNoNode || lead == self_) return;
    auto name = names_.find(lead);
    if (name == names_.end() || !peer_reachable(lead) || !transport_) return;
    if (transport_->send(name->second, kForward, p.envelope)) p.proposed = true;
  }

  void expire_requests() {
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
    for (auto it = waits_.begin(); it != waits_.end();) {
      if (check_wait(*it, now >= it->deadline)) {
        it = waits_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // ---- the driver loop ----

  void schedule_ready() {
    if (ready_ev_) event_active(ready_ev_.get(), 0, 0);
  }

  void on_tick(evutil_socket_t, short) {
    node_->tick();
    expire_requests();
    poll_peers_for_waits();
    schedule_ready();
  }

  void on_ready(evutil_socket_t, short) { process_ready(); }

  void process_ready() {
    if (stopped_) return;
    while (node_->has_ready()) {
      raft::Ready rd = node_->ready();
      if (rd.snapshot) install_snapshot(*rd.snapshot);
      if (!rd.entries.empty()) persist_entries(rd.entries);
      if (rd.hard_state) persist_hard_state(*rd.hard_state);
      if (rd.must_sync) {
        if (auto s = wal_->sync(); !s) fatal("WAL sync failed: " + s.error());
      }
      for (auto& m : rd.messages) send_message(std::move(m));
      if (!rd.committed_entries.empty()) apply_committed(rd.committed_entries);
      node_->advance(rd);
      if (rd.soft_state) on_role_change(*rd.soft_state);
    }
    maybe_compact();
  }

  void persist_entries(const std::vector<raft::Entry>& entries) {
    uint64_t first = entries.front().index;
    if (first <= wal_->last_index()) {
      if (auto s = wal_->truncate_suffix(first); !s) fatal("WAL truncate failed: " + s.error());
    }
    std::vector<wal::Entry> out;
    out.reserve(entries.size());
    for (const auto& e : entries) out.push_back(to_wal(e));
    if (auto s = wal_->append(out); !s) fatal("WAL append failed: " + s.error());
  }

  void persist_hard_state(const raft::HardState& hs) {
    // Term and vote must be durable before any message vouching for them
    // leaves; the commit index may lag (it is recomputed after a restart).
    if (hs.term == persisted_term_ && hs.vote == persisted_vote_) return;
    if (auto s = wal_->set_hard_state(to_wal(hs)); !s)
      fatal("hard state write failed: " + s.error());
    persisted_term_ = hs.term;
    persisted_vote_ = hs.vote;
  }

  void on_role_change(const raft::SoftState& ss) {
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

  void send_message(raft::Message m) {
    auto name = names_.find(m.to);
    if (name == names_.end() || !transport_) return;
    if (m.type == raft::MessageType::snap) {
      start_snapshot_send(name->second, std::move(m));
      return;
    }
    auto bytes = raft::encode_message(m);
    if (!transport_->send(name->second, kRaft, bytes) && m.type == raft::MessageType::app) {
      node_->report_unreachable(m.to);
    }
  }

  void apply_committed(const std::vector<raft::Entry>& entries) {
    std::vector<store::ApplyItem> items;
    std::vector<std::vector<uint8_t>> owned;
    owned.reserve(entries.size());
    items.reserve(entries.size());
    struct Mine {
      size_t item;
      uint64_t request;
    };
    std::vector<Mine> mine;
    for (const auto& e : entries) {
      if (e.index <= applied_) continue;  // replayed after a snapshot swap
      store::ApplyItem item{e.index, e.term, {}};
      if (e.type == raft::EntryType::conf_change) {
        auto cc = raft::decode_conf_change(e.data);
        if (!cc) fatal("committed conf change " + std::to_string(e.index) + ": " + cc.error());
        applied_conf_ = node_->apply_conf_change(*cc);
        owned.push_back(store::encode_command(store::SetMembership{encode_conf(applied_conf_)}));
        item.command = owned.back();
      } else if (!e.data.empty()) {
        Envelope env;
        if (parse_envelope(e.data, env)) {
          item.command = env.command;
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
    const auto apply_start = Clock::now();
    if (auto s = store_.apply(items, &outcomes); !s) fatal("store apply failed: " + s.error());
    if (cfg_.metrics) cfg_.metrics->apply_seconds.observe(Clock::now() - apply_start);
    applied_ = items.back().index;
    applied_term_ = items.back().term;
    for (const auto& m : mine) {
      auto it = pending_.find(m.request);
      if (it == pending_.end()) continue;
      Pending p = std::move(it->second);
      pending_.erase(it);
      Status outcome = m.item < outcomes.size() ? std::move(outcomes[m.item]) : Status{};
      p.done(std::move(outcome), items[m.item].index);
    }
    for (auto it = waits_.begin(); it != waits_.end();) {
      if (check_wait(*it, false)) {
        it = waits_.erase(it);
      } else {
        ++it;
      }
    }
  }

  // Compacts the WAL once enough has been applied since the last time. It
  // keeps the newest half of `compact_entries` so a follower that is only a
  // little behind catches up from the log, not with a whole snapshot.
  void maybe_compact() {
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
    // The WAL may only forget what LMDB holds durably.
    if (auto s = store_.sync(); !s) fatal("store sync before compaction failed: " + s.error());
    if (auto s = wal_->compact_prefix(upto, *term); !s) fatal("WAL compaction failed: " + s.error());
    wal_bytes_after_compact_ = wal_->size_bytes();
    log("wal: compacted through index " + std::to_string(upto));
  }

  raft::SnapshotMeta snapshot_meta() const {
    raft::SnapshotMeta m;
    m.index = applied_;
    m.term = applied_term_;
    m.conf = applied_conf_;
    return m;
  }

  // ---- snapshots ----

  struct SnapshotSend {
    raft::Message msg;
    std::string dir;
    int fd = -1;
    uint64_t size = 0, offset = 0;
  };

  void start_snapshot_send(const std::string& peer, raft::Message m) {
    if (sending_.count(peer)) return;  // one at a time; the core waits for our report
    if (!m.snapshot || m.snapshot->index != applied_) {
      // The store moved on since the core asked; tell it to retry later.
      node_->report_snapshot(m.to, false);
      return;
    }
    std::string dir = cfg_.snapshot_dir + "/out-" + peer;
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (auto s = store_.copy_to(dir); !s) {
      log("snapshot for " + peer + ": " + s.error());
      node_->report_snapshot(m.to, false);
      return;
    }
    if (cfg_.metrics) cfg_.metrics->snapshots_made.fetch_add(1, std::memory_order_relaxed);
    SnapshotSend s;
    s.fd = ::open((dir + "/data.mdb").c_str(), O_RDONLY | O_CLOEXEC);
    if (s.fd < 0) {
      log("snapshot for " + peer + ": open copy: " + std::strerror(errno));
      node_->report_snapshot(m.to, false);
      return;
    }
    s.size = static_cast<uint64_t>(::lseek(s.fd, 0, SEEK_END));
    s.dir = dir;
    s.msg = std::move(m);
    log("snapshot: sending index " + std::to_string(s.msg.snapshot->index) + " (" +
        std::to_string(s.size) + " bytes) to " + peer);
    sending_.emplace(peer, std::move(s));
    timeval tv{0, 2000};
    event_add(pump_ev_.get(), &tv);
  }

  void abort_snapshot_send(const std::string& peer, const std::string& why) {
    auto it = sending_.find(peer);
    if (it == sending_.end()) return;
    log("snapshot to " + peer + " aborted: " + why);
    ::close(it->second.fd);
    std::error_code ec;
    fs::remove_all(it->second.dir, ec);
    node_->report_snapshot(it->second.msg.to, false);
    sending_.erase(it);
    schedule_ready();
  }

  // Feeds chunks while the peer's queue has room, so a large store never
  // sits in memory at once.
  void on_pump(evutil_socket_t, short) {
    std::vector<std::string> done, failed;
    for (auto& [peer, s] : sending_) {
      while (s.offset < s.size &&
             transport_->peer_stats(peer).queued_bytes < 4 * cfg_.snapshot_chunk) {
        std::vector<uint8_t> chunk;
        put_u64(chunk, s.msg.snapshot->index);
        put_u64(chunk, s.size);
        put_u64(chunk, s.offset);
        size_t n = static_cast<size_t>(std::min<uint64_t>(cfg_.snapshot_chunk, s.size - s.offset));
        size_t head = chunk.size();
        chunk.resize(head + n);
        ssize_t got = ::pread(s.fd, chunk.data() + head, n, static_cast<off_t>(s.offset));
        if (got != static_cast<ssize_t>(n) || !transport_->send(peer, kSnapshotChunk, chunk)) {
          failed.push_back(peer);
          break;
        }
        s.offset += n;
      }
      if (s.offset == s.size) {
        std::vector<uint8_t> fin;
        put_u64(fin, s.size);
        auto msg = raft::encode_message(s.msg);
        fin.insert(fin.end(), msg.begin(), msg.end());
        if (transport_->send(peer, kSnapshotDone, fin)) {
          done.push_back(peer);
        } else {
          failed.push_back(peer);
        }
      }
    }
    for (const auto& peer : failed) abort_snapshot_send(peer, "the peer's queue refused a chunk");
    for (const auto& peer : done) {
      auto it = sending_.find(peer);
      if (it == sending_.end()) continue;
      ::close(it->second.fd);
      std::error_code ec;
      fs::remove_all(it->second.dir, ec);
      node_->report_snapshot(it->second.msg.to, true);
      if (cfg_.metrics) {
        cfg_.metrics->snapshots_sent.fetch_add(1, std::memory_order_relaxed);
        cfg_.metrics->snapshot_bytes_sent.fetch_add(it->second.size, std::memory_order_relaxed);
      }
      sending_.erase(it);
    }
    if (sending_.empty()) event_del(pump_ev_.get());
    schedule_ready();
  }

  struct SnapshotReceive {
    std::string from;
    uint64_t index = 0, total = 0, received = 0;
    int fd = -1;
  };

  std::string incoming_dir() const { return cfg_.snapshot_dir + "/in"; }

  void on_snapshot_chunk(const std::string& peer, std::span<const uint8_t> p) {
    uint64_t index = 0, total = 0, offset = 0;
    if (!get_u64(p, index) || !get_u64(p, total) || !get_u64(p, offset)) {
      log("snapshot chunk from " + peer + ": malformed");
      return;
    }
    if (offset == 0) {
      if (receiving_.fd >= 0) ::close(receiving_.fd);
      receiving_ = {};
      std::error_code ec;
      fs::remove_all(incoming_dir(), ec);
      fs::create_directories(incoming_dir(), ec);
      receiving_.fd = ::open((incoming_dir() + "/data.mdb").c_str(),
                             O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
      if (receiving_.fd < 0) {
        log("snapshot from " + peer + ": cannot create " + incoming_dir() + ": " +
            std::strerror(errno));
        return;
      }
      receiving_.from = peer;
      receiving_.index = index;
      receiving_.total = total;
    }
    if (receiving_.fd < 0 || receiving_.from != peer || receiving_.index != index ||
        offset != receiving_.received || receiving_.received + p.size() > receiving_.total) {
      return;  // out of sequence: the leader restarts the transfer from 0
    }
    if (::pwrite(receiving_.fd, p.data(), p.size(), static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(p.size())) {
      log("snapshot from " + peer + ": write failed: " + std::strerror(errno));
      ::close(receiving_.fd);
      receiving_.fd = -1;
      return;
    }
    receiving_.received += p.size();
  }

  void on_snapshot_done(const std::string& peer, std::span<const uint8_t> p) {
    uint64_t total = 0;
    if (!get_u64(p, total)) return;
    auto msg = raft::decode_message(p);
    if (!msg || msg->type != raft::MessageType::snap || !msg->snapshot ||
        msg->from != raft_id_of(peer)) {
      log("snapshot from " + peer + ": malformed final message");
      return;
    }
    bool complete = receiving_.fd >= 0 && receiving_.from == peer && receiving_.total == total &&
                    receiving_.received == total && receiving_.index == msg->snapshot->index;
    if (receiving_.fd >= 0) {
      ::fsync(receiving_.fd);
      ::close(receiving_.fd);
      receiving_.fd = -1;
    }
    if (!complete) {
      log("snapshot from " + peer + ": incomplete transfer, ignored");
      return;
    }
    // Swap the data in only if the core will accept the snapshot: it must
    // be ahead of everything we have committed.
    if (msg->snapshot->index > node_->committed() && msg->snapshot->index > applied_) {
      if (auto s = store_.replace_with(incoming_dir()); !s) {
        log("snapshot from " + peer + ": " + s.error());
        return;
      }
      std::error_code ec;
      fs::remove_all(incoming_dir(), ec);
      log("snapshot: installed index " + std::to_string(msg->snapshot->index) + " from " + peer);
      if (cfg_.metrics) {
        cfg_.metrics->snapshots_received.fetch_add(1, std::memory_order_relaxed);
        cfg_.metrics->snapshot_bytes_received.fetch_add(total, std::memory_order_relaxed);
      }
      applied_ = msg->snapshot->index;
      applied_term_ = msg->snapshot->term;
      applied_conf_ = msg->snapshot->conf;
    }
    step(*msg);
  }

  void install_snapshot(const raft::SnapshotMeta& meta) {
    if (auto s = wal_->reset_to_snapshot(meta.index, meta.term); !s) {
      fatal("WAL reset to snapshot failed: " + s.error());
    }
    applied_ = std::max(applied_, meta.index);
    applied_conf_ = meta.conf;
  }

  // ---- messages ----

  void step(const raft::Message& m) {
    if (auto s = node_->step(m); !s) {
      // A stale or unexpected message is normal under faults.
    }
    schedule_ready();
  }

  void on_message(const std::string& peer, uint8_t kind, std::span<const uint8_t> p) {
    if (stopped_) return;
    switch (kind) {
      case kRaft: {
        auto m = raft::decode_message(p);
        if (!m) {
          log("peer " + peer + ": bad raft message: " + m.error());
          return;
        }
        if (m->from != raft_id_of(peer) || m->type == raft::MessageType::snap) {
          log("peer " + peer + ": raft message claims another sender; dropped");
          return;
        }
        step(*m);
        return;
      }
      case kSnapshotChunk:
        return on_snapshot_chunk(peer, p);
      case kSnapshotDone:
        return on_snapshot_done(peer, p);
      case kStatusRequest: {
        uint64_t id = 0;
        if (!get_u64(p, id)) return;
        std::vector<uint8_t> out;
        put_u64(out, id);
        auto body = to_json(local_report(id == 0)).dump();
        out.insert(out.end(), body.begin(), body.end());
        transport_->send(peer, kStatusReply, out);
        return;
      }
      case kStatusReply:
        return on_status_reply(peer, p);
      case kForward: {
        Envelope env;
        if (!parse_envelope(p, env) || env.origin != raft_id_of(peer)) return;
        Status s = node_->role() == raft::Role::leader ? node_->propose({p.begin(), p.end()})
                                                       : make_error("not the leader");
        if (!s) {
          std::vector<uint8_t> out;
          put_u64(out, env.request);
          out.insert(out.end(), s.error().begin(), s.error().end());
          transport_->send(peer, kForwardRefused, out);
        }
        schedule_ready();
        return;
      }
      case kForwardRefused: {
        uint64_t id = 0;
        if (!get_u64(p, id)) return;
        auto it = pending_.find(id);
        // It never entered the log: try again (maybe with the next leader).
        if (it != pending_.end()) it->second.proposed = false;
        return;
      }
      default:
        log("peer " + peer + ": unknown message kind " + std::to_string(kind));
    }
  }

  // ---- status ----

  NodeReport local_report(bool light = false) const {
    NodeReport r;
    r.id = cfg_.self_id;
    auto st = node_->status();
    r.role = raft::to_string(st.role);
    r.term = st.term;
    auto lead = names_.find(st.lead);
    r.leader = lead == names_.end() ? "" : lead->second;
    r.commit = st.commit;
    r.applied = applied_;
    r.wal_bytes = wal_->size_bytes();
    r.snapshot_index = wal_->snapshot_index();
    if (!light) r.digest = store_.digest();
    for (const auto& p : cfg_.peers) {
      PeerReport pr;
      pr.id = p.id;
      uint64_t rid = raft_id_of(p.id);
      pr.reachable = peer_reachable(rid);
      auto ps = transport_ ? transport_->peer_stats(p.id) : PeerStats{};
      if (ps.last_heard) {
        pr.last_heard_ms =
            std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - *ps.last_heard)
                .count();
      }
      for (const auto& pg : st.progress) {
        if (pg.id == rid) {
          pr.match = pg.match;
          pr.lag = st.last_index > pg.match ? st.last_index - pg.match : 0;
        }
      }
      r.peers.push_back(pr);
    }
    return r;
  }

  struct ReportRequest {
    Clock::time_point deadline;
    std::vector<NodeReport> reports;  // [0] is ours
    std::map<std::string, size_t> slot;
    std::function<void(std::vector<NodeReport>)> done;
  };

  void cluster_report(Clock::time_point deadline,
                      std::function<void(std::vector<NodeReport>)> done) {
    uint64_t id = ++next_request_;
    auto& req = reports_[id];
    req.deadline = deadline;
    req.done = std::move(done);
    req.reports.push_back(local_report());
    std::vector<uint8_t> ask;
    put_u64(ask, id);
    for (const auto& p : cfg_.peers) {
      NodeReport missing;
      missing.id = p.id;
      missing.reachable = false;
      missing.error = "no answer";
      req.slot[p.id] = req.reports.size();
      req.reports.push_back(missing);
      if (!transport_ || !transport_->send(p.id, kStatusRequest, ask)) {
        req.reports.back().error = "not connected";
      }
    }
    maybe_finish_report(id);
  }

  void expire_reports(Clock::time_point now) {
    for (auto it = reports_.begin(); it != reports_.end();) {
      if (now < it->second.deadline) {
        ++it;
        continue;
      }
      ReportRequest req = std::move(it->second);
      it = reports_.erase(it);
      finish_report(req);
    }
  }

  void finish_report(ReportRequest& req) {
    if (req.done) req.done(std::move(req.reports));
    req.done = nullptr;
  }

  void maybe_finish_report(uint64_t id) {
    auto it = reports_.find(id);
    if (it == reports_.end()) return;
    for (const auto& r : it->second.reports) {
      if (!r.reachable && r.error == "no answer") return;
    }
    ReportRequest req = std::move(it->second);
    reports_.erase(it);
    finish_report(req);
  }

  void on_status_reply(const std::string& peer, std::span<const uint8_t> p) {
    uint64_t id = 0;
    if (!get_u64(p, id)) return;
    NodeReport r;
    try {
      r = report_from_json(nlohmann::json::parse(p.begin(), p.end()));
    } catch (const std::exception&) {
      log("peer " + peer + ": malformed status reply");
      return;
    }
    peer_applied_[peer] = std::max(peer_applied_[peer], r.applied);
    if (id == 0) {
      for (auto it = waits_.begin(); it != waits_.end();) {
        if (check_wait(*it, false)) {
          it = waits_.erase(it);
        } else {
          ++it;
        }
      }
      return;
    }
    auto it = reports_.find(id);
    if (it == reports_.end()) return;
    auto slot = it->second.slot.find(peer);
    if (slot == it->second.slot.end()) return;
    r.id = peer;
    r.reachable = true;
    it->second.reports[slot->second] = std::move(r);
    maybe_finish_report(id);
  }

  // ---- waiting for every member ----

  struct AllWait {
    uint64_t index;
    Clock::time_point deadline;
    std::function<void(Status)> done;
  };

  std::vector<std::string> members_behind(uint64_t index) const {
    std::vector<std::string> behind;
    auto consider = [&](uint64_t id) {
      if (id == self_) {
        if (applied_ < index) behind.push_back(cfg_.self_id);
        return;
      }
      auto name = names_.find(id);
      std::string n = name == names_.end() ? std::to_string(id) : name->second;
      auto got = peer_applied_.find(n);
      if (got == peer_applied_.end() || got->second < index) behind.push_back(n);
    };
    for (auto v : applied_conf_.voters) consider(v);
    for (auto l : applied_conf_.learners) consider(l);
    return behind;
  }

  // Returns true when the wait is finished (and has been answered).
  bool check_wait(AllWait& w, bool expired) {
    auto behind = members_behind(w.index);
    if (behind.empty()) {
      w.done({});
      return true;
    }
    if (!expired) return false;
    std::string names;
    for (const auto& b : behind) {
      if (!names.empty()) names += ", ";
      auto got = peer_applied_.find(b);
      names += b + (got == peer_applied_.end() ? std::string(" (no answer)")
                                               : " (applied " + std::to_string(got->second) + ")");
    }
    w.done(make_error("not applied everywhere by the deadline: index " + std::to_string(w.index) +
                      " missing on " + names));
    return true;
  }

  void wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                               std::function<void(Status)> done) {
    AllWait w{index, deadline, std::move(done)};
    if (check_wait(w, false)) return;
    waits_.push_back(std::move(w));
    poll_peers_for_waits();
  }

  void poll_peers_for_waits() {
    if (waits_.empty() || !transport_) return;
    uint64_t need = 0;
    for (const auto& w : waits_) need = std::max(need, w.index);
    std::vector<uint8_t> ask;
    put_u64(ask, 0);
    for (const auto& p : cfg_.peers) {
      auto got = peer_applied_.find(p.id);
      if (got == peer_applied_.end() || got->second < need) {
        transport_->send(p.id, kStatusRequest, ask);
      }
    }
  }

  struct Pending {
    Done done;
    Clock::time_point deadline;
    std::vector<uint8_t> envelope;
    bool proposed = false;
  };

  event_base* base_;
  NodeConfig cfg_;
  store::Store& store_;
  uint64_t self_;
  std::map<uint64_t, std::string> names_;
  std::unique_ptr<wal::Log> wal_;
  std::unique_ptr<WalStorage> storage_;
  std::unique_ptr<raft::Node> node_;
  std::unique_ptr<Transport> transport_;
  raft::ConfState applied_conf_;
  uint64_t applied_ = 0, applied_term_ = 0;
  uint64_t persisted_term_ = 0, persisted_vote_ = 0;
  uint64_t wal_bytes_after_compact_ = 0;
  uint64_t next_request_ = 0;
  uint64_t last_lead_ = raft::kNoNode;  // for DriverMetrics::leader_changes
  bool stopped_ = false;
  EventPtr tick_ev_, ready_ev_, pump_ev_;
  std::map<uint64_t, Pending> pending_;
  std::vector<AllWait> waits_;
  std::map<std::string, uint64_t> peer_applied_;
  std::map<uint64_t, ReportRequest> reports_;
  std::map<std::string, SnapshotSend> sending_;
  SnapshotReceive receiving_;
};

// ---- ClusterNode ----

ClusterNode::ClusterNode(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
ClusterNode::~ClusterNode() = default;

Result<std::unique_ptr<ClusterNode>> ClusterNode::open(event_base* base, NodeConfig config,
                                                       store::Store& store) {
  auto impl = std::make_unique<Impl>(base, std::move(config), store);
  if (auto s = impl->open(); !s) return std::move(s).take_error();
  return std::unique_ptr<ClusterNode>(new ClusterNode(std::move(impl)));
}

Status ClusterNode::start() { return impl_->start(); }
void ClusterNode::stop() { impl_->stop(); }
void ClusterNode::submit(std::vector<uint8_t> command, Clock::time_point deadline, Done done) {
  if (DriverMetrics* m = impl_->cfg_.metrics) {
    m->proposals.fetch_add(1, std::memory_order_relaxed);
    done = [m, done = std::move(done)](Status status, uint64_t index) {
      if (!status) m->proposal_failures.fetch_add(1, std::memory_order_relaxed);
      done(std::move(status), index);
    };
  }
  impl_->submit(std::move(command), deadline, std::move(done));
}
void ClusterNode::wait_applied_everywhere(uint64_t index, Clock::time_point deadline,
                                          std::function<void(Status)> done) {
  impl_->wait_applied_everywhere(index, deadline, std::move(done));
}
NodeReport ClusterNode::local_report() const { return impl_->local_report(); }
NodeReport ClusterNode::local_summary() const { return impl_->local_report(true); }
void ClusterNode::cluster_report(Clock::time_point deadline,
                                 std::function<void(std::vector<NodeReport>)> done) {
  impl_->cluster_report(deadline, std::move(done));
}
uint64_t ClusterNode::applied_index() const { return impl_->local_report(true).applied; }
bool ClusterNode::is_leader() const { return impl_->local_report(true).role == "leader"; }

}  // namespace raftdns::replication
