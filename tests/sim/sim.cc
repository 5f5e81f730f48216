// The simulator: a seeded world of nodes, a lossy network and crash-prone disks, and the safety
// checker.
//
// Everything random comes from one splitmix64 stream seeded by SimOptions::seed, and
// every container that is iterated is ordered, so a seed replays exactly.
//
// The disk model follows the Ready contract: a Ready's entries, snapshot and hard state
// are written together and, when must_sync is set, become durable before its messages
// leave. A crash keeps only what was durable: a commit-only hard state written without a
// sync is lost, and a crash in the middle of a Ready loses all of that Ready.
#include "tests/sim/sim.h"

#include <algorithm>
#include <cstdio>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "replication/core/raft.h"

namespace raftdns::raft::sim {

namespace {

std::string u(uint64_t v) { return std::to_string(v); }

class Rng {
 public:
  explicit Rng(uint64_t seed) : state_(seed) {}
  uint64_t next() {
    uint64_t z = (state_ += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  }
  uint64_t below(uint64_t n) { return n == 0 ? 0 : next() % n; }
  bool one_in(uint64_t n) { return below(n) == 0; }
  bool percent(uint64_t p) { return below(100) < p; }

 private:
  uint64_t state_;
};

// The prefix hash of a log: it identifies the whole sequence of entries up to an index,
// so equal prefix hashes mean equal logs (Log Matching) and equal applied state.
uint64_t chain_hash(uint64_t prev, const Entry& e) {
  uint64_t h = prev ^ 0xcbf29ce484222325ULL;
  auto mix = [&h](uint64_t v) {
    for (int i = 0; i < 8; ++i) {
      h ^= (v >> (8 * i)) & 0xff;
      h *= 0x100000001b3ULL;
    }
  };
  mix(e.index);
  mix(e.term);
  mix(static_cast<uint64_t>(e.type));
  mix(e.data.size());
  for (uint8_t b : e.data) {
    h ^= b;
    h *= 0x100000001b3ULL;
  }
  return h;
}

struct Violation : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct InFlight {
  uint64_t deliver_at;
  uint64_t order;  // random tie-breaker: reorders messages due at the same tick
  Message message;
  bool operator<(const InFlight& o) const {
    return deliver_at != o.deliver_at ? deliver_at < o.deliver_at : order < o.order;
  }
};

struct SimNode {
  uint64_t id = 0;
  // The disk: survives crashes.
  std::unique_ptr<MemoryStorage> storage;
  HardState durable_hard_state;
  // Prefix hashes of the durable log: chain[i] is the hash at index chain_base + i.
  std::deque<uint64_t> chain{0};
  uint64_t chain_base = 0;
  uint64_t restarts = 0;
  // Volatile: lost on a crash.
  std::unique_ptr<Node> node;
  uint64_t applied = 0;
  uint64_t applied_hash = 0;
  ConfState conf;
  std::set<std::string> my_proposals;

  bool up() const { return node != nullptr; }
  uint64_t hash_at(uint64_t index) const { return chain.at(index - chain_base); }
};

class World {
 public:
  explicit World(const SimOptions& o) : opt_(o), rng_(o.seed * 0x2545f4914f6cdd1dULL + 17) {
    n_ = opt_.nodes != 0 ? opt_.nodes : (rng_.one_in(2) ? 3 : 5);
    max_delay_ = rng_.below(4);
    loss_percent_ = rng_.below(11);
    dup_percent_ = rng_.below(6);
    max_size_per_msg_ = opt_.max_size_per_msg != 0 ? opt_.max_size_per_msg
                                                   : (rng_.one_in(2) ? 1 : 1 + rng_.below(4096));
    max_inflight_ = rng_.one_in(2) ? 256 : 1 + rng_.below(4);
    storm_ = opt_.storm || rng_.one_in(4);
    ConfState initial;
    for (int i = 1; i <= n_; ++i) initial.voters.push_back(static_cast<uint64_t>(i));
    for (uint64_t id : initial.voters) {
      SimNode& s = nodes_[id];
      s.id = id;
      s.storage = std::make_unique<MemoryStorage>(initial);
      start(s);
    }
    trace("world: " + u(n_) + " nodes, delay<=" + u(max_delay_) + " loss " + u(loss_percent_) +
          "% dup " + u(dup_percent_) + "% msg bytes " + u(max_size_per_msg_) + " inflight " +
          u(max_inflight_) + (storm_ ? " storm" : ""));
  }

