// StateMachine: what the replication driver needs from the data it replicates.
//
// The driver knows nothing of DNS: it hands committed commands (opaque bytes)
// to a StateMachine in log order and asks it for snapshots. The daemon binds
// its LMDB store to this interface; tests bind a small in-memory one.
//
// Contract, in the terms of the driver's durability order:
//  - apply() takes a run of committed entries and applies them atomically,
//    recording the index and term of the last one as the applied position.
//    It need not be durable when it returns: after a crash the state machine
//    may come back at an earlier applied position, and the driver replays the
//    WAL from there. It must never come back at a position it did not reach.
//  - sync() makes everything applied so far durable; the driver calls it
//    before the WAL forgets entries (compaction).
//  - write_snapshot() makes a consistent copy at (at least) the applied
//    position; it is the only method the driver may call from a background
//    thread, concurrently with apply().
//  - apply() runs on the loop thread, or on the driver's apply thread
//    (NodeConfig::apply_thread). With the thread, the driver calls no other
//    method while an apply() runs, but write_snapshot() and the digest
//    jobs'; the state machine's own change notices then come from that
//    thread.
//  - install_snapshot() replaces the whole state with a received copy,
//    atomically and durably: after a crash during it, the state machine holds
//    either the old state or the new one, whole.
#pragma once

#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace raftdns::replication {

struct AppliedPosition {
  uint64_t index = 0;
  uint64_t term = 0;
};

// One committed entry to apply.
struct ApplyItem {
  enum class Kind : uint8_t {
    none,        // an entry with no command (a leader's empty entry): moves the position only
    command,     // `data` is a command as submitted to the driver
    membership,  // `data` is the encoded membership after a conf change (encode_membership)
  };
  uint64_t index = 0;
  uint64_t term = 0;
  Kind kind = Kind::none;
  std::span<const uint8_t> data;
};

// What write_snapshot() made: one file, and the position it holds.
struct SnapshotFile {
  std::string path;
  AppliedPosition position;
  std::vector<uint8_t> membership;  // as recorded at `position`
};

class StateMachine {
 public:
  virtual ~StateMachine() = default;

  // The position of the last applied entry ({0, 0} for an empty state).
  virtual AppliedPosition applied() const = 0;
  // The membership recorded by the last applied membership item (empty if none).
  virtual std::vector<uint8_t> membership() const = 0;

  // Applies `items` in order, as one atomic step. `outcomes` gets one Status
  // per item: a command the state machine refuses (deterministically, the
  // same on every node) changes nothing and carries the reason, and the
  // position still moves. A non-ok return is a failure of the state
  // machine's own storage; the driver treats it as fatal.
  virtual Status apply(std::span<const ApplyItem> items, std::vector<Status>* outcomes) = 0;

  // Makes everything applied so far durable.
  virtual Status sync() = 0;

  // Writes a consistent copy of the state into the existing, empty directory
  // `dir` as one file, durably. May run on a background thread while the
  // loop thread calls apply(). The copy may be taken at a later position
  // than applied() was when the call began; SnapshotFile says which.
  virtual Result<SnapshotFile> write_snapshot(const std::string& dir) const = 0;

  // Replaces the state with the copy in `file` (made by write_snapshot on
  // another node and already durable here), atomically and durably. The
  // file is consumed.
  virtual Status install_snapshot(const std::string& file) = 0;

  // A digest of the replicated data (not of the applied position), equal on
  // nodes whose data is equal. For status output and tests.
  virtual std::string digest() const = 0;

  // The digest of the state as it is at this call, computed by the returned
  // job, which the driver runs on another thread so that a big state never
  // holds the loop: the job must read a consistent view of its own (a read
  // transaction) while apply() goes on. The default computes it now.
  virtual std::function<std::string()> digest_job() const {
    return [d = digest()] { return d; };
  }

  // Where the state lives (a directory), for messages that must name it.
  virtual std::string location() const = 0;
};

}  // namespace raftdns::replication
