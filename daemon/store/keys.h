// Key layout of the store's LMDB tables, built in fixed stack buffers so the
// query path never allocates.
//
//   zones   key: zone canonical key | 0x00
//   rrsets  key: zone canonical key | 0x00 | generation u32 | owner key below the zone | 0x00 |
//                type (big-endian)
//   imports key: import id u64 (a staged zone import, see ImportState)
//   trash   key: zone canonical key | 0x00 | generation u32 (content to reclaim)
//   nsec3   key: zone canonical key | 0x00 | generation u32 | raw owner hash
//                (an index of the rrsets holding NSEC3, value empty)
//
// A zone's records live under one "generation" (its content key: zone key |
// 0x00 | generation), named by the zones table. An import stages the new
// records under a fresh generation nobody reads, and its commit repoints the
// zones entry: the switch is O(1) however big the zone. The old generation
// goes to the trash table, and is deleted in bounded slices off the apply
// path (Store::reclaim); no reader can reach it any more.
//
// Canonical keys (see wire::Name::canonical_key) list labels from the root,
// lowercased, each followed by 0x00, with 0x00/0x01 inside labels escaped as
// 0x01 0x01 / 0x01 0x02; label bytes are therefore never 0x00. The 0x00 after
// the zone key and after the owner key end a name, and sort before any label
// byte, so within a zone the rrsets of an owner come right after the owner's
// ancestors and right before its descendants: RFC 4034 §6.1 order, one zone
// after another, as a plain memcmp scan.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "common/bytes.h"
#include "daemon/wire/name.h"

namespace raftdns::store {

// Worst case: every label octet escaped (2 bytes) plus one separator a label.
inline constexpr size_t kMaxNameKey = 2 * wire::kMaxNameLength + 2;
// LMDB's compiled-in key limit (mdb_env_get_maxkeysize); longer keys are
// refused at apply time and never found at lookup time.
inline constexpr size_t kMaxLmdbKey = 511;
inline constexpr size_t kGenerationSize = 4;
inline constexpr size_t kMaxRRsetKey = kMaxNameKey + kGenerationSize + 4;

// The canonical key of a name and of each of its ancestors (prefixes).
class NameKey {
 public:
  NameKey() noexcept = default;  // the root
  explicit NameKey(const wire::Name& n) noexcept { assign(n); }
  void assign(const wire::Name& n) noexcept;

  size_t labels() const noexcept { return labels_; }
  std::span<const uint8_t> bytes() const noexcept { return {bytes_, len_}; }
  // Key of the ancestor with `n` labels (n <= labels()).
  std::span<const uint8_t> prefix(size_t n) const noexcept { return {bytes_, ends_[n]}; }
  size_t prefix_length(size_t n) const noexcept { return ends_[n]; }

 private:
  uint8_t bytes_[kMaxNameKey];
  uint16_t ends_[wire::kMaxLabels + 1] = {0};
  uint16_t len_ = 0;
  uint8_t labels_ = 0;
};

// A key assembled in place.
struct KeyBuffer {
  uint8_t data[kMaxRRsetKey];
  size_t size = 0;

  std::span<const uint8_t> span() const noexcept { return {data, size}; }
  std::string str() const { return std::string(reinterpret_cast<const char*>(data), size); }
  void append(std::span<const uint8_t> b) noexcept {
    std::memcpy(data + size, b.data(), b.size());
    size += b.size();
  }
  void push(uint8_t b) noexcept { data[size++] = b; }
};

// zone key | 0x00
inline void make_zone_key(std::span<const uint8_t> zone_key, KeyBuffer& out) noexcept {
  out.size = 0;
  out.append(zone_key);
  out.push(0);
}

// zone key | 0x00 | generation: the prefix of every rrsets key of one
// version of a zone's content.
inline void make_content_key(std::span<const uint8_t> zone_key, uint32_t generation,
                             KeyBuffer& out) noexcept {
  make_zone_key(zone_key, out);
  uint8_t g[kGenerationSize];
  bytes::store_u32(g, generation);
  out.append(g);
}

// zone key | 0x00 | generation | owner key below the zone | 0x00. `owner_key`
// must start with `zone_key`. Every rrset of the owner starts with this prefix.
inline void make_owner_prefix(std::span<const uint8_t> zone_key, uint32_t generation,
                              std::span<const uint8_t> owner_key, KeyBuffer& out) noexcept {
  make_content_key(zone_key, generation, out);
  out.append(owner_key.subspan(zone_key.size()));
  out.push(0);
}

inline void make_rrset_key(std::span<const uint8_t> zone_key, uint32_t generation,
                           std::span<const uint8_t> owner_key, uint16_t type,
                           KeyBuffer& out) noexcept {
  make_owner_prefix(zone_key, generation, owner_key, out);
  out.push(static_cast<uint8_t>(type >> 8));
  out.push(static_cast<uint8_t>(type));
}

// Splits an rrsets key; false on a malformed key.
struct RRsetKeyParts {
  std::span<const uint8_t> zone_key;   // without the 0x00 that ends it
  uint32_t generation = 0;
  std::span<const uint8_t> owner_rel;  // owner key below the zone
  uint16_t type = 0;
};
bool split_rrset_key(std::span<const uint8_t> key, RRsetKeyParts& out) noexcept;

// RRset value: ttl u32 | class u16 | count u16 | count x (length u16 | rdata),
// all big-endian, RDATA sorted in RFC 4034 §6.3 canonical order.
inline constexpr size_t kRRsetHeaderSize = 8;

using bytes::load_u16;
using bytes::load_u32;
using bytes::load_u64;
using bytes::store_u16;
using bytes::store_u32;
using bytes::store_u64;

// zones value: serial u32 | records u64 | dname rrsets u32 | delegation NS
// rrsets u32 | rrsets at wildcard owners u32 | generation u32 | the apex SOA
// as an rrsets value. The counters let the query path skip the walk from the
// apex when a zone has no cuts, DNAMEs or wildcards; the SOA copy saves a
// lookup on every negative answer; the generation names the content.
inline constexpr size_t kZoneValueFixed = 28;
struct ZoneMeta {
  uint32_t serial = 0;
  uint32_t generation = 0;
  uint64_t records = 0;
  uint32_t dnames = 0;
  uint32_t cuts = 0;
  uint32_t wildcards = 0;
  std::span<const uint8_t> soa;  // rrsets value of the apex SOA (may be empty)

