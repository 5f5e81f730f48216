// DNS message reader (full and allocation-free query parse) and the compressing writer.
#include "daemon/wire/message.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "common/bytes.h"

namespace raftdns::wire {
namespace {

inline constexpr size_t kOptFixedSize = 11;  // root owner, type, class, TTL, RDLENGTH
inline constexpr size_t kMaxMessageSize = 65535;
inline constexpr size_t kMaxPointerOffset = 0x3fff;

using bytes::load_u16;
using bytes::load_u32;
using bytes::store_u16;
using bytes::store_u32;
inline uint8_t lower(uint8_t c) noexcept { return (c >= 'A' && c <= 'Z') ? c + ('a' - 'A') : c; }

[[noreturn]] void die(const char* what) noexcept {
  std::fprintf(stderr, "raftdns wire: broken invariant: %s\n", what);
  std::abort();
}

// Bounds-checked cursor over a packet; the first error sticks.
class Reader {
 public:
  explicit Reader(std::span<const uint8_t> packet) noexcept : p_(packet) {}

  WireError error() const noexcept { return err_; }
  bool ok() const noexcept { return err_ == WireError::ok; }
  size_t pos() const noexcept { return pos_; }
  size_t remaining() const noexcept { return p_.size() - pos_; }
  std::span<const uint8_t> packet() const noexcept { return p_; }

  bool fail(WireError e) noexcept {
    if (err_ == WireError::ok) err_ = e;
    return false;
  }
  bool need(size_t n) noexcept {
    if (!ok()) return false;
    if (remaining() < n) return fail(WireError::truncated);
    return true;
  }
  uint8_t u8() noexcept { return need(1) ? p_[pos_++] : 0; }
  uint16_t u16() noexcept {
    if (!need(2)) return 0;
    uint16_t v = load_u16(p_.data() + pos_);
    pos_ += 2;
    return v;
  }
  uint32_t u32() noexcept {
    if (!need(4)) return 0;
    uint32_t v = load_u32(p_.data() + pos_);
    pos_ += 4;
    return v;
  }
  std::span<const uint8_t> bytes(size_t n) noexcept {
    if (!need(n)) return {};
    auto s = p_.subspan(pos_, n);
    pos_ += n;
    return s;
  }

  // Reads a possibly compressed name into `out` (uncompressed wire form).
  // A pointer must aim strictly before the start of the label run it ends,
  // so every jump goes further back and no loop is possible; the pointer
  // count is capped on top of that.
  bool name(uint8_t* out, size_t& out_len) noexcept {
    if (!ok()) return false;
    size_t p = pos_;
    size_t run_start = p;
    size_t resume = 0;
    size_t pointers = 0;
    size_t len = 0;
    while (true) {
      if (p >= p_.size()) return fail(WireError::truncated);
      uint8_t b = p_[p];
      if ((b & 0xc0) == 0xc0) {
        if (p + 1 >= p_.size()) return fail(WireError::truncated);
        size_t target = size_t{b & 0x3fu} << 8 | p_[p + 1];
        if (pointers == 0) resume = p + 2;
        if (++pointers > kMaxPointers) return fail(WireError::bad_pointer);
        if (target >= run_start || target < kHeaderSize) return fail(WireError::bad_pointer);
        p = target;
        run_start = target;
        continue;
      }
      if (b & 0xc0) return fail(WireError::bad_label);
      if (b == 0) {
        out[len++] = 0;
        ++p;
        break;
      }
      if (p + 1 + b > p_.size()) return fail(WireError::truncated);
      if (len + 1 + b + 1 > kMaxNameLength) return fail(WireError::name_too_long);
      std::memcpy(out + len, p_.data() + p, 1 + b);
      len += 1 + b;
      p += 1 + b;
    }
    pos_ = pointers ? resume : p;
    out_len = len;
    return true;
  }

  bool name(Name& n) noexcept {
    uint8_t buf[kMaxNameLength];
    size_t len = 0;
    if (!name(buf, len)) return false;
    // The reader already enforced every rule this checks again.
    if (!n.assign_from_wire({buf, len})) return fail(WireError::bad_label);
    return true;
  }

