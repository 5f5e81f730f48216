// TSIG checks, transfer policy, and AXFR/IXFR streams for the DNS workers.
#include "daemon/xfr/responder.h"

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "daemon/store/keys.h"
#include "daemon/store/store.h"
#include "daemon/wire/types.h"

namespace raftdns::xfr {
namespace {

namespace T = wire::rrtype;
constexpr size_t kMaxMessage = 65535;

inline uint16_t get16(const uint8_t* p) noexcept { return static_cast<uint16_t>(p[0] << 8 | p[1]); }

// The QTYPE of a query with one question whose name is not compressed (what
// every client sends), without parsing the rest. 0 when it cannot tell.
uint16_t peek_qtype(std::span<const uint8_t> q) noexcept {
  if (q.size() < wire::kHeaderSize + 5 || get16(q.data() + 4) != 1) return 0;
  size_t p = wire::kHeaderSize;
  while (p < q.size() && q[p] != 0) {
    if (q[p] & 0xc0) return 0;
    p += 1u + q[p];
  }
  if (p + 3 > q.size() - 1) return 0;
  return get16(q.data() + p + 1);
}

wire::Header reply_header(const wire::QueryView& q, uint16_t rcode) {
  wire::Header h;
  h.id = q.header.id;
  h.qr = true;
  h.opcode = q.header.opcode;
  h.rd = q.header.rd;
  h.cd = q.header.cd;
  h.rcode = static_cast<uint8_t>(rcode);
  return h;
}

// A stored owner name from its zone key and the key below the zone.
wire::Name owner_name(const std::string& zone_key, std::span<const uint8_t> rel) {
  std::string key = zone_key;
  key.append(reinterpret_cast<const char*>(rel.data()), rel.size());
  auto n = wire::Name::from_canonical_key(key);
  return n ? *n : wire::Name();
}

// Packs the answer records of one AXFR message. Every owner lies in the
// zone, so instead of a general compression search (whose cost grows with
// its table) each owner is written as a pointer to the same owner written
// just before, or as its labels below the apex plus a pointer to the apex.
// RDATA goes uncompressed, which RFC 3597 §4 allows for every type.
class Packer {
 public:
  Packer(std::span<uint8_t> out, size_t limit, const wire::Name& apex)
      : out_(out), limit_(std::min(limit, out.size())), apex_(apex) {}

  void question(const wire::Question& q) {
    apex_at_ = pos_;  // the question names the apex
    std::memcpy(out_.data() + pos_, q.name.wire().data(), q.name.wire_length());
    pos_ += q.name.wire_length();
    put16(q.qtype);
    put16(q.qclass);
    qdcount_ = 1;
  }

  // `generation` identifies the owner (equal: same owner as the last record).
  bool add(const wire::Name& owner, uint64_t generation, uint16_t type, uint16_t rclass,
           uint32_t ttl, std::span<const uint8_t> rdata) {
    const size_t below = owner.wire_length() - apex_.wire_length();  // label bytes under the apex
    size_t name_bytes;
    const bool same_owner =
        ancount_ > 0 && generation == last_generation_ && last_owner_at_ <= 0x3fff;
    if (same_owner) {
      name_bytes = 2;
    } else if (apex_at_ <= 0x3fff) {
      name_bytes = below + 2;
    } else {
      name_bytes = owner.wire_length();
    }
    if (pos_ + name_bytes + 10 + rdata.size() > limit_) return false;
    const size_t owner_at = pos_;
    if (same_owner) {
      put16(static_cast<uint16_t>(0xc000 | last_owner_at_));
    } else if (apex_at_ <= 0x3fff) {
      std::memcpy(out_.data() + pos_, owner.wire().data(), below);
      pos_ += below;
      put16(static_cast<uint16_t>(0xc000 | apex_at_));
    } else {
      std::memcpy(out_.data() + pos_, owner.wire().data(), owner.wire_length());
      apex_at_ = pos_ + below;
      pos_ += owner.wire_length();
    }
    last_owner_at_ = owner_at;
    last_generation_ = generation;
    put16(type);
    put16(rclass);
    put16(static_cast<uint16_t>(ttl >> 16));
    put16(static_cast<uint16_t>(ttl));
    put16(static_cast<uint16_t>(rdata.size()));
    if (!rdata.empty()) std::memcpy(out_.data() + pos_, rdata.data(), rdata.size());
    pos_ += rdata.size();
    ++ancount_;
    return true;
  }

