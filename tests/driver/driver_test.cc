// In-process tests of the replication driver: power cuts at every disk operation, snapshots under
// leader changes and crashes, a lost state machine, failed fsyncs, lost forwards.
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "tests/driver/harness.h"

namespace raftdns::replication::testing {
namespace {

using namespace std::chrono_literals;

void small_wal(NodeConfig& c) { c.wal_segment_bytes = 64 << 10; }

// Compact early, so a follower that misses a few writes needs a snapshot.
void compact_often(NodeConfig& c) {
  small_wal(c);
  c.compact_entries = 8;
}

size_t count_of(const MemoryState& s, const std::string& command) {
  return static_cast<size_t>(std::count(s.commands.begin(), s.commands.end(), command));
}

bool all_done(const std::vector<std::shared_ptr<Cluster::Outcome>>& outs) {
  return std::all_of(outs.begin(), outs.end(), [](const auto& o) { return o->done; });
}

// Writes `n` commands named prefix0.. at the leader and waits for them all.
void write_n(Cluster& c, const std::string& prefix, int n) {
  std::vector<std::shared_ptr<Cluster::Outcome>> outs;
  auto lead = c.leader();
  ASSERT_TRUE(lead);
  for (int i = 0; i < n; ++i) outs.push_back(c.submit(*lead, prefix + std::to_string(i)));
  ASSERT_TRUE(c.run_until([&] { return all_done(outs); }));
  for (const auto& o : outs) ASSERT_TRUE(o->status) << o->status.error();
}

bool converged(Cluster& c) {
  std::string digest;
  uint64_t applied = 0;
  for (const auto& id : c.ids()) {
    auto& n = c.node(id);
    if (!n.up) return false;
    auto st = n.sm->current();
    if (digest.empty()) {
      digest = n.sm->digest();
      applied = st.position.index;
    } else if (n.sm->digest() != digest || st.position.index != applied) {
      return false;
    }
  }
  return true;
}

// ---- power cuts (bug: the commit index reached the disk before its entries) ----

// One node: bootstrap, elect, write three commands. Returns the commands
// acknowledged before the power went out.
std::vector<std::string> run_single_node_scenario(Cluster& c) {
  std::vector<std::string> acked;
  if (!c.boot("n1")) return acked;
  for (int i = 0; i < 3 && c.node("n1").up; ++i) {
    std::string cmd = "w" + std::to_string(i);
    std::shared_ptr<Cluster::Outcome> out;
    c.run_until([&] { return !c.node("n1").up || c.leader().has_value(); }, 200);
    out = c.submit("n1", cmd);
    c.run_until([&] { return !c.node("n1").up || out->done; }, 200);
    if (out->done && out->status) acked.push_back(cmd);
  }
  return acked;
}

// Boots every node, elects a leader and has every node apply two writes.
void start_converged(Cluster& c) {
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "w", 2);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
}

TEST(DriverPowerCut, EveryDiskOperationOfASingleNodeLeavesANodeThatStartsElectsAndKeepsAckedWrites) {
  uint64_t points = 0;
  {
    Cluster dry({"n1"}, small_wal);
    auto acked = run_single_node_scenario(dry);
    ASSERT_EQ(acked.size(), 3u);
    points = dry.node("n1").fs->inner().points();
  }
  ASSERT_GT(points, 10u);
  for (uint64_t p = 0; p < points; ++p) {
    SCOPED_TRACE("power cut at disk operation " + std::to_string(p));
    Cluster c({"n1"}, small_wal);
    c.node("n1").fs->inner().arm_crash(p, 0);
    auto acked = run_single_node_scenario(c);
    c.power_cut("n1");
    Image image = c.node("n1").fs->inner().crash_image(CrashMode::lose_unsynced);

    // The WAL on its own: a commit index never runs ahead of the entries.
    {
      FaultFs disk(image);
      wal::Options wo;
      wo.fs = &disk;
      wo.segment_size = 64 << 10;
      wo.log = [](const std::string&) {};
      auto log = wal::Log::open("/n1/wal", wo);
      ASSERT_TRUE(log) << log.error();
      EXPECT_LE((*log)->hard_state().commit, (*log)->last_index())
          << "the meta file committed entries the segment does not hold";
    }

    // The node: starts, elects itself, still holds every acknowledged write,
    // and takes a new one.
    ASSERT_TRUE(c.reboot("n1")) << c.node("n1").crash;
    ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }, 500))
        << "a rebooted single node never elected itself";
    auto out = c.submit("n1", "after");
    ASSERT_TRUE(c.run_until([&] { return out->done; }, 500));
    ASSERT_TRUE(out->status) << out->status.error();
    auto state = c.node("n1").sm->current();
    for (const auto& cmd : acked) EXPECT_EQ(count_of(state, cmd), 1u) << cmd;
    EXPECT_EQ(count_of(state, "after"), 1u);
  }
}