  bool skip_name() noexcept {
    uint8_t buf[kMaxNameLength];
    size_t len = 0;
    return name(buf, len);
  }

 private:
  std::span<const uint8_t> p_;
  size_t pos_ = 0;
  WireError err_ = WireError::ok;
};

bool read_header(Reader& r, Header& h) noexcept {
  h.id = r.u16();
  uint16_t flags = r.u16();
  h.qdcount = r.u16();
  h.ancount = r.u16();
  h.nscount = r.u16();
  h.arcount = r.u16();
  if (!r.ok()) return false;
  h.qr = flags & 0x8000;
  h.opcode = static_cast<uint8_t>((flags >> 11) & 0xf);
  h.aa = flags & 0x0400;
  h.tc = flags & 0x0200;
  h.rd = flags & 0x0100;
  h.ra = flags & 0x0080;
  h.ad = flags & 0x0020;
  h.cd = flags & 0x0010;
  h.rcode = static_cast<uint8_t>(flags & 0xf);
  return true;
}

bool read_question(Reader& r, Question& q) noexcept {
  if (!r.name(q.name)) return false;
  q.qtype = r.u16();
  q.qclass = r.u16();
  return r.ok();
}

// Fields of an OPT RR (RFC 6891 §6.1.3), with the option TLVs checked.
struct OptFields {
  uint16_t udp_size;
  uint8_t extended_rcode, version;
  bool do_bit;
};
bool decode_opt(Reader& r, uint16_t rclass, uint32_t ttl, std::span<const uint8_t> rdata,
                OptFields& f) noexcept {
  size_t i = 0;
  while (i < rdata.size()) {
    if (rdata.size() - i < 4) return r.fail(WireError::bad_opt);
    size_t len = load_u16(rdata.data() + i + 2);
    if (rdata.size() - i - 4 < len) return r.fail(WireError::bad_opt);
    i += 4 + len;
  }
  f.udp_size = std::max(rclass, kMinUdpSize);
  f.extended_rcode = static_cast<uint8_t>(ttl >> 24);
  f.version = static_cast<uint8_t>(ttl >> 16);
  f.do_bit = ttl & 0x8000;
  return true;
}

// The fixed part of an RR after its owner name.
struct RrFixed {
  uint16_t type, rclass;
  uint32_t ttl;
  uint16_t rdlength;
};
bool read_rr_fixed(Reader& r, RrFixed& f) noexcept {
  f.type = r.u16();
  f.rclass = r.u16();
  f.ttl = r.u32();
  f.rdlength = r.u16();
  return r.need(f.rdlength);
}

// Length of the uncompressed name at the start of `d`, or 0 if malformed.
size_t plain_name_length(std::span<const uint8_t> d) noexcept {
  size_t p = 0;
  while (p < d.size()) {
    uint8_t b = d[p];
    if (b == 0) return p + 1 <= kMaxNameLength ? p + 1 : 0;
    if (b > kMaxLabelLength) return 0;
    p += 1 + b;
  }
  return 0;
}

// Decompresses the names inside RDATA of the RFC 1035 types that may carry
// compression pointers; other RDATA is copied as is.
bool read_rdata(Reader& r, uint16_t type, uint16_t rdlength, std::vector<uint8_t>& out) {
  size_t end = r.pos() + rdlength;
  uint8_t buf[kMaxNameLength];
  size_t len = 0;
  auto append_name = [&]() {
    if (!r.name(buf, len)) return false;
    out.insert(out.end(), buf, buf + len);
    return true;
  };
  auto append_bytes = [&](size_t n) {
    auto b = r.bytes(n);
    if (!r.ok()) return false;
    out.insert(out.end(), b.begin(), b.end());
    return true;
  };
  out.clear();
  bool ok = true;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME:
      ok = append_name();
      break;
    case rrtype::MX:
      ok = rdlength >= 2 && append_bytes(2) && append_name();
      break;
    case rrtype::SOA:
      ok = append_name() && append_name() && append_bytes(20);
      break;
    default:
      return append_bytes(rdlength);
  }
  if (!r.ok()) return false;
  // A name running past RDLENGTH, or RDATA too short for its fields.
  if (!ok || r.pos() != end) return r.fail(WireError::bad_rdata);
  return true;
}

}  // namespace

