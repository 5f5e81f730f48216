// Response under construction: RRsets collected per section (views into the
// store or into a per-query arena), encoded in one place afterwards.
// Everything fits inline for the common answer, so a query allocates
// nothing; a big one (a referral with many name servers over TCP, a long
// chain) spills to the heap rather than dropping data a fixed cap would cut.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <new>
#include <vector>

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
  // Additional section only: referral glue for a name server inside the
  // delegated domain, which must be sent or the reply truncated (RFC 9471).
  bool required = false;
  // The RRSIGs of the RRset just before it in the section (RFC 4035 §3.1.1):
  // never sent without that RRset.
  bool signatures = false;
};

template <size_t N>
class SectionList {
 public:
  size_t count = 0;

  SectionList() noexcept = default;
  SectionList(const SectionList&) = delete;
  SectionList& operator=(const SectionList&) = delete;

  const OutRRset& operator[](size_t i) const noexcept { return i < N ? items()[i] : spill_[i - N]; }
  bool push(const wire::Name* owner, const store::RRsetView& r, uint32_t ttl,
            bool required = false, bool signatures = false) noexcept {
    if (owner == nullptr) return false;
    OutRRset item{owner, r.type, r.rclass, ttl, r, required, signatures};
    if (count < N) {
      new (items() + count++) OutRRset(item);
      return true;
    }
    try {
      spill_.push_back(item);
    } catch (...) {
      return false;  // out of memory: the section stops growing
    }
    ++count;
    return true;
  }
  // Whether an RRset with this owner and type is already in the section.
  bool contains(const wire::Name& owner, uint16_t type) const noexcept {
    for (size_t i = 0; i < count; ++i) {
      const OutRRset& r = (*this)[i];
      if (r.type == type && *r.owner == owner) return true;
    }
    return false;
  }

 private:
  OutRRset* items() noexcept { return std::launder(reinterpret_cast<OutRRset*>(storage_)); }
  const OutRRset* items() const noexcept {
    return std::launder(reinterpret_cast<const OutRRset*>(storage_));
  }
  // Raw storage: only the slots in use are ever written.
  alignas(OutRRset) unsigned char storage_[N * sizeof(OutRRset)];
  std::vector<OutRRset> spill_;
};

struct Response {
  static constexpr size_t kInlineNames = 48;
  static constexpr size_t kArenaSize = 1024;

  uint16_t rcode = wire::rcode::NOERROR;
  bool aa = false;
  // RFC 8914 Extended DNS Error INFO-CODE sent with a REFUSED or SERVFAIL
  // (when the query had EDNS); -1 for none.
  int ede = -1;
  // Some RDATA was made from the query name (a CNAME synthesized from a
  // DNAME, RFC 6672): it carries the letters' case as this query wrote them,
  // so the bytes fit no other spelling of the name.
  bool spells_query_name = false;
  SectionList<40> answer;
  SectionList<12> authority;
  SectionList<32> additional;

  Response() noexcept {}
  Response(const Response&) = delete;
  Response& operator=(const Response&) = delete;

  // A stable copy of `n` for the rest of the query (nullptr when out of memory).
  const wire::Name* keep(const wire::Name& n) noexcept {
    if (names_used_ < kInlineNames) {
      auto* slot = reinterpret_cast<wire::Name*>(name_storage_) + names_used_++;
      return new (slot) wire::Name(n);
    }
    try {
      // Each spilled name has its own allocation, so its address stays put.
      return spilled_names_.emplace_back(std::make_unique<wire::Name>(n)).get();
    } catch (...) {
      return nullptr;
    }
  }

  // One synthesized RDATA, packed as the store packs it (u16 length | rdata).
  bool synthesize(uint16_t type, uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata,
                  store::RRsetView& out) noexcept {
    if (rdata.size() > 0xffff) return false;
    uint8_t* p = nullptr;
    if (kArenaSize - arena_used_ >= rdata.size() + 2) {
      p = arena_ + arena_used_;
      arena_used_ += rdata.size() + 2;
    } else {
      try {
        p = spilled_rdata_.emplace_back(std::make_unique<uint8_t[]>(rdata.size() + 2)).get();
      } catch (...) {
        return false;
      }
    }
    store::store_u16(p, static_cast<uint16_t>(rdata.size()));
    if (!rdata.empty()) std::memcpy(p + 2, rdata.data(), rdata.size());
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
  alignas(wire::Name) unsigned char name_storage_[kInlineNames * sizeof(wire::Name)];
  size_t names_used_ = 0;
  // (std::vector, unlike std::deque, allocates nothing until first used.)
  std::vector<std::unique_ptr<wire::Name>> spilled_names_;
  uint8_t arena_[kArenaSize];
  size_t arena_used_ = 0;
  std::vector<std::unique_ptr<uint8_t[]>> spilled_rdata_;
};

}  // namespace raftdns::query
