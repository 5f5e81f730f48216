// Drives a Log and the model side by side; knows what may be recovered if a call crashes.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "tests/wal/model.h"
#include "wal/log.h"

namespace raftdns::wal::testing {

class Harness {
 public:
  explicit Harness(Log* log) : log_(log) {}

  const ModelState& acked() const { return acked_; }
  const ModelState& current() const { return current_; }
  // What recovery may produce if the last call failed (a crash inside it).
  const std::vector<Candidate>& on_crash() const { return on_crash_; }
  Log* log() const { return log_; }
  // Starts from a recovered state (all of it durable).
  void adopt(const ModelState& state) {
    acked_ = state;
    current_ = state;
  }

  bool append(uint64_t first, uint64_t count, uint64_t term, std::size_t size) {
    std::vector<Entry> batch;
    for (uint64_t i = first; i < first + count; ++i) {
      batch.push_back(make_entry(i, term, size + static_cast<std::size_t>(i % 7) * 13));
    }
    return append(batch);
  }

  bool append(const std::vector<Entry>& batch) {
    ModelState after = current_;
    for (const auto& e : batch) after.log[e.index] = e;
    on_crash_ = {{acked_, after}};
    if (!log_->append(batch)) return false;
    current_ = after;
    return true;
  }

  bool sync() {
    on_crash_ = {{acked_, current_}, {with_entries(acked_, current_), current_}};
    if (!log_->sync()) return false;
    acked_ = with_entries(acked_, current_);
    return true;
  }

  bool truncate_suffix(uint64_t from) {
    ModelState after = current_;
    after.truncate_from(from);
    // Interrupted: anything at or past `from` may be partly gone already.
    ModelState lower = acked_;
    lower.truncate_from(from);
    on_crash_ = {{lower, current_}, {with_entries(acked_, after), after}};
    if (!log_->truncate_suffix(from)) return false;
    current_ = after;
    acked_ = with_entries(acked_, after);
    return true;
  }

  bool compact_prefix(uint64_t upto, uint64_t term) {
    ModelState after = current_;
    after.compact_to(upto, term);
    ModelState acked_after = with_entries(acked_, after);
    acked_after.snap_index = upto;
    acked_after.snap_term = term;
    on_crash_ = {{acked_, current_}, {acked_after, after}};
    if (!log_->compact_prefix(upto, term)) return false;
    current_ = after;
    acked_ = acked_after;
    return true;
  }

  bool reset_to_snapshot(uint64_t index, uint64_t term) {
    ModelState after = current_;
    after.log.clear();
    after.snap_index = index;
    after.snap_term = term;
    ModelState acked_after = acked_;
    acked_after.log.clear();
    acked_after.snap_index = index;
    acked_after.snap_term = term;
    on_crash_ = {{acked_, current_}, {acked_after, after}};
    if (!log_->reset_to_snapshot(index, term)) return false;
    current_ = after;
    acked_ = acked_after;
    return true;
  }

  bool set_hard_state(const HardState& hs) {
    ModelState lower_after = acked_;
    lower_after.hs = hs;
    ModelState upper_after = current_;
    upper_after.hs = hs;
    on_crash_ = {{acked_, current_}, {lower_after, upper_after}};
    if (!log_->set_hard_state(hs)) return false;
    acked_.hs = hs;
    current_.hs = hs;
    return true;
  }

  // "" if `r` is allowed after a crash in the last call (or after it, if it succeeded).
  std::string check_recovered(const ModelState& r, bool last_call_failed) const {
    std::vector<Candidate> candidates =
        last_call_failed ? on_crash_ : std::vector<Candidate>{{acked_, current_}};
    std::string reasons;
    for (const auto& c : candidates) {
      std::string why = check_between(r, c.lower, c.upper);
      if (why.empty()) return "";
      reasons += "[" + why + " vs acked " + describe(c.lower) + "] ";
    }
    return "recovered " + describe(r) + ": " + reasons;
  }

 private:
  // `base` with its entries (not hard state or snapshot) replaced by those of `from`.
  static ModelState with_entries(const ModelState& base, const ModelState& from) {
    ModelState m = base;
    m.log = from.log;
    return m;
  }

  Log* log_;
  ModelState acked_;
  ModelState current_;
  std::vector<Candidate> on_crash_;
};

}  // namespace raftdns::wal::testing
