// A scripted in-memory network of raft::Nodes for readable scenario tests (campaign,
// deliver with drops, tick, stabilize, isolate, heal).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "replication/core/raft.h"

namespace raftdns::raft::testing {

inline std::vector<uint8_t> bytes(const std::string& s) { return {s.begin(), s.end()}; }
inline std::string text(const std::vector<uint8_t>& b) { return {b.begin(), b.end()}; }

struct TestPeer {
  uint64_t id = 0;
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Node> node;
  std::vector<std::string> applied;  // payloads of applied non-empty normal entries
  uint64_t applied_index = 0;
  ConfState conf;
  std::vector<ReadState> reads;
  bool crashed = false;
};

class Network {
 public:
  using Tweak = std::function<void(Config&)>;

  explicit Network(const std::vector<uint64_t>& voters, Tweak tweak = {})
      : tweak_(std::move(tweak)) {
    ConfState conf{voters, {}};
    for (uint64_t id : voters) add(id, conf);
  }

  // Adds a node whose storage starts at the snapshot point (0, 0) with membership `conf`.
  TestPeer& add(uint64_t id, const ConfState& conf) {
    auto& p = peers_[id];
    p.id = id;
    p.storage = std::make_unique<MemoryStorage>(conf);
    p.conf = conf;
    restart(id);
    return p;
  }

  // Recreates the Node from its storage (the state machine restarts from the snapshot).
  void restart(uint64_t id) {
    TestPeer& p = peers_.at(id);
    Config c;
    c.id = id;
    c.storage = p.storage.get();
    c.seed = 1000 + id;
    c.max_inflight_msgs = 256;
    auto snap = p.storage->snapshot();
    c.applied = snap.value().index;
    p.applied_index = c.applied;
    p.applied.clear();  // the state machine restarts from the snapshot
    p.reads.clear();
    if (tweak_) tweak_(c);
    p.node = std::make_unique<Node>(c);
    p.crashed = false;
  }

  Node& node(uint64_t id) { return *peers_.at(id).node; }
  TestPeer& peer(uint64_t id) { return peers_.at(id); }
  MemoryStorage& storage(uint64_t id) { return *peers_.at(id).storage; }
  std::vector<uint64_t> ids() const {
    std::vector<uint64_t> out;
    for (const auto& [id, p] : peers_) out.push_back(id);
    return out;
  }

  // Runs one Ready cycle on a node under the Ready contract and queues its messages.
  // Returns the messages it sent.
  std::vector<Message> process(uint64_t id) {
    TestPeer& p = peers_.at(id);
    if (p.crashed || !p.node->has_ready()) return {};
    Ready rd = p.node->ready();
    if (rd.snapshot) {
      Status s = p.storage->apply_snapshot(*rd.snapshot);
      if (!s.ok()) throw std::runtime_error(s.error());
      p.conf = rd.snapshot->conf;
      p.applied_index = rd.snapshot->index;
    }
    Status s = p.storage->append(rd.entries);
    if (!s.ok()) throw std::runtime_error(s.error());
    if (rd.hard_state) p.storage->set_hard_state(*rd.hard_state);
    for (const Message& m : rd.messages) pending_.push_back(m);
    for (const Entry& e : rd.committed_entries) {
      if (e.type == EntryType::conf_change) {
        auto cc = decode_conf_change(e.data);
        if (!cc.ok()) throw std::runtime_error(cc.error());
        p.conf = p.node->apply_conf_change(*cc);
      } else if (!e.data.empty()) {
        p.applied.push_back(text(e.data));
      }
      p.applied_index = e.index;
    }
    for (const ReadState& r : rd.read_states) p.reads.push_back(r);
    p.node->advance(rd);
    return rd.messages;
  }

  // Processes every node's Ready once.
  std::vector<Message> process_all() {
    std::vector<Message> out;
    for (auto& [id, p] : peers_) {
      auto m = process(id);
      out.insert(out.end(), m.begin(), m.end());
    }
    return out;
  }

