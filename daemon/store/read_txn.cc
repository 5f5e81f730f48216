// ReadTxn: zone-relative lookups over an LMDB read-only transaction.
#include "daemon/store/read_txn.h"

#include <lmdb.h>

#include <algorithm>
#include <cstring>

#include "daemon/store/lmdb.h"
#include "daemon/store/scan.h"
#include "daemon/wire/types.h"

namespace raftdns::store {

bool RRsetView::parse(uint16_t type, std::span<const uint8_t> value, RRsetView& out) noexcept {
  if (value.size() < kRRsetHeaderSize) return false;
  out.type = type;
  out.ttl = load_u32(value.data());
  out.rclass = load_u16(value.data() + 4);
  out.count = load_u16(value.data() + 6);
  out.packed = value.subspan(kRRsetHeaderSize);
  return true;
}

namespace scan {

std::span<const uint8_t> bytes_of(const MDB_val& v) noexcept {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

bool find_zone(MDB_txn* txn, MDB_dbi zones, const NameKey& name, size_t max_labels,
               ZoneRef& out) noexcept {
  KeyBuffer key;
  size_t top = name.labels() < max_labels ? name.labels() : max_labels;
  for (size_t n = top + 1; n-- > 0;) {
    auto prefix = name.prefix(n);
    if (prefix.size() + 1 > kMaxLmdbKey) continue;
    make_zone_key(prefix, key);
    MDB_val k = lmdb::val(key.data, key.size), v;
    if (mdb_get(txn, zones, &k, &v) == 0) {
      ZoneMeta meta;
      if (!ZoneMeta::parse(bytes_of(v), meta)) continue;
      out.apex_labels = static_cast<uint8_t>(n);
      out.key_length = static_cast<uint16_t>(prefix.size());
      out.has_cuts = meta.cuts != 0;
      out.has_dnames = meta.dnames != 0;
      out.has_wildcards = meta.wildcards != 0;
      out.generation = meta.generation;
      out.soa = RRsetView{};
      if (!meta.soa.empty()) RRsetView::parse(wire::rrtype::SOA, meta.soa, out.soa);
      return true;
    }
  }
  return false;
}

void load_node(MDB_cursor* cursor, std::span<const uint8_t> zone_key, uint32_t generation,
               std::span<const uint8_t> owner_key, NodeView& out) noexcept {
  out.has_data = out.has_descendants = out.overflow = false;
  out.count = 0;
  KeyBuffer prefix;
  make_owner_prefix(zone_key, generation, owner_key, prefix);
  if (prefix.size + 2 > kMaxLmdbKey) return;
  MDB_val k = lmdb::val(prefix.data, prefix.size), v;
  int rc = mdb_cursor_get(cursor, &k, &v, MDB_SET_RANGE);
  while (rc == 0 && k.mv_size == prefix.size + 2 &&
         std::memcmp(k.mv_data, prefix.data, prefix.size) == 0) {
    out.has_data = true;
    uint16_t type = load_u16(static_cast<const uint8_t*>(k.mv_data) + prefix.size);
    if (out.count < NodeView::kInline) {
      if (RRsetView::parse(type, bytes_of(v), out.rrsets[out.count])) ++out.count;
    } else {
      out.overflow = true;
    }
    rc = mdb_cursor_get(cursor, &k, &v, MDB_NEXT);
  }
  // The first key after the owner's own rrsets is its first descendant, if
  // it has one: same "zone | 0x00 | generation | owner" start, then a label
  // byte.
  size_t stem = prefix.size - 1;
  if (rc == 0 && k.mv_size > stem && std::memcmp(k.mv_data, prefix.data, stem) == 0 &&
      static_cast<const uint8_t*>(k.mv_data)[stem] != 0) {
    out.has_descendants = true;
  }
}

bool get_rrset(MDB_txn* txn, MDB_dbi rrsets, std::span<const uint8_t> zone_key,
               uint32_t generation, std::span<const uint8_t> owner_key, uint16_t type,
               RRsetView& out) noexcept {
  KeyBuffer key;
  make_rrset_key(zone_key, generation, owner_key, type, key);
  if (key.size > kMaxLmdbKey) return false;
  MDB_val k = lmdb::val(key.data, key.size), v;
  if (mdb_get(txn, rrsets, &k, &v) != 0) return false;
  return RRsetView::parse(type, bytes_of(v), out);
}

}  // namespace scan

ReadTxn::~ReadTxn() {
  if (cursor_) mdb_cursor_close(cursor_);
  if (nsec3_cursor_) mdb_cursor_close(nsec3_cursor_);
  if (txn_) mdb_txn_abort(txn_);
}

bool ReadTxn::renew() noexcept {
  if (!txn_ || env_->retired.load(std::memory_order_acquire)) return false;
  mdb_txn_reset(txn_);
  if (mdb_txn_renew(txn_) != 0) return false;
  if (mdb_cursor_renew(txn_, cursor_) != 0) return false;
  if (mdb_cursor_renew(txn_, nsec3_cursor_) != 0) return false;
  load_hints();
  return true;
}

uint64_t ReadTxn::snapshot_id() const noexcept { return txn_ ? mdb_txn_id(txn_) : 0; }
uint64_t ReadTxn::store_serial() const noexcept { return env_ ? env_->serial : 0; }

void ReadTxn::load_hints() noexcept {
  MDB_val k = lmdb::val(kMaxZoneLabelsKey), v;
  max_zone_labels_ = wire::kMaxLabels;
  if (mdb_get(txn_, env_->meta, &k, &v) == 0 && v.mv_size == 1) {
    max_zone_labels_ = *static_cast<const uint8_t*>(v.mv_data);
  }
}

bool ReadTxn::find_zone(const NameKey& name, ZoneRef& out, size_t max_labels) const noexcept {
  return scan::find_zone(txn_, env_->zones, name, std::min(max_labels, max_zone_labels_), out);
}

void ReadTxn::load_node(const ZoneRef& z, std::span<const uint8_t> owner_key,
                        NodeView& out) const noexcept {
  scan::load_node(cursor_, owner_key.first(z.key_length), z.generation, owner_key, out);
}

bool ReadTxn::get_rrset(const ZoneRef& z, std::span<const uint8_t> owner_key, uint16_t type,
                        RRsetView& out) const noexcept {
  return scan::get_rrset(txn_, env_->rrsets, owner_key.first(z.key_length), z.generation,
                         owner_key, type, out);
}

bool ReadTxn::find_type(const ZoneRef& z, std::span<const uint8_t> owner_key, const NodeView& node,
                        uint16_t type, RRsetView& out) const noexcept {
  if (const RRsetView* r = node.find(type)) {
    out = *r;
    return true;
  }
  return node.overflow && get_rrset(z, owner_key, type, out);
}

namespace {

bool has_prefix(const MDB_val& k, const KeyBuffer& prefix) noexcept {
  return k.mv_size >= prefix.size && std::memcmp(k.mv_data, prefix.data, prefix.size) == 0;
}

// The last key before where `k` would go: MDB_SET_RANGE, then one back (or
// the table's last key when `k` is past the end).
int seek_before(MDB_cursor* c, MDB_val& k, MDB_val& v) noexcept {
  int rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE);
  if (rc == MDB_NOTFOUND) return mdb_cursor_get(c, &k, &v, MDB_LAST);
  if (rc != 0) return rc;
  return mdb_cursor_get(c, &k, &v, MDB_PREV);
}

}  // namespace

bool ReadTxn::nsec_before(const ZoneRef& z, std::span<const uint8_t> name_key, KeyBuffer& owner,
                          RRsetView& out) const noexcept {
  const auto zone_key = name_key.first(z.key_length);
  KeyBuffer content, at;
  make_content_key(zone_key, z.generation, content);
  make_owner_prefix(zone_key, z.generation, name_key, at);
  if (at.size > kMaxLmdbKey) return false;
  MDB_val k = lmdb::val(at.data, at.size), v;
  int rc = seek_before(cursor_, k, v);
  // Keys are content | owner below the zone | 0x00 | type, in canonical
  // order: walking back passes the name's predecessors, nearest first.
  for (size_t steps = 0; rc == 0 && steps < kMaxNsecWalk; ++steps) {
    if (!has_prefix(k, content) || k.mv_size < content.size + 3) return false;  // left the zone
    const auto* key = static_cast<const uint8_t*>(k.mv_data);
    if (load_u16(key + k.mv_size - 2) == wire::rrtype::NSEC) {
      owner.size = 0;
      owner.append(zone_key);
      owner.append({key + content.size, k.mv_size - content.size - 3});
      return RRsetView::parse(wire::rrtype::NSEC, scan::bytes_of(v), out);
    }
    rc = mdb_cursor_get(cursor_, &k, &v, MDB_PREV);
  }
  return false;
}

size_t ReadTxn::nsec3_at_or_before(const ZoneRef& z, std::span<const uint8_t> zone_key,
                                   std::span<const uint8_t> hash, bool strict,
                                   uint8_t out[kMaxNsec3Hash]) const noexcept {
  zone_key = zone_key.first(z.key_length);
  if (hash.size() > kMaxNsec3Hash) return 0;
  KeyBuffer content, at;
  make_content_key(zone_key, z.generation, content);
  make_nsec3_key(zone_key, z.generation, hash, at);
  if (at.size > kMaxLmdbKey) return 0;
  auto take = [&](const MDB_val& k) -> size_t {
    const size_t n = k.mv_size - content.size;
    std::memcpy(out, static_cast<const uint8_t*>(k.mv_data) + content.size, n);
    return n;
  };
  auto in_zone = [&](const MDB_val& k) {
    return has_prefix(k, content) && k.mv_size > content.size &&
           k.mv_size - content.size <= kMaxNsec3Hash;
  };
  MDB_val k = lmdb::val(at.data, at.size), v;
  int rc = mdb_cursor_get(nsec3_cursor_, &k, &v, MDB_SET_RANGE);
  if (rc == 0 && !strict && k.mv_size == at.size && std::memcmp(k.mv_data, at.data, at.size) == 0) {
    return take(k);
  }
  rc = rc == MDB_NOTFOUND ? mdb_cursor_get(nsec3_cursor_, &k, &v, MDB_LAST)
       : rc == 0          ? mdb_cursor_get(nsec3_cursor_, &k, &v, MDB_PREV)
                          : rc;
  if (rc == 0 && in_zone(k)) return take(k);
  // Below the zone's first hash: the last one covers it (the wrap).
  uint8_t ones[kMaxNsec3Hash + 1];
  std::memset(ones, 0xff, sizeof ones);
  make_nsec3_key(zone_key, z.generation, ones, at);
  if (at.size > kMaxLmdbKey) return 0;
  k = lmdb::val(at.data, at.size);
  rc = seek_before(nsec3_cursor_, k, v);
  return rc == 0 && in_zone(k) ? take(k) : 0;
}

// --- ZoneCursor ---

ZoneCursor::ZoneCursor(const ReadTxn& txn, std::span<const uint8_t> zone_key) noexcept {
  make_zone_key(zone_key, prefix_);
  if (!txn.txn_) {
    failed_ = true;
    return;
  }
  // The zone's live generation, in this transaction's view.
  MDB_val k = lmdb::val(prefix_.data, prefix_.size), v;
  ZoneMeta meta;
  if (prefix_.size > kMaxLmdbKey || mdb_get(txn.txn_, txn.env_->zones, &k, &v) != 0 ||
      !ZoneMeta::parse(scan::bytes_of(v), meta)) {
    return;  // no such zone: an empty walk
  }
  make_content_key(zone_key, meta.generation, prefix_);
  if (mdb_cursor_open(txn.txn_, txn.env_->rrsets, &cursor_) != 0) {
    cursor_ = nullptr;
    failed_ = true;
  }
}

ZoneCursor::~ZoneCursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

bool ZoneCursor::next(std::span<const uint8_t>& owner_rel, RRsetView& out) noexcept {
  if (!cursor_) return false;
  MDB_val k = lmdb::val(prefix_.data, prefix_.size), v;
  int rc = started_ ? mdb_cursor_get(cursor_, &k, &v, MDB_NEXT)
                    : mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
  started_ = true;
  if (rc != 0) {
    failed_ = rc != MDB_NOTFOUND;
    return false;
  }
  const auto* key = static_cast<const uint8_t*>(k.mv_data);
  // zone key | 0x00 | generation | owner below the zone | 0x00 | type
  if (k.mv_size < prefix_.size + 3 || std::memcmp(key, prefix_.data, prefix_.size) != 0) {
    return false;
  }
  const uint16_t type = load_u16(key + k.mv_size - 2);
  owner_rel = {key + prefix_.size, k.mv_size - prefix_.size - 3};
  if (!RRsetView::parse(type, {static_cast<const uint8_t*>(v.mv_data), v.mv_size}, out)) {
    failed_ = true;
    return false;
  }
  return true;
}

// --- JournalCursor ---

JournalCursor::JournalCursor(const ReadTxn& txn, std::span<const uint8_t> zone_key) noexcept {
  make_zone_key(zone_key, prefix_);
  if (!txn.txn_ || mdb_cursor_open(txn.txn_, txn.env_->journal, &cursor_) != 0) cursor_ = nullptr;
}

JournalCursor::~JournalCursor() {
  if (cursor_) mdb_cursor_close(cursor_);
}

bool JournalCursor::next(std::span<const uint8_t>& entry) noexcept {
  if (!cursor_) return false;
  MDB_val k = lmdb::val(prefix_.data, prefix_.size), v;
  int rc = started_ ? mdb_cursor_get(cursor_, &k, &v, MDB_NEXT)
                    : mdb_cursor_get(cursor_, &k, &v, MDB_SET_RANGE);
  started_ = true;
  if (rc != 0 || k.mv_size != prefix_.size + 8 ||
      std::memcmp(k.mv_data, prefix_.data, prefix_.size) != 0) {
    return false;
  }
  entry = {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
  return true;
}

}  // namespace raftdns::store