  SimResult run() {
    const uint64_t live_by = static_cast<uint64_t>(opt_.fault_ticks + opt_.recovery_ticks);
    // Lagging members may need longer to catch up on a slow network (one entry per
    // message, a window of one): convergence gets its own, larger bound.
    const uint64_t end = live_by + static_cast<uint64_t>(opt_.convergence_ticks);
    try {
      for (now_ = 0; now_ < end; ++now_) {
        if (now_ < static_cast<uint64_t>(opt_.fault_ticks)) {
          inject_faults();
        } else if (now_ == static_cast<uint64_t>(opt_.fault_ticks)) {
          calm_down();
        }
        for (auto& [id, s] : nodes_) {
          if (s.up()) s.node->tick();
        }
        run_rounds();
        if (now_ >= static_cast<uint64_t>(opt_.fault_ticks) && check_liveness()) {
          result_.ticks = now_ + 1;
          finish();
          return result_;
        }
        if (now_ + 1 == live_by && liveness_index_ == 0) {
          throw Violation("liveness: " + liveness_report() + " within " + u(opt_.recovery_ticks) +
                          " ticks after the faults stopped");
        }
      }
      throw Violation("convergence: " + liveness_report() + " within " +
                      u(opt_.recovery_ticks + opt_.convergence_ticks) +
                      " ticks after the faults stopped");
    } catch (const Violation& v) {
      result_.ok = false;
      result_.failure = "seed " + u(opt_.seed) + " tick " + u(now_) + ": " + v.what();
      result_.ticks = now_;
      return result_;
    }
  }

 private:
  void trace(const std::string& line) const {
    if (opt_.trace)
      std::fprintf(stderr, "[%llu] %s\n", static_cast<unsigned long long>(now_), line.c_str());
  }

  // ---- node lifecycle -------------------------------------------------------------

  void start(SimNode& s) {
    // What the disk holds must make sense before the core reads it: a commit index is
    // durable only after the entries it covers.
    if (s.durable_hard_state.commit > s.storage->last_index()) {
      throw Violation("node " + u(s.id) + " restarts with a durable commit index " +
                      u(s.durable_hard_state.commit) + " beyond its durable log (last index " +
                      u(s.storage->last_index()) + ")");
    }
    Config c;
    c.id = s.id;
    c.storage = s.storage.get();
    c.seed = opt_.seed * 1000003 + s.id * 7919 + s.restarts;
    c.max_size_per_msg = max_size_per_msg_;
    c.max_inflight_msgs = max_inflight_;
    c.applied = s.storage->snapshot().value().index;
    s.node = std::make_unique<Node>(c);
    // The state machine restarts from the snapshot on disk.
    s.applied = s.chain_base;
    s.applied_hash = s.chain.front();
    s.conf = s.storage->snapshot().value().conf;
    s.my_proposals.clear();
  }

  void crash(SimNode& s, const char* when) {
    trace("crash node " + u(s.id) + " " + when);
    s.node.reset();
    // Whatever was written without a sync is gone.
    s.storage->set_hard_state(s.durable_hard_state);
    ++result_.crashes;
  }

  void restart(SimNode& s) {
    ++s.restarts;
    trace("restart node " + u(s.id));
    start(s);
  }

  // ---- faults ---------------------------------------------------------------------

  uint64_t leader() const {
    uint64_t best = kNoNode, best_term = 0;
    for (const auto& [id, s] : nodes_) {
      if (s.up() && s.node->role() == Role::leader && s.node->term() >= best_term) {
        best = id;
        best_term = s.node->term();
      }
    }
    return best;
  }

  SimNode& random_node() {
    auto it = nodes_.begin();
    std::advance(it, static_cast<long>(rng_.below(nodes_.size())));
    return it->second;
  }

