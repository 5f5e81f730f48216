// In-process cluster harness for the replication driver: memory network, memory state machine, power cuts.
//
// Each node is a Driver over its own fault-injecting file system (WAL and
// snapshot files) and a small in-memory StateMachine whose durable copy is
// what survives a power cut. The harness runs the nodes by hand: deliver the
// queued messages, run each node's Ready loop and snapshot pump, tick. A
// failed write or fsync makes the driver call its fatal handler, which here
// throws PowerCut; the harness then marks the node down, and reboot() brings
// it back from what its disk and state machine had made durable.
#pragma once

#include <gtest/gtest.h>

#include <condition_variable>
#include <cstdlib>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "common/bytes.h"
#include "replication/driver.h"
#include "tests/wal/fault_fs.h"

namespace raftdns::replication::testing {

using wal::testing::CrashMode;
using wal::testing::FaultFs;
using wal::testing::Image;

// Thrown by the driver's fatal handler (and by a state machine hook) to
// stop a node dead, as a power cut or an abort would.
struct PowerCut {
  std::string what;
};

// ---- a FileSystem that serializes access (the snapshot copy runs on a thread) ----

class LockedFs final : public wal::FileSystem {
 public:
  explicit LockedFs(std::unique_ptr<FaultFs> inner) : inner_(std::move(inner)) {}

  FaultFs& inner() { return *inner_; }
  std::mutex& mutex() { return mu_; }
  // Makes every file sync and directory sync under `prefix` fail with EIO.
  void fail_syncs_under(std::string prefix) {
    std::lock_guard lock(mu_);
    fail_prefix_ = std::move(prefix);
  }
  bool sync_fails(const std::string& path) const {
    return !fail_prefix_.empty() && path.rfind(fail_prefix_, 0) == 0;
  }

  Result<std::unique_ptr<wal::File>> open(const std::string& path, wal::OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override {
    std::lock_guard lock(mu_);
    return inner_->rename(from, to);
  }
  Status unlink(const std::string& path) override {
    std::lock_guard lock(mu_);
    return inner_->unlink(path);
  }
  Status sync_dir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    if (sync_fails(dir)) return make_error("fsync " + dir + ": Input/output error");
    return inner_->sync_dir(dir);
  }
  Result<std::vector<std::string>> list(const std::string& dir) override {
    std::lock_guard lock(mu_);
    return inner_->list(dir);
  }
  Result<bool> make_dir(const std::string& dir) override {
    std::lock_guard lock(mu_);
    return inner_->make_dir(dir);
  }

 private:
  std::unique_ptr<FaultFs> inner_;
  std::mutex mu_;
  std::string fail_prefix_;
};

class LockedFile final : public wal::File {
 public:
  LockedFile(LockedFs& fs, std::string path, std::unique_ptr<wal::File> inner)
      : fs_(fs), path_(std::move(path)), inner_(std::move(inner)) {}
  Result<std::size_t> pread(uint64_t offset, std::span<uint8_t> buf) override {
    std::lock_guard lock(fs_.mutex());
    return inner_->pread(offset, buf);
  }
  Status pwrite(uint64_t offset, std::span<const uint8_t> data) override {
    std::lock_guard lock(fs_.mutex());
    return inner_->pwrite(offset, data);
  }
  Status datasync() override {
    std::lock_guard lock(fs_.mutex());
    if (fs_.sync_fails(path_)) return make_error("fdatasync " + path_ + ": Input/output error");
    return inner_->datasync();
  }
  Status sync() override {
    std::lock_guard lock(fs_.mutex());
    if (fs_.sync_fails(path_)) return make_error("fsync " + path_ + ": Input/output error");
    return inner_->sync();
  }
  Status truncate(uint64_t size) override {
    std::lock_guard lock(fs_.mutex());
    return inner_->truncate(size);
  }
  Status allocate(uint64_t size) override {
    std::lock_guard lock(fs_.mutex());
    return inner_->allocate(size);
  }
  Result<uint64_t> size() override {
    std::lock_guard lock(fs_.mutex());
    return inner_->size();
  }