const char* wire_error_text(WireError e) noexcept {
  switch (e) {
    case WireError::ok:
      return "ok";
    case WireError::truncated:
      return "message truncated";
    case WireError::bad_label:
      return "bad label type or length";
    case WireError::name_too_long:
      return "name longer than 255 octets";
    case WireError::bad_pointer:
      return "bad compression pointer";
    case WireError::bad_rdata:
      return "malformed RDATA";
    case WireError::trailing_data:
      return "trailing data after the last record";
    case WireError::bad_opt:
      return "malformed or misplaced OPT record";
    case WireError::no_space:
      return "no space left in the output buffer";
  }
  return "unknown wire error";
}

WireError parse_message(std::span<const uint8_t> packet, Message& out) {
  out = Message{};
  Reader r(packet);
  if (!read_header(r, out.header)) return r.error();
  for (uint16_t i = 0; i < out.header.qdcount; ++i) {
    Question q;
    if (!read_question(r, q)) return r.error();
    out.questions.push_back(q);
  }
  std::vector<Record>* sections[] = {&out.answer, &out.authority, &out.additional};
  uint16_t counts[] = {out.header.ancount, out.header.nscount, out.header.arcount};
  for (int s = 0; s < 3; ++s) {
    for (uint16_t i = 0; i < counts[s]; ++i) {
      Record rr;
      RrFixed f{};
      if (!r.name(rr.owner) || !read_rr_fixed(r, f)) return r.error();
      if (f.type == rrtype::OPT) {
        if (s != 2 || !rr.owner.is_root() || out.edns) return WireError::bad_opt;
        OptFields o{};
        auto rdata = r.bytes(f.rdlength);
        if (!decode_opt(r, f.rclass, f.ttl, rdata, o)) return r.error();
        Edns e;
        e.udp_size = o.udp_size;
        e.version = o.version;
        e.extended_rcode = o.extended_rcode;
        e.do_bit = o.do_bit;
        e.options.assign(rdata.begin(), rdata.end());
        out.edns = std::move(e);
        continue;
      }
      rr.type = f.type;
      rr.rclass = f.rclass;
      rr.ttl = f.ttl;
      if (f.rdlength == 0) {
        // No RDATA: an RFC 2136 prerequisite or delete (class ANY or NONE),
        // or an empty RRset marker. Whoever stores a record checks its RDATA.
        sections[s]->push_back(std::move(rr));
        continue;
      }
      if (!read_rdata(r, f.type, f.rdlength, rr.rdata)) return r.error();
      if (has_known_codec(f.type) && !validate_rdata(f.type, rr.rdata)) {
        return WireError::bad_rdata;
      }
      sections[s]->push_back(std::move(rr));
    }
  }
  if (r.remaining() != 0) return WireError::trailing_data;
  return WireError::ok;
}

