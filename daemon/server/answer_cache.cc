// AnswerCache: the query key, the slot table, lookups and inserts.
#include "daemon/server/answer_cache.h"

#include <algorithm>
#include <bit>
#include <cstring>
#include <new>
#include <random>

#include <sys/mman.h>

namespace raftdns::server {
namespace {

constexpr size_t kHeader = 12;
constexpr uint16_t kTypeOpt = 41;
constexpr uint16_t kTypeIxfr = 251;
constexpr uint16_t kTypeAxfr = 252;
constexpr size_t kOptFixed = 11;  // root name, type, class, TTL, RDLENGTH

uint16_t read_u16(const uint8_t* p) { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

uint64_t mix(uint64_t h) {
  h = (h ^ (h >> 30)) * 0xbf58476d1ce4e5b9ULL;
  h = (h ^ (h >> 27)) * 0x94d049bb133111ebULL;
  return h ^ (h >> 31);
}

// A keyed hash of the key bytes, eight at a time.
uint64_t hash_bytes(uint64_t seed, const uint8_t* p, size_t n) {
  uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
  while (n >= 8) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    h = mix(h ^ v) + 0x9e3779b97f4a7c15ULL;
    p += 8;
    n -= 8;
  }
  uint64_t tail = 0;
  std::memcpy(&tail, p, n);
  h = mix(h ^ tail ^ (uint64_t{n} << 56));
  return h == 0 ? 1 : h;  // 0 marks an empty slot
}

size_t slot_count(size_t entries) {
  return std::bit_ceil(std::max<size_t>(entries, AnswerCache::kWays));
}

}  // namespace

struct AnswerCache::Slot {
  uint64_t hash;  // of the key; 0 when never used
  uint64_t epoch;
  uint64_t rrl_name_hash;
  uint32_t used;  // the cache's clock when last found or filled
  uint16_t key_size;
  uint16_t answer_size;
  uint16_t rrl_question_end;
  uint16_t rrl_qtype;
  uint8_t rrl_class;
  uint8_t classified;  // whether the rrl_* fields hold the answer's class
  uint8_t data[kSlotSize - 38];  // the key, then the answer
};
AnswerCache::Mapping::Mapping(size_t bytes) : size(bytes) {
  // The kernel's zero pages: a slot costs memory once it is used.
  address = ::mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (address == MAP_FAILED) throw std::bad_alloc();
  // Lookups land anywhere in the table: huge pages spare a TLB miss on most
  // of them (advice only; the kernel may not have them).
  (void)::madvise(address, size, MADV_HUGEPAGE);
}

AnswerCache::Mapping::~Mapping() { ::munmap(address, size); }

AnswerCache::AnswerCache(size_t entries)
    : slot_memory_(slot_count(entries) * sizeof(Slot)),
      tag_memory_(slot_count(entries) * sizeof(uint64_t)),
      seen_memory_(slot_count(entries)),  // 8 bits per slot
      slots_(static_cast<Slot*>(slot_memory_.address)),
      tags_(static_cast<uint64_t*>(tag_memory_.address)),
      seen_(static_cast<uint64_t*>(seen_memory_.address)) {
  static_assert(sizeof(Slot) == kSlotSize);
  static_assert(kWays * sizeof(uint64_t) == 64, "a set's tags fill one cache line");
  const size_t n = slot_count(entries);
  mask_ = n - 1;
  seen_mask_ = n * 8 - 1;
  std::random_device entropy;
  seed_ = uint64_t{entropy()} << 32 | entropy();
}

AnswerCache::~AnswerCache() = default;

bool AnswerCache::make_key(std::span<const uint8_t> q, bool tcp, Key& out) const noexcept {
  const size_t n = q.size();
  if (n < kHeader) return false;
  const uint8_t* m = q.data();
  // A query (QR clear) with opcode QUERY; one question, nothing in the
  // answer or authority sections, at most one additional record (the OPT).
  if ((m[2] & 0x80) || ((m[2] >> 3) & 0x0f) != 0) return false;
  if (read_u16(m + 4) != 1 || read_u16(m + 6) != 0 || read_u16(m + 8) != 0) return false;
  const uint16_t arcount = read_u16(m + 10);
  if (arcount > 1) return false;

  // The name: plain labels only (a pointer in a question has nothing
  // before it to point at), lowercased into the key.
  uint8_t* name = out.bytes + Key::kFixed;
  size_t at = kHeader;
  size_t length = 0;
  for (;;) {
    if (at >= n) return false;
    const uint8_t label = m[at];
    if (label > 63) return false;
    if (length + 1 + label > 255 || at + 1 + label > n) return false;
    name[length++] = label;
    for (size_t i = 1; i <= label; ++i) {
      uint8_t c = m[at + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
      name[length++] = c;
    }
    at += 1 + label;
    if (label == 0) break;
  }
  if (at + 4 > n) return false;
  const uint16_t qtype = read_u16(m + at);
  if (qtype == kTypeAxfr || qtype == kTypeIxfr) return false;
  uint8_t* f = out.bytes;
  f[0] = m[2];
  f[1] = m[3];
  std::memcpy(f + 2, m + at, 4);  // QTYPE, QCLASS
  at += 4;
  f[6] = tcp ? 1 : 0;
  std::memset(f + 7, 0, 7);
  if (arcount == 1) {
    // An OPT at the root with no options, ending the message.
    if (at + kOptFixed != n || m[at] != 0 || read_u16(m + at + 1) != kTypeOpt ||
        read_u16(m + at + 9) != 0) {
      return false;
    }
    f[7] = 1;
    std::memcpy(f + 8, m + at + 3, 6);  // payload size; extended RCODE, version, flags
  } else if (at != n) {
    return false;
  }
  out.name_length = static_cast<uint16_t>(length);
  out.size = static_cast<uint16_t>(Key::kFixed + length);
  out.hash = hash_bytes(seed_, out.bytes, out.size);
  return true;
}

void AnswerCache::use_state(uint64_t store, uint64_t snapshot) noexcept {
  if (have_state_ && store == store_ && snapshot == snapshot_) return;
  if (have_state_) clear();
  have_state_ = true;
  store_ = store;
  snapshot_ = snapshot;
}

void AnswerCache::clear() noexcept {
  ++epoch_;
  ++stats_.clears;
}

uint64_t AnswerCache::tag_of(uint64_t hash) const noexcept {
  const uint64_t t = mix(hash ^ (epoch_ * 0x9e3779b97f4a7c15ULL));
  return t == 0 ? 1 : t;
}

AnswerCache::Slot* AnswerCache::lookup(const Key& key, uint64_t tag) noexcept {
  const size_t set = key.hash & mask_ & ~(kWays - 1);
  const uint64_t* tags = tags_ + set;
  for (size_t way = 0; way < kWays; ++way) {
    if (tags[way] != tag) continue;
    Slot& s = slots_[set + way];
    if (s.hash == key.hash && s.epoch == epoch_ && s.key_size == key.size &&
        std::memcmp(s.data, key.bytes, key.size) == 0) {
      return &s;
    }
  }
  return nullptr;
}

void AnswerCache::prefetch(const Key& key) const noexcept {
  __builtin_prefetch(tags_ + (key.hash & mask_ & ~(kWays - 1)));
}

void AnswerCache::prefetch_slot(const Key& key) const noexcept {
  const size_t set = key.hash & mask_ & ~(kWays - 1);
  const uint64_t tag = tag_of(key.hash);
  for (size_t way = 0; way < kWays; ++way) {
    if (tags_[set + way] != tag) continue;
    // The header, key and a short answer: the slot's first two lines.
    const auto* slot = reinterpret_cast<const char*>(slots_ + set + way);
    __builtin_prefetch(slot);
    __builtin_prefetch(slot + 64);
    return;
  }
}

size_t AnswerCache::find(const Key& key, std::span<const uint8_t> query, std::span<uint8_t> out,
                         ClassifiedResponse* rrl, bool* classified) noexcept {
  Slot* s = lookup(key, tag_of(key.hash));
  if (!s || out.size() < s->answer_size) {
    ++stats_.misses;
    return 0;
  }
  ++stats_.hits;
  s->used = ++clock_;
  const size_t length = s->answer_size;
  std::memcpy(out.data(), s->data + s->key_size, length);
  // The query's ID, and its question as it spelled the name (the key holds
  // it lowercased; names compressed against it follow).
  out[0] = query[0];
  out[1] = query[1];
  std::memcpy(out.data() + kHeader, query.data() + kHeader, key.name_length);
  if (rrl && classified) {
    *classified = s->classified != 0;
    if (s->classified) {
      rrl->response_class = static_cast<ResponseClass>(s->rrl_class);
      rrl->qtype = s->rrl_qtype;
      rrl->name_hash = s->rrl_name_hash;
      rrl->question_end = s->rrl_question_end;
    }
  }
  return length;
}

bool AnswerCache::seen_before(uint64_t hash) noexcept {
  // The set is chosen by the hash's low bits; the filter takes its high ones.
  const size_t bit = static_cast<size_t>(hash >> 32) & seen_mask_;
  uint64_t& word = seen_[bit / 64];
  const uint64_t m = uint64_t{1} << (bit % 64);
  if (word & m) return true;
  // A quarter full, it would let one-off names in too often (up to one in
  // four): start afresh.
  if (++seen_set_ > (seen_mask_ + 1) / 4) {
    std::memset(seen_, 0, (seen_mask_ + 1) / 8);
    seen_set_ = 1;
  }
  word |= m;
  return false;
}

void AnswerCache::insert(const Key& key, std::span<const uint8_t> answer,
                         const ClassifiedResponse* rrl) noexcept {
  const size_t room = sizeof(Slot::data);
  if (answer.size() > room || key.size > room - answer.size()) return;
  // The answer must carry the question it is the answer to, where find()
  // writes the query's spelling of it.
  if (answer.size() < kHeader + key.name_length + 4 || read_u16(answer.data() + 4) != 1) return;
  const uint8_t* name = key.bytes + Key::kFixed;
  for (size_t i = 0; i < key.name_length; ++i) {
    uint8_t c = answer[kHeader + i];
    if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
    if (c != name[i]) return;
  }
  if (std::memcmp(answer.data() + kHeader + key.name_length, key.bytes + 2, 4) != 0) return;

  const uint64_t tag = tag_of(key.hash);
  Slot* s = lookup(key, tag);
  const size_t first = key.hash & mask_ & ~(kWays - 1);
  if (!s) {
    // A free slot of the set, else the one used longest ago.
    Slot* set = slots_ + first;
    for (size_t way = 0; way < kWays && !s; ++way) {
      if (set[way].epoch != epoch_) s = &set[way];
    }
    if (!s) {
      if (!seen_before(key.hash)) {
        ++stats_.declined;
        return;
      }
      s = &set[0];
      for (size_t way = 1; way < kWays; ++way) {
        if (clock_ - set[way].used > clock_ - s->used) s = &set[way];
      }
      ++stats_.evictions;
    }
  }
  ++stats_.inserts;
  tags_[static_cast<size_t>(s - slots_)] = tag;
  s->hash = key.hash;
  s->epoch = epoch_;
  s->used = ++clock_;
  s->key_size = key.size;
  s->answer_size = static_cast<uint16_t>(answer.size());
  std::memcpy(s->data, key.bytes, key.size);
  std::memcpy(s->data + key.size, answer.data(), answer.size());
  s->classified = rrl != nullptr;
  if (rrl) {
    s->rrl_class = static_cast<uint8_t>(rrl->response_class);
    s->rrl_qtype = rrl->qtype;
    s->rrl_name_hash = rrl->name_hash;
    s->rrl_question_end = static_cast<uint16_t>(rrl->question_end);
  }
}

}  // namespace raftdns::server