 private:
  LockedFs& fs_;
  std::string path_;
  std::unique_ptr<wal::File> inner_;
};

inline Result<std::unique_ptr<wal::File>> LockedFs::open(const std::string& path,
                                                         wal::OpenMode mode) {
  std::lock_guard lock(mu_);
  auto f = inner_->open(path, mode);
  if (!f) return std::move(f).take_error();
  return std::unique_ptr<wal::File>(std::make_unique<LockedFile>(*this, path, std::move(*f)));
}

// ---- the state machine: an ordered list of applied commands ----

struct MemoryState {
  AppliedPosition position;
  std::vector<uint8_t> membership;
  std::vector<std::string> commands;
};

class MemoryStateMachine final : public StateMachine {
 public:
  MemoryStateMachine(std::string name, LockedFs& fs, MemoryState durable)
      : name_(std::move(name)), fs_(fs), current_(durable), durable_(std::move(durable)) {}

  // What a power cut leaves: the last synced (or installed) state.
  MemoryState durable() const {
    std::lock_guard lock(mu_);
    return durable_;
  }
  MemoryState current() const {
    std::lock_guard lock(mu_);
    return current_;
  }
  int installs() const { return installs_; }
  // Runs at the start of install_snapshot (may throw PowerCut).
  std::function<void()> before_install;
  // Runs once the new state is durable (may throw PowerCut or arm a crash).
  std::function<void()> after_install;
  // Runs on the copying thread before the copy is taken.
  std::function<void()> on_write_snapshot;
  // Runs on the digest's thread before the digest (of the state as it was
  // when the job was made) is computed.
  std::function<void()> on_digest;

  AppliedPosition applied() const override {
    std::lock_guard lock(mu_);
    return current_.position;
  }
  std::vector<uint8_t> membership() const override {
    std::lock_guard lock(mu_);
    return current_.membership;
  }
  Status apply(std::span<const ApplyItem> items, std::vector<Status>* outcomes) override {
    std::lock_guard lock(mu_);
    for (const auto& item : items) {
      if (item.index <= current_.position.index) {
        if (outcomes) outcomes->push_back({});
        continue;
      }
      if (item.kind == ApplyItem::Kind::command) {
        current_.commands.emplace_back(item.data.begin(), item.data.end());
      } else if (item.kind == ApplyItem::Kind::membership) {
        current_.membership.assign(item.data.begin(), item.data.end());
      }
      current_.position = {item.index, item.term};
      if (outcomes) outcomes->push_back({});
    }
    return {};
  }
  Status sync() override {
    std::lock_guard lock(mu_);
    durable_ = current_;
    return {};
  }
  Result<SnapshotFile> write_snapshot(const std::string& dir) const override {
    // RAFTDNS_SLOW_SNAPSHOT_COPY_MS stands in for a loaded machine, where the
    // copy thread finishes many rounds later than the loop expects.
    if (const char* ms = std::getenv("RAFTDNS_SLOW_SNAPSHOT_COPY_MS")) {
      std::this_thread::sleep_for(std::chrono::milliseconds(std::atoi(ms)));
    }
    if (on_write_snapshot) on_write_snapshot();
    MemoryState copy = current();
    auto bytes = encode(copy);
    std::string path = dir + "/state";
    auto f = fs_.open(path, wal::OpenMode::create_exclusive);
    if (!f) return std::move(f).take_error();
    if (auto s = (*f)->pwrite(0, bytes); !s) return std::move(s).take_error();
    if (auto s = (*f)->sync(); !s) return std::move(s).take_error();
    if (auto s = fs_.sync_dir(dir); !s) return std::move(s).take_error();
    return SnapshotFile{path, copy.position, copy.membership};
  }
  Status install_snapshot(const std::string& file) override {
    if (before_install) before_install();
    auto f = fs_.open(file, wal::OpenMode::read_write);
    if (!f) return std::move(f).take_error();
    auto size = (*f)->size();
    if (!size) return std::move(size).take_error();
    std::vector<uint8_t> bytes(*size);
    auto got = (*f)->pread(0, bytes);
    if (!got || *got != bytes.size()) return make_error("short read of " + file);
    auto state = decode(bytes);
    if (!state) return make_error("snapshot " + file + " is malformed");
    {
      std::lock_guard lock(mu_);
      current_ = *state;
      durable_ = *state;
    }
    ++installs_;
    if (after_install) after_install();
    return {};
  }
  std::string digest() const override {
    std::lock_guard lock(mu_);
    return digest_of(current_.commands);
  }
  std::function<std::string()> digest_job() const override {
    std::vector<std::string> commands;
    {
      std::lock_guard lock(mu_);
      commands = current_.commands;
    }
    return [commands = std::move(commands), hook = on_digest] {
      if (hook) hook();
      return digest_of(commands);
    };
  }
  static std::string digest_of(const std::vector<std::string>& commands) {
    uint64_t h = bytes::kFnv64Offset;
    for (const auto& c : commands) {
      h = bytes::fnv1a64({reinterpret_cast<const uint8_t*>(c.data()), c.size()}, h);
      h = bytes::fnv1a64(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>("\n"), 1), h);
    }
    return std::to_string(h);
  }
  std::string location() const override { return "memory:" + name_; }