  size_t answers() const { return ancount_; }

  size_t finish(const wire::Header& h) {
    uint8_t* p = out_.data();
    p[0] = static_cast<uint8_t>(h.id >> 8);
    p[1] = static_cast<uint8_t>(h.id);
    p[2] = static_cast<uint8_t>((h.qr ? 0x80 : 0) | (h.opcode & 0xf) << 3 | (h.aa ? 0x04 : 0) |
                                (h.rd ? 0x01 : 0));
    p[3] = static_cast<uint8_t>(h.rcode & 0xf);
    const uint16_t counts[4] = {qdcount_, ancount_, 0, 0};
    for (int i = 0; i < 4; ++i) {
      p[4 + 2 * i] = static_cast<uint8_t>(counts[i] >> 8);
      p[5 + 2 * i] = static_cast<uint8_t>(counts[i]);
    }
    return pos_;
  }

 private:
  void put16(uint16_t v) {
    out_[pos_] = static_cast<uint8_t>(v >> 8);
    out_[pos_ + 1] = static_cast<uint8_t>(v);
    pos_ += 2;
  }

  std::span<uint8_t> out_;
  size_t limit_;
  const wire::Name& apex_;
  size_t pos_ = wire::kHeaderSize;
  size_t apex_at_ = SIZE_MAX;  // where the apex name (or a copy) was written
  size_t last_owner_at_ = SIZE_MAX;
  uint64_t last_generation_ = UINT64_MAX;
  uint16_t qdcount_ = 0, ancount_ = 0;
};

// The message that ends a transfer which cannot go on (a store error, or a
// record that fits no message): SERVFAIL, so the client never takes a
// partial zone for a whole one. `room` is kept free for the TSIG record.
size_t failure_message(std::span<uint8_t> out, size_t room, wire::Header h,
                       const wire::Question& question) {
  wire::MessageWriter w(out, kMaxMessage - room);
  h.rcode = wire::rcode::SERVFAIL;
  h.aa = false;
  w.set_header(h);
  (void)w.add_question(question);
  return w.finish();
}

// AXFR (RFC 5936 §2.2): SOA, every other RRset of the zone in canonical
// order, SOA again, packed into as few messages as fit; also the AXFR-style
// answer to an IXFR (RFC 1995 §4). Each message is signed when the request
// was.
class AxfrStream final : public OutgoingTransfer {
 public:
  AxfrStream(std::unique_ptr<store::ReadTxn> txn, const wire::Question& question, uint16_t id,
             bool rd, const wire::Name& apex, std::string zone_key, store::RRsetView soa,
             std::shared_ptr<const TransferSettings> settings, const tsig::Key* key,
             std::span<const uint8_t> request_mac)
      : txn_(std::move(txn)),
        cursor_(*txn_, {reinterpret_cast<const uint8_t*>(zone_key.data()), zone_key.size()}),
        question_(question),
        id_(id),
        rd_(rd),
        apex_(apex),
        zone_key_(std::move(zone_key)),
        soa_(soa),
        settings_(std::move(settings)),
        owner_(apex) {
    if (key) signer_.emplace(*key, request_mac);
  }

  bool done() const override { return stage_ == Stage::done; }