  void inject_faults() {
    // Partitions.
    if (partition_until_ != 0 && now_ >= partition_until_) {
      trace("heal partition");
      blocked_.clear();
      partition_until_ = 0;
    } else if (partition_until_ == 0 && rng_.one_in(storm_ ? 6 : 50)) {
      start_partition();
    }
    // Crashes and restarts.
    if (opt_.crashes) {
      int down = 0;
      for (auto& [id, s] : nodes_) down += s.up() ? 0 : 1;
      if (down < (n_ + 1) / 2 && rng_.one_in(storm_ ? 25 : 70)) {
        SimNode& s = random_node();
        if (s.up()) crash(s, "between steps");
      }
      for (auto& [id, s] : nodes_) {
        if (!s.up() && rng_.one_in(storm_ ? 6 : 25)) restart(s);
      }
    }
    // Client proposals, mostly at the leader.
    if (rng_.percent(storm_ ? 80 : 40)) {
      const uint64_t l = leader();
      SimNode& s = (l != kNoNode && rng_.percent(85)) ? nodes_.at(l) : random_node();
      const uint64_t batch = 1 + rng_.below(3);
      for (uint64_t i = 0; i < batch && s.up(); ++i) propose(s);
    }
    if (rng_.one_in(5)) read(random_node());
    if (opt_.membership_changes && rng_.one_in(60)) change_membership();
    if (rng_.one_in(40)) compact(random_node());
    if (rng_.one_in(150)) {
      const uint64_t l = leader();
      if (l != kNoNode) {
        const uint64_t to = 1 + rng_.below(static_cast<uint64_t>(n_));
        trace("transfer leadership " + u(l) + " -> " + u(to));
        (void)nodes_.at(l).node->transfer_leadership(to);
      }
    }
  }

  void start_partition() {
    // Storms favour short leader isolations: leadership churns while logs diverge.
    const uint64_t kind = storm_ && rng_.percent(60) ? 2 : rng_.below(3);
    partition_until_ = now_ + (storm_ ? 3 + rng_.below(25) : 10 + rng_.below(70));
    if (kind == 0) {
      // Symmetric: split into two sides.
      std::set<uint64_t> side;
      for (auto& [id, s] : nodes_) {
        if (rng_.one_in(2)) side.insert(id);
      }
      for (auto& [a, sa] : nodes_) {
        for (auto& [b, sb] : nodes_) {
          if (side.contains(a) != side.contains(b)) blocked_.insert({a, b});
        }
      }
      trace("partition: symmetric split");
    } else if (kind == 1) {
      // Asymmetric: some links drop in one direction only.
      const uint64_t links = 1 + rng_.below(static_cast<uint64_t>(n_));
      for (uint64_t i = 0; i < links; ++i) {
        const uint64_t a = 1 + rng_.below(static_cast<uint64_t>(n_));
        const uint64_t b = 1 + rng_.below(static_cast<uint64_t>(n_));
        if (a != b) blocked_.insert({a, b});
      }
      trace("partition: asymmetric links");
    } else {
      // Isolate the leader.
      uint64_t l = leader();
      if (l == kNoNode) l = 1 + rng_.below(static_cast<uint64_t>(n_));
      for (auto& [id, s] : nodes_) {
        if (id != l) {
          blocked_.insert({l, id});
          blocked_.insert({id, l});
        }
      }
      trace("partition: isolate node " + u(l));
    }
  }

  void propose(SimNode& s) {
    const std::string payload = "p" + u(++proposal_counter_);
    Status st = s.node->propose(std::vector<uint8_t>(payload.begin(), payload.end()));
    if (st.ok()) {
      s.my_proposals.insert(payload);
      trace("node " + u(s.id) + " proposes " + payload);
    }
  }

  // A linearizable read: its read index must cover every entry applied anywhere before
  // the request was made (a completed write must be visible to a later read).
  void read(SimNode& s) {
    if (!s.up()) return;
    const std::string ctx = "r" + u(++read_counter_);
    if (s.node->read_index(std::vector<uint8_t>(ctx.begin(), ctx.end())).ok()) {
      pending_reads_.emplace(ctx, std::make_pair(s.id, result_.committed));
    }
  }