  static std::vector<uint8_t> encode(const MemoryState& s) {
    std::vector<uint8_t> out;
    bytes::put_u64_be(out, s.position.index);
    bytes::put_u64_be(out, s.position.term);
    bytes::put_u64_be(out, s.membership.size());
    out.insert(out.end(), s.membership.begin(), s.membership.end());
    bytes::put_u64_be(out, s.commands.size());
    for (const auto& c : s.commands) {
      bytes::put_u64_be(out, c.size());
      out.insert(out.end(), c.begin(), c.end());
    }
    return out;
  }
  static std::optional<MemoryState> decode(std::span<const uint8_t> in) {
    MemoryState s;
    uint64_t n = 0;
    if (!bytes::get_u64_be(in, s.position.index) || !bytes::get_u64_be(in, s.position.term) ||
        !bytes::get_u64_be(in, n) || n > in.size()) {
      return std::nullopt;
    }
    s.membership.assign(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(n));
    in = in.subspan(n);
    if (!bytes::get_u64_be(in, n)) return std::nullopt;
    for (uint64_t i = 0; i < n; ++i) {
      uint64_t len = 0;
      if (!bytes::get_u64_be(in, len) || len > in.size()) return std::nullopt;
      s.commands.emplace_back(in.begin(), in.begin() + static_cast<std::ptrdiff_t>(len));
      in = in.subspan(len);
    }
    if (!in.empty()) return std::nullopt;
    return s;
  }

 private:
  std::string name_;
  LockedFs& fs_;
  mutable std::mutex mu_;
  MemoryState current_;
  MemoryState durable_;
  int installs_ = 0;
};

// ---- the network: FIFO per link, cut and healed by the test ----

class MemoryHub;

class MemoryNetwork final : public PeerNetwork {
 public:
  MemoryNetwork(MemoryHub& hub, std::string self) : hub_(hub), self_(std::move(self)) {}
  ~MemoryNetwork() override;
  Status start(Handlers handlers) override;
  bool send(const std::string& peer, uint8_t kind, std::span<const uint8_t> payload) override;
  PeerStats peer_stats(const std::string& peer) const override;
  void set_peers(const std::vector<PeerConfig>& peers) override { this->peers = peers; }
  void stop() override;

  Handlers handlers;
  std::vector<PeerConfig> peers;  // as the driver last set them
  bool running = false;

 private:
  MemoryHub& hub_;
  std::string self_;
};

struct Packet {
  std::string from, to;
  uint8_t kind;
  std::vector<uint8_t> payload;
};

class MemoryHub {
 public:
  // Messages for which `hold` returns true are set aside instead of queued.
  std::function<bool(const Packet&)> hold;
  std::vector<Packet> held;