WireError parse_query(std::span<const uint8_t> packet, QueryView& out) noexcept {
  out = QueryView{};
  Reader r(packet);
  if (!read_header(r, out.header)) return r.error();
  for (uint16_t i = 0; i < out.header.qdcount; ++i) {
    if (i == 0) {
      if (!read_question(r, out.question)) return r.error();
      out.has_question = true;
    } else {
      Question ignored;
      if (!read_question(r, ignored)) return r.error();
    }
  }
  uint32_t before_additional = uint32_t{out.header.ancount} + out.header.nscount;
  uint32_t total = before_additional + out.header.arcount;
  for (uint32_t i = 0; i < total; ++i) {
    RrFixed f{};
    Name owner;
    if (!r.name(owner) || !read_rr_fixed(r, f)) return r.error();
    auto rdata = r.bytes(f.rdlength);
    if (f.type != rrtype::OPT) continue;
    if (i < before_additional || !owner.is_root() || out.has_edns) return WireError::bad_opt;
    OptFields o{};
    if (!decode_opt(r, f.rclass, f.ttl, rdata, o)) return r.error();
    out.has_edns = true;
    out.edns_udp_size = o.udp_size;
    out.edns_version = o.version;
    out.edns_do = o.do_bit;
    // decode_opt checked the option framing.
    for (size_t at = 0; at + 4 <= rdata.size();) {
      const uint16_t code = load_u16(rdata.data() + at);
      const size_t len = load_u16(rdata.data() + at + 2);
      const uint8_t* value = rdata.data() + at + 4;
      at += 4 + len;
      if (code != kOptionCookie) continue;
      // RFC 7873 §5.2.2: 8 octets, or 16 to 40; at most one.
      if (out.has_cookie || (len != 8 && (len < 16 || len > 40))) return WireError::bad_opt;
      out.has_cookie = true;
      std::memcpy(out.client_cookie, value, 8);
      out.server_cookie_length = static_cast<uint8_t>(len - 8);
      if (len > 8) std::memcpy(out.server_cookie, value + 8, len - 8);
    }
  }
  if (r.remaining() != 0) return WireError::trailing_data;
  return WireError::ok;
}

// ---------------------------------------------------------------------------
// MessageWriter

MessageWriter::MessageWriter(std::span<uint8_t> buffer, size_t limit) noexcept
    : buf_(buffer), limit_(std::min({limit, buffer.size(), kMaxMessageSize})) {
  if (buffer.size() < kHeaderSize) die("MessageWriter buffer smaller than a DNS header");
  limit_ = std::max(limit_, kHeaderSize);
}

void MessageWriter::set_header(const Header& h) noexcept {
  uint16_t qd = header_.qdcount, an = header_.ancount, ns = header_.nscount, ar = header_.arcount;
  header_ = h;
  header_.qdcount = qd;
  header_.ancount = an;
  header_.nscount = ns;
  header_.arcount = ar;
}

void MessageWriter::reserve_opt(const Edns& e) noexcept {
  opt_ = e;
  opt_reserved_ = kOptFixedSize + e.options.size();
}

namespace {

// Whether the name at `off` in the buffer equals the uncompressed `suffix`,
// ignoring ASCII case.
bool same_name_at(std::span<const uint8_t> buf, size_t off, const uint8_t* suffix) noexcept {
  for (size_t guard = 0; guard < kMaxNameLength * 2; ++guard) {
    uint8_t b = buf[off];
    if ((b & 0xc0) == 0xc0) {
      off = size_t{b & 0x3fu} << 8 | buf[off + 1];
      continue;
    }
    if (b != *suffix) return false;
    if (b == 0) return true;
    // Names usually repeat with the same case, so try an exact match first.
    if (std::memcmp(buf.data() + off + 1, suffix + 1, b) != 0) {
      for (size_t i = 1; i <= b; ++i) {
        if (lower(buf[off + i]) != lower(suffix[i])) return false;
      }
    }
    off += 1 + b;
    suffix += 1 + b;
  }
  return false;
}

}  // namespace