TEST(DriverPowerCut, LeaderLosingPowerAtEveryOperationOfAWriteKeepsTheClusterConsistent) {
  Cluster probe({"a", "b", "c"}, small_wal);
  for (const auto& id : probe.ids()) ASSERT_TRUE(probe.boot(id));
  ASSERT_TRUE(probe.run_until([&] { return probe.leader().has_value(); }));
  std::string lead = *probe.leader();
  uint64_t before = probe.node(lead).fs->inner().points();
  write_n(probe, "x", 2);
  uint64_t after = probe.node(lead).fs->inner().points();
  ASSERT_GT(after, before);

  for (uint64_t p = before; p < after; ++p) {
    SCOPED_TRACE("leader power cut at disk operation " + std::to_string(p));
    Cluster c({"a", "b", "c"}, small_wal);
    for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
    ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
    std::string l = *c.leader();
    c.node(l).fs->inner().arm_crash(c.node(l).fs->inner().points() + (p - before), 0);
    std::vector<std::shared_ptr<Cluster::Outcome>> outs{c.submit(l, "x0"), c.submit(l, "x1")};
    c.run_until([&] { return !c.node(l).up; }, 300);
    c.power_cut(l);
    ASSERT_TRUE(c.reboot(l)) << c.node(l).crash;
    ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
    write_n(c, "y", 1);
    ASSERT_TRUE(c.run_until([&] { return converged(c); }));
    auto state = c.node(l).sm->current();
    for (size_t i = 0; i < outs.size(); ++i) {
      std::string cmd = "x" + std::to_string(i);
      EXPECT_LE(count_of(state, cmd), 1u) << cmd << " applied twice";
      if (outs[i]->done && outs[i]->status) {
        EXPECT_EQ(count_of(state, cmd), 1u) << cmd;
      }
    }
  }
}

// ---- a lost state machine (bug: it started silently over a compacted WAL) ----