  size_t next(std::span<uint8_t> out, uint64_t now) override {
    if (stage_ == Stage::done) return 0;
    const size_t room = signer_ ? signer_->record_size() : 0;
    Packer w(out, kMaxMessage - room, apex_);
    if (first_) w.question(question_);
    auto soa_rdata = *soa_.begin();
    if (stage_ == Stage::first_soa && w.add(apex_, 0, T::SOA, soa_.rclass, soa_.ttl, soa_rdata)) {
      stage_ = Stage::records;
    }
    while (stage_ == Stage::records) {
      if (!pending_) {
        std::span<const uint8_t> rel;
        if (!cursor_.next(rel, rrset_)) {
          stage_ = cursor_.failed() ? Stage::failed : Stage::last_soa;
          break;
        }
        if (rel.empty() && rrset_.type == T::SOA) continue;
        // Consecutive RRsets mostly share an owner: decode it once.
        if (rel.size() != last_rel_.size() ||
            std::memcmp(rel.data(), last_rel_.data(), rel.size()) != 0) {
          last_rel_.assign(reinterpret_cast<const char*>(rel.data()), rel.size());
          owner_ = rel.empty() ? apex_ : owner_name(zone_key_, rel);
          ++owner_generation_;
        }
        it_ = rrset_.begin();
        pending_ = true;
      }
      bool full = false;
      for (; it_ != rrset_.end(); ++it_) {
        if (!w.add(owner_, owner_generation_, rrset_.type, rrset_.rclass, rrset_.ttl, *it_)) {
          full = true;
          break;
        }
      }
      if (full) break;
      pending_ = false;
    }
    if (stage_ == Stage::last_soa && w.add(apex_, 0, T::SOA, soa_.rclass, soa_.ttl, soa_rdata)) {
      stage_ = Stage::done;
    }
    if (w.answers() == 0 && stage_ != Stage::done) stage_ = Stage::failed;
    wire::Header h;
    h.id = id_;
    h.qr = true;
    h.aa = true;
    h.rd = rd_;
    if (stage_ == Stage::failed) {
      stage_ = Stage::done;
      return sign(out, failure_message(out, room, h, question_), now);
    }
    first_ = false;
    return sign(out, w.finish(h), now);
  }

 private:
  enum class Stage : uint8_t { first_soa, records, last_soa, done, failed };

  size_t sign(std::span<uint8_t> out, size_t length, uint64_t now) {
    if (!signer_) return length;
    return signer_->sign(out, length, now);
  }

  std::unique_ptr<store::ReadTxn> txn_;
  store::ZoneCursor cursor_;
  wire::Question question_;
  uint16_t id_;
  bool rd_;
  wire::Name apex_;
  std::string zone_key_;
  store::RRsetView soa_;
  std::shared_ptr<const TransferSettings> settings_;  // keeps the key alive
  std::optional<tsig::Signer> signer_;
  Stage stage_ = Stage::first_soa;
  bool first_ = true;
  bool pending_ = false;
  store::RRsetView rrset_;
  store::RRsetView::iterator it_;
  wire::Name owner_;
  uint64_t owner_generation_ = 1;  // 0 is the apex
  std::string last_rel_;
};

// An incremental transfer (RFC 1995 §4) from the journal: the current SOA,
// then per change the old SOA, the deletions, the new SOA, the additions,
// and the current SOA again.
class IxfrStream final : public OutgoingTransfer {
 public:
  IxfrStream(std::unique_ptr<store::ReadTxn> txn, const wire::Question& question, uint16_t id,
             bool rd, const wire::Name& apex, store::RRsetView soa,
             std::vector<std::span<const uint8_t>> entries,
             std::shared_ptr<const TransferSettings> settings, const tsig::Key* key,
             std::span<const uint8_t> request_mac)
      : txn_(std::move(txn)),
        question_(question),
        id_(id),
        rd_(rd),
        apex_(apex),
        soa_(soa),
        entries_(std::move(entries)),
        settings_(std::move(settings)) {
    if (key) signer_.emplace(*key, request_mac);
  }

  bool done() const override { return stage_ == Stage::done; }

