// A deterministic Raft cluster simulator: faulty network and disk from a seed, invariants on every
// step.
#pragma once

#include <cstdint>
#include <string>

namespace raftdns::raft::sim {

struct SimOptions {
  uint64_t seed = 1;
  // Cluster size; 0 draws 3 or 5 from the seed.
  int nodes = 0;
  // Ticks during which faults are injected, then the bound for a leader to be elected and
  // a fresh proposal to commit once they stop.
  int fault_ticks = 400;
  int recovery_ticks = 400;
  // Further bound for every member to apply that proposal (catch-up can be slow).
  int convergence_ticks = 3000;
  bool membership_changes = true;
  bool crashes = true;
  // Force the stormy fault profile (frequent short partitions, crashes, leader churn);
  // otherwise a quarter of the seeds draw it.
  bool storm = false;
  // Bytes per append message; 0 draws from the seed (small values split appends into
  // single entries, which exposes commit-rule mistakes).
  uint64_t max_size_per_msg = 0;
  // The disk is modeled as the WAL lays it out: entries in a segment file and the hard
  // state in a separate meta file, each made durable by its own sync, so a power cut can
  // fall between the two. The driver writes the entries first. Setting this writes the
  // hard state first (a broken driver, for the checker test): a cut between the two then
  // leaves a commit index covering entries that never reached the disk.
  bool hard_state_before_entries = false;
  // Print every event (for replaying a failing seed).
  bool trace = false;
};

struct SimResult {
  bool ok = true;
  std::string failure;  // names the seed, the tick and the broken invariant
  uint64_t ticks = 0;
  uint64_t committed = 0;     // highest index applied anywhere
  uint64_t acknowledged = 0;  // proposals the proposer saw applied while leading
  uint64_t elections = 0;     // distinct (term, leader) pairs
  uint64_t snapshots_installed = 0;
  uint64_t conf_changes = 0;
  uint64_t crashes = 0;
  uint64_t messages = 0;
  uint64_t reads = 0;  // linearizable reads answered and checked
};

// Runs one simulation. The run is a pure function of `options`: the same seed replays
// the same events exactly.
SimResult run_simulation(const SimOptions& options);

}  // namespace raftdns::raft::sim
