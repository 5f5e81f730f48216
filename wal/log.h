// The Raft log as a crash-safe write-ahead log on disk: segment files, a meta log, recovery.
//
// ===========================================================================
//  Design
// ===========================================================================
//
// The WAL stores entries (index, term, payload bytes) and one small piece of
// state (term, vote, commit, snapshot index/term). It knows nothing of Raft or
// DNS. Its promise: once sync() (or truncate_suffix, compact_prefix,
// reset_to_snapshot, set_hard_state) has returned OK, that state survives a
// kill -9 or a power cut at any instant, and recovery never invents, reorders
// or silently drops an entry that was made durable.
//
// Directory layout
// ----------------
//   <dir>/meta                              the meta log (hard state, snapshot)
//   <dir>/<seq:016x>-<base:016x>.wal        segments, seq = creation order,
//                                           base = index of the first record
//   <dir>/*.tmp                             half-made files; deleted at open
//
// Segment format (all integers little-endian)
// -------------------------------------------
// A segment is created at its full size (segment_size) with fallocate, so
// everything past the last record reads as zeros, and appends never change the
// file size (fdatasync then has no metadata to write).
//
//   header, 64 bytes: magic "RDNSWAL\0", u32 version (1), u32 flags
//     (bit 0: first segment of a fresh chain, see reset_to_snapshot), u64 seq,
//     u64 base index, u64 segment size, 20 zero bytes, u32 CRC32C of bytes 0-59.
//   records, each at an 8-byte aligned offset, back to back:
//     u32 payload_len
//     u32 payload_crc       CRC32C of the payload
//     u64 index
//     u64 term
//     u32 header_crc        CRC32C of the other 28 header bytes
//     u24 durable_lag       index minus the highest index that was already
//                           fsynced when this record was written (saturating)
//     u8  0xA5              header marker
//     payload, then zero padding, then one marker byte 0xA5, so that the
//     record ends on an 8-byte boundary: size = align8(32 + payload_len + 1).
//   a 32-byte all-zero header marks the end of the records.
//
// Why each field: the two CRCs let recovery check a header without trusting
// its length. The marker bytes tell a torn write from bit rot: a write cut
// short loses its final bytes, so a torn header or record has a zero where
// its marker belongs, while a flipped bit leaves the marker non-zero. durable_lag
// is a cheap "everything up to here was already on disk" proof: if a damaged
// record is followed by a good one whose proof covers it, the damaged record
// had been synced, so it is corruption, not a torn tail.
//
// Meta log
// --------
// <dir>/meta is append-only too: a 64-byte header (magic "RDNSMETA", version,
// CRC) and then 64-byte records, each a full copy of
//   {u64 seq, term, vote, commit, snapshot_index, snapshot_term,
//    chain_start_seq, u32 CRC32C of the 56 bytes, 3 zero bytes, marker 0xA5}.
// The newest valid record wins; seq numbers must run consecutively. Writing a
// new record never touches the previous one, so a crash mid-write leaves the
// last synced state intact: the hard state can never go backwards. When the
// file is full it is rewritten with one record: write meta.tmp, fsync,
// rename, fsync the directory.
//
// Write path and group commit
// ---------------------------
// append() encodes all given entries into one buffer and issues one pwrite per
// segment it touches; it does not sync. sync() issues one fdatasync on the
// active segment if anything was written since the last one, so a batch of
// 1,000 entries costs one sync. When the active segment is full, append()
// fdatasyncs it before creating the next one (write header to a .tmp file,
// fallocate, fsync, rename, fsync the directory). A sealed segment is
// therefore always entirely durable, and only the last segment can have a
// torn tail.
//
// fsyncgate: if fdatasync or fsync fails, the kernel may already have thrown
// the dirty pages away and will report success next time. So a failed sync,
// or any failed write, poisons the Log: every later call fails. The process
// must restart and recover from what really is on disk.
//
// Reads
// -----
// An in-memory index keeps, per live entry, its segment, offset, payload size
// and term. term() never touches the disk; entries() does one pread per
// segment run and checks each payload CRC. There is no user-space entry cache:
// the entries Raft reads back are almost always the ones just written (to
// replicate them) or a contiguous range for a lagging follower, and both are
// served from the kernel page cache, which is shared, bounded and already
// paid for. A second copy in our heap would double the memory without saving
// a syscall per batch.
//
// Truncation, compaction, reset
// -----------------------------
// truncate_suffix(from): unlink whole segments whose base >= from, newest
// first (so a crash midway leaves a contiguous log), fsync the directory, then
// ftruncate the remaining last segment at the record for `from`, fdatasync,
// and fallocate it back to full size. Stale records are therefore never left
// on disk behind the write position: the area after the end is zeros.
//
// compact_prefix(upto): syncs pending appends, writes a meta record with the
// new snapshot index/term (the commit point), then unlinks sealed segments
// whose entries are all <= upto. Recovery finishes an interrupted unlink.
//
// reset_to_snapshot(i, t): creates a new segment (flag "chain start", base
// i+1), writes a meta record with the snapshot and chain_start_seq = that
// segment's seq (the commit point), then unlinks every older segment.
// Recovery deletes segments older than chain_start_seq, and a chain-start
// segment newer than it (a reset that never committed).
//
// Recovery (Log::open), and what each failure does
// ------------------------------------------------
//  1. *.tmp files are deleted: they are files whose creation never finished.
//  2. The meta log is read. A torn last record (marker byte zero) is cut off
//     and logged. A damaged record with its marker intact, a seq gap, or a
//     bad header is corruption: open fails naming the file and offset.
//  3. Segments older than chain_start_seq, a never-committed reset segment,
//     and segments wholly below the snapshot are unlinked (logged). Each step
//     is what the interrupted operation would have done next, so recovery is
//     idempotent and a crash during recovery is itself recovered.
//  4. Every segment is scanned. A bad header, a record whose index is not the
//     next one, a segment whose base does not follow the previous segment's
//     last index, any damaged record in a sealed segment, or non-zero bytes
//     after the last record of a sealed segment is corruption.
//  5. In the last segment, a damaged record is a torn tail only if it bears
//     the mark of an unfinished write (a marker byte zero, or a whole
//     512-byte sector of it zero, which is what a lost
//     sector looks like in a preallocated file) and no later record proves it
//     was synced. A torn tail, and whatever follows it, is cut off with
//     ftruncate + fdatasync and a log line naming file and offset. Anything
//     else, such as a flipped bit, is corruption: "Protocol-Aware Recovery"
//     (FAST'18) showed that treating bit rot as a torn tail silently loses
//     committed entries, so the node refuses to start instead.
//  6. The last segment and the meta file are fdatasynced once, so what
//     recovery read (maybe from the page cache after a kill -9) is durable
//     before anyone acts on it.
//
// Known limit: a flipped bit in the very last record, with no later record,
// is still reported as corruption (correct), but a whole lost sector of a
// synced record in that position is indistinguishable from a torn write and
// is cut. Raft tolerates that: such an entry is recovered from the leader.
//
// Threading: a Log is not thread-safe; one thread (the Raft driver) owns it.
// ===========================================================================
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/histogram.h"
#include "common/result.h"
#include "wal/file_system.h"