  void attach(const std::string& id, MemoryNetwork* net) { nets_[id] = net; }
  void detach(const std::string& id, MemoryNetwork* net) {
    auto it = nets_.find(id);
    if (it != nets_.end() && it->second == net) nets_.erase(it);
  }
  bool link_up(const std::string& a, const std::string& b) const {
    return !cut_.count(key(a, b)) && nets_.count(a) && nets_.count(b) && nets_.at(a)->running &&
           nets_.at(b)->running;
  }
  bool send(Packet p) {
    if (!link_up(p.from, p.to)) return false;
    if (hold && hold(p)) {
      held.push_back(std::move(p));
      return true;
    }
    queued_bytes_[{p.from, p.to}] += p.payload.size();
    queue_.push_back(std::move(p));
    return true;
  }
  size_t queued_bytes(const std::string& from, const std::string& to) const {
    auto it = queued_bytes_.find({from, to});
    return it == queued_bytes_.end() ? 0 : it->second;
  }
  // Cuts the link both ways: what is queued on it is lost, and both ends
  // hear that their connection went down.
  void cut(const std::string& a, const std::string& b) {
    if (cut_.count(key(a, b))) return;
    cut_.insert(key(a, b));
    std::vector<Packet> keep;
    for (auto& p : queue_) {
      if (key(p.from, p.to) == key(a, b)) {
        queued_bytes_[{p.from, p.to}] -= p.payload.size();
      } else {
        keep.push_back(std::move(p));
      }
    }
    queue_ = std::move(keep);
    notify(a, b, false);
    notify(b, a, false);
  }
  void heal(const std::string& a, const std::string& b) {
    if (!cut_.erase(key(a, b))) return;
    notify(a, b, true);
    notify(b, a, true);
  }
  // Delivers what is queued now (not what the deliveries send in turn).
  template <class OnError>
  void deliver(OnError&& on_error) {
    std::vector<Packet> batch;
    batch.swap(queue_);
    queued_bytes_.clear();
    for (auto& p : batch) deliver_one(p, on_error);
  }
  template <class OnError>
  void deliver_one(const Packet& p, OnError&& on_error) {
    if (!link_up(p.from, p.to)) return;
    MemoryNetwork* to = nets_.at(p.to);
    try {
      to->handlers.on_message(p.from, p.kind, p.payload);
    } catch (const PowerCut& cut) {
      on_error(p.to, cut);
    }
  }

 private:
  static std::pair<std::string, std::string> key(const std::string& a, const std::string& b) {
    return a < b ? std::pair{a, b} : std::pair{b, a};
  }
  void notify(const std::string& at, const std::string& peer, bool up) {
    auto it = nets_.find(at);
    if (it == nets_.end() || !it->second->running) return;
    if (up && !link_up(at, peer)) return;
    if (it->second->handlers.on_peer_state) it->second->handlers.on_peer_state(peer, up);
  }

  std::map<std::string, MemoryNetwork*> nets_;
  std::set<std::pair<std::string, std::string>> cut_;
  std::vector<Packet> queue_;
  std::map<std::pair<std::string, std::string>, size_t> queued_bytes_;
};

inline MemoryNetwork::~MemoryNetwork() { stop(); }
inline Status MemoryNetwork::start(Handlers h) {
  handlers = std::move(h);
  running = true;
  hub_.attach(self_, this);
  return {};
}
inline bool MemoryNetwork::send(const std::string& peer, uint8_t kind,
                                std::span<const uint8_t> payload) {
  return running && hub_.send(Packet{self_, peer, kind, {payload.begin(), payload.end()}});
}
inline PeerStats MemoryNetwork::peer_stats(const std::string& peer) const {
  PeerStats st;
  st.connected = running && hub_.link_up(self_, peer);
  if (st.connected) st.last_heard = std::chrono::steady_clock::now();
  st.queued_bytes = hub_.queued_bytes(self_, peer);
  return st;
}
inline void MemoryNetwork::stop() {
  running = false;
  hub_.detach(self_, this);
}

// ---- the cluster ----

struct TestNode {
  std::string id;
  std::unique_ptr<LockedFs> fs;
  std::unique_ptr<MemoryStateMachine> sm;
  std::unique_ptr<Driver> driver;
  bool up = false;
  std::string crash;  // why it went down
};

