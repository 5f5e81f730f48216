// ReadTxn: a consistent read-only view of the store, used by the answer
// engine on worker threads (one per worker, MDB_NOTLS).
//
// Every lookup is noexcept and allocation-free: keys are built in stack
// buffers and results are views into the LMDB map, valid until the ReadTxn is
// renewed or destroyed. Lookups are zone-relative: find the zone first
// (find_zone), then ask about names in it by canonical key (NameKey).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "daemon/store/keys.h"

struct MDB_txn;
struct MDB_cursor;

namespace raftdns::store {

namespace lmdb {
class Env;
}

// One stored RRset. Iterating yields each RDATA (uncompressed wire form), in
// canonical order.
struct RRsetView {
  uint16_t type = 0;
  uint16_t rclass = 0;
  uint32_t ttl = 0;
  uint16_t count = 0;
  std::span<const uint8_t> packed;  // count x (length u16 | rdata)

  class iterator {
   public:
    iterator() = default;
    iterator(const uint8_t* p, const uint8_t* end) noexcept : p_(p), end_(end) { settle(); }
    std::span<const uint8_t> operator*() const noexcept { return {p_ + 2, len_}; }
    iterator& operator++() noexcept {
      p_ += 2 + len_;
      settle();
      return *this;
    }
    bool operator==(const iterator& o) const noexcept { return p_ == o.p_; }

   private:
    // A length running past the value (a damaged store) ends the iteration.
    void settle() noexcept {
      if (end_ - p_ < 2) {
        p_ = end_;
        len_ = 0;
        return;
      }
      len_ = load_u16(p_);
      if (static_cast<size_t>(end_ - p_) - 2 < len_) {
        p_ = end_;
        len_ = 0;
      }
    }
    const uint8_t* p_ = nullptr;
    const uint8_t* end_ = nullptr;
    size_t len_ = 0;
  };
  iterator begin() const noexcept { return {packed.data(), packed.data() + packed.size()}; }
  iterator end() const noexcept {
    return {packed.data() + packed.size(), packed.data() + packed.size()};
  }

  // Reads a stored rrsets value; false when it is malformed.
  static bool parse(uint16_t type, std::span<const uint8_t> value, RRsetView& out) noexcept;
};

// A zone found by find_zone: the apex is the ancestor of the looked-up name
// with `apex_labels` labels, and its canonical key is the first `key_length`
// bytes of any owner key in the zone.
struct ZoneRef {
  uint8_t apex_labels = 0;
  uint16_t key_length = 0;
  uint32_t generation = 0;  // the version of the zone's content (keys.h)
  // Whether the zone holds delegations (NS below the apex), DNAMEs, or
  // names with a "*" label: without them a lookup needs no walk from the apex.
  bool has_cuts = false;
  bool has_dnames = false;
  bool has_wildcards = false;
  RRsetView soa;  // the apex SOA (count 0 when missing)
};

// Everything stored at one owner name, read in one cursor scan.
struct NodeView {
  static constexpr size_t kInline = 24;
  bool has_data = false;         // at least one RRset at the owner
  bool has_descendants = false;  // some name below it holds data (so it exists, RFC 4592 §2.2.2)
  bool overflow = false;         // more than kInline types: use ReadTxn::find_type
  uint8_t count = 0;
  RRsetView rrsets[kInline];

  bool exists() const noexcept { return has_data || has_descendants; }
  // Only the inline RRsets; see ReadTxn::find_type for the complete answer.
  const RRsetView* find(uint16_t type) const noexcept {
    for (size_t i = 0; i < count; ++i)
      if (rrsets[i].type == type) return &rrsets[i];
    return nullptr;
  }
};

class ReadTxn {
 public:
  ReadTxn(const ReadTxn&) = delete;
  ReadTxn& operator=(const ReadTxn&) = delete;
  ~ReadTxn();

  // Moves the view to the newest committed state (mdb_txn_reset + renew),
  // which is cheaper than a new Store::begin_read(). Returns false when the
  // store has since swapped in a snapshot (Store::replace_with) or LMDB
  // failed: the view is then unusable, so begin a new one.
  bool renew() noexcept;

  // The state this view reads, as (store_serial, snapshot_id): two views,
  // or two renewals of one, that report the same pair read the same data,
  // and a commit after either makes a different pair. snapshot_id is the
  // LMDB transaction ID, which every committed write moves on; store_serial
  // names the LMDB environment, which Store::replace_with swaps for one
  // whose IDs say nothing about the old one's.
  uint64_t snapshot_id() const noexcept;
  uint64_t store_serial() const noexcept;

