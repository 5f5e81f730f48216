// Response under construction: RRsets collected per section (views into the
// store or into a small per-query arena), encoded in one place afterwards.
// Fixed capacities, no heap: a query that needs more simply stops adding.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <new>

#include "daemon/store/read_txn.h"
#include "daemon/wire/name.h"
#include "daemon/wire/types.h"

namespace raftdns::query {

struct OutRRset {
  const wire::Name* owner;
  uint16_t type;
  uint16_t rclass;
  uint32_t ttl;
  store::RRsetView rdatas;
};

template <size_t N>
class SectionList {
 public:
  size_t count = 0;

  const OutRRset& operator[](size_t i) const noexcept { return items()[i]; }
  bool push(const wire::Name* owner, const store::RRsetView& r, uint32_t ttl) noexcept {
    if (count == N || owner == nullptr) return false;
    new (items() + count++) OutRRset{owner, r.type, r.rclass, ttl, r};
    return true;
  }

 private:
  OutRRset* items() noexcept { return std::launder(reinterpret_cast<OutRRset*>(storage_)); }
  const OutRRset* items() const noexcept {
    return std::launder(reinterpret_cast<const OutRRset*>(storage_));
  }
  // Raw storage: only the slots in use are ever written.
  alignas(OutRRset) unsigned char storage_[N * sizeof(OutRRset)];
};

struct Response {
  static constexpr size_t kMaxNames = 48;
  static constexpr size_t kArenaSize = 1024;

  uint16_t rcode = wire::rcode::NOERROR;
  bool aa = false;
  SectionList<40> answer;
  SectionList<12> authority;
  SectionList<32> additional;

  Response() noexcept {}
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  // A stable copy of `n` for the rest of the query (nullptr when full).
  const wire::Name* keep(const wire::Name& n) noexcept {
    if (names_used_ == kMaxNames) return nullptr;
    auto* slot = reinterpret_cast<wire::Name*>(name_storage_) + names_used_++;
    return new (slot) wire::Name(n);
  }

  // One synthesized RDATA, packed as the store packs it (u16 length | rdata).
  bool synthesize(uint16_t type, uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata,
                  store::RRsetView& out) noexcept {
    if (rdata.size() > 0xffff || kArenaSize - arena_used_ < rdata.size() + 2) return false;
    uint8_t* p = arena_ + arena_used_;
    store::store_u16(p, static_cast<uint16_t>(rdata.size()));
    if (!rdata.empty()) std::memcpy(p + 2, rdata.data(), rdata.size());
    arena_used_ += rdata.size() + 2;
    out.type = type;
    out.rclass = rclass;
    out.ttl = ttl;
    out.count = 1;
    out.packed = {p, rdata.size() + 2};
    return true;
  }

 private:
  // wire::Name is trivially destructible: raw storage avoids zeroing 48
  // names on every query.
  alignas(wire::Name) unsigned char name_storage_[kMaxNames * sizeof(wire::Name)];
  size_t names_used_ = 0;
  uint8_t arena_[kArenaSize];
  size_t arena_used_ = 0;
};

}  // namespace raftdns::query
