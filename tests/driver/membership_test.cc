// In-process tests of membership at run time: joining as a learner and promotion, removal (the
// leader's too), leadership transfer, the refusals, a learner's vote, and --force-new-cluster.
#include <gtest/gtest.h>

#include <algorithm>
#include <thread>

#include "tests/driver/harness.h"

namespace raftdns::replication::testing {
namespace {

using namespace std::chrono_literals;
using Kind = MemberRequest::Kind;

void small_wal(NodeConfig& c) { c.wal_segment_bytes = 64 << 10; }

MemberRequest add(const std::string& name, const std::string& address, bool stay_learner = false) {
  return {Kind::add, name, address, stay_learner};
}
MemberRequest promote(const std::string& name) { return {Kind::promote, name, "", false}; }
MemberRequest remove(const std::string& name) { return {Kind::remove, name, "", false}; }

size_t count_of(const MemoryState& s, const std::string& command) {
  return static_cast<size_t>(std::count(s.commands.begin(), s.commands.end(), command));
}

void boot_all(Cluster& c) {
  for (const auto& id : c.ids()) ASSERT_TRUE(c.boot(id)) << id;
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
}

// Writes `n` commands at `at` (the leader when empty) and waits for them all.
void write_n(Cluster& c, const std::string& prefix, int n, std::string at = "") {
  if (at.empty()) {
    ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
    auto lead = c.leader();
    ASSERT_TRUE(lead);
    at = *lead;
  }
  std::vector<std::shared_ptr<Cluster::Outcome>> outs;
  for (int i = 0; i < n; ++i) outs.push_back(c.submit(at, prefix + std::to_string(i)));
  ASSERT_TRUE(c.run_until([&] {
    return std::all_of(outs.begin(), outs.end(), [](const auto& o) { return o->done; });
  }));
  for (const auto& o : outs) ASSERT_TRUE(o->status) << o->status.error();
}

// Runs a change to completion and returns its outcome.
Status run_change(Cluster& c, const std::string& at, MemberRequest r) {
  auto out = c.change(at, std::move(r));
  if (!c.run_until([&] { return out->done; })) return make_error("change never completed");
  return out->status;
}

// The membership record a node's state machine holds.
Membership recorded(Cluster& c, const std::string& id) {
  auto m = decode_membership_record(c.node(id).sm->current().membership);
  return m ? *m : Membership{};
}

std::string follower_of(Cluster& c) {
  for (const auto& id : c.ids()) {
    if (c.node(id).up && c.leader() != id) return id;
  }
  return "";
}

// The nodes are up and hold the same data at the same applied index.
bool same_data(Cluster& c, const std::vector<std::string>& ids) {
  for (const auto& id : ids) {
    if (!c.node(id).up || c.node(id).sm->digest() != c.node(ids[0]).sm->digest() ||
        c.node(id).sm->applied().index != c.node(ids[0]).sm->applied().index) {
      return false;
    }
  }
  return true;
}

TEST(DriverMembership, BootstrapRecordsEveryMembersNameAndAddress) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  for (const auto& id : c.ids()) {
    auto m = recorded(c, id);
    ASSERT_EQ(m.members.size(), 3u) << id;
    for (const auto& name : c.ids()) {
      const Member* x = m.find_name(name);
      ASSERT_NE(x, nullptr) << name;
      EXPECT_EQ(x->address, Cluster::address_of(name));
      EXPECT_TRUE(x->voter);
    }
  }
}

TEST(DriverMembership, JoiningNodeTakesTheSnapshotFollowsTheLogAndIsPromotedOnceCaughtUp) {
  // Compaction early, so the newcomer needs a snapshot to catch up.
  Cluster c({"n1", "n2", "n3"}, [](NodeConfig& cfg) {
    small_wal(cfg);
    cfg.compact_entries = 8;
  });
  boot_all(c);
  write_n(c, "before", 30);
  c.add_machine("n4");
  c.node_tune["n4"] = [](NodeConfig& cfg) { cfg.join = true; };
  ASSERT_TRUE(c.boot("n4"));
  // A joining node alone never elects itself nor writes a log of its own.
  c.run_until([] { return false; }, 50);
  EXPECT_FALSE(c.node("n4").driver->is_leader());
  EXPECT_EQ(c.node("n4").driver->applied_index(), 0u);

  auto at = follower_of(c);  // through a follower: forwarded to the leader
  ASSERT_TRUE(run_change(c, at, add("n4", Cluster::address_of("n4"))));
  ASSERT_TRUE(c.run_until([&] {
    const Member* m = c.node("n1").driver->membership().find_name("n4");
    return m && m->voter && same_data(c, {"n1", "n2", "n3", "n4"});
  })) << recorded(c, "n1").describe();
  EXPECT_GE(c.node("n4").sm->installs(), 1);
  write_n(c, "after", 5);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, {"n1", "n2", "n3", "n4"}); }));
  auto st = c.node("n4").sm->current();
  EXPECT_EQ(count_of(st, "before29"), 1u);
  EXPECT_EQ(count_of(st, "after4"), 1u);
  // Every node records the newcomer's address.
  for (const auto& id : c.ids()) {
    const Membership record = recorded(c, id);
    const Member* m = record.find_name("n4");
    ASSERT_NE(m, nullptr) << id;
    EXPECT_EQ(m->address, Cluster::address_of("n4"));
  }
}