TEST(DriverRecovery, WipedStateOverACompactedWalIsRefusedNamingBothPathsAndIndexes) {
  Cluster c({"n1"}, compact_often);
  ASSERT_TRUE(c.boot("n1"));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "w", 20);
  uint64_t compacted = c.node("n1").driver->wal().snapshot_index();
  ASSERT_GT(compacted, 0u);
  c.power_cut("n1");
  Status s = c.reboot("n1", /*wipe_state=*/true);
  ASSERT_FALSE(s) << "a node with no data over a compacted WAL started";
  EXPECT_NE(s.error().find("memory:n1"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("/n1/wal"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("applied index 0"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("through index " + std::to_string(compacted)), std::string::npos)
      << s.error();
}

TEST(DriverRecovery, WipedStateOverAnUncompactedWalReplaysEverything) {
  Cluster c({"n1"}, small_wal);
  ASSERT_TRUE(c.boot("n1"));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "w", 5);
  c.power_cut("n1");
  ASSERT_TRUE(c.reboot("n1", /*wipe_state=*/true));
  ASSERT_TRUE(c.run_until([&] { return c.node("n1").sm->current().commands.size() == 5; }));
}

// ---- snapshots ----

// Partitions `lagging` away, writes enough to compact the others' WALs past
// it, and heals: the leader must send a snapshot.
std::string make_lagging(Cluster& c, const std::string& lagging) {
  for (const auto& id : c.ids()) {
    if (id != lagging) c.hub.cut(lagging, id);
  }
  EXPECT_TRUE(c.run_until([&] {
    auto l = c.leader();
    return l && *l != lagging;
  }));
  write_n(c, "s", 30);
  return *c.leader();
}

TEST(DriverSnapshot, SnapshotFromADeposedLeaderIsNeverInstalled) {
  Cluster c({"a", "b", "c"}, compact_often);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lag = *c.leader() == "c" ? "b" : "c";
  std::string old_leader = make_lagging(c, lag);
  std::string other;
  for (const auto& id : c.ids()) {
    if (id != lag && id != old_leader) other = id;
  }
  // The whole snapshot reaches the lagging node, but its final message is
  // held back until a new leader has taken over.
  c.hub.hold = [&](const Packet& p) {
    return p.from == old_leader && p.to == lag && p.kind == kSnapshotDone;
  };
  for (const auto& id : c.ids()) {
    if (id != lag) c.hub.heal(lag, id);
  }
  ASSERT_TRUE(c.run_until([&] { return !c.hub.held.empty(); }));
  c.hub.hold = nullptr;
  c.round(false);  // the chunks still queued reach it
  c.hub.cut(old_leader, lag);
  c.hub.cut(old_leader, other);
  ASSERT_TRUE(c.run_until([&] { return c.leader() && *c.leader() == other; }));
  ASSERT_TRUE(c.run_until([&] {
    return c.node(lag).driver->core().term() >= c.node(other).driver->core().term();
  }));
  // Now the stale final message arrives. The core refuses it (old term):
  // the state must not change.
  int installs = c.node(lag).sm->installs();
  uint64_t applied = c.node(lag).sm->current().position.index;
  uint64_t commit = c.node(lag).driver->core().committed();
  c.hub.heal(old_leader, lag);
  for (const auto& p : c.hub.held) {
    c.hub.deliver_one(p, [&](const std::string&, const PowerCut& cut) { FAIL() << cut.what; });
  }
  c.hub.held.clear();
  c.guard(lag, [](Driver& d) { d.process_ready(); });
  EXPECT_EQ(c.node(lag).sm->installs(), installs)
      << "a snapshot the core refused replaced the state";
  EXPECT_LE(c.node(lag).sm->current().position.index, std::max(applied, commit));
  // The new leader brings it up to date, and everything converges.
  c.hub.heal(old_leader, other);
  write_n(c, "after", 3);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  EXPECT_EQ(count_of(c.node(lag).sm->current(), "after0"), 1u);
}

TEST(DriverSnapshot, LeaderChangeWhileASnapshotStreamsConvergesOnTheNewLeader) {
  Cluster c({"a", "b", "c"}, compact_often);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lag = *c.leader() == "c" ? "b" : "c";
  std::string old_leader = make_lagging(c, lag);
  for (const auto& id : c.ids()) {
    if (id != lag) c.hub.heal(lag, id);
  }
  // Cut the leader off once the first chunk is on its way.
  bool chunk_seen = false;
  c.hub.hold = [&](const Packet& p) {
    if (p.from == old_leader && p.to == lag && p.kind == kSnapshotChunk) chunk_seen = true;
    return false;
  };
  ASSERT_TRUE(c.run_until([&] { return chunk_seen; }));
  c.hub.hold = nullptr;
  for (const auto& id : c.ids()) {
    if (id != old_leader) c.hub.cut(old_leader, id);
  }
  ASSERT_TRUE(c.run_until([&] { return c.leader() && *c.leader() != old_leader; }));
  write_n(c, "during", 3);
  for (const auto& id : c.ids()) {
    if (id != old_leader) c.hub.heal(old_leader, id);
  }
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  EXPECT_GE(c.node(lag).sm->installs(), 1);
  EXPECT_EQ(count_of(c.node(lag).sm->current(), "during2"), 1u);
}

// A power cut inside the state machine's install (before the new state is
// durable), and one just after it (before the WAL is reset to the snapshot
// point): the node restarts and converges either way.
void crash_during_install(bool after_state_is_durable) {
  Cluster c({"a", "b", "c"}, compact_often);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lag = *c.leader() == "c" ? "b" : "c";
  make_lagging(c, lag);
  auto& sm = *c.node(lag).sm;
  if (after_state_is_durable) {
    sm.after_install = [&] {
      auto& disk = c.node(lag).fs->inner();
      disk.arm_crash(disk.points(), 0);  // the WAL reset that follows never happens
    };
  } else {
    sm.before_install = [] { throw PowerCut{"power cut inside the install"}; };
  }
  for (const auto& id : c.ids()) {
    if (id != lag) c.hub.heal(lag, id);
  }
  ASSERT_TRUE(c.run_until([&] { return !c.node(lag).up; }));
  ASSERT_TRUE(c.reboot(lag)) << c.node(lag).crash;
  write_n(c, "after", 2);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  EXPECT_EQ(count_of(c.node(lag).sm->current(), "after1"), 1u);
}

TEST(DriverSnapshot, PowerCutInsideTheInstallLeavesANodeThatRestartsAndConverges) {
  crash_during_install(false);
}

TEST(DriverSnapshot, PowerCutBetweenInstallAndWalResetLeavesANodeThatRestartsAndConverges) {
  crash_during_install(true);
}

// A failed fsync of a received snapshot (the file or its directory) must stop
// the node, as a failed WAL fsync does: the kernel may have dropped the data
// and will not say so again.
void snapshot_fsync_fails(const std::string& under) {
  Cluster c({"a", "b", "c"}, compact_often);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lag = *c.leader() == "c" ? "b" : "c";
  make_lagging(c, lag);
  c.node(lag).fs->fail_syncs_under("/" + lag + under);
  for (const auto& id : c.ids()) {
    if (id != lag) c.hub.heal(lag, id);
  }
  ASSERT_TRUE(c.run_until([&] { return !c.node(lag).up; }, 1000))
      << "a failed fsync of the received snapshot was ignored";
  EXPECT_NE(c.node(lag).crash.find("fsync"), std::string::npos) << c.node(lag).crash;
  EXPECT_EQ(c.node(lag).sm->installs(), 0);
}

TEST(DriverSnapshot, FailedFsyncOfTheReceivedFileIsFatal) {
  snapshot_fsync_fails("/snapshots/in/snapshot");
}

TEST(DriverSnapshot, FailedFsyncOfTheIncomingDirectoryIsFatal) {
  snapshot_fsync_fails("/snapshots/in");
}

// The copy for a snapshot runs off the loop: while it takes its time, the
// leader keeps its heartbeats going and nobody calls an election.
TEST(DriverSnapshot, CopyRunsOffTheLoopAndHeartbeatsContinue) {
  Cluster c({"a", "b", "c"}, compact_often);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lag = *c.leader() == "c" ? "b" : "c";
  std::string lead = make_lagging(c, lag);
  std::mutex mu;
  std::condition_variable cv;
  bool copying = false, release = false;
  std::thread::id copier;
  c.node(lead).sm->on_write_snapshot = [&] {
    std::unique_lock lock(mu);
    copying = true;
    copier = std::this_thread::get_id();
    cv.notify_all();
    // Bounded, so a copy wrongly made on the loop fails the test, not hangs it.
    cv.wait_for(lock, 5s, [&] { return release; });
  };
  uint64_t term = c.node(lead).driver->core().term();
  for (const auto& id : c.ids()) {
    if (id != lag) c.hub.heal(lag, id);
  }
  ASSERT_TRUE(c.run_until([&] {
    std::lock_guard lock(mu);
    return copying;
  }));
  // Many election timeouts pass while the copy is still running, and
  // writes keep committing: the copy is taken after them, so the snapshot
  // must carry the copy's own (later) position.
  for (int i = 0; i < 100; ++i) c.round();
  write_n(c, "during", 5);
  EXPECT_NE(copier, std::this_thread::get_id()) << "the snapshot copy ran on the loop thread";
  EXPECT_EQ(c.leader(), lead);
  EXPECT_EQ(c.node(lead).driver->core().term(), term) << "an election happened during the copy";
  {
    std::lock_guard lock(mu);
    release = true;
  }
  cv.notify_all();
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  EXPECT_GE(c.node(lag).sm->installs(), 1);
  EXPECT_EQ(count_of(c.node(lag).sm->current(), "during4"), 1u);
  c.node(lead).sm->on_write_snapshot = nullptr;
}

// A snapshot file is as big as the store, and unlinking one holds the thread
// that does it (a second for a gigabyte): the loop only renames such files
// into the trash, a thread unlinks them, and what a crash left in the trash
// is emptied when the node opens again.
TEST(DriverSnapshot, SnapshotFilesLeaveThroughTheTrashAndNothingIsLeftBehind) {
  Cluster c({"a", "b", "c"}, compact_often);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lag = *c.leader() == "c" ? "b" : "c";
  std::string lead = make_lagging(c, lag);
  for (const auto& id : c.ids()) {
    if (id != lag) c.hub.heal(lag, id);
  }
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  ASSERT_GE(c.node(lag).sm->installs(), 1);
  auto files = [&](const std::string& id, const std::string& dir) {
    auto names = c.node(id).fs->list("/" + id + "/snapshots/" + dir);
    return names ? names->size() : size_t{1000};  // a missing directory fails the test
  };
  ASSERT_TRUE(c.run_until([&] {
    return files(lead, "trash") == 0 && files(lead, "out-" + lag) == 0 && files(lag, "trash") == 0;
  })) << "snapshot files were left: on " << lead << ", " << files(lead, "out-" + lag)
      << " in out-" << lag << " and " << files(lead, "trash") << " in the trash; on " << lag
      << ", " << files(lag, "trash") << " in the trash";

  // A file a crash left in the trash is gone once the node is open again.
  {
    auto& fs = *c.node(lag).fs;
    const std::string left = "/" + lag + "/snapshots/trash/7-snapshot";
    auto f = fs.open(left, wal::OpenMode::create_exclusive);
    ASSERT_TRUE(f) << f.error();
    const std::vector<uint8_t> bytes(4096, 0x5a);
    ASSERT_TRUE((*f)->pwrite(0, bytes));
    ASSERT_TRUE((*f)->sync());
    ASSERT_TRUE(fs.sync_dir("/" + lag + "/snapshots/trash"));
  }
  ASSERT_EQ(files(lag, "trash"), 1u);
  c.power_cut(lag);
  ASSERT_TRUE(c.reboot(lag)) << c.node(lag).crash;
  auto names = c.node(lag).fs->list("/" + lag + "/snapshots/trash");
  ASSERT_TRUE(names) << names.error();
  EXPECT_EQ(std::count(names->begin(), names->end(), "7-snapshot"), 0);
  // (What the open itself discards, such as a file left in the incoming
  // directory, leaves through the trash as usual.)
  EXPECT_TRUE(c.run_until([&] { return files(lag, "trash") == 0; }));
  write_n(c, "after", 2);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
}

// ---- the leader's batches of requests ----

TEST(DriverRequests, RequestsOfOneTurnEnterTheLogAsOneAppendToEachFollower) {
  Cluster c({"a", "b", "c"}, small_wal);
  ASSERT_NO_FATAL_FAILURE(start_converged(c));
  const std::string lead = *c.leader();
  // Every append carrying entries the leader sends, by follower.
  std::map<std::string, int> appends;
  c.hub.hold = [&](const Packet& p) {
    if (p.from == lead && p.kind == kRaft) {
      auto m = raft::decode_message(p.payload);
      if (m && m->type == raft::MessageType::app && !m->entries.empty()) ++appends[p.to];
    }
    return false;
  };
  std::vector<std::shared_ptr<Cluster::Outcome>> outs;
  for (int i = 0; i < 20; ++i) outs.push_back(c.submit(lead, "batched" + std::to_string(i)));
  ASSERT_TRUE(c.run_until([&] { return all_done(outs); }));
  for (size_t i = 0; i < outs.size(); ++i) {
    ASSERT_TRUE(outs[i]->status) << outs[i]->status.error();
    if (i > 0) {
      EXPECT_EQ(outs[i]->index, outs[i - 1]->index + 1) << "not in the order submitted";
    }
  }
  for (const auto& id : c.ids()) {
    if (id == lead) continue;
    EXPECT_EQ(appends[id], 1) << "twenty requests of one turn reached " << id << " in "
                              << appends[id] << " appends";
  }
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
}

TEST(DriverRequests, ABatchRefusedDuringAFailedTransferIsProposedOnceTheLeaderTakesWritesAgain) {
  Cluster c({"a", "b", "c"}, small_wal);
  ASSERT_NO_FATAL_FAILURE(start_converged(c));
  const std::string lead = *c.leader();
  const std::string target = lead == "a" ? "b" : "a";
  const std::string other = lead != "c" && target != "c" ? "c" : lead == "b" || target == "b" ? "a" : "b";
  // The target is cut off from everyone, so the transfer never completes
  // (nor can the target win an election): the core refuses proposals until
  // it gives the transfer up, an election timeout later, and stays the
  // leader with the other follower.
  c.hub.cut(lead, target);
  c.hub.cut(other, target);
  std::optional<Status> transfer;
  c.guard(lead, [&](Driver& d) {
    d.transfer_leadership(target, Driver::Clock::now() + 1s, [&](Status s) { transfer = s; });
  });
  std::vector<std::shared_ptr<Cluster::Outcome>> outs;
  for (int i = 0; i < 5; ++i) outs.push_back(c.submit(lead, "late" + std::to_string(i), 60s));
  // Deadlines run on the real clock: rounds for up to 20 s of it (the
  // transfer gives up after 1 s; the requests' deadline is 60 s).
  const auto limit = Driver::Clock::now() + 20s;
  while (Driver::Clock::now() < limit && !all_done(outs)) {
    c.round();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(all_done(outs)) << "the refused batch waited for its deadline";
  EXPECT_EQ(c.leader(), lead);
  for (const auto& o : outs) ASSERT_TRUE(o->status) << o->status.error();
  ASSERT_TRUE(transfer.has_value());
  EXPECT_FALSE(*transfer) << "the transfer to a node cut off from everyone succeeded";
  c.hub.heal(lead, target);
  c.hub.heal(other, target);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  for (int i = 0; i < 5; ++i) {
    EXPECT_EQ(count_of(c.node(lead).sm->current(), "late" + std::to_string(i)), 1u);
  }
}

// ---- forwarding ----

TEST(DriverForward, ForwardLostWithItsConnectionIsRetriedBeforeTheDeadline) {
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lead = *c.leader();
  std::string follower = lead == "a" ? "b" : "a";
  ASSERT_TRUE(c.run_until([&] { return c.node(follower).driver->core().lead() != 0; }));
  auto out = c.submit(follower, "forwarded", 60s);
  // The connection drops with the forward still queued on it; it comes back.
  c.hub.cut(follower, lead);
  c.hub.heal(follower, lead);
  ASSERT_TRUE(c.run_until([&] { return out->done; }, 500))
      << "the lost forward was not retried (it would only fail at its deadline)";
  ASSERT_TRUE(out->status) << out->status.error();
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  EXPECT_EQ(count_of(c.node(lead).sm->current(), "forwarded"), 1u);
}

TEST(DriverForward, RetryOfAForwardTheLeaderAlreadyTookIsAppliedOnce) {
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lead = *c.leader();
  std::string follower = lead == "a" ? "b" : "a";
  ASSERT_TRUE(c.run_until([&] { return c.node(follower).driver->core().lead() != 0; }));
  auto out = c.submit(follower, "once", 60s);
  // The leader receives and proposes it; then the connection drops, so the
  // follower cannot tell whether it arrived and sends it again.
  c.round(false);
  c.hub.cut(follower, lead);
  c.hub.heal(follower, lead);
  ASSERT_TRUE(c.run_until([&] { return out->done; }, 500));
  ASSERT_TRUE(out->status) << out->status.error();
  write_n(c, "later", 2);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  for (const auto& id : c.ids()) {
    EXPECT_EQ(count_of(c.node(id).sm->current(), "once"), 1u) << "on " << id;
  }
}

TEST(DriverForward, RetryAfterALeaderChangeIsAppliedOnce) {
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lead = *c.leader();
  std::string follower = lead == "a" ? "b" : "a";
  ASSERT_TRUE(c.run_until([&] { return c.node(follower).driver->core().lead() != 0; }));
  auto out = c.submit(follower, "moved", 60s);
  c.round(false);  // the leader proposes it and sends it out
  c.round(false);  // the followers append it; their acknowledgements are lost below
  // The leader is cut off from everyone; a new one takes over.
  for (const auto& id : c.ids()) {
    if (id != lead) c.hub.cut(lead, id);
  }
  ASSERT_TRUE(c.run_until([&] { return out->done; }, 2000));
  ASSERT_TRUE(out->status) << out->status.error();
  for (const auto& id : c.ids()) {
    if (id != lead) c.hub.heal(lead, id);
  }
  write_n(c, "later", 1);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  for (const auto& id : c.ids()) {
    EXPECT_EQ(count_of(c.node(id).sm->current(), "moved"), 1u) << "on " << id;
  }
}

// A leader takes a write, is cut off before it replicates it, and a new
// leader is elected: the entry is cut from the old leader's log when it
// rejoins. The write must not be left to time out: the node that took it
// sends it again, to the new leader, which applies it once.
TEST(DriverForward, WriteCutFromADeposedLeadersLogIsRetriedAndAppliedOnce) {
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "before", 1);
  std::string old_leader = *c.leader();
  auto out = c.submit(old_leader, "stranded", 60s);
  c.round(false);  // the leader appends it; its appends to the others are queued
  // ... and dropped: the leader is cut off with the entry in its log alone.
  for (const auto& id : c.ids()) {
    if (id != old_leader) c.hub.cut(old_leader, id);
  }
  ASSERT_FALSE(out->done);
  std::string other = old_leader == "a" ? "b" : "a";
  ASSERT_TRUE(c.run_until([&] {
    return c.node(other).driver->core().lead() != 0 &&
           c.node(other).driver->core().lead() != c.node(old_leader).driver->core().id();
  }));
  for (const auto& id : c.ids()) {
    if (id != old_leader) c.hub.heal(old_leader, id);
  }
  ASSERT_TRUE(c.run_until([&] { return out->done; }, 2000))
      << "a write cut from the deposed leader's log was left to time out";
  ASSERT_TRUE(out->status) << out->status.error();
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  for (const auto& id : c.ids()) {
    EXPECT_EQ(count_of(c.node(id).sm->current(), "stranded"), 1u) << "on " << id;
  }
}

// ---- status ----

TEST(DriverStatus, ClusterReportCarriesEveryMembersStateAcrossTheNetwork) {
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "w", 3);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  std::string lead = *c.leader();
  std::string asker = lead == "a" ? "b" : "a";
  std::optional<std::vector<NodeReport>> got;
  c.guard(asker, [&](Driver& d) {
    d.cluster_report(Driver::Clock::now() + 60s,
                     [&](std::vector<NodeReport> reports) { got = std::move(reports); });
  });
  ASSERT_TRUE(c.run_until([&] { return got.has_value(); }, 100));
  ASSERT_EQ(got->size(), 3u);
  EXPECT_EQ((*got)[0].id, asker);
  int leaders = 0;
  for (const auto& r : *got) {
    EXPECT_TRUE(r.reachable) << r.id << ": " << r.error;
    EXPECT_EQ(r.applied, c.node(lead).sm->current().position.index) << r.id;
    EXPECT_EQ(r.digest, c.node(lead).sm->digest()) << r.id;
    EXPECT_EQ(r.leader, lead) << r.id;
    EXPECT_EQ(r.peers.size(), 2u) << r.id;
    leaders += r.role == "leader";
  }
  EXPECT_EQ(leaders, 1);
}