  size_t next(std::span<uint8_t> out, uint64_t now) override {
    if (stage_ == Stage::done) return 0;
    const size_t room = signer_ ? signer_->record_size() : 0;
    wire::MessageWriter w(out, kMaxMessage - room);
    wire::Header h;
    h.id = id_;
    h.qr = true;
    h.aa = true;
    h.rd = rd_;
    w.set_header(h);
    if (first_) (void)w.add_question(question_);
    size_t added = 0;
    auto add_soa = [&] {
      if (!w.add_record(wire::Section::answer, apex_, T::SOA, soa_.rclass, soa_.ttl,
                        *soa_.begin())) {
        return false;
      }
      ++added;
      return true;
    };
    if (stage_ == Stage::first_soa && add_soa()) stage_ = Stage::changes;
    while (stage_ == Stage::changes) {
      if (!have_record_ && !read_record()) {
        if (stage_ == Stage::changes) stage_ = Stage::last_soa;
        break;
      }
      have_record_ = true;
      if (!w.add_record(wire::Section::answer, owner_, type_, rclass_, ttl_, rdata_)) break;
      ++added;
      have_record_ = false;
    }
    if (stage_ == Stage::last_soa && add_soa()) stage_ = Stage::done;
    if (added == 0 && stage_ != Stage::done) stage_ = Stage::failed;
    if (stage_ == Stage::failed) {
      stage_ = Stage::done;
      return sign(out, failure_message(out, room, h, question_), now);
    }
    first_ = false;
    return sign(out, w.finish(), now);
  }

 private:
  enum class Stage : uint8_t { first_soa, changes, last_soa, done, failed };

  size_t sign(std::span<uint8_t> out, size_t length, uint64_t now) {
    return signer_ ? signer_->sign(out, length, now) : length;
  }

  // The next journal record into owner_ .. rdata_; false at the end (or on
  // a damaged entry, which fails the stream).
  bool read_record() {
    while (entry_ < entries_.size()) {
      std::span<const uint8_t> e = entries_[entry_];
      if (pos_ == 0) pos_ = 16;  // serials and counts
      if (pos_ >= e.size()) {
        ++entry_;
        pos_ = 0;
        continue;
      }
      auto need = [&](size_t n) { return e.size() - pos_ >= n; };
      if (!need(2)) break;
      const size_t owner_len = store::load_u16(e.data() + pos_);
      if (!need(2 + owner_len + 10) || !owner_.assign_from_wire(e.subspan(pos_ + 2, owner_len))) {
        break;
      }
      const uint8_t* f = e.data() + pos_ + 2 + owner_len;
      type_ = store::load_u16(f);
      rclass_ = store::load_u16(f + 2);
      ttl_ = store::load_u32(f + 4);
      const size_t rdlen = store::load_u16(f + 8);
      pos_ += 2 + owner_len + 10;
      if (!need(rdlen)) break;
      rdata_ = e.subspan(pos_, rdlen);
      pos_ += rdlen;
      return true;
    }
    if (entry_ < entries_.size()) stage_ = Stage::failed;
    return false;
  }