  // The deepest zone whose apex is `name` or an ancestor of it, considering
  // only apexes with at most `max_labels` labels (DS is answered by the parent).
  bool find_zone(const NameKey& name, ZoneRef& out,
                 size_t max_labels = wire::kMaxLabels) const noexcept;

  // Reads every RRset at `owner_key` (which lies in zone `z`).
  void load_node(const ZoneRef& z, std::span<const uint8_t> owner_key,
                 NodeView& out) const noexcept;
  bool get_rrset(const ZoneRef& z, std::span<const uint8_t> owner_key, uint16_t type,
                 RRsetView& out) const noexcept;
  // The RRset of `type` from a loaded node, going back to the store only
  // when the node overflowed its inline slots.
  bool find_type(const ZoneRef& z, std::span<const uint8_t> owner_key, const NodeView& node,
                 uint16_t type, RRsetView& out) const noexcept;

  // Denial of existence (RFC 4035 §3.1.3, RFC 5155 §7.2). Both read in
  // place, without allocating.
  //
  // The NSEC RRset of the nearest owner of zone `z` that sorts before
  // `name_key` (an owner key in the zone, which need not exist) and holds
  // one: the NSEC that covers the name in a signed zone. The owner's
  // canonical key goes to `owner`. The walk back skips owners without an
  // NSEC (glue and other data below a cut); false when it finds none
  // within kMaxNsecWalk RRsets.
  static constexpr size_t kMaxNsecWalk = 4096;
  bool nsec_before(const ZoneRef& z, std::span<const uint8_t> name_key, KeyBuffer& owner,
                   RRsetView& out) const noexcept;
  // From the NSEC3 index of zone `z` (`zone_key` is any owner key in it):
  // the largest owner hash <= `hash` (< when `strict`), or else the
  // largest of all, as the chain wraps round (RFC 5155 §3.1.7). Its length
  // (written to `out`), or 0 when the zone has no NSEC3.
  size_t nsec3_at_or_before(const ZoneRef& z, std::span<const uint8_t> zone_key,
                            std::span<const uint8_t> hash, bool strict,
                            uint8_t out[kMaxNsec3Hash]) const noexcept;

 private:
  friend class LmdbStore;
  friend class ZoneCursor;
  friend class JournalCursor;
  ReadTxn() = default;
  void load_hints() noexcept;
  std::shared_ptr<lmdb::Env> env_;
  size_t max_zone_labels_ = wire::kMaxLabels;
  MDB_txn* txn_ = nullptr;
  MDB_cursor* cursor_ = nullptr;  // on rrsets; moved by const lookups
  MDB_cursor* nsec3_cursor_ = nullptr;  // on nsec3
};

// Walks every RRset of one zone in RFC 4034 canonical order, for zone
// transfers. It reads through its own LMDB cursor in the ReadTxn's snapshot,
// so a walk that spans many calls sees one consistent version of the zone;
// the views it returns stay valid until the ReadTxn is renewed or ends.
class ZoneCursor {
 public:
  // `zone_key` is the zone apex's canonical key (NameKey::bytes()); the walk
  // covers the zone's live content as of the ReadTxn.
  ZoneCursor(const ReadTxn& txn, std::span<const uint8_t> zone_key) noexcept;
  ~ZoneCursor();
  ZoneCursor(const ZoneCursor&) = delete;
  ZoneCursor& operator=(const ZoneCursor&) = delete;

  // The next RRset: its owner's key below the zone (empty at the apex) and
  // its data. False at the end of the zone or on an LMDB error (failed()).
  bool next(std::span<const uint8_t>& owner_rel, RRsetView& out) noexcept;
  bool failed() const noexcept { return failed_; }

 private:
  MDB_cursor* cursor_ = nullptr;
  KeyBuffer prefix_;  // zone key | 0x00 | generation
  bool started_ = false;
  bool failed_ = false;
};

// Reads one zone's IXFR journal, oldest change first. Each entry is
//   serial from u32 | serial to u32 | deletions u32 | additions u32 |
//   records: owner length u16 | owner (wire, lowercase) | type u16 |
//            class u16 | TTL u32 | RDATA length u16 | RDATA
// with the deletions first (the old SOA leading them) and then the
// additions (the new SOA leading them), as RFC 1995 §4 sends them.
class JournalCursor {
 public:
  JournalCursor(const ReadTxn& txn, std::span<const uint8_t> zone_key) noexcept;
  ~JournalCursor();
  JournalCursor(const JournalCursor&) = delete;
  JournalCursor& operator=(const JournalCursor&) = delete;

  // The next entry's value (valid while the ReadTxn lives); false at the end.
  bool next(std::span<const uint8_t>& entry) noexcept;

 private:
  MDB_cursor* cursor_ = nullptr;
  KeyBuffer prefix_;
  bool started_ = false;
};

}  // namespace raftdns::store