TEST(DriverMembership, ALearnerAddedWithStayLearnerIsNeverPromotedAndDoesNotVote) {
  Cluster c({"n1", "n2"}, small_wal);
  boot_all(c);
  c.add_machine("n3");
  c.node_tune["n3"] = [](NodeConfig& cfg) { cfg.join = true; };
  ASSERT_TRUE(c.boot("n3"));
  ASSERT_TRUE(run_change(c, "n1", add("n3", Cluster::address_of("n3"), true)));
  write_n(c, "w", 5);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, {"n1", "n2", "n3"}); }));
  c.run_until([] { return false; }, 100);
  const Member* m = c.node("n1").driver->membership().find_name("n3");
  ASSERT_NE(m, nullptr);
  EXPECT_FALSE(m->voter);

  // Two voters and a learner: losing a voter loses the quorum.
  std::string lead = *c.leader();
  std::string other = lead == "n1" ? "n2" : "n1";
  c.power_cut(other);
  auto w = c.submit(lead, "no-quorum", 1s);
  const auto limit = std::chrono::steady_clock::now() + 30s;
  while (!w->done && std::chrono::steady_clock::now() < limit) {
    c.round();
    std::this_thread::sleep_for(1ms);
  }
  ASSERT_TRUE(w->done);
  EXPECT_FALSE(w->status);
  EXPECT_NE(w->status.error().find("no quorum: 1 of 2 voters reachable"), std::string::npos)
      << w->status.error();

  // After promote, the learner counts.
  ASSERT_TRUE(c.reboot(other));
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "back", 2);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, {"n1", "n2", "n3"}); }));
  ASSERT_TRUE(run_change(c, *c.leader(), promote("n3")));
  ASSERT_TRUE(c.run_until([&] {
    const Member* x = c.node(*c.leader()).driver->membership().find_name("n3");
    return x && x->voter;
  }));
  lead = *c.leader();
  other = lead == "n1" ? "n2" : "n1";
  c.power_cut(other);
  ASSERT_TRUE(c.run_until([&] { return c.leader().has_value(); }));
  write_n(c, "quorum", 3);
}

TEST(DriverMembership, RemovedFollowerIsToldAndStops) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  write_n(c, "w", 3);
  std::string victim = follower_of(c);
  ASSERT_TRUE(run_change(c, *c.leader(), remove(victim)));
  ASSERT_TRUE(c.run_until([&] { return c.removed.count(victim) > 0; }));
  EXPECT_NE(c.removed[victim].find("removed from the cluster"), std::string::npos);
  EXPECT_TRUE(c.node(victim).driver->removed());
  // The rest go on as a cluster of two.
  write_n(c, "after", 3);
  auto w = c.submit(victim, "from-the-removed-node");
  EXPECT_TRUE(w->done);
  EXPECT_FALSE(w->status);
  for (const auto& id : c.ids()) {
    if (id == victim) continue;
    EXPECT_EQ(recorded(c, id).members.size(), 2u);
    EXPECT_EQ(recorded(c, id).find_name(victim), nullptr);
  }
}