class Cluster {
 public:
  explicit Cluster(std::vector<std::string> ids, std::function<void(NodeConfig&)> tune = {})
      : ids_(std::move(ids)), tune_(std::move(tune)) {
    for (const auto& id : ids_) {
      auto& n = nodes_[id];
      n.id = id;
      n.fs = std::make_unique<LockedFs>(std::make_unique<FaultFs>());
      n.sm = std::make_unique<MemoryStateMachine>(id, *n.fs, MemoryState{});
    }
  }
  ~Cluster() {
    for (auto& [id, n] : nodes_) n.driver.reset();
  }

  NodeConfig config_for(const std::string& id) {
    NodeConfig c;
    c.self_id = id;
    c.listen = address_of(id);
    for (const auto& other : ids_) {
      if (other != id) c.peers.push_back({other, address_of(other)});
    }
    c.wal_dir = "/" + id + "/wal";
    c.snapshot_dir = "/" + id + "/snapshots";
    c.tick = std::chrono::milliseconds(10);
    c.election_ticks = 10;
    c.heartbeat_ticks = 1;
    c.snapshot_chunk = 64;
    c.fs = &*nodes_.at(id).fs;
    c.log = [id](const std::string& line) { log_lines.push_back(id + ": " + line); };
    c.fatal = [](const std::string& what) { throw PowerCut{what}; };
    c.on_removed = [this, id](const std::string& why) { removed[id] = why; };
    // RAFTDNS_TEST_APPLY_THREAD=1: every node applies on its apply thread, as
    // the daemon does, lingering as a follower would: the whole suite again
    // through that path (tests/driver/CMakeLists.txt).
    if (const char* t = std::getenv("RAFTDNS_TEST_APPLY_THREAD"); t && std::string(t) == "1") {
      c.apply_thread = true;
      c.apply_linger = std::chrono::milliseconds(5);
    }
    if (tune_) tune_(c);
    if (auto t = node_tune.find(id); t != node_tune.end()) t->second(c);
    return c;
  }

  // The peer address a node's config names for it ("memory" networks do not
  // dial, but membership records carry it).
  static std::string address_of(const std::string& id) {
    return "127.0.0.1:" + std::to_string(1024 + bytes::fnv1a64({reinterpret_cast<const uint8_t*>(id.data()), id.size()}) % 60000);
  }

  // A machine that was not in the initial list, with empty storage. Boot it
  // with boot(); set node_tune[id] first (join, for one).
  void add_machine(const std::string& id) {
    ids_.push_back(id);
    auto& n = nodes_[id];
    n.id = id;
    n.fs = std::make_unique<LockedFs>(std::make_unique<FaultFs>());
    n.sm = std::make_unique<MemoryStateMachine>(id, *n.fs, MemoryState{});
  }

  // Per-node config changes, applied after the cluster-wide ones.
  std::map<std::string, std::function<void(NodeConfig&)>> node_tune;
  // Nodes told they were removed, with the reason.
  std::map<std::string, std::string> removed;

  // Opens and starts a node; returns the open error, if any.
  Status boot(const std::string& id) {
    auto& n = nodes_.at(id);
    auto net = std::make_unique<MemoryNetwork>(hub, id);
    n.driver = std::make_unique<Driver>(config_for(id), *n.sm, std::move(net), Driver::Hooks{});
    try {
      if (auto s = n.driver->open(); !s) {
        n.driver.reset();
        return s;
      }
      if (auto s = n.driver->start(); !s) return s;
    } catch (const PowerCut& cut) {
      down(id, cut);
      return make_error("power cut: " + cut.what);
    }
    n.up = true;
    n.crash.clear();
    return {};
  }

  // The machine loses power: only what its disk and state machine made
  // durable survives. The node stays down until reboot().
  void power_cut(const std::string& id) { down(id, PowerCut{"power cut"}); }

  // Brings a node back from its durable state: the crash image of its file
  // system (everything not synced lost) and its state machine's durable copy.
  Status reboot(const std::string& id, bool wipe_state = false) {
    auto& n = nodes_.at(id);
    n.driver.reset();
    Image image = n.fs->inner().crash_image(CrashMode::lose_unsynced);
    MemoryState state = wipe_state ? MemoryState{} : n.sm->durable();
    n.fs = std::make_unique<LockedFs>(std::make_unique<FaultFs>(image));
    n.sm = std::make_unique<MemoryStateMachine>(id, *n.fs, state);
    return boot(id);
  }