  void check_read(const SimNode& s, const ReadState& rs) {
    const std::string ctx(rs.context.begin(), rs.context.end());
    auto it = pending_reads_.find(ctx);
    if (it == pending_reads_.end()) return;  // answered twice (duplicated request); checked once
    if (it->second.first != s.id) {
      throw Violation("read " + ctx + " from node " + u(it->second.first) + " answered on node " +
                      u(s.id));
    }
    if (rs.index < it->second.second) {
      throw Violation("linearizable read: " + ctx + " on node " + u(s.id) + " got read index " +
                      u(rs.index) + " but index " + u(it->second.second) +
                      " was already applied when it was requested");
    }
    ++result_.reads;
    pending_reads_.erase(it);
  }

  void change_membership() {
    const uint64_t l = leader();
    if (l == kNoNode) return;
    SimNode& s = nodes_.at(l);
    const ConfState cs = s.node->status().conf;
    auto is_in = [](const std::vector<uint64_t>& v, uint64_t id) {
      return std::find(v.begin(), v.end(), id) != v.end();
    };
    std::vector<ConfChange> options;
    const size_t min_voters = n_ == 3 ? 2 : 3;
    for (const auto& [id, other] : nodes_) {
      if (!is_in(cs.voters, id) && !is_in(cs.learners, id)) {
        options.push_back({ConfChange::add_learner, id, {}});
        options.push_back({ConfChange::add_voter, id, {}});
      }
      if (is_in(cs.learners, id)) {
        options.push_back({ConfChange::promote_learner, id, {}});
        options.push_back({ConfChange::remove_voter, id, {}});
      }
      if (is_in(cs.voters, id) && cs.voters.size() > min_voters) {
        options.push_back({ConfChange::remove_voter, id, {}});
      }
    }
    if (options.empty()) return;
    const ConfChange& cc = options[rng_.below(options.size())];
    Status st = s.node->propose_conf_change(cc);
    trace("node " + u(l) + " proposes conf change type " + u(cc.type) + " node " + u(cc.node_id) +
          (st.ok() ? "" : " (refused: " + st.error() + ")"));
  }

  void compact(SimNode& s) {
    if (!s.up() || s.applied <= s.chain_base + 2) return;
    // A snapshot holds the state machine at its applied index (the sim keeps its hash)
    // together with the membership there.
    const uint64_t at = s.applied;
    check_snapshot_hash(at, s.hash_at(at), s.id);
    Status st = s.storage->create_snapshot(at, s.conf);
    if (!st.ok()) throw Violation("node " + u(s.id) + " snapshot: " + st.error());
    st = s.storage->compact(at);
    if (!st.ok()) throw Violation("node " + u(s.id) + " compact: " + st.error());
    while (s.chain_base < at) {
      s.chain.pop_front();
      ++s.chain_base;
    }
    trace("node " + u(s.id) + " compacts to " + u(at));
  }

  void calm_down() {
    trace("faults stop: heal, restart, lossless network");
    blocked_.clear();
    partition_until_ = 0;
    loss_percent_ = 0;
    dup_percent_ = 0;
    calm_ = true;
    for (auto& [id, s] : nodes_) {
      if (!s.up()) restart(s);
    }
  }

  // ---- message and ready processing ----------------------------------------------

  void run_rounds() {
    for (int round = 0; round < 50; ++round) {
      bool busy = false;
      for (auto& [id, s] : nodes_) {
        if (s.up() && s.node->has_ready()) {
          process_ready(s);
          busy = true;
        }
        check_leaders();
      }
      busy |= deliver_due();
      check_leaders();
      if (!busy) return;
    }
  }

  bool faulty() const { return now_ < static_cast<uint64_t>(opt_.fault_ticks) && opt_.crashes; }

