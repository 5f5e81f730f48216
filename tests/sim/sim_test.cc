// Runs the simulator over fixed seed ranges (together >= 2,000 seeds) and checks replay.
#include <gtest/gtest.h>

#include <string>

#include "tests/lib/sweep.h"
#include "tests/sim/sim.h"

namespace raftdns::raft::sim {
namespace {

// A sanitizer run covers the first RAFTDNS_SWEEP_SCALE of each range (tests/lib/sweep.h).
void run_seeds(uint64_t from, uint64_t to) {
  to = from + raftdns::testing::swept(to - from);
  uint64_t committed = 0;
  for (uint64_t seed = from; seed < to; ++seed) {
    SimOptions o;
    o.seed = seed;
    const SimResult r = run_simulation(o);
    ASSERT_TRUE(r.ok) << r.failure << "\n  replay: sim --seed " << seed << " --trace";
    committed += r.committed;
  }
  EXPECT_GT(committed, (to - from) * 10) << "the runs should make real progress";
}

// Four ranges, 3,000 seeds in all, so that ctest -j2 runs them side by side.
TEST(RaftSim, SafeAndLiveForSeeds0To749) { run_seeds(0, 750); }
TEST(RaftSim, SafeAndLiveForSeeds750To1499) { run_seeds(750, 1500); }
TEST(RaftSim, SafeAndLiveForSeeds1500To2249) { run_seeds(1500, 2250); }
TEST(RaftSim, SafeAndLiveForSeeds2250To2999) { run_seeds(2250, 3000); }

TEST(RaftSim, StormsWithSingleEntryAppendsStaySafe) {
  // The exact profile the checker self-test uses against the broken commit rule.
  const uint64_t seeds = raftdns::testing::swept(150);
  for (uint64_t seed = 0; seed < seeds; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.nodes = 3;
    o.max_size_per_msg = 1;
    o.storm = true;
    o.membership_changes = false;
    o.fault_ticks = 1000;
    const SimResult r = run_simulation(o);
    ASSERT_TRUE(r.ok) << r.failure;
  }
}

TEST(RaftSim, SameSeedReplaysExactly) {
  for (uint64_t seed : {3, 77, 1234}) {
    SimOptions o;
    o.seed = seed;
    const SimResult a = run_simulation(o);
    const SimResult b = run_simulation(o);
    EXPECT_EQ(a.ticks, b.ticks);
    EXPECT_EQ(a.committed, b.committed);
    EXPECT_EQ(a.messages, b.messages);
    EXPECT_EQ(a.elections, b.elections);
    EXPECT_EQ(a.failure, b.failure);
  }
}

TEST(RaftSim, FiveNodeClustersWithCrashesAndMembershipChangesStaySafe) {
  uint64_t conf_changes = 0, snapshots = 0, crashes = 0;
  for (uint64_t seed = 5000; seed < 5100; ++seed) {
    SimOptions o;
    o.seed = seed;
    o.nodes = 5;
    const SimResult r = run_simulation(o);
    ASSERT_TRUE(r.ok) << r.failure;
    conf_changes += r.conf_changes;
    snapshots += r.snapshots_installed;
    crashes += r.crashes;
  }
  // The faults the simulator claims to inject do happen.
  EXPECT_GT(conf_changes, 0u);
  EXPECT_GT(snapshots, 0u);
  EXPECT_GT(crashes, 0u);
}

// The disk model catches a driver that makes the hard state (the WAL's meta file) durable
// before the entries (its segment): a power cut between the two leaves a commit index
// beyond the durable log. With the driver's order the seeds above stay safe.
TEST(RaftSim, DetectsAHardStateMadeDurableBeforeItsEntries) {
  SimOptions o;
  o.hard_state_before_entries = true;
  std::string failure;
  uint64_t seed = 0;
  for (; seed < 2000 && failure.empty(); ++seed) {
    o.seed = seed;
    const SimResult r = run_simulation(o);
    if (!r.ok) failure = r.failure;
  }
  ASSERT_FALSE(failure.empty()) << "the simulator missed the meta-before-segment order";
  EXPECT_NE(failure.find("beyond its durable log"), std::string::npos) << failure;
  o.seed = seed - 1;
  EXPECT_EQ(run_simulation(o).failure, failure) << "the failing seed does not replay";
}

}  // namespace
}  // namespace raftdns::raft::sim