TEST(DriverStatus, DigestsAreComputedOffTheLoopWhileTheClusterGoesOn) {
  // A big store's digest takes seconds. While a follower computes one for a
  // cluster report, its loop goes on: it acknowledges writes, and no
  // election is held. The report waits for the digest, which is that of the
  // state when the report was asked for.
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "w", 3);
  ASSERT_TRUE(c.run_until([&] { return converged(c); }));
  const std::string lead = *c.leader();
  const uint64_t term = c.node(lead).driver->core().status().term;
  const std::string slow = lead == "a" ? "b" : "a";
  const std::string at_ask = c.node(lead).sm->digest();
  const uint64_t applied_at_ask = c.node(lead).sm->current().position.index;

  // Shared with the digest's thread, which may outlive this scope if an
  // assertion below ends the test early.
  struct Gate {
    std::mutex mu;
    std::condition_variable cv;
    bool open = false;
    std::atomic<bool> computing{false};
  };
  auto gate = std::make_shared<Gate>();
  c.node(slow).sm->on_digest = [gate] {
    gate->computing = true;
    std::unique_lock lock(gate->mu);
    gate->cv.wait_for(lock, 10s, [&] { return gate->open; });
    gate->computing = false;
  };
  std::optional<std::vector<NodeReport>> got;
  c.guard(lead, [&](Driver& d) {
    d.cluster_report(Driver::Clock::now() + 600s,
                     [&](std::vector<NodeReport> reports) { got = std::move(reports); });
  });
  ASSERT_TRUE(c.run_until([&] { return gate->computing.load(); }));
  for (int i = 0; i < 3; ++i) {
    auto out = c.submit(lead, "during-" + std::to_string(i));
    ASSERT_TRUE(c.run_until([&] { return out->done; }));
    ASSERT_TRUE(out->status) << out->status.error();
  }
  // Well past an election timeout, on the simulated clock.
  for (int i = 0; i < 50; ++i) c.round();
  EXPECT_TRUE(gate->computing.load()) << "the digest did not wait for its gate";
  // The busy follower's loop applied the writes meanwhile (on its apply
  // thread, if it has one, which runs on real time and may linger).
  EXPECT_TRUE(c.run_until(
      [&] { return c.node(slow).sm->current().position.index == applied_at_ask + 3; }))
      << "applied " << c.node(slow).sm->current().position.index << ", not "
      << applied_at_ask + 3;
  EXPECT_FALSE(got.has_value()) << "the report did not wait for the slow digest";
  EXPECT_EQ(c.leader(), lead);
  EXPECT_EQ(c.node(lead).driver->core().status().term, term);

  {
    std::lock_guard lock(gate->mu);
    gate->open = true;
  }
  gate->cv.notify_all();
  ASSERT_TRUE(c.run_until([&] { return got.has_value(); }));
  ASSERT_EQ(got->size(), 3u);
  for (const auto& r : *got) {
    if (r.id != slow) continue;
    EXPECT_TRUE(r.reachable) << r.error;
    EXPECT_EQ(r.applied, applied_at_ask);
    EXPECT_EQ(r.digest, at_ask);
  }
  EXPECT_NE(c.node(slow).sm->digest(), at_ask) << "the writes during the digest did not apply";
}