  void process_ready(SimNode& s) {
    Ready rd = s.node->ready();
    if (faulty() && rng_.one_in(400)) {
      crash(s, "before persisting a Ready");
      return;
    }
    if (rd.hard_state && rd.hard_state->term < s.durable_hard_state.term) {
      throw Violation("node " + u(s.id) + " term went backwards from " +
                      u(s.durable_hard_state.term) + " to " + u(rd.hard_state->term));
    }
    if (rd.snapshot) install_snapshot(s, *rd.snapshot);
    // Two files, two syncs: a power cut may fall between them.
    const bool cut_between = faulty() && !rd.entries.empty() && rng_.one_in(200);
    if (opt_.hard_state_before_entries) {
      if (rd.hard_state) s.storage->set_hard_state(*rd.hard_state);
      if (rd.must_sync) s.durable_hard_state = s.storage->hard_state();
      if (cut_between) {
        crash(s, "after the meta file, before the segment");
        return;
      }
      append_to_disk(s, rd.entries);
    } else {
      append_to_disk(s, rd.entries);
      if (cut_between) {
        crash(s, "after the segment, before the meta file");
        return;
      }
      if (rd.hard_state) s.storage->set_hard_state(*rd.hard_state);
      if (rd.must_sync) s.durable_hard_state = s.storage->hard_state();
    }
    if (faulty() && rng_.one_in(400)) {
      crash(s, "after persisting, before sending");
      return;
    }
    for (const Message& m : rd.messages) send(m);
    for (const Entry& e : rd.committed_entries) apply(s, e);
    for (const ReadState& rs : rd.read_states) check_read(s, rs);
    s.node->advance(rd);
  }

  void append_to_disk(SimNode& s, const std::vector<Entry>& entries) {
    if (entries.empty()) return;
    Status st = s.storage->append(entries);
    if (!st.ok()) throw Violation("node " + u(s.id) + " append: " + st.error());
    for (const Entry& e : entries) {
      if (e.index <= s.chain_base) continue;
      s.chain.resize(e.index - s.chain_base);
      const uint64_t h = chain_hash(s.chain.back(), e);
      s.chain.push_back(h);
      // Log Matching (§5.3): two logs with an entry of the same index and term are
      // identical up to it, so (index, term) determines the prefix hash.
      auto [it, fresh] = entry_hash_.try_emplace({e.index, e.term}, h);
      if (!fresh && it->second != h) {
        throw Violation("log matching: node " + u(s.id) + " holds entry " + u(e.index) + "/" +
                        u(e.term) + " with a different history than another node");
      }
    }
  }

  void install_snapshot(SimNode& s, const SnapshotMeta& meta) {
    auto it = snapshot_hash_.find(meta.index);
    if (it == snapshot_hash_.end()) {
      throw Violation("node " + u(s.id) + " got snapshot " + u(meta.index) + " nobody created");
    }
    Status st = s.storage->apply_snapshot(meta);
    if (!st.ok()) throw Violation("node " + u(s.id) + " snapshot install: " + st.error());
    s.chain.assign(1, it->second);
    s.chain_base = meta.index;
    s.applied = meta.index;
    s.applied_hash = it->second;
    s.conf = meta.conf;
    ++result_.snapshots_installed;
    trace("node " + u(s.id) + " installs snapshot " + u(meta.index) + "/" + u(meta.term));
  }

  void check_snapshot_hash(uint64_t index, uint64_t h, uint64_t id) {
    auto [it, fresh] = snapshot_hash_.try_emplace(index, h);
    if (!fresh && it->second != h) {
      throw Violation("state machine safety: node " + u(id) + " snapshot at " + u(index) +
                      " differs from another node's");
    }
    auto c = committed_hash_.find(index);
    if (c != committed_hash_.end() && c->second != h) {
      throw Violation("state machine safety: node " + u(id) + " snapshot at " + u(index) +
                      " differs from the applied state");
    }
  }