  static bool parse(std::span<const uint8_t> v, ZoneMeta& out) noexcept {
    if (v.size() < kZoneValueFixed) return false;
    out.serial = load_u32(v.data());
    out.records = load_u64(v.data() + 4);
    out.dnames = load_u32(v.data() + 12);
    out.cuts = load_u32(v.data() + 16);
    out.wildcards = load_u32(v.data() + 20);
    out.generation = load_u32(v.data() + 24);
    out.soa = v.subspan(kZoneValueFixed);
    return true;
  }
  std::string encode() const {
    std::string v(kZoneValueFixed + soa.size(), '\0');
    auto* p = reinterpret_cast<uint8_t*>(v.data());
    store_u32(p, serial);
    store_u64(p + 4, records);
    store_u32(p + 12, dnames);
    store_u32(p + 16, cuts);
    store_u32(p + 20, wildcards);
    store_u32(p + 24, generation);
    if (!soa.empty()) std::memcpy(p + kZoneValueFixed, soa.data(), soa.size());
    return v;
  }
};

// meta key: the most labels any zone apex has (u8). Lets find_zone skip
// probing names deeper than every zone; absent means "no hint".
inline constexpr std::string_view kMaxZoneLabelsKey = "max_zone_labels";

// meta key: the next generation to hand out (u32); generations are never
// reused, so reclaimed content can never collide with live or staged content.
inline constexpr std::string_view kNextGenerationKey = "next_generation";

// imports value: a staged zone import (see store::ImportBegin).
//   zone wire length u8 | zone (wire) | generation u32 | chunks u32 |
//   last index u64 | apex SOA records u32 | then the zone counters as a
//   zones value (ZoneMeta, whose generation is the staged one)
struct ImportState {
  std::vector<uint8_t> zone_wire;
  uint32_t generation = 0;
  uint32_t chunks = 0;          // chunks applied so far (the next one's sequence)
  uint64_t last_index = 0;      // the log index of the begin or the last chunk
  uint32_t apex_soas = 0;       // SOA records given at the apex, over all chunks
  std::string meta;             // ZoneMeta of the staged content, encoded

  static bool parse(std::span<const uint8_t> v, ImportState& out) {
    if (v.empty() || v.size() < 1u + v[0] + 20) return false;
    size_t n = v[0];
    out.zone_wire.assign(v.begin() + 1, v.begin() + 1 + static_cast<std::ptrdiff_t>(n));
    const uint8_t* p = v.data() + 1 + n;
    out.generation = load_u32(p);
    out.chunks = load_u32(p + 4);
    out.last_index = load_u64(p + 8);
    out.apex_soas = load_u32(p + 16);
    out.meta.assign(reinterpret_cast<const char*>(p + 20), v.size() - 1 - n - 20);
    return true;
  }
  std::string encode() const {
    std::string v(1 + zone_wire.size() + 20, '\0');
    auto* p = reinterpret_cast<uint8_t*>(v.data());
    p[0] = static_cast<uint8_t>(zone_wire.size());
    std::memcpy(p + 1, zone_wire.data(), zone_wire.size());
    p += 1 + zone_wire.size();
    store_u32(p, generation);
    store_u32(p + 4, chunks);
    store_u64(p + 8, last_index);
    store_u32(p + 16, apex_soas);
    v += meta;
    return v;
  }
};

// NSEC3 owners (RFC 5155 §3) are one base32hex label below the apex. Their
// keys interleave in the rrsets table with every other child of the apex
// and its subtree, so the query path finds the NSEC3 matching or covering a
// hash through the nsec3 table instead: the same content key, then the raw
// hash, in hash order. base32hex keeps the order of what it encodes, so the
// index is also the chain's order as the owners sort.
// The most a 63-character base32hex label decodes to.
inline constexpr size_t kMaxNsec3Hash = 39;

// The raw hash an owner key below the zone (`owner_rel`: one label then
// 0x00) spells in base32hex; its length, or 0 when it is not such a name.
size_t nsec3_owner_hash(std::span<const uint8_t> owner_rel, uint8_t out[kMaxNsec3Hash]) noexcept;

// zone key | 0x00 | generation | hash
inline void make_nsec3_key(std::span<const uint8_t> zone_key, uint32_t generation,
                           std::span<const uint8_t> hash, KeyBuffer& out) noexcept {
  make_content_key(zone_key, generation, out);
  out.append(hash);
}

// True when an owner key (canonical) has a "*" label anywhere.
inline bool key_has_wildcard_label(std::span<const uint8_t> owner_key) noexcept {
  for (size_t i = 0; i + 1 < owner_key.size(); ++i) {
    if (owner_key[i] == '*' && owner_key[i + 1] == 0 && (i == 0 || owner_key[i - 1] == 0)) {
      return true;
    }
  }
  return false;
}

}  // namespace raftdns::store
