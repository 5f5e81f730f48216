// sim: runs the Raft simulator over as many seeds as asked for; a failing seed replays with --seed.
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "tests/sim/sim.h"

namespace {

void usage() {
  std::fprintf(stderr,
               "usage: sim [--seeds N] [--from F] [--seed S] [--nodes 3|5] [--fault-ticks T]\n"
               "           [--recovery-ticks T] [--no-membership] [--no-crashes] [--storm]\n"
               "           [--msg-bytes B] [--trace]\n"
               "  Runs seeds F .. F+N-1 (default 0 .. 999), or the single seed S, and prints\n"
               "  every failure with its seed. Exit status 1 if any seed failed.\n");
}

}  // namespace

int main(int argc, char** argv) {
  using raftdns::raft::sim::run_simulation;
  using raftdns::raft::sim::SimOptions;
  uint64_t from = 0, count = 1000;
  SimOptions base;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> uint64_t {
      if (i + 1 >= argc) {
        usage();
        std::exit(2);
      }
      return std::strtoull(argv[++i], nullptr, 10);
    };
    if (a == "--seeds") {
      count = value();
    } else if (a == "--from") {
      from = value();
    } else if (a == "--seed") {
      from = value();
      count = 1;
    } else if (a == "--nodes") {
      base.nodes = static_cast<int>(value());
    } else if (a == "--fault-ticks") {
      base.fault_ticks = static_cast<int>(value());
    } else if (a == "--recovery-ticks") {
      base.recovery_ticks = static_cast<int>(value());
    } else if (a == "--no-membership") {
      base.membership_changes = false;
    } else if (a == "--no-crashes") {
      base.crashes = false;
    } else if (a == "--storm") {
      base.storm = true;
    } else if (a == "--msg-bytes") {
      base.max_size_per_msg = value();
    } else if (a == "--trace") {
      base.trace = true;
    } else {
      usage();
      return 2;
    }
  }
  uint64_t failed = 0, committed = 0, acked = 0, elections = 0, snapshots = 0, confs = 0, reads = 0;
  for (uint64_t seed = from; seed < from + count; ++seed) {
    SimOptions o = base;
    o.seed = seed;
    const auto r = run_simulation(o);
    committed += r.committed;
    acked += r.acknowledged;
    elections += r.elections;
    snapshots += r.snapshots_installed;
    confs += r.conf_changes;
    reads += r.reads;
    if (!r.ok) {
      ++failed;
      std::printf("FAIL %s\n  replay: sim --seed %llu --trace\n", r.failure.c_str(),
                  static_cast<unsigned long long>(seed));
    }
  }
  std::printf(
      "%llu seeds from %llu: %llu failed; %llu entries committed, %llu proposals acknowledged, "
      "%llu elections, %llu snapshots installed, %llu conf changes applied, %llu reads checked\n",
      static_cast<unsigned long long>(count), static_cast<unsigned long long>(from),
      static_cast<unsigned long long>(failed), static_cast<unsigned long long>(committed),
      static_cast<unsigned long long>(acked), static_cast<unsigned long long>(elections),
      static_cast<unsigned long long>(snapshots), static_cast<unsigned long long>(confs),
      static_cast<unsigned long long>(reads));
  return failed == 0 ? 0 : 1;
}