  // Queues a message as if a node had sent it (for tests that drive a Ready by hand).
  void enqueue(const Message& m) { pending_.push_back(m); }

  // Messages queued and not yet delivered; taking them removes them.
  std::vector<Message> take_pending() { return std::exchange(pending_, {}); }

  // Delivers one message unless the link is cut or the filter drops it.
  void deliver(const Message& m) {
    if (!link_up(m.from, m.to)) return report_drop(m);
    if (drop_ && drop_(m)) return report_drop(m);
    auto it = peers_.find(m.to);
    if (it == peers_.end() || it->second.crashed) return report_drop(m);
    (void)it->second.node->step(m);
    if (m.type == MessageType::snap) {
      auto from = peers_.find(m.from);
      if (from != peers_.end() && !from->second.crashed) {
        from->second.node->report_snapshot(m.to, true);
      }
    }
  }

  // Delivers every queued message once; new messages wait for the next round.
  size_t deliver_round() {
    auto msgs = take_pending();
    for (const Message& m : msgs) deliver(m);
    return msgs.size();
  }

  // Runs Ready cycles and deliveries until nothing moves.
  void stabilize(int max_rounds = 10000) {
    for (int i = 0; i < max_rounds; ++i) {
      process_all();
      if (pending_.empty()) return;
      deliver_round();
    }
    throw std::runtime_error("network did not stabilize");
  }

  void tick(uint64_t id, int n = 1) {
    for (int i = 0; i < n; ++i) peers_.at(id).node->tick();
  }
  // Ticks every live node n times, stabilizing after each tick.
  void tick_all(int n = 1) {
    for (int i = 0; i < n; ++i) {
      for (auto& [id, p] : peers_) {
        if (!p.crashed) p.node->tick();
      }
      stabilize();
    }
  }

  void campaign(uint64_t id) {
    Status s = node(id).campaign();
    if (!s.ok()) throw std::runtime_error(s.error());
    stabilize();
  }

  Status propose(uint64_t id, const std::string& data) {
    Status s = node(id).propose(bytes(data));
    stabilize();
    return s;
  }

  // Links. A cut link drops messages in one direction.
  void cut(uint64_t from, uint64_t to) { cut_.insert({from, to}); }
  void cut_both(uint64_t a, uint64_t b) {
    cut(a, b);
    cut(b, a);
  }
  void isolate(uint64_t id) {
    for (const auto& [other, p] : peers_) {
      if (other != id) cut_both(id, other);
    }
  }
  void heal() {
    cut_.clear();
    drop_ = nullptr;
  }
  void set_drop(std::function<bool(const Message&)> drop) { drop_ = std::move(drop); }
  bool link_up(uint64_t from, uint64_t to) const { return !cut_.contains({from, to}); }

  void crash(uint64_t id) { peers_.at(id).crashed = true; }

  // Compacts a node's log up to `index` behind a snapshot (as a driver would after
  // making its store durable there).
  void compact(uint64_t id, uint64_t index) {
    TestPeer& p = peers_.at(id);
    Status s = p.storage->create_snapshot(index, p.conf);
    if (!s.ok()) throw std::runtime_error(s.error());
    s = p.storage->compact(index);
    if (!s.ok()) throw std::runtime_error(s.error());
  }

  uint64_t leader() const {
    for (const auto& [id, p] : peers_) {
      if (!p.crashed && p.node->role() == Role::leader) return id;
    }
    return kNoNode;
  }

 private:
  void report_drop(const Message& m) {
    auto from = peers_.find(m.from);
    if (from == peers_.end() || from->second.crashed) return;
    if (m.type == MessageType::snap) from->second.node->report_snapshot(m.to, false);
  }

  Tweak tweak_;
  std::map<uint64_t, TestPeer> peers_;
  std::vector<Message> pending_;
  std::set<std::pair<uint64_t, uint64_t>> cut_;
  std::function<bool(const Message&)> drop_;
};

}  // namespace raftdns::raft::testing