TEST(DriverStatus, WaitAllNamesTheMemberThatHasNotApplied) {
  Cluster c({"a", "b", "c"}, small_wal);
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  std::string lead = *c.leader();
  std::string cut = lead == "c" ? "b" : "c";
  for (const auto& id : c.ids()) {
    if (id != cut) c.hub.cut(cut, id);
  }
  auto out = c.submit(lead, "w");
  ASSERT_TRUE(c.run_until([&] { return out->done; }));
  ASSERT_TRUE(out->status) << out->status.error();
  std::optional<Status> waited;
  c.guard(lead, [&](Driver& d) {
    d.wait_applied_everywhere(out->index, Driver::Clock::now() + 300ms,
                              [&](Status s) { waited = std::move(s); });
  });
  ASSERT_TRUE(c.run_until([&] {
    if (!waited) std::this_thread::sleep_for(5ms);
    return waited.has_value();
  }));
  ASSERT_FALSE(*waited);
  EXPECT_NE(waited->error().find(cut), std::string::npos) << waited->error();
  // Once it is back and has applied, a wait succeeds.
  for (const auto& id : c.ids()) {
    if (id != cut) c.hub.heal(cut, id);
  }
  std::optional<Status> again;
  c.guard(lead, [&](Driver& d) {
    d.wait_applied_everywhere(out->index, Driver::Clock::now() + 60s,
                              [&](Status s) { again = std::move(s); });
  });
  ASSERT_TRUE(c.run_until([&] { return again.has_value(); }));
  EXPECT_TRUE(*again) << again->error();
}