namespace raftdns::wal {

struct Entry {
  uint64_t index = 0;
  uint64_t term = 0;
  std::vector<uint8_t> payload;

  friend bool operator==(const Entry&, const Entry&) = default;
};

struct HardState {
  uint64_t term = 0;
  uint64_t vote = 0;
  uint64_t commit = 0;

  friend bool operator==(const HardState&, const HardState&) = default;
};

// What the most recent failed call was about (Log::last_error()).
enum class ErrorCode : uint8_t {
  ok,
  compacted,         // the index is at or below snapshot_index()
  unavailable,       // the index is above last_index()
  invalid_argument,  // the call broke its precondition (e.g. a non-contiguous append)
  io,                // the file system failed
  corrupt,           // bytes on disk are damaged (names file and offset)
  poisoned,          // an earlier write or sync failed; reopen the log
};

const char* to_string(ErrorCode code) noexcept;

// Figures a metrics scraper reads from another thread while the Log runs on
// its own. The Log is the only writer; every field is a relaxed atomic.
struct LogMetrics {
  LatencyHistogram fsync_seconds;          // each fdatasync/fsync of a segment or the meta log
  std::atomic<uint64_t> bytes_written{0};  // record bytes appended to segments
  std::atomic<uint64_t> segments{0};       // live segment files
};

struct Options {
  // Segments are preallocated to this size; a record larger than a segment
  // gets a segment of its own.
  uint64_t segment_size = 64ull << 20;
  // Size of the meta log file; when full it is rewritten with one record.
  // Tests shrink it to exercise the rewrite.
  uint64_t meta_size = 64ull << 10;
  // nullptr = the real POSIX file system.
  FileSystem* fs = nullptr;
  // Receives recovery log lines (a torn tail cut off, leftovers deleted).
  // Default: stderr.
  std::function<void(const std::string&)> log;
  // Optional; must outlive the Log.
  LogMetrics* metrics = nullptr;
};

class Log {
 public:
  // Opens (creating if needed) the WAL in `dir` and runs recovery. Fails on
  // corruption with a message naming the file, the offset and what is wrong.
  static Result<std::unique_ptr<Log>> open(const std::string& dir, Options opts = {});

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Appends entries; the first must have index last_index()+1 and the rest
  // must follow one by one. Written to the file (one pwrite per segment
  // touched) but not synced.
  [[nodiscard]] Status append(std::span<const Entry> entries);

