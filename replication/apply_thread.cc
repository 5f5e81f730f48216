// ApplyThread: one state machine step per batch of runs, in log order, off the loop.
#include "replication/apply_thread.h"

#include <utility>

namespace raftdns::replication {

ApplyThread::ApplyThread(StateMachine& sm, std::function<void()> wake,
                         std::chrono::steady_clock::duration linger)
    : sm_(sm), wake_(std::move(wake)), linger_(linger) {
  thread_ = std::thread([this] { main(); });
}

ApplyThread::~ApplyThread() { stop(); }

void ApplyThread::push(Run run) {
  {
    std::lock_guard lock(mu_);
    queue_.push_back(std::move(run));
  }
  work_.notify_one();
}

std::vector<ApplyThread::Applied> ApplyThread::take() {
  std::lock_guard lock(mu_);
  return std::exchange(done_, {});
}

bool ApplyThread::busy() const {
  std::lock_guard lock(mu_);
  return applying_ || (!queue_.empty() && !failed_);
}

void ApplyThread::drain() {
  std::unique_lock lock(mu_);
  ++draining_;
  work_.notify_one();  // ends a linger
  idle_.wait(lock, [this] { return failed_ || stopping_ || (!applying_ && queue_.empty()); });
  --draining_;
}

void ApplyThread::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_ && !thread_.joinable()) return;
    stopping_ = true;
    queue_.clear();
  }
  work_.notify_one();
  idle_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ApplyThread::main() {
  for (;;) {
    std::vector<Run> runs;
    {
      std::unique_lock lock(mu_);
      work_.wait(lock, [this] { return stopping_ || (!queue_.empty() && !failed_); });
      if (stopping_) return;
      applying_ = true;
      auto awaited = [this] {
        for (const auto& r : queue_) {
          if (!r.mine.empty()) return true;
        }
        return false;
      };
      if (linger_.count() > 0 && !awaited()) {
        work_.wait_for(lock, linger_,
                       [&] { return stopping_ || draining_ > 0 || awaited(); });
        if (stopping_) {
          applying_ = false;
          idle_.notify_all();
          return;
        }
      }
      // Everything queued goes in one step: while the last one committed,
      // the log went on, and one transaction for all of it costs one sync.
      while (!queue_.empty()) {
        runs.push_back(std::move(queue_.front()));
        queue_.pop_front();
      }
    }
    std::vector<ApplyItem> items;
    for (const auto& r : runs) items.insert(items.end(), r.items.begin(), r.items.end());
    Applied step;
    step.index = items.back().index;
    step.term = items.back().term;
    std::vector<Status> outcomes;
    outcomes.reserve(items.size());
    const auto start = std::chrono::steady_clock::now();
    try {
      step.status = sm_.apply(items, &outcomes);
    } catch (...) {
      step.thrown = std::current_exception();
    }
    step.took = std::chrono::steady_clock::now() - start;
    if (step.status && !step.thrown) {
      size_t base = 0;
      for (auto& r : runs) {
        for (const auto& m : r.mine) {
          const size_t at = base + m.item;
          step.mine.push_back({m.request, items[at].index,
                               at < outcomes.size() ? std::move(outcomes[at]) : Status{}});
        }
        base += r.items.size();
      }
    }
    {
      std::lock_guard lock(mu_);
      if (!step.status || step.thrown) failed_ = true;  // nothing more is applied after it
      done_.push_back(std::move(step));
    }
    // The loop is woken once the step can be taken, and a drain() returns
    // only after the wake: one way or the other, the loop sees the step.
    if (wake_) wake_();
    {
      std::lock_guard lock(mu_);
      applying_ = false;
    }
    idle_.notify_all();
  }
}

}  // namespace raftdns::replication
