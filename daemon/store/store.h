// Store: the LMDB-backed record store (schema, RAII handles, apply, lookups).
//
// Tables (named LMDB databases):
//   meta   — schema version, applied index and term, membership
//   zones  — zone canonical key -> zone metadata
//   rrsets — zone key, owner canonical key, type -> TTL + RDATA set
//   journal — zone key, sequence -> one change to the zone (IXFR, RFC 1995)
//   imports — import id -> a staged zone import (ImportBegin ... ImportCommit)
//   trash   — content keys of zone generations no longer read (reclaim())
//   nsec3   — zone key, generation, NSEC3 owner hash -> (nothing): the NSEC3
//             chain in hash order, for denial proofs on the query path
// Keys sort so that walking a zone (closest encloser, wildcards, export) is a
// cursor scan in RFC 4034 canonical order.
//
// Thread model: one writer (the driver, on the main loop); any number of
// readers on worker threads, each with its own ReadTxn (MDB_NOTLS).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/store/command.h"
#include "daemon/store/signing.h"
#include "daemon/wire/rr.h"

namespace raftdns::store {

// 2: rrsets keys carry the zone's content generation (keys.h).
// 3: the nsec3 table indexes NSEC3 owners by hash.
// A store of an older version is migrated at open.
inline constexpr uint32_t kSchemaVersion = 3;

struct StoreOptions {
  size_t map_size = size_t{4} << 30;  // LMDB map size (virtual; grows the file lazily)
  unsigned max_readers = 256;
  // Changes kept per zone in the IXFR journal (0: none; IXFR then always
  // falls back to a full transfer). A per-node setting: see journal.h.
  uint32_t journal_entries = 100;
};

struct ZoneInfo {
  wire::Name name;
  uint32_t serial = 0;
  uint64_t records = 0;
};

struct StoreStats {
  uint64_t zones = 0;
  uint64_t records = 0;
  uint64_t applied_index = 0;
  uint64_t applied_term = 0;
  uint64_t imports = 0;          // staged imports not yet committed or aborted
  uint64_t staged_records = 0;   // records they hold
  uint64_t reclaim_pending = 0;  // content generations waiting for reclaim()
};

// One part of a zone export (Store::export_part).
struct ZonePart {
  std::vector<wire::Record> records;  // the first part starts with the SOA
  std::vector<uint8_t> cursor;        // for the next part; empty after the last
};

// What one reclaim() call did.
struct ReclaimProgress {
  uint64_t deleted = 0;  // rrsets deleted
  bool done = true;      // nothing is left to reclaim
};

// One entry to apply: its Raft position and the encoded Command.
struct ApplyItem {
  uint64_t index = 0;
  uint64_t term = 0;
  std::span<const uint8_t> command;
};

// What copy_to() wrote.
struct StoreCopy {
  std::string file;  // <path>/data.mdb
  uint64_t applied_index = 0;
  uint64_t applied_term = 0;
  std::vector<uint8_t> membership;
};

class ReadTxn;  // defined in store/read_txn.h (used by the answer engine)

// Told, after an apply() commits (or a snapshot is swapped in), which zones
// it created, changed or removed. Runs on the thread that applied.
using ChangeObserver = std::function<void(const std::vector<wire::Name>& zones)>;

class Store {
 public:
  // Opens or creates the store in `dir` (created if missing). Fails with a
  // message naming the directory on an LMDB error or a schema mismatch.
  static Result<std::unique_ptr<Store>> open(const std::string& dir, StoreOptions opts = {});
  virtual ~Store() = default;

  // Applies a run of entries in ONE write transaction that also records the
  // applied index and term. A command that is invalid against the current
  // state (no enclosing zone, CNAME clash, ...) is rejected deterministically:
  // it changes nothing, its outcome carries the reason, and the applied index
  // still advances. A non-ok return is an I/O failure of the store itself.
  virtual Status apply(std::span<const ApplyItem> items, std::vector<Status>* outcomes) = 0;

  // Checks a command against the current state without applying it (the
  // same rules apply() enforces), so a bad write is refused before it is
  // proposed.
  virtual Status check(const Command& c) const = 0;

  // A read view for one thread at a time (nullptr when LMDB refuses one,
  // e.g. all reader slots are taken). Include daemon/store/read_txn.h to use it.
  virtual std::unique_ptr<ReadTxn> begin_read() const = 0;

  virtual StoreStats stats() const = 0;
  virtual std::vector<ZoneInfo> zones() const = 0;
  // All records of a zone in canonical order (SOA first), for export.
  virtual Result<std::vector<wire::Record>> zone_records(const wire::Name& zone) const = 0;
  // Up to about `max_records` records of a zone in canonical order (the SOA
  // first), from `cursor` (empty: the start). The cursor names the zone's
  // content version: if the zone changes between parts, the next part fails
  // with a reason, so an export is always one version of the zone.
  virtual Result<ZonePart> export_part(const wire::Name& zone, std::span<const uint8_t> cursor,
                                       size_t max_records) const = 0;
  // Records at `owner` (all types when type == 0).
  virtual std::vector<wire::Record> get(const wire::Name& owner, uint16_t type) const = 0;

  // Deterministic 64-bit digest (hex) of all zone data, identical on nodes
  // whose data is identical. It leaves out the applied index, which Raft's
  // empty leader entries move without changing data; status shows the two
  // side by side.
  virtual std::string digest() const = 0;
  // The same digest, of the store as it is at this call, computed by the
  // returned job: it holds its own read transaction, so it may run on another
  // thread (a big store takes seconds) while changes go on being applied.
  virtual std::function<std::string()> digest_job() const = 0;

  // Forces the data to disk (mdb_env_sync(force)); called before the WAL is
  // compacted past the applied index.
  virtual Status sync() = 0;

  // Writes a consistent copy of the store into the directory `path`
  // (mdb_env_copy2 with compaction, then fsync of the file and the
  // directory), for snapshots. Safe to call from any thread, concurrently
  // with apply(). Returns the copy's file and the position it holds, which
  // may be later than the applied index when the call began.
  virtual Result<StoreCopy> copy_to(const std::string& path) const = 0;
  virtual std::string directory() const = 0;

  // Swaps in a snapshot written by copy_to (received from the leader) in
  // place of this store's data, atomically (rename with RENAME_EXCHANGE), and
  // reopens it. `copy_dir` is consumed. ReadTxns begun before keep reading
  // the old data until they end; their renew() then returns false.
  virtual Status replace_with(const std::string& copy_dir) = 0;

  // The applied index and the membership recorded by SetMembership (empty
  // when none), as read at open and after each apply.
  virtual uint64_t applied_index() const = 0;
  virtual std::vector<uint8_t> membership() const = 0;

  // Deletes up to `max_rrsets` RRsets of content generations that nothing
  // reads any more (the old content of a replaced or removed zone, an
  // aborted or stale import), in one write transaction of its own. Called
  // in bounded slices from the main loop, between applies, so a big zone is
  // never deleted in one go. What it deletes is unreachable: every node's
  // reads and digest are the same whether or not it has run.
  virtual Result<ReclaimProgress> reclaim(size_t max_rrsets) = 0;

  // The online signing state of `zone` (nullopt when it is not signed
  // online), without private keys; and every zone signed online.
  virtual std::optional<SigningInfo> signing(const wire::Name& zone) const = 0;
  virtual std::vector<wire::Name> signed_zones() const = 0;

  // Installs the observer of zone changes (one; set before writes begin).
  virtual void set_change_observer(ChangeObserver observer) = 0;
};

}  // namespace raftdns::store