// ---- read barriers (dnsadm backup's "everything acknowledged before it") ----

struct BarrierOutcome {
  bool done = false;
  Status status;
  uint64_t applied = 0;
  bool held = false;  // the node's state machine held the awaited command then
};

std::shared_ptr<BarrierOutcome> barrier_at(Cluster& c, const std::string& id,
                                           std::chrono::milliseconds timeout,
                                           const std::string& awaited = "") {
  auto out = std::make_shared<BarrierOutcome>();
  c.guard(id, [&](Driver& d) {
    d.read_barrier(Driver::Clock::now() + timeout, [out, &c, id, awaited](Status s, uint64_t at) {
      out->done = true;
      out->status = std::move(s);
      out->applied = at;
      out->held = !awaited.empty() && count_of(c.node(id).sm->current(), awaited) == 1;
    });
  });
  return out;
}

TEST(DriverReadBarrier, AFollowerBehindTheLeaderAppliesWhatWasCommittedBeforeTheBarrierCompletes) {
  Cluster c({"a", "b", "c"}, small_wal);
  start_converged(c);
  std::string lead = *c.leader();
  std::string behind = lead == "c" ? "b" : "c";
  // The write commits on the other two while `behind` hears nothing.
  for (const auto& id : c.ids()) {
    if (id != behind) c.hub.cut(behind, id);
  }
  auto out = c.submit(lead, "acked");
  ASSERT_TRUE(c.run_until([&] { return out->done; }));
  ASSERT_TRUE(out->status) << out->status.error();
  for (const auto& id : c.ids()) {
    if (id != behind) c.hub.heal(behind, id);
  }
  ASSERT_EQ(count_of(c.node(behind).sm->current(), "acked"), 0u);
  auto barrier = barrier_at(c, behind, 60s, "acked");
  EXPECT_FALSE(barrier->done) << "the barrier completed before the node caught up";
  ASSERT_TRUE(c.run_until([&] { return barrier->done; }));
  ASSERT_TRUE(barrier->status) << barrier->status.error();
  EXPECT_TRUE(barrier->held) << "the barrier completed before the acknowledged write applied";
  EXPECT_GE(barrier->applied, out->index);

  // On the leader too: it confirms it still leads before answering.
  auto at_leader = barrier_at(c, lead, 60s, "acked");
  ASSERT_TRUE(c.run_until([&] { return at_leader->done; }));
  ASSERT_TRUE(at_leader->status) << at_leader->status.error();
  EXPECT_TRUE(at_leader->held);
}