bool MessageWriter::write_name(const Name& n) noexcept {
  size_t cap = limit_ > opt_reserved_ ? limit_ - opt_reserved_ : 0;
  auto wire = n.wire();
  size_t labels = n.label_count();

  // Label offsets within `wire`, leftmost first.
  uint8_t offs[kMaxLabels];
  for (size_t i = 0, p = 0; i < labels; ++i) {
    offs[i] = static_cast<uint8_t>(p);
    p += 1 + wire[p];
  }

  // The earlier name sharing the longest suffix with `n`.
  size_t best_labels = 0;
  uint16_t best_off = 0;
  for (size_t t = 0; t < ntargets_; ++t) {
    size_t k = target_labels_[t];
    if (k > labels || k <= best_labels) continue;
    const uint8_t* suffix = wire.data() + offs[labels - k];
    // Cheap first-label test before the full comparison.
    if (buf_[targets_[t]] != suffix[0] || lower(buf_[targets_[t] + 1]) != lower(suffix[1])) {
      continue;
    }
    if (same_name_at(buf_, targets_[t], suffix)) {
      best_labels = k;
      best_off = targets_[t];
      if (k == labels) break;
    }
  }

  size_t keep = labels - best_labels;  // labels written out in full
  size_t prefix_bytes = keep ? (keep < labels ? offs[keep] : wire.size() - 1) : 0;
  size_t need = prefix_bytes + (best_labels ? 2 : 1);
  if (pos_ + need > cap) return false;

  for (size_t i = 0; i < keep; ++i) {
    size_t at = pos_ + offs[i];
    if (at <= kMaxPointerOffset && ntargets_ < kMaxTargets) {
      target_labels_[ntargets_] = static_cast<uint8_t>(labels - i);
      targets_[ntargets_++] = static_cast<uint16_t>(at);
    }
  }
  std::memcpy(buf_.data() + pos_, wire.data(), prefix_bytes);
  pos_ += prefix_bytes;
  if (best_labels) {
    store_u16(buf_.data() + pos_, static_cast<uint16_t>(0xc000 | best_off));
    pos_ += 2;
  } else {
    buf_[pos_++] = 0;
  }
  return true;
}

bool MessageWriter::add_question(const Question& q) noexcept {
  if (header_.ancount || header_.nscount || header_.arcount) {
    die("question added after resource records");
  }
  size_t saved_pos = pos_, saved_targets = ntargets_;
  size_t cap = limit_ > opt_reserved_ ? limit_ - opt_reserved_ : 0;
  if (!write_name(q.name) || pos_ + 4 > cap) {
    pos_ = saved_pos;
    ntargets_ = saved_targets;
    return false;
  }
  store_u16(buf_.data() + pos_, q.qtype);
  store_u16(buf_.data() + pos_ + 2, q.qclass);
  pos_ += 4;
  ++header_.qdcount;
  return true;
}

bool MessageWriter::add_record(Section s, const Name& owner, uint16_t type, uint16_t rclass,
                               uint32_t ttl, std::span<const uint8_t> rdata) noexcept {
  if ((s == Section::answer && (header_.nscount || header_.arcount)) ||
      (s == Section::authority && header_.arcount)) {
    die("records added out of section order");
  }
  size_t saved_pos = pos_, saved_targets = ntargets_;
  size_t cap = limit_ > opt_reserved_ ? limit_ - opt_reserved_ : 0;
  auto rollback = [&] {
    pos_ = saved_pos;
    ntargets_ = saved_targets;
    return false;
  };
  if (!write_name(owner) || pos_ + 10 > cap) return rollback();
  store_u16(buf_.data() + pos_, type);
  store_u16(buf_.data() + pos_ + 2, rclass);
  store_u32(buf_.data() + pos_ + 4, ttl);
  size_t rdlength_at = pos_ + 8;
  pos_ += 10;

  auto raw = [&](std::span<const uint8_t> bytes) {
    if (pos_ + bytes.size() > cap) return false;
    if (!bytes.empty()) std::memcpy(buf_.data() + pos_, bytes.data(), bytes.size());
    pos_ += bytes.size();
    return true;
  };
  // Writes the name at the start of `d` compressed; returns its length in
  // `d`, 0 when `d` does not start with a well-formed name.
  bool fits = true;
  auto compressed_name = [&](std::span<const uint8_t> d) -> size_t {
    size_t len = plain_name_length(d);
    if (len == 0) return 0;
    Name n;
    if (!n.assign_from_wire(d.first(len))) return size_t{0};
    fits = write_name(n);
    return len;
  };

  // DNAME RDATA is never compressed (RFC 6672 §2.5): it goes out as stored.
  bool done = false;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
      if (plain_name_length(rdata) == rdata.size()) {
        compressed_name(rdata);
        done = true;
      }
      break;
    case rrtype::MX:
      if (rdata.size() > 2 && plain_name_length(rdata.subspan(2)) == rdata.size() - 2) {
        fits = raw(rdata.first(2));
        if (fits) compressed_name(rdata.subspan(2));
        done = true;
      }
      break;
    case rrtype::SOA: {
      size_t m = plain_name_length(rdata);
      size_t rn = m ? plain_name_length(rdata.subspan(m)) : 0;
      if (m && rn && rdata.size() == m + rn + 20) {
        compressed_name(rdata);
        if (fits) compressed_name(rdata.subspan(m));
        if (fits) fits = raw(rdata.subspan(m + rn));
        done = true;
      }
      break;
    }
    default:
      break;
  }
  if (!done) fits = raw(rdata);
  if (!fits) return rollback();
  size_t rdlength = pos_ - rdlength_at - 2;
  if (rdlength > 65535) return rollback();
  store_u16(buf_.data() + rdlength_at, static_cast<uint16_t>(rdlength));

  switch (s) {
    case Section::answer:
      ++header_.ancount;
      break;
    case Section::authority:
      ++header_.nscount;
      break;
    case Section::additional:
      ++header_.arcount;
      break;
  }
  return true;
}

