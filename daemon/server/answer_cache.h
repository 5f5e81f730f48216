// AnswerCache: one DNS worker's cache of finished answers, in wire form.
//
// Why: most queries an authoritative server gets repeat: the same name and
// type, asked the same way. Answering one from the store walks LMDB's
// B-trees for the zone, the node and its RRsets, then encodes the sections
// with compression; answering it from here is a hash, a compare and a copy.
//
// What makes two queries the same (the key): every byte of the query that
// the answer depends on -
//   - the query name, lowercased (the question is copied from the query into
//     every answer given from here, so the client sees its own spelling);
//   - QTYPE and QCLASS;
//   - the header's flag octets (RD and CD are echoed; the rest is kept so
//     that an odd query never shares an answer with a plain one);
//   - UDP or TCP (the size limit, and so truncation, differ);
//   - the OPT record, if any: its payload size (the limit a UDP answer is
//     cut to), and its extended RCODE, version and flags (DO among them).
// Only queries whose every other byte is fixed are cached: one question
// with an uncompressed name, no answer or authority records, and no
// additional record but an OPT without options. A query with EDNS options
// (a DNS cookie is per client), a TSIG signature, another opcode (UPDATE,
// NOTIFY) or a transfer type (AXFR, IXFR) always goes to the engine, and so
// do answers the engine reports as not reusable (last_answer_reusable).
//
// Freshness: an answer is only served for the store state it was made
// from. The worker reports its read view's state before every batch
// (use_state: the store environment's serial and the LMDB transaction ID,
// see ReadTxn::snapshot_id); when it differs from the last, the cache is
// emptied. A change applied on the node is
// therefore seen by the first query that reads after it, exactly as without
// the cache; emptying is O(1) (an epoch bump). An engine reload empties it
// too (clear).
//
// Memory: a fixed table of 256-byte slots mapped once (zero pages, so
// untouched slots cost no memory; huge pages where the kernel gives them),
// eight-way set-associative; a slot holds the key and the answer, so an
// answer that does not fit beside its key (over ~200 bytes) is not cached.
// Beside it, one 64-byte line of tags per set (a hash of the key and the
// epoch for each way): a lookup reads that line and then only the slot
// whose tag matches, instead of eight slots' worth of cache misses. In a
// full set the slot used longest ago is replaced, but only by an answer
// asked for before: a name asked once (a random name that does not exist,
// as a scan or a cache-busting flood sends) would push out an answer that
// is asked again and again. A bit per hash in a "seen" filter (eight bits
// per slot, emptied when a quarter of them are set) lets an answer in over
// a full set on its second miss. Where a set has room, an answer goes in at
// once. Nothing on the lookup or insert path allocates.
//
// One cache belongs to one worker thread and takes no lock.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>

#include "daemon/server/rrl.h"

namespace raftdns::server {

class AnswerCache {
 public:
  static constexpr size_t kSlotSize = 256;
  static constexpr size_t kWays = 8;

  // The cacheable part of one query (see the header comment).
  struct Key {
    static constexpr size_t kFixed = 14;  // the fields before the name
    uint64_t hash = 0;
    uint16_t size = 0;          // bytes of `bytes` in use
    uint16_t name_length = 0;   // of the query name, in wire form
    uint8_t bytes[kFixed + 255];
  };

  // Makes the key of `query`; false when the query is not one whose answer
  // is cached.
  bool make_key(std::span<const uint8_t> query, bool tcp, Key& out) const noexcept;

  // `entries` slots, rounded up to a power of two (at least kWays).
  explicit AnswerCache(size_t entries);
  ~AnswerCache();
  AnswerCache(const AnswerCache&) = delete;
  AnswerCache& operator=(const AnswerCache&) = delete;

  // The store state the next lookups read: `store` and `snapshot` are the
  // read view's ReadTxn::store_serial and snapshot_id. Any other state than
  // the last empties the cache.
  void use_state(uint64_t store, uint64_t snapshot) noexcept;
  // Empties the cache (the engine changed).
  void clear() noexcept;

  // A batch's lookups overlap their cache misses: prefetch() every key of
  // the batch (it starts loading the key's set of tags), then
  // prefetch_slot() every key (the slot whose tag matches, by now most
  // likely in), then find() each. Both are hints and change nothing.
  void prefetch(const Key& key) const noexcept;
  void prefetch_slot(const Key& key) const noexcept;

  // The cached answer to `query` (whose key is `key`), written to `out`
  // with the query's ID and question: its length, or 0 on a miss. When
  // `rrl` is given and the answer was kept with its class, the class is
  // copied there and `*classified` set.
  size_t find(const Key& key, std::span<const uint8_t> query, std::span<uint8_t> out,
              ClassifiedResponse* rrl = nullptr, bool* classified = nullptr) noexcept;

  // Keeps `answer`, the engine's answer to the query whose key is `key`
  // (with its RRL class when known). An answer that does not echo that
  // query's question, or does not fit a slot, is left out.
  void insert(const Key& key, std::span<const uint8_t> answer,
              const ClassifiedResponse* rrl = nullptr) noexcept;

  size_t slots() const noexcept { return mask_ + 1; }

  struct Stats {
    uint64_t hits = 0, misses = 0, inserts = 0, evictions = 0, clears = 0;
    uint64_t declined = 0;  // a first miss, kept out of a full set
  };
  const Stats& stats() const noexcept { return stats_; }

 private:
  struct Slot;
  // An anonymous mapping, unmapped on destruction.
  struct Mapping {
    void* address = nullptr;
    size_t size = 0;
    explicit Mapping(size_t bytes);
    ~Mapping();
    Mapping(const Mapping&) = delete;
    Mapping& operator=(const Mapping&) = delete;
  };
  // The tag of `hash` in the current epoch (never 0, which marks a tag
  // never set).
  uint64_t tag_of(uint64_t hash) const noexcept;
  Slot* lookup(const Key& key, uint64_t tag) noexcept;

  // Whether `hash` was seen before (then true), and notes it.
  bool seen_before(uint64_t hash) noexcept;

  Mapping slot_memory_, tag_memory_, seen_memory_;
  Slot* slots_;
  uint64_t* tags_;  // kWays per set, one cache line
  uint64_t* seen_;  // the "seen" filter: 8 bits per slot
  size_t seen_mask_ = 0;   // bits - 1
  size_t seen_set_ = 0;    // bits set since it was last emptied
  size_t mask_ = 0;  // slots - 1
  uint64_t seed_ = 0;
  uint64_t epoch_ = 1;  // slots of another epoch are empty (fresh pages hold 0)
  uint32_t clock_ = 0;  // use stamps, for the set's least recently used
  uint64_t store_ = 0, snapshot_ = 0;
  bool have_state_ = false;
  Stats stats_;
};

}  // namespace raftdns::server