  // One fdatasync for everything appended so far (none if nothing is
  // pending). On failure the Log is poisoned: never retry an fsync.
  [[nodiscard]] Status sync();

  // Drops entries >= from (snapshot_index() < from <= last_index()+1).
  // Durable before it returns, together with everything below `from`.
  [[nodiscard]] Status truncate_suffix(uint64_t from);

  // Records (upto, term_at_upto) as the snapshot durably, then deletes
  // whole segments whose entries are all <= upto. upto <= last_index(); a
  // call at or below snapshot_index() is a no-op. Afterwards first_index()
  // is upto+1 and term(upto) is term_at_upto.
  [[nodiscard]] Status compact_prefix(uint64_t upto, uint64_t term_at_upto);

  // A snapshot at (index, term) was installed: drops every entry; the next
  // append must be index+1. Durable before it returns.
  [[nodiscard]] Status reset_to_snapshot(uint64_t index, uint64_t term);

  // Entries in [lo, hi), stopping once the payloads reach max_bytes but
  // always returning at least one entry when lo < hi. Errors: compacted if
  // lo <= snapshot_index(), unavailable if hi > last_index()+1 (see
  // last_error()), corrupt if a payload fails its CRC.
  [[nodiscard]] Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi,
                                                   uint64_t max_bytes) const;

  // Term of entry i; i == snapshot_index() gives snapshot_term().
  [[nodiscard]] Result<uint64_t> term(uint64_t i) const;

  uint64_t first_index() const noexcept;  // snapshot_index() + 1
  uint64_t last_index() const noexcept;   // snapshot_index() if there are no entries
  uint64_t snapshot_index() const noexcept;
  uint64_t snapshot_term() const noexcept;

  // Atomic and durable before it returns (one append to the meta log and one
  // fdatasync; none if `hs` equals the current hard state). It is a separate
  // file from the segments, so a changed hard state costs its own fdatasync:
  // call it when term or vote change, and for commit only as often as needed.
  [[nodiscard]] Status set_hard_state(const HardState& hs);
  HardState hard_state() const noexcept;

  // Bytes in use in live segment files (headers and records, not the
  // preallocated zeros).
  uint64_t size_bytes() const noexcept;
  // Every fsync/fdatasync this Log has issued since open (not counting the
  // ones recovery did).
  uint64_t fsync_count() const noexcept;
  // Code of the most recent failed call; ok if the last call succeeded.
  ErrorCode last_error() const noexcept;
  // True once a write or sync failed; every later mutating or reading call fails.
  bool poisoned() const noexcept;

 private:
  struct Impl;
  explicit Log(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace raftdns::wal
