// ApplyThread: applies runs of committed entries to the state machine on a thread of its own.
//
// With it, the driver's loop hands each run of committed entries over and
// goes on at once: persisting the next entries, acknowledging, replicating.
// The state machine's commit (for the LMDB store, a write transaction and its
// fdatasync) no longer holds up the log. The thread applies what it is given
// in order; runs handed over while it was busy are applied together, as one
// state machine step, so a busy store commits fewer, larger transactions.
//
// The loop learns what was applied through take(), after the wake hook; only
// then does the driver move its applied position and complete the requests.
// Membership changes and snapshot installs do not come here: the driver
// drains the thread and applies those itself.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "common/result.h"
#include "replication/core/types.h"
#include "replication/state_machine.h"

namespace raftdns::replication {

class ApplyThread {
 public:
  // One run of committed entries, as the core handed it out.
  struct Run {
    std::vector<raft::Entry> entries;  // owned: the items' data point into them
    std::vector<ApplyItem> items;
    struct Mine {
      size_t item;       // in `items`
      uint64_t request;  // the driver's request id
    };
    std::vector<Mine> mine;  // the requests submitted on this node
  };
  // What one state machine step applied: one or more runs.
  struct Applied {
    uint64_t index = 0, term = 0;  // the new applied position
    struct Outcome {
      uint64_t request;
      uint64_t index;
      Status status;
    };
    std::vector<Outcome> mine;
    Status status;              // not ok: the state machine's storage failed (fatal)
    std::exception_ptr thrown;  // the state machine threw (rethrown on the loop)
    std::chrono::steady_clock::duration took{};
  };

  // `wake` runs on the thread after each step; the loop should then take().
  // A run that no request submitted here waits for (all of a follower's,
  // mostly) waits up to `linger` for more to apply with it: fewer, larger
  // transactions, and as many fewer syncs, where no one is held up by it.
  ApplyThread(StateMachine& sm, std::function<void()> wake,
              std::chrono::steady_clock::duration linger = {});
  ~ApplyThread();
  ApplyThread(const ApplyThread&) = delete;
  ApplyThread& operator=(const ApplyThread&) = delete;

  void push(Run run);
  // The steps finished since the last call, in order.
  std::vector<Applied> take();
  // Runs are queued or being applied.
  bool busy() const;
  // Waits until every run pushed so far is applied (or the thread failed).
  void drain();
  // Drops the runs not started, waits for the one being applied, ends the thread.
  void stop();

 private:
  void main();

  StateMachine& sm_;
  std::function<void()> wake_;
  std::chrono::steady_clock::duration linger_;
  mutable std::mutex mu_;
  std::condition_variable work_, idle_;
  std::deque<Run> queue_;
  std::vector<Applied> done_;
  bool applying_ = false;
  bool stopping_ = false;
  bool failed_ = false;
  int draining_ = 0;  // drain() callers waiting: no lingering then
  std::thread thread_;
};

}  // namespace raftdns::replication