size_t MessageWriter::finish() noexcept {
  uint8_t extended_rcode = header_.rcode >> 4;
  if (opt_) {
    if (extended_rcode == 0) extended_rcode = opt_->extended_rcode;
    if (pos_ + opt_reserved_ <= limit_) {
      uint8_t* p = buf_.data() + pos_;
      p[0] = 0;
      store_u16(p + 1, rrtype::OPT);
      store_u16(p + 3, std::max(opt_->udp_size, kMinUdpSize));
      uint32_t ttl = uint32_t{extended_rcode} << 24 | uint32_t{opt_->version} << 16 |
                     (opt_->do_bit ? 0x8000u : 0u);
      store_u32(p + 5, ttl);
      store_u16(p + 9, static_cast<uint16_t>(opt_->options.size()));
      if (!opt_->options.empty()) {
        std::memcpy(p + kOptFixedSize, opt_->options.data(), opt_->options.size());
      }
      pos_ += opt_reserved_;
      ++header_.arcount;
    }
    // The OPT is written once even if finish() is called again.
    opt_.reset();
    opt_reserved_ = 0;
  }
  uint8_t* h = buf_.data();
  store_u16(h, header_.id);
  uint16_t flags = static_cast<uint16_t>(
      (header_.qr ? 0x8000 : 0) | (header_.opcode & 0xf) << 11 | (header_.aa ? 0x0400 : 0) |
      (header_.tc ? 0x0200 : 0) | (header_.rd ? 0x0100 : 0) | (header_.ra ? 0x0080 : 0) |
      (header_.ad ? 0x0020 : 0) | (header_.cd ? 0x0010 : 0) | (header_.rcode & 0xf));
  store_u16(h + 2, flags);
  store_u16(h + 4, header_.qdcount);
  store_u16(h + 6, header_.ancount);
  store_u16(h + 8, header_.nscount);
  store_u16(h + 10, header_.arcount);
  return pos_;
}

std::vector<uint8_t> encode_message(const Message& m, size_t limit) {
  limit = std::clamp(limit, kHeaderSize, kMaxMessageSize);
  std::vector<uint8_t> buf(limit);
  MessageWriter w(buf, limit);
  w.set_header(m.header);
  if (m.edns) w.reserve_opt(*m.edns);
  bool truncated = false;
  for (const auto& q : m.questions) {
    if (!w.add_question(q)) {
      truncated = true;
      break;
    }
  }
  const std::vector<Record>* sections[] = {&m.answer, &m.authority};
  const Section ids[] = {Section::answer, Section::authority};
  for (int s = 0; s < 2 && !truncated; ++s) {
    for (const auto& rr : *sections[s]) {
      if (!w.add_record(ids[s], rr)) {
        truncated = true;
        break;
      }
    }
  }
  if (!truncated) {
    // Additional data is optional: what does not fit is left out (RFC 2181 §9).
    for (const auto& rr : m.additional) (void)w.add_record(Section::additional, rr);
  }
  if (truncated) w.header().tc = true;
  buf.resize(w.finish());
  return buf;
}

}  // namespace raftdns::wire