  std::unique_ptr<store::ReadTxn> txn_;
  wire::Question question_;
  uint16_t id_;
  bool rd_;
  wire::Name apex_;
  store::RRsetView soa_;
  std::vector<std::span<const uint8_t>> entries_;
  std::shared_ptr<const TransferSettings> settings_;
  std::optional<tsig::Signer> signer_;
  Stage stage_ = Stage::first_soa;
  bool first_ = true;
  size_t entry_ = 0, pos_ = 0;
  bool have_record_ = false;
  wire::Name owner_;
  uint16_t type_ = 0, rclass_ = 0;
  uint32_t ttl_ = 0;
  std::span<const uint8_t> rdata_;
};

// The journal entries that lead from `from` to `to`, in order; empty when
// the journal does not reach back to `from` (the caller sends the whole
// zone instead).
std::vector<std::span<const uint8_t>> journal_chain(const store::ReadTxn& txn,
                                                    std::span<const uint8_t> zone_key,
                                                    uint32_t from, uint32_t to) {
  std::vector<std::span<const uint8_t>> chain;
  store::JournalCursor cursor(txn, zone_key);
  std::span<const uint8_t> entry;
  uint32_t at = from;
  while (cursor.next(entry)) {
    if (entry.size() < 16) return {};
    const uint32_t entry_from = store::load_u32(entry.data());
    const uint32_t entry_to = store::load_u32(entry.data() + 4);
    if (chain.empty() && entry_from != from) continue;
    if (entry_from != at) return {};  // a gap: do not guess
    chain.push_back(entry);
    at = entry_to;
  }
  if (at != to) return {};
  return chain;
}

// The client's serial from an IXFR request's authority section (RFC 1995
// §3); nullopt when it carries no SOA for the zone.
std::optional<uint32_t> ixfr_client_serial(std::span<const uint8_t> query, const wire::Name& zone) {
  wire::Message m;
  if (wire::parse_message(query, m) != wire::WireError::ok) return std::nullopt;
  for (const auto& rr : m.authority) {
    if (rr.type == T::SOA && rr.owner == zone) {
      if (auto f = wire::soa_fields(rr.rdata)) return f->serial;
    }
  }
  return std::nullopt;
}

}  // namespace

Responder::Responder(std::shared_ptr<const TransferSettings> settings, const store::Store& store,
                     RefusalLog& refusals)
    : settings_(std::move(settings)), store_(store), refusals_(refusals) {}

void Responder::warn(const std::string& line) const {
  if (settings_->warn) settings_->warn(line);
}

void Responder::info(const std::string& line) const {
  if (settings_->info) settings_->info(line);
}

size_t Responder::simple(const wire::QueryView& q, std::span<uint8_t> out, uint16_t rcode) {
  wire::MessageWriter w(out, kMaxMessage);
  w.set_header(reply_header(q, rcode));
  if (q.has_question) (void)w.add_question(q.question);
  return w.finish();
}

size_t Responder::finish_signed(std::span<uint8_t> out, size_t length, uint64_t now) {
  if (check_.outcome != tsig::RequestCheck::Outcome::ok || !check_.key) return length;
  tsig::Signer signer(*check_.key, check_.mac);
  return signer.sign(out, length, now);
}

size_t Responder::sign_answer(std::span<uint8_t> out, size_t length, uint64_t now) {
  if (length == 0) return 0;
  return finish_signed(out, length, now);
}

size_t Responder::refuse(const wire::QueryView& q, std::span<const uint8_t>,
                         const sockaddr* client, std::span<uint8_t> out, uint16_t rcode,
                         const std::string& reason, uint64_t now) {
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (refusals_.should_log(client, now)) {
    warn(std::string("refused ") + (q.question.qtype == T::IXFR ? "IXFR" : "AXFR") + " of " +
         q.question.name.to_text() + " from " + address_text(client) + ": " + reason +
         " (logged once a minute per client)");
  }
  return finish_signed(out, simple(q, out, rcode), now);
}

size_t Responder::tsig_failure(const wire::QueryView& q, std::span<const uint8_t>,
                               const sockaddr* client, std::span<uint8_t> out, uint64_t now) {
  using O = tsig::RequestCheck::Outcome;
  if (check_.outcome == O::formerr) return simple(q, out, wire::rcode::FORMERR);
  refused_.fetch_add(1, std::memory_order_relaxed);
  if (refusals_.should_log(client, now)) {
    warn("refused a request for " + q.question.name.to_text() + " from " + address_text(client) +
         ": " + tsig::outcome_text(check_.outcome) + ", key " +
         check_.record.key_name.to_text() + " (logged once a minute per client)");
  }
  size_t length = simple(q, out, tsig::kRcodeNotAuth);
  if (check_.outcome == O::badtime && check_.key) {
    // RFC 8945 §5.2.3: signed, with the request's time and ours in Other.
    uint8_t server_time[6];
    uint64_t t = now;
    for (int i = 5; i >= 0; --i) {
      server_time[i] = static_cast<uint8_t>(t);
      t >>= 8;
    }
    tsig::Signer signer(*check_.key, check_.mac);
    return signer.sign(out, length, check_.record.time_signed, tsig::error::BADTIME, server_time);
  }
  // BADKEY, BADSIG, BADTRUNC: unsigned (§5.3.2).
  return tsig::append_unsigned_error(out, length, check_.record, now, check_.tsig_error());
}

Responder::Outcome Responder::inspect(std::span<const uint8_t> query, const sockaddr* client,
                                      bool tcp, const store::ReadTxn& view,
                                      std::span<uint8_t> out, uint64_t now) {
  Outcome result;
  if (query.size() < wire::kHeaderSize || (query[2] & 0x80)) return result;  // responses: engine
  const uint8_t opcode = (query[2] >> 3) & 0xf;
  const bool maybe_signed = get16(query.data() + 10) != 0;
  const uint16_t peeked = peek_qtype(query);
  const bool transfer_type = peeked == T::AXFR || peeked == T::IXFR;
  if (!maybe_signed && !(opcode == wire::opcode::QUERY && (transfer_type || peeked == 0))) {
    return result;
  }

  check_ = tsig::RequestCheck{};
  std::span<const uint8_t> plain = query;
  if (maybe_signed) {
    check_ = tsig::verify_request(query, settings_->keys, now);
    if (check_.outcome != tsig::RequestCheck::Outcome::unsigned_request) {
      wire::QueryView q;
      if (check_.outcome == tsig::RequestCheck::Outcome::formerr ||
          check_.outcome != tsig::RequestCheck::Outcome::ok) {
        // The question is echoed from what parses; the engine would answer
        // FORMERR for the rest.
        (void)wire::parse_query(query, q);
        q.header.id = get16(query.data());
        q.header.opcode = opcode;
        result.kind = Kind::reply;
        result.length = tsig_failure(q, query, client, out, now);
        if (result.length == 0) result.kind = Kind::pass;
        return result;
      }
      stripped_.assign(query.begin(), query.begin() + static_cast<ptrdiff_t>(check_.unsigned_length));
      const uint16_t arcount = static_cast<uint16_t>(get16(stripped_.data() + 10) - 1);
      stripped_[10] = static_cast<uint8_t>(arcount >> 8);
      stripped_[11] = static_cast<uint8_t>(arcount);
      plain = stripped_;
    }
  }
  const bool is_signed = check_.outcome == tsig::RequestCheck::Outcome::ok;

  wire::QueryView q;
  if (wire::parse_query(plain, q) != wire::WireError::ok || !q.has_question ||
      q.header.qdcount != 1 || q.header.opcode != wire::opcode::QUERY ||
      (q.question.qtype != T::AXFR && q.question.qtype != T::IXFR)) {
    if (!is_signed) return result;
    result.kind = Kind::engine_then_sign;
    result.unsigned_query = plain;
    return result;
  }

  // A zone transfer.
  result.kind = Kind::reply;
  const wire::Name& zone = q.question.name;
  const bool ixfr = q.question.qtype == T::IXFR;
  if (q.question.qclass != wire::rrclass::IN) {
    result.length = finish_signed(out, simple(q, out, wire::rcode::REFUSED), now);
    return result;
  }
  if (!tcp && !ixfr) {
    // RFC 5936 §4.2: AXFR is not defined over UDP.
    result.length = finish_signed(out, simple(q, out, wire::rcode::FORMERR), now);
    return result;
  }
  store::NameKey key(zone);
  store::ZoneRef ref;
  if (!view.find_zone(key, ref) || ref.apex_labels != zone.label_count() || ref.soa.count == 0) {
    result.length = refuse(q, plain, client, out, tsig::kRcodeNotAuth,
                           "not a zone served here", now);
    return result;
  }
  if (!settings_->policy.allows(client, is_signed ? check_.key : nullptr, zone)) {
    std::string why = "no [[transfer.allow]] rule matches";
    if (is_signed) why += " (signed with key " + check_.key->name.to_text() + ")";
    else why += " (unsigned)";
    result.length = refuse(q, plain, client, out, wire::rcode::REFUSED, why, now);
    return result;
  }

  const uint32_t serial = wire::soa_fields(*ref.soa.begin()).value_or(wire::SoaFields{}).serial;
  if (ixfr) {
    auto client_serial = ixfr_client_serial(plain, zone);
    if (!client_serial) {
      result.length = finish_signed(out, simple(q, out, wire::rcode::FORMERR), now);
      return result;
    }
    // Up to date (or ahead), or over UDP: the current SOA alone (RFC 1995
    // §2 and §4). A UDP client then retries over TCP.
    if (!tcp || !wire::serial_gt(serial, *client_serial)) {
      wire::MessageWriter w(out, kMaxMessage - 200);
      wire::Header h = reply_header(q, wire::rcode::NOERROR);
      h.aa = true;
      w.set_header(h);
      (void)w.add_question(q.question);
      (void)w.add_record(wire::Section::answer, zone, T::SOA, ref.soa.rclass, ref.soa.ttl,
                         *ref.soa.begin());
      result.length = finish_signed(out, w.finish(), now);
      return result;
    }
  }

  std::unique_ptr<store::ReadTxn> txn = store_.begin_read();
  if (!txn) {
    result.length = finish_signed(out, simple(q, out, wire::rcode::SERVFAIL), now);
    return result;
  }
  // The stream reads from its own transaction: find the zone again there.
  store::ZoneRef own;
  if (!txn->find_zone(key, own) || own.apex_labels != zone.label_count() || own.soa.count == 0) {
    result.length = finish_signed(out, simple(q, out, wire::rcode::SERVFAIL), now);
    return result;
  }
  auto zone_key = key.prefix(own.apex_labels);
  transfers_.fetch_add(1, std::memory_order_relaxed);
  result.kind = Kind::transfer;
  const uint32_t current = wire::soa_fields(*own.soa.begin()).value_or(wire::SoaFields{}).serial;
  const std::string to_whom =
      " to " + address_text(client) +
      (is_signed ? " (key " + check_.key->name.to_text() + ")" : std::string(" (unsigned)"));
  if (ixfr) {
    auto client_serial = ixfr_client_serial(plain, zone);
    auto chain = journal_chain(*txn, zone_key, client_serial.value_or(current), current);
    if (!chain.empty()) {
      info("IXFR of " + zone.to_text() + " from serial " + std::to_string(*client_serial) +
           " to " + std::to_string(current) + " (" + std::to_string(chain.size()) +
           " changes)" + to_whom);
      result.transfer = std::make_unique<IxfrStream>(
          std::move(txn), q.question, q.header.id, q.header.rd, zone, own.soa, std::move(chain),
          settings_, is_signed ? check_.key : nullptr, check_.mac);
      return result;
    }
    // Past the journal's reach: the whole zone, AXFR-style (RFC 1995 §4).
    info("IXFR of " + zone.to_text() + " from serial " + std::to_string(*client_serial) +
         ": the journal does not reach back that far; sending the whole zone, serial " +
         std::to_string(current) + to_whom);
  } else {
    info("AXFR of " + zone.to_text() + " serial " + std::to_string(current) + to_whom);
  }
  result.transfer = std::make_unique<AxfrStream>(
      std::move(txn), q.question, q.header.id, q.header.rd, zone,
      std::string(reinterpret_cast<const char*>(zone_key.data()), zone_key.size()), own.soa,
      settings_, is_signed ? check_.key : nullptr, check_.mac);
  return result;
}

size_t make_notify(std::span<uint8_t> out, uint16_t id, const wire::Name& zone,
                   std::span<const uint8_t> soa_rdata, uint32_t soa_ttl, const tsig::Key* key,
                   uint64_t now, std::vector<uint8_t>* request_mac) {
  wire::MessageWriter w(out, kMaxMessage - 300);
  wire::Header h;
  h.id = id;
  h.opcode = wire::opcode::NOTIFY;
  h.aa = true;
  w.set_header(h);
  (void)w.add_question({zone, T::SOA, wire::rrclass::IN});
  (void)w.add_record(wire::Section::answer, zone, T::SOA, wire::rrclass::IN, soa_ttl, soa_rdata);
  size_t length = w.finish();
  if (key) {
    tsig::Signer signer(*key, {});
    length = signer.sign(out, length, now);
    if (request_mac) request_mac->assign(signer.last_mac().begin(), signer.last_mac().end());
  }
  return length;
}

}  // namespace raftdns::xfr