TEST(DriverMembership, RemovingTheLeaderHandsOverFirstAndWritesContinue) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  write_n(c, "w", 3);
  std::string old = *c.leader();
  ASSERT_TRUE(run_change(c, old, remove(old)));
  ASSERT_TRUE(c.run_until([&] { return c.leader() && *c.leader() != old; }));
  ASSERT_TRUE(c.run_until([&] { return c.removed.count(old) > 0; }));
  std::vector<std::string> rest;
  for (const auto& id : c.ids()) {
    if (id != old) rest.push_back(id);
  }
  write_n(c, "after", 5);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, rest); }));
  EXPECT_EQ(count_of(c.node(rest[0]).sm->current(), "after4"), 1u);
}

TEST(DriverMembership, LeadershipMovesToTheNamedVoter) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  std::string target = follower_of(c);
  bool done = false;
  Status result;
  c.guard(target, [&](Driver& d) {
    d.transfer_leadership(target, Driver::Clock::now() + 60s, [&](Status s) {
      done = true;
      result = std::move(s);
    });
  });
  ASSERT_TRUE(c.run_until([&] { return done; }));
  ASSERT_TRUE(result) << result.error();
  EXPECT_EQ(c.leader(), target);
  write_n(c, "w", 2);
}

TEST(DriverMembership, BadChangesAreRefusedWithOneLineAndChangeNothing) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  std::string lead = *c.leader();
  std::string follower = follower_of(c);
  auto before = recorded(c, lead);
  auto refused = [&](const std::string& at, MemberRequest r, const std::string& want) {
    Status s = run_change(c, at, std::move(r));
    EXPECT_FALSE(s) << "accepted: " << want;
    if (!s) {
      EXPECT_NE(s.error().find(want), std::string::npos) << s.error();
      EXPECT_EQ(s.error().find('\n'), std::string::npos) << s.error();
    }
  };
  // Through the leader and through a follower (forwarded) alike.
  for (const auto& at : {lead, follower}) {
    refused(at, add("n2", "127.0.0.1:1999"), "member n2 already exists");
    refused(at, add("n9", Cluster::address_of("n3")), "is already used by member n3");
    refused(at, promote("n9"), "no member n9");
    refused(at, promote("n2"), "already a voter");
    refused(at, remove("n9"), "no member n9");
  }
  Status bad_address = run_change(c, lead, add("n9", "not-an-address"));
  EXPECT_FALSE(bad_address);
  EXPECT_EQ(recorded(c, lead), before);

  // A second change while one is pending: hold every append so the first
  // cannot commit.
  c.add_machine("n4");
  c.node_tune["n4"] = [](NodeConfig& cfg) { cfg.join = true; };
  c.hub.hold = [](const Packet&) { return true; };
  auto first = c.change(lead, add("n4", Cluster::address_of("n4"), true));
  c.round();
  auto second = c.change(lead, add("n5", "127.0.0.1:1998"));
  ASSERT_TRUE(c.run_until([&] { return second->done; }, 200));
  EXPECT_FALSE(second->status);
  EXPECT_NE(second->status.error().find("another membership change is pending"), std::string::npos)
      << second->status.error();
  c.hub.hold = nullptr;
  for (auto& p : c.hub.held) c.hub.send(std::move(p));
  c.hub.held.clear();
  ASSERT_TRUE(c.run_until([&] { return first->done; }));
  ASSERT_TRUE(first->status) << first->status.error();

  // A learner that lags (it went down after catching up) is not promoted.
  ASSERT_TRUE(c.boot("n4"));
  ASSERT_TRUE(c.run_until([&] {
    if (!c.leader()) return false;
    auto st = c.node(*c.leader()).driver->core().status();
    return std::any_of(st.progress.begin(), st.progress.end(), [&](const raft::PeerProgress& p) {
      return p.id == raft_id_of("n4") && p.match == st.last_index;
    });
  }));
  c.power_cut("n4");
  write_n(c, "lag", Driver::kCaughtUpEntries + 20);
  Status lagging = run_change(c, *c.leader(), promote("n4"));
  ASSERT_FALSE(lagging);
  EXPECT_NE(lagging.error().find("has not caught up"), std::string::npos) << lagging.error();
}

