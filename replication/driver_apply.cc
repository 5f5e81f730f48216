// Driver: committed entries applied on the apply thread, and what the loop does when a run is done.
//
// The order of the Ready contract holds per entry: an entry reaches the
// apply thread only after the Ready that committed it was persisted, and a
// request completes only once the thread has applied it, so "applied on the
// node it was run on" still holds when the caller hears back. What changes is
// that the loop does not wait for the state machine's commit: the next
// entries are persisted and replicated meanwhile. The applied position
// (applied_) is the thread's, as taken here; handed_ runs ahead of it.
#include <algorithm>
#include <optional>

#include "replication/driver.h"

namespace raftdns::replication {

bool Driver::apply_running() const { return applier_ && applier_->busy(); }

ApplyItem Driver::command_item(const raft::Entry& e, std::optional<uint64_t>& request) {
  ApplyItem item{e.index, e.term, ApplyItem::Kind::none, {}};
  if (e.data.empty()) return item;  // a leader's empty entry
  Envelope env;
  if (decode_envelope(e.data, env) && !env.conf_change) {
    item.kind = ApplyItem::Kind::command;
    item.data = env.command;
    if (env.origin == self_) request = env.request;
  } else {
    log("raft: entry " + std::to_string(e.index) + " has a malformed envelope; skipped");
  }
  return item;
}

void Driver::hand_to_applier(const std::vector<raft::Entry>& entries) {
  ApplyThread::Run run;
  run.entries.reserve(entries.size());
  const uint64_t done_through = std::max(applied_, handed_);
  for (const auto& e : entries) {
    if (e.index > done_through) run.entries.push_back(e);
  }
  if (run.entries.empty()) return;
  run.items.reserve(run.entries.size());
  // The items point into run.entries, whose elements stay where they are
  // when the run is moved into the thread's queue.
  for (const auto& e : run.entries) {
    std::optional<uint64_t> request;
    run.items.push_back(command_item(e, request));
    if (request) run.mine.push_back({run.items.size() - 1, *request});
  }
  handed_ = run.entries.back().index;
  applier_->push(std::move(run));
}

void Driver::collect_applied() {
  if (!applier_) return;
  auto steps = applier_->take();
  if (steps.empty()) return;
  for (auto& step : steps) {
    if (step.thrown) std::rethrow_exception(step.thrown);
    if (!step.status) fatal("state machine apply failed: " + step.status.error());
    if (cfg_.metrics) cfg_.metrics->apply_seconds.observe(step.took);
    applied_ = step.index;
    applied_term_ = step.term;
    for (auto& m : step.mine) complete_request(m.request, std::move(m.status), m.index);
  }
  check_waits(false);
}

void Driver::drain_applier() {
  if (!applier_) return;
  applier_->drain();
  collect_applied();
}

}  // namespace raftdns::replication
