// bench_raft: entries committed per CPU-second by a 3-node in-memory Raft cluster, by batch size.
//
// Each iteration the leader takes `batch` proposals in one propose_batch() call, then every node
// runs its Ready cycle (persist to MemoryStorage, send, apply, advance) and messages are delivered
// in order until the batch is applied on the leader. CPU time is process CPU time
// (CLOCK_PROCESS_CPUTIME_ID), so the figure is independent of other load on the box.
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <deque>
#include <memory>
#include <string>
#include <vector>

#include "replication/core/raft.h"

namespace {

using namespace raftdns::raft;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

struct BenchNode {
  std::unique_ptr<MemoryStorage> storage;
  std::unique_ptr<Node> node;
  uint64_t applied = 0;
  ConfState conf;
};

class Cluster {
 public:
  explicit Cluster(size_t payload_bytes) : payload_(payload_bytes, 'x') {
    const ConfState conf{{1, 2, 3}, {}};
    for (uint64_t id = 1; id <= 3; ++id) {
      BenchNode& n = nodes_[id - 1];
      n.storage = std::make_unique<MemoryStorage>(conf);
      n.conf = conf;
      Config c;
      c.id = id;
      c.storage = n.storage.get();
      c.seed = id;
      c.max_size_per_msg = 1024 * 1024;
      c.max_inflight_msgs = 256;
      n.node = std::make_unique<Node>(c);
    }
    if (!nodes_[0].node->campaign().ok()) std::abort();
    settle();
    if (nodes_[0].node->role() != Role::leader) {
      std::fprintf(stderr, "bench_raft: node 1 did not become leader\n");
      std::abort();
    }
  }

  // Proposes `batch` entries on the leader and runs the cluster until they are applied
  // there. Returns the number of entries committed.
  uint64_t commit_batch(size_t batch) {
    BenchNode& leader = nodes_[0];
    const uint64_t target = leader.node->last_index() + batch;
    std::vector<std::vector<uint8_t>> commands(batch, payload_);
    if (!leader.node->propose_batch(std::move(commands)).ok()) std::abort();
    while (leader.applied < target) {
      if (!step_all()) {
        std::fprintf(stderr, "bench_raft: cluster stalled at applied %llu of %llu\n",
                     static_cast<unsigned long long>(leader.applied),
                     static_cast<unsigned long long>(target));
        std::abort();
      }
    }
    committed_since_compact_ += batch;
    if (committed_since_compact_ >= 20000) compact_all();
    return batch;
  }

 private:
  // One round: every node's Ready, then every queued message. False when idle.
  bool step_all() {
    bool busy = false;
    for (BenchNode& n : nodes_) {
      if (!n.node->has_ready()) continue;
      busy = true;
      Ready rd = n.node->ready();
      if (rd.snapshot && !n.storage->apply_snapshot(*rd.snapshot).ok()) std::abort();
      if (!n.storage->append(rd.entries).ok()) std::abort();
      if (rd.hard_state) n.storage->set_hard_state(*rd.hard_state);
      for (Message& m : rd.messages) queue_.push_back(std::move(m));
      for (const Entry& e : rd.committed_entries) {
        if (e.type == EntryType::conf_change) std::abort();
        n.applied = e.index;
      }
      n.node->advance(rd);
    }
    while (!queue_.empty()) {
      busy = true;
      Message m = std::move(queue_.front());
      queue_.pop_front();
      (void)nodes_[m.to - 1].node->step(m);
    }
    return busy;
  }

  void settle() {
    while (step_all()) {
    }
  }

  void compact_all() {
    for (BenchNode& n : nodes_) {
      if (n.applied <= n.storage->first_index()) continue;
      if (!n.storage->create_snapshot(n.applied, n.conf).ok()) std::abort();
      if (!n.storage->compact(n.applied).ok()) std::abort();
    }
    committed_since_compact_ = 0;
  }

  std::vector<uint8_t> payload_;
  BenchNode nodes_[3];
  std::deque<Message> queue_;
  uint64_t committed_since_compact_ = 0;
};

double run_once(size_t batch, uint64_t entries, size_t payload) {
  Cluster cluster(payload);
  const double start = cpu_seconds();
  uint64_t done = 0;
  while (done < entries) done += cluster.commit_batch(batch);
  const double elapsed = cpu_seconds() - start;
  return static_cast<double>(done) / elapsed;
}

}  // namespace

int main(int argc, char** argv) {
  size_t payload = 64;
  int runs = 5;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i];
    if (a == "--payload") payload = std::strtoul(argv[i + 1], nullptr, 10);
    if (a == "--runs") runs = std::atoi(argv[i + 1]);
  }
  std::printf("3-node in-memory cluster, %zu-byte entries, median of %d runs\n", payload, runs);
  std::printf("%10s %12s %22s\n", "batch", "entries/run", "committed/CPU-second");
  for (size_t batch : {size_t{1}, size_t{64}, size_t{1024}}) {
    const uint64_t entries = batch == 1 ? 50000 : 400000;
    std::vector<double> rates;
    for (int r = 0; r < runs; ++r) rates.push_back(run_once(batch, entries, payload));
    std::sort(rates.begin(), rates.end());
    std::printf("%10zu %12llu %22.0f\n", batch, static_cast<unsigned long long>(entries),
                rates[rates.size() / 2]);
  }
  return 0;
}
