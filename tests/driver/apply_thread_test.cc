// ApplyThread: order, one step for the runs handed over meanwhile, lingering, failures.
#include "replication/apply_thread.h"

#include <gtest/gtest.h>

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <string>
#include <vector>

namespace raftdns::replication {
namespace {

using namespace std::chrono_literals;

// Records each apply() call's indexes; apply() can be held at a gate, made
// to fail, or made to throw. A command "bad" is refused (its outcome).
class RecordingMachine final : public StateMachine {
 public:
  AppliedPosition applied() const override {
    std::lock_guard lock(mu_);
    return position_;
  }
  std::vector<uint8_t> membership() const override { return {}; }
  Status apply(std::span<const ApplyItem> items, std::vector<Status>* outcomes) override {
    std::unique_lock lock(mu_);
    ++entered_;
    changed_.notify_all();
    changed_.wait(lock, [this] { return open_; });
    if (fail_) return make_error("disk full");
    if (throw_) throw std::runtime_error("state machine threw");
    std::vector<uint64_t> call;
    for (const auto& item : items) {
      call.push_back(item.index);
      std::string text(item.data.begin(), item.data.end());
      outcomes->push_back(text == "bad" ? make_error("refused: " + text) : Status{});
      position_ = {item.index, item.term};
    }
    calls_.push_back(std::move(call));
    return {};
  }
  Status sync() override { return {}; }
  Result<SnapshotFile> write_snapshot(const std::string&) const override {
    return make_error("not here");
  }
  Status install_snapshot(const std::string&) override { return make_error("not here"); }
  std::string digest() const override { return {}; }
  std::string location() const override { return "memory"; }

  void close_gate() {
    std::lock_guard lock(mu_);
    open_ = false;
  }
  void open_gate() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    changed_.notify_all();
  }
  // Waits until apply() has been entered `n` times in all.
  bool wait_entered(int n) {
    std::unique_lock lock(mu_);
    return changed_.wait_for(lock, 10s, [&] { return entered_ >= n; });
  }
  std::vector<std::vector<uint64_t>> calls() const {
    std::lock_guard lock(mu_);
    return calls_;
  }
  void fail_next() { fail_ = true; }
  void throw_next() { throw_ = true; }