TEST(DriverReadBarrier, ALoneVoterAnswersAtOnce) {
  Cluster c({"n1"}, small_wal);
  ASSERT_TRUE(c.boot("n1"));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  auto out = c.submit("n1", "w");
  ASSERT_TRUE(c.run_until([&] { return out->done; }));
  auto barrier = barrier_at(c, "n1", 60s, "w");
  ASSERT_TRUE(c.run_until([&] { return barrier->done; }, 5));
  ASSERT_TRUE(barrier->status) << barrier->status.error();
  EXPECT_TRUE(barrier->held);
}

TEST(DriverReadBarrier, WithoutAQuorumItFailsAtTheDeadlineSayingSo) {
  Cluster c({"a", "b", "c"}, small_wal);
  start_converged(c);
  std::string lead = *c.leader();
  // Every node alone: a leader cut off from both followers cannot vouch for
  // its commit index, and a follower cannot reach any leader.
  c.hub.cut("a", "b");
  c.hub.cut("a", "c");
  c.hub.cut("b", "c");
  std::string follower = lead == "a" ? "b" : "a";
  auto at_leader = barrier_at(c, lead, 300ms);
  auto at_follower = barrier_at(c, follower, 300ms);
  ASSERT_TRUE(c.run_until([&] {
    if (!at_leader->done || !at_follower->done) std::this_thread::sleep_for(5ms);
    return at_leader->done && at_follower->done;
  }));
  ASSERT_FALSE(at_leader->status);
  EXPECT_NE(at_leader->status.error().find("did not confirm its commit index"), std::string::npos)
      << at_leader->status.error();
  EXPECT_NE(at_leader->status.error().find("no quorum"), std::string::npos)
      << at_leader->status.error();
  ASSERT_FALSE(at_follower->status);
  EXPECT_NE(at_follower->status.error().find("did not confirm its commit index"),
            std::string::npos)
      << at_follower->status.error();
}

}  // namespace
}  // namespace raftdns::replication::testing