  void apply(SimNode& s, const Entry& e) {
    if (e.index != s.applied + 1) {
      throw Violation("node " + u(s.id) + " applies index " + u(e.index) + " after " +
                      u(s.applied));
    }
    s.applied_hash = chain_hash(s.applied_hash, e);
    s.applied = e.index;
    // State Machine Safety (§5.4.3): every node applies the same entry at each index.
    auto [it, fresh] = committed_hash_.try_emplace(e.index, s.applied_hash);
    if (!fresh && it->second != s.applied_hash) {
      throw Violation("state machine safety: node " + u(s.id) + " applied a different entry at " +
                      u(e.index) + " (term " + u(e.term) + ", committed term " +
                      u(committed_term_.at(e.index)) + ")");
    }
    committed_term_.try_emplace(e.index, e.term);
    result_.committed = std::max(result_.committed, e.index);
    if (e.type == EntryType::conf_change) {
      auto cc = decode_conf_change(e.data);
      if (!cc.ok()) throw Violation("node " + u(s.id) + " conf change: " + cc.error());
      s.conf = s.node->apply_conf_change(*cc);
      ++result_.conf_changes;
      trace("node " + u(s.id) + " applies conf change at " + u(e.index) + ": voters " +
            u(s.conf.voters.size()) + " learners " + u(s.conf.learners.size()));
      return;
    }
    const std::string payload(e.data.begin(), e.data.end());
    if (s.my_proposals.erase(payload) != 0 && s.node->role() == Role::leader) {
      // The proposer saw its entry applied while leading: a client has been told "done".
      acked_.emplace(payload, std::make_pair(e.index, s.applied_hash));
      ++result_.acknowledged;
    }
  }

  void send(const Message& m) {
    ++result_.messages;
    const uint64_t copies = rng_.percent(dup_percent_) ? 2 : 1;
    for (uint64_t i = 0; i < copies; ++i) {
      if (calm_) {
        // A healthy network: in order, delivered within the tick.
        in_flight_.insert(InFlight{now_, ++fifo_order_, m});
      } else {
        in_flight_.insert(InFlight{now_ + rng_.below(max_delay_ + 1), rng_.next(), m});
      }
    }
  }

  bool deliver_due() {
    bool any = false;
    while (!in_flight_.empty() && in_flight_.begin()->deliver_at <= now_) {
      InFlight f = *in_flight_.begin();
      in_flight_.erase(in_flight_.begin());
      any = true;
      const Message& m = f.message;
      SimNode& from = nodes_.at(m.from);
      auto to_it = nodes_.find(m.to);
      const bool lost = blocked_.contains({m.from, m.to}) || rng_.percent(loss_percent_) ||
                        to_it == nodes_.end() || !to_it->second.up();
      if (lost) {
        if (from.up() && m.type == MessageType::snap) from.node->report_snapshot(m.to, false);
        if (from.up() && blocked_.contains({m.from, m.to}) && rng_.one_in(4)) {
          from.node->report_unreachable(m.to);
        }
        continue;
      }
      (void)to_it->second.node->step(m);
      // The driver streams the snapshot data and reports the outcome.
      if (m.type == MessageType::snap && from.up()) from.node->report_snapshot(m.to, true);
    }
    return any;
  }

  // ---- invariants -----------------------------------------------------------------

  void check_leaders() {
    for (auto& [id, s] : nodes_) {
      if (!s.up() || s.node->role() != Role::leader) continue;
      const uint64_t term = s.node->term();
      auto [it, fresh] = leader_of_term_.try_emplace(term, id);
      // Election Safety (§5.2): at most one leader per term.
      if (!fresh && it->second != id) {
        throw Violation("election safety: nodes " + u(it->second) + " and " + u(id) +
                        " both lead term " + u(term));
      }
      if (!fresh) continue;
      ++result_.elections;
      trace("node " + u(id) + " leads term " + u(term));
      // Leader Completeness (§5.4): the new leader holds every committed entry.
      if (result_.committed == 0) continue;
      const uint64_t c = result_.committed;
      auto t = s.node->log_term(c);
      if (t) {
        if (*t != committed_term_.at(c)) {
          throw Violation("leader completeness: leader " + u(id) + " of term " + u(term) +
                          " has term " + u(*t) + " at committed index " + u(c) + ", not " +
                          u(committed_term_.at(c)));
        }
      } else if (c > s.node->last_index()) {
        throw Violation("leader completeness: leader " + u(id) + " of term " + u(term) +
                        " lacks committed index " + u(c) + " (last " + u(s.node->last_index()) +
                        ")");
      }
    }
  }