  // One round: deliver what is queued, run every Ready loop and pump, and
  // (if `tick`) advance every clock by a tick.
  void round(bool tick = true) {
    hub.deliver([this](const std::string& id, const PowerCut& cut) { down(id, cut); });
    for (const auto& id : ids_) {
      guard(id, [&](Driver& d) {
        d.process_ready();
        d.pump_snapshots();
        d.process_ready();
      });
    }
    if (tick) {
      for (const auto& id : ids_) guard(id, [](Driver& d) { d.tick(); });
    }
  }

  // Runs rounds until `done` holds; false if it never did within `rounds`.
  // A round in which a node waits on its snapshot copy thread (or a digest's,
  // or its apply thread) does not count against `rounds`: that thread runs on real time, and a loaded machine
  // must not turn "not yet copied" into a failure. Those rounds are bounded
  // by a wall-clock limit instead.
  bool run_until(const std::function<bool()>& done, int rounds = 2000) {
    const auto limit = std::chrono::steady_clock::now() + std::chrono::seconds(60);
    for (int i = 0; i < rounds;) {
      if (done()) return true;
      round();
      if (copy_in_flight() && std::chrono::steady_clock::now() < limit) {
        std::this_thread::sleep_for(std::chrono::microseconds(200));
      } else {
        ++i;
      }
    }
    return done();
  }

  bool copy_in_flight() const {
    for (const auto& [id, n] : nodes_) {
      if (n.up && n.driver &&
          (n.driver->snapshot_copy_running() || n.driver->digest_running() ||
           n.driver->apply_running())) {
        return true;
      }
    }
    return false;
  }

  std::optional<std::string> leader() const {
    for (const auto& [id, n] : nodes_) {
      if (n.up && n.driver && n.driver->is_leader()) return id;
    }
    return std::nullopt;
  }

  // Submits `command` at `id`; the outcome lands in `*result` when done.
  struct Outcome {
    bool done = false;
    Status status;
    uint64_t index = 0;
  };
  std::shared_ptr<Outcome> submit(const std::string& id, const std::string& command,
                                  std::chrono::seconds timeout = std::chrono::seconds(120)) {
    auto out = std::make_shared<Outcome>();
    guard(id, [&](Driver& d) {
      d.submit({command.begin(), command.end()}, Driver::Clock::now() + timeout,
               [out](Status s, uint64_t index) {
                 out->done = true;
                 out->status = std::move(s);
                 out->index = index;
               });
    });
    return out;
  }

  // Submits a membership change at `id`.
  std::shared_ptr<Outcome> change(const std::string& id, MemberRequest request,
                                  std::chrono::seconds timeout = std::chrono::seconds(120)) {
    auto out = std::make_shared<Outcome>();
    guard(id, [&](Driver& d) {
      d.change_membership(request, Driver::Clock::now() + timeout,
                          [out](Status s, uint64_t index) {
                            out->done = true;
                            out->status = std::move(s);
                            out->index = index;
                          });
    });
    return out;
  }

  TestNode& node(const std::string& id) { return nodes_.at(id); }
  const std::vector<std::string>& ids() const { return ids_; }

  MemoryHub hub;
  static inline std::vector<std::string> log_lines;

  template <class F>
  void guard(const std::string& id, F&& f) {
    auto& n = nodes_.at(id);
    if (!n.up || !n.driver) return;
    try {
      f(*n.driver);
    } catch (const PowerCut& cut) {
      down(id, cut);
    }
  }

 private:
  void down(const std::string& id, const PowerCut& cut) {
    auto& n = nodes_.at(id);
    n.up = false;
    n.crash = cut.what;
    if (n.driver) {
      // Nothing more reaches the disk: the driver's shutdown sync must not
      // rescue what the power cut lost.
      n.fs->inner().arm_crash(n.fs->inner().points(), 0);
      n.driver.reset();
    }
  }

  std::vector<std::string> ids_;
  std::function<void(NodeConfig&)> tune_;
  std::map<std::string, TestNode> nodes_;
};

}  // namespace raftdns::replication::testing