 private:
  mutable std::mutex mu_;
  std::condition_variable changed_;
  bool open_ = true, fail_ = false, throw_ = false;
  int entered_ = 0;
  AppliedPosition position_;
  std::vector<std::vector<uint64_t>> calls_;
};

// A run of entries [first, last] of term 1 carrying `commands` (one per
// entry); `request_at` maps an entry index to a request id of this node.
ApplyThread::Run make_run(uint64_t first, std::vector<std::string> commands,
                          std::vector<std::pair<uint64_t, uint64_t>> request_at = {}) {
  ApplyThread::Run run;
  for (size_t i = 0; i < commands.size(); ++i) {
    raft::Entry e;
    e.index = first + i;
    e.term = 1;
    e.data.assign(commands[i].begin(), commands[i].end());
    run.entries.push_back(std::move(e));
  }
  for (const auto& e : run.entries) {
    run.items.push_back({e.index, e.term, ApplyItem::Kind::command, e.data});
  }
  for (auto [index, request] : request_at) run.mine.push_back({index - first, request});
  return run;
}

// Takes steps until `n` have arrived (or 10 s have passed).
std::vector<ApplyThread::Applied> take_steps(ApplyThread& t, size_t n) {
  std::vector<ApplyThread::Applied> all;
  const auto limit = std::chrono::steady_clock::now() + 10s;
  while (all.size() < n && std::chrono::steady_clock::now() < limit) {
    for (auto& s : t.take()) all.push_back(std::move(s));
    if (all.size() < n) std::this_thread::sleep_for(1ms);
  }
  return all;
}

TEST(ApplyThread, RunsHandedOverWhileOneAppliesAreAppliedTogetherInOrder) {
  RecordingMachine sm;
  int wakes = 0;
  std::mutex wm;
  ApplyThread t(sm, [&] {
    std::lock_guard lock(wm);
    ++wakes;
  });
  sm.close_gate();
  t.push(make_run(1, {"a", "b"}, {{2, 100}}));
  ASSERT_TRUE(sm.wait_entered(1));
  // The first run is being applied; these two wait and go in one step.
  t.push(make_run(3, {"bad"}, {{3, 101}}));
  t.push(make_run(4, {"c", "d"}, {{5, 102}}));
  EXPECT_TRUE(t.busy());
  sm.open_gate();
  auto steps = take_steps(t, 2);
  ASSERT_EQ(steps.size(), 2u);
  EXPECT_EQ(sm.calls(), (std::vector<std::vector<uint64_t>>{{1, 2}, {3, 4, 5}}));
  EXPECT_EQ(steps[0].index, 2u);
  ASSERT_EQ(steps[0].mine.size(), 1u);
  EXPECT_EQ(steps[0].mine[0].request, 100u);
  EXPECT_EQ(steps[0].mine[0].index, 2u);
  EXPECT_TRUE(steps[0].mine[0].status);
  EXPECT_EQ(steps[1].index, 5u);
  EXPECT_EQ(steps[1].term, 1u);
  ASSERT_EQ(steps[1].mine.size(), 2u);
  EXPECT_EQ(steps[1].mine[0].request, 101u);
  EXPECT_EQ(steps[1].mine[0].index, 3u);
  ASSERT_FALSE(steps[1].mine[0].status);
  EXPECT_EQ(steps[1].mine[0].status.error(), "refused: bad");
  EXPECT_EQ(steps[1].mine[1].request, 102u);
  EXPECT_EQ(steps[1].mine[1].index, 5u);
  EXPECT_TRUE(steps[1].mine[1].status);
  t.drain();
  EXPECT_FALSE(t.busy());
  std::lock_guard lock(wm);
  EXPECT_EQ(wakes, 2);
}

TEST(ApplyThread, ARunNoOneHereWaitsForLingersUntilOneThatSomeoneDoesArrives) {
  RecordingMachine sm;
  ApplyThread t(sm, {}, 30s);
  t.push(make_run(1, {"a"}));
  t.push(make_run(2, {"b"}));
  std::this_thread::sleep_for(50ms);
  EXPECT_TRUE(sm.calls().empty()) << "a run nobody here waits for applied at once";
  const auto start = std::chrono::steady_clock::now();
  t.push(make_run(3, {"c"}, {{3, 7}}));
  auto steps = take_steps(t, 1);
  ASSERT_EQ(steps.size(), 1u);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  EXPECT_EQ(sm.calls(), (std::vector<std::vector<uint64_t>>{{1, 2, 3}}));
  ASSERT_EQ(steps[0].mine.size(), 1u);
  EXPECT_EQ(steps[0].mine[0].request, 7u);
}

TEST(ApplyThread, ALingerEndsAtItsTimeAndAtADrain) {
  RecordingMachine sm;
  {
    ApplyThread t(sm, {}, 30ms);
    t.push(make_run(1, {"a"}));
    auto steps = take_steps(t, 1);
    ASSERT_EQ(steps.size(), 1u) << "the linger never ended";
    EXPECT_EQ(steps[0].index, 1u);
  }
  RecordingMachine sm2;
  ApplyThread t(sm2, {}, 60s);
  t.push(make_run(1, {"a"}));
  const auto start = std::chrono::steady_clock::now();
  t.drain();
  EXPECT_LT(std::chrono::steady_clock::now() - start, 30s);
  EXPECT_EQ(sm2.calls(), (std::vector<std::vector<uint64_t>>{{1}}));
  EXPECT_FALSE(t.busy());
}

TEST(ApplyThread, AStorageFailureIsReportedAndNothingIsAppliedAfterIt) {
  RecordingMachine sm;
  ApplyThread t(sm, {});
  sm.fail_next();
  t.push(make_run(1, {"a"}, {{1, 1}}));
  auto steps = take_steps(t, 1);
  ASSERT_EQ(steps.size(), 1u);
  ASSERT_FALSE(steps[0].status);
  EXPECT_EQ(steps[0].status.error(), "disk full");
  EXPECT_TRUE(steps[0].mine.empty()) << "no request completes on a failed step";
  t.push(make_run(2, {"b"}));
  t.drain();  // returns: the thread failed
  EXPECT_FALSE(t.busy());
  EXPECT_TRUE(sm.calls().empty());
}

TEST(ApplyThread, WhatTheStateMachineThrowsIsCarriedToTheTaker) {
  RecordingMachine sm;
  ApplyThread t(sm, {});
  sm.throw_next();
  t.push(make_run(1, {"a"}));
  auto steps = take_steps(t, 1);
  ASSERT_EQ(steps.size(), 1u);
  ASSERT_TRUE(steps[0].thrown);
  EXPECT_THROW(std::rethrow_exception(steps[0].thrown), std::runtime_error);
}

TEST(ApplyThread, StopDropsTheRunsNotStartedAndWaitsForTheOneApplying) {
  RecordingMachine sm;
  ApplyThread t(sm, {});
  sm.close_gate();
  t.push(make_run(1, {"a"}));
  ASSERT_TRUE(sm.wait_entered(1));
  t.push(make_run(2, {"b"}));
  std::thread opener([&] {
    std::this_thread::sleep_for(50ms);
    sm.open_gate();
  });
  t.stop();
  opener.join();
  EXPECT_EQ(sm.calls(), (std::vector<std::vector<uint64_t>>{{1}}));
}

}  // namespace
}  // namespace raftdns::replication