  // After the faults stop: a leader must emerge and a fresh proposal must reach every
  // member's state machine.
  bool check_liveness() {
    const uint64_t l = leader();
    if (l == kNoNode) return false;
    SimNode& s = nodes_.at(l);
    if (liveness_index_ == 0) {
      if (live_proposer_ != l || now_ % 20 == 0) {
        const std::string payload = "live" + u(++proposal_counter_);
        if (s.node->propose(std::vector<uint8_t>(payload.begin(), payload.end())).ok()) {
          s.my_proposals.insert(payload);
          live_payloads_.insert(payload);
          live_proposer_ = l;
        }
      }
      for (const auto& p : live_payloads_) {
        auto it = acked_.find(p);
        if (it != acked_.end()) liveness_index_ = it->second.first;
      }
      if (liveness_index_ == 0) return false;
    }
    const ConfState cs = s.node->status().conf;
    std::vector<uint64_t> members = cs.voters;
    members.insert(members.end(), cs.learners.begin(), cs.learners.end());
    for (uint64_t id : members) {
      if (nodes_.at(id).applied < liveness_index_) return false;
    }
    return true;
  }

  std::string liveness_report() const {
    std::string r;
    const uint64_t l = leader();
    r = l == kNoNode ? "no leader" : "leader " + u(l);
    if (liveness_index_ == 0) {
      r += ", no proposal committed";
    } else {
      r += ", proposal at " + u(liveness_index_) + " not applied everywhere:";
      for (const auto& [id, s] : nodes_) r += " " + u(id) + "@" + u(s.applied);
    }
    if (l != kNoNode) {
      r += "; leader's view:";
      for (const auto& p : nodes_.at(l).node->status().progress) {
        r += " " + u(p.id) + "{match " + u(p.match) + " next " + u(p.next) + " " +
             to_string(p.state) + " inflight " + u(p.inflight) + "}";
      }
    }
    return r;
  }

  void finish() {
    // No acknowledged proposal lost: each is in the committed history, at its index.
    for (const auto& [payload, where] : acked_) {
      auto it = committed_hash_.find(where.first);
      if (it == committed_hash_.end() || it->second != where.second) {
        throw Violation("acknowledged proposal " + payload + " at index " + u(where.first) +
                        " is not in the committed history");
      }
    }
  }

  SimOptions opt_;
  Rng rng_;
  int n_ = 3;
  uint64_t max_delay_ = 0;
  uint64_t loss_percent_ = 0;
  uint64_t dup_percent_ = 0;
  uint64_t max_size_per_msg_ = 0;
  size_t max_inflight_ = 256;
  bool storm_ = false;
  bool calm_ = false;
  uint64_t fifo_order_ = 0;
  uint64_t now_ = 0;
  std::map<uint64_t, SimNode> nodes_;
  std::set<InFlight> in_flight_;
  std::set<std::pair<uint64_t, uint64_t>> blocked_;
  uint64_t partition_until_ = 0;
  uint64_t proposal_counter_ = 0;
  uint64_t read_counter_ = 0;
  std::map<std::string, std::pair<uint64_t, uint64_t>> pending_reads_;  // ctx -> node, floor

  std::map<uint64_t, uint64_t> leader_of_term_;
  std::map<std::pair<uint64_t, uint64_t>, uint64_t> entry_hash_;
  std::map<uint64_t, uint64_t> committed_hash_;
  std::map<uint64_t, uint64_t> committed_term_;
  std::map<uint64_t, uint64_t> snapshot_hash_;
  std::map<std::string, std::pair<uint64_t, uint64_t>> acked_;

  uint64_t liveness_index_ = 0;
  uint64_t live_proposer_ = kNoNode;
  std::set<std::string> live_payloads_;
  SimResult result_;
};

}  // namespace

SimResult run_simulation(const SimOptions& options) { return World(options).run(); }

}  // namespace raftdns::raft::sim