TEST(DriverMembership, RemovingTheLastVoterIsRefused) {
  Cluster c({"n1"}, small_wal);
  boot_all(c);
  Status s = run_change(c, "n1", remove("n1"));
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("cannot remove n1: it is the last voter"), std::string::npos)
      << s.error();
}

TEST(DriverMembership, JoiningWithAnotherClustersDataIsRefused) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  write_n(c, "w", 3);
  ASSERT_TRUE(c.node("n1").sm->sync());
  // n1's machine is reused to join under a new name with its old data.
  c.node_tune["n1"] = [](NodeConfig& cfg) {
    cfg.self_id = "n7";
    cfg.join = true;
  };
  c.power_cut("n1");
  Status s = c.reboot("n1");
  ASSERT_FALSE(s);
  EXPECT_NE(s.error().find("join = true"), std::string::npos) << s.error();
  EXPECT_NE(s.error().find("empty data_dir"), std::string::npos) << s.error();
}

TEST(DriverMembership, StoredMembershipOutranksADifferentConfigList) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  write_n(c, "w", 3);
  ASSERT_TRUE(c.node("n3").sm->sync());
  // n3's config forgets n2 and names a stranger: only a warning.
  c.node_tune["n3"] = [](NodeConfig& cfg) {
    cfg.peers = {{"n1", Cluster::address_of("n1")}, {"n8", "127.0.0.1:1997"}};
  };
  Cluster::log_lines.clear();
  c.power_cut("n3");
  ASSERT_TRUE(c.reboot("n3"));
  bool warned = std::any_of(Cluster::log_lines.begin(), Cluster::log_lines.end(),
                            [](const std::string& l) {
                              return l.find("n3: cluster: warning: the config's peers") == 0;
                            });
  EXPECT_TRUE(warned);
  EXPECT_EQ(c.node("n3").driver->membership().members.size(), 3u);
  write_n(c, "after", 3);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, {"n1", "n2", "n3"}); }));
}

TEST(DriverMembership, ForceNewClusterKeepsEverythingTheSurvivorHadAndNewMembersJoin) {
  Cluster c({"n1", "n2", "n3"}, small_wal);
  boot_all(c);
  write_n(c, "w", 10);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, {"n1", "n2", "n3"}); }));
  std::string survivor = follower_of(c);
  for (const auto& id : c.ids()) {
    if (id != survivor) c.power_cut(id);
  }
  c.power_cut(survivor);
  c.node_tune[survivor] = [](NodeConfig& cfg) { cfg.force_new_cluster = true; };
  ASSERT_TRUE(c.reboot(survivor));
  ASSERT_TRUE(c.run_until([&] { return c.leader() == survivor; }));
  auto m = c.node(survivor).driver->membership();
  ASSERT_EQ(m.members.size(), 1u) << m.describe();
  EXPECT_EQ(m.members[0].name, survivor);
  EXPECT_EQ(count_of(c.node(survivor).sm->current(), "w9"), 1u);
  write_n(c, "after", 3, survivor);
  // A restart without the flag keeps the new single-voter cluster.
  c.node_tune.erase(survivor);
  c.power_cut(survivor);
  ASSERT_TRUE(c.reboot(survivor));
  ASSERT_TRUE(c.run_until([&] { return c.leader() == survivor; }));
  // Two new members join.
  for (const std::string id : {"n4", "n5"}) {
    c.add_machine(id);
    c.node_tune[id] = [](NodeConfig& cfg) { cfg.join = true; };
    ASSERT_TRUE(c.boot(id));
    ASSERT_TRUE(run_change(c, survivor, add(id, Cluster::address_of(id))));
    ASSERT_TRUE(c.run_until([&] {
      const Member* x = c.node(survivor).driver->membership().find_name(id);
      return x && x->voter;
    }));
  }
  write_n(c, "grown", 3);
  ASSERT_TRUE(c.run_until([&] { return same_data(c, {survivor, "n4", "n5"}); }));
  EXPECT_EQ(count_of(c.node("n5").sm->current(), "w0"), 1u);
}

}  // namespace
}  // namespace raftdns::replication::testing
