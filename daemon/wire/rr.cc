// Resource record RDATA codecs: validation, presentation form, and field access.
#include "daemon/wire/rr.h"

#include <arpa/inet.h>

#include <cstring>

namespace raftdns::wire {
namespace {

// SvcParamKeys defined by RFC 9460 §14.3.2. Later keys (dohpath, ohttp) are
// shown in the generic keyNNNNN form, which every zone parser accepts.
namespace svckey {
inline constexpr uint16_t MANDATORY = 0, ALPN = 1, NO_DEFAULT_ALPN = 2, PORT = 3, IPV4HINT = 4,
                          ECH = 5, IPV6HINT = 6;
}

const char* svc_key_name(uint16_t key) {
  switch (key) {
    case svckey::MANDATORY:
      return "mandatory";
    case svckey::ALPN:
      return "alpn";
    case svckey::NO_DEFAULT_ALPN:
      return "no-default-alpn";
    case svckey::PORT:
      return "port";
    case svckey::IPV4HINT:
      return "ipv4hint";
    case svckey::ECH:
      return "ech";
    case svckey::IPV6HINT:
      return "ipv6hint";
    default:
      return nullptr;
  }
}

std::string svc_key_text(uint16_t key) {
  const char* n = svc_key_name(key);
  return n ? std::string(n) : "key" + std::to_string(key);
}

// Walks RDATA fields with bounds checks; any failure sets `bad` for good.
struct Cursor {
  std::span<const uint8_t> d;
  size_t pos = 0;
  bool bad = false;

  bool need(size_t n) {
    if (bad || d.size() - pos < n) bad = true;
    return !bad;
  }
  uint8_t u8() { return need(1) ? d[pos++] : 0; }
  uint16_t u16() {
    if (!need(2)) return 0;
    uint16_t v = static_cast<uint16_t>(d[pos] << 8 | d[pos + 1]);
    pos += 2;
    return v;
  }
  uint32_t u32() {
    if (!need(4)) return 0;
    uint32_t v = uint32_t{d[pos]} << 24 | uint32_t{d[pos + 1]} << 16 | uint32_t{d[pos + 2]} << 8 |
                 d[pos + 3];
    pos += 4;
    return v;
  }
  std::span<const uint8_t> bytes(size_t n) {
    if (!need(n)) return {};
    auto s = d.subspan(pos, n);
    pos += n;
    return s;
  }
  // An RFC 1035 <character-string>: a length octet and that many octets.
  std::span<const uint8_t> char_string() {
    size_t n = u8();
    return bytes(n);
  }
  // An uncompressed domain name.
  std::optional<Name> name() {
    if (bad) return std::nullopt;
    size_t start = pos;
    while (true) {
      if (pos >= d.size()) {
        bad = true;
        return std::nullopt;
      }
      uint8_t len = d[pos];
      if (len == 0) break;
      if (len > kMaxLabelLength) {
        bad = true;
        return std::nullopt;
      }
      pos += 1 + len;
    }
    ++pos;
    Name n;
    if (!n.assign_from_wire(d.subspan(start, pos - start))) {
      bad = true;
      return std::nullopt;
    }
    return n;
  }
  std::span<const uint8_t> rest() { return bytes(d.size() - pos); }
  bool at_end() const { return !bad && pos == d.size(); }
};

void append_hex(std::string& out, std::span<const uint8_t> data) {
  static constexpr char kHex[] = "0123456789ABCDEF";
  for (uint8_t b : data) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 15]);
  }
}

void append_base64(std::string& out, std::span<const uint8_t> data) {
  static constexpr char kB64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  size_t i = 0;
  for (; i + 3 <= data.size(); i += 3) {
    uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8 | data[i + 2];
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back(kB64[v & 63]);
  }
  size_t left = data.size() - i;
  if (left == 1) {
    uint32_t v = uint32_t{data[i]} << 16;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.append("==");
  } else if (left == 2) {
    uint32_t v = uint32_t{data[i]} << 16 | uint32_t{data[i + 1]} << 8;
    out.push_back(kB64[v >> 18]);
    out.push_back(kB64[(v >> 12) & 63]);
    out.push_back(kB64[(v >> 6) & 63]);
    out.push_back('=');
  }
}

void append_decimal_escape(std::string& out, uint8_t c) {
  out.push_back('\\');
  out.push_back(static_cast<char>('0' + c / 100));
  out.push_back(static_cast<char>('0' + (c / 10) % 10));
  out.push_back(static_cast<char>('0' + c % 10));
}

// Octets inside a quoted string: '"' and '\' escaped, unprintables as \DDD.
void append_quoted_body(std::string& out, std::span<const uint8_t> s) {
  for (uint8_t c : s) {
    if (c < 0x20 || c >= 0x7f) {
      append_decimal_escape(out, c);
    } else if (c == '"' || c == '\\') {
      out.push_back('\\');
      out.push_back(static_cast<char>(c));
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
}

void append_quoted(std::string& out, std::span<const uint8_t> s) {
  out.push_back('"');
  append_quoted_body(out, s);
  out.push_back('"');
}

void append_ipv4(std::string& out, std::span<const uint8_t> a) {
  char buf[INET_ADDRSTRLEN];
  inet_ntop(AF_INET, a.data(), buf, sizeof buf);
  out.append(buf);
}

void append_ipv6(std::string& out, std::span<const uint8_t> a) {
  char buf[INET6_ADDRSTRLEN];
  inet_ntop(AF_INET6, a.data(), buf, sizeof buf);
  out.append(buf);
}

std::string unknown_rdata_text(std::span<const uint8_t> rdata) {
  std::string out = "\\# " + std::to_string(rdata.size());
  if (!rdata.empty()) {
    out.push_back(' ');
    append_hex(out, rdata);
  }
  return out;
}

// An alpn value is a list of non-empty length-prefixed protocol ids.
bool alpn_well_formed(std::span<const uint8_t> v) {
  if (v.empty()) return false;
  Cursor c{v};
  while (!c.at_end()) {
    auto id = c.char_string();
    if (c.bad || id.empty()) return false;
  }
  return true;
}

bool alpn_has_list_specials(std::span<const uint8_t> v) {
  Cursor c{v};
  while (!c.at_end()) {
    for (uint8_t ch : c.char_string()) {
      if (ch == ',' || ch == '\\') return true;
    }
    if (c.bad) return true;
  }
  return false;
}

bool svc_param_well_formed(uint16_t key, std::span<const uint8_t> v) {
  switch (key) {
    case svckey::MANDATORY: {
      if (v.empty() || v.size() % 2 != 0) return false;
      uint32_t prev = 0;
      for (size_t i = 0; i < v.size(); i += 2) {
        uint16_t k = static_cast<uint16_t>(v[i] << 8 | v[i + 1]);
        if (k == svckey::MANDATORY || (i > 0 && k <= prev)) return false;
        prev = k;
      }
      return true;
    }
    case svckey::ALPN:
      return alpn_well_formed(v);
    case svckey::NO_DEFAULT_ALPN:
      return v.empty();
    case svckey::PORT:
      return v.size() == 2;
    case svckey::IPV4HINT:
      return !v.empty() && v.size() % 4 == 0;
    case svckey::IPV6HINT:
      return !v.empty() && v.size() % 16 == 0;
    case svckey::ECH:
      return !v.empty();
    default:
      return key != 65535;  // the reserved "invalid key"
  }
}

bool svcb_well_formed(std::span<const uint8_t> rdata) {
  Cursor c{rdata};
  c.u16();
  if (!c.name()) return false;
  int32_t prev = -1;
  while (!c.bad && !c.at_end()) {
    uint16_t key = c.u16();
    uint16_t len = c.u16();
    auto v = c.bytes(len);
    if (c.bad) return false;
    if (static_cast<int32_t>(key) <= prev) return false;  // RFC 9460 §2.2: strictly increasing
    if (!svc_param_well_formed(key, v)) return false;
    prev = key;
  }
  return c.at_end();
}

// RFC 9460 Appendix A: an item of a comma-separated value list escapes ','
// and '\' with a backslash; the whole value is then a quoted char-string.
void append_alpn(std::string& out, std::span<const uint8_t> v) {
  std::string items;
  Cursor c{v};
  bool first = true;
  while (!c.at_end()) {
    auto id = c.char_string();
    if (!first) items.push_back(',');
    first = false;
    for (uint8_t ch : id) {
      if (ch == ',' || ch == '\\') items.push_back('\\');
      items.push_back(static_cast<char>(ch));
    }
  }
  append_quoted(out, {reinterpret_cast<const uint8_t*>(items.data()), items.size()});
}

void append_svc_param(std::string& out, uint16_t key, std::span<const uint8_t> v) {
  out += svc_key_text(key);
  switch (key) {
    case svckey::MANDATORY:
      out.push_back('=');
      for (size_t i = 0; i < v.size(); i += 2) {
        if (i) out.push_back(',');
        out += svc_key_text(static_cast<uint16_t>(v[i] << 8 | v[i + 1]));
      }
      return;
    case svckey::ALPN:
      out.push_back('=');
      append_alpn(out, v);
      return;
    case svckey::NO_DEFAULT_ALPN:
      return;
    case svckey::PORT:
      out.push_back('=');
      out += std::to_string(v[0] << 8 | v[1]);
      return;
    case svckey::IPV4HINT:
      out.push_back('=');
      for (size_t i = 0; i < v.size(); i += 4) {
        if (i) out.push_back(',');
        append_ipv4(out, v.subspan(i, 4));
      }
      return;
    case svckey::IPV6HINT:
      out.push_back('=');
      for (size_t i = 0; i < v.size(); i += 16) {
        if (i) out.push_back(',');
        append_ipv6(out, v.subspan(i, 16));
      }
      return;
    case svckey::ECH:
      out.push_back('=');
      append_base64(out, v);
      return;
    default:  // other keys: a quoted char-string
      if (!v.empty()) {
        out.push_back('=');
        append_quoted(out, v);
      }
      return;
  }
}

// Presentation form of well-formed RDATA; nullopt when malformed.
std::optional<std::string> known_rdata_text(uint16_t type, std::span<const uint8_t> rdata) {
  Cursor c{rdata};
  std::string out;
  switch (type) {
    case rrtype::A:
      if (rdata.size() != 4) return std::nullopt;
      append_ipv4(out, rdata);
      return out;
    case rrtype::AAAA:
      if (rdata.size() != 16) return std::nullopt;
      append_ipv6(out, rdata);
      return out;
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME: {
      auto n = c.name();
      if (!n || !c.at_end()) return std::nullopt;
      return n->to_text();
    }
    case rrtype::SOA: {
      auto mname = c.name();
      auto rname = c.name();
      uint32_t serial = c.u32(), refresh = c.u32(), retry = c.u32(), expire = c.u32(),
               minimum = c.u32();
      if (!mname || !rname || !c.at_end()) return std::nullopt;
      out = mname->to_text() + " " + rname->to_text() + " " + std::to_string(serial) + " " +
            std::to_string(refresh) + " " + std::to_string(retry) + " " + std::to_string(expire) +
            " " + std::to_string(minimum);
      return out;
    }
    case rrtype::MX: {
      uint16_t pref = c.u16();
      auto n = c.name();
      if (!n || !c.at_end()) return std::nullopt;
      return std::to_string(pref) + " " + n->to_text();
    }
    case rrtype::TXT: {
      if (rdata.empty()) return std::nullopt;
      bool first = true;
      while (!c.at_end()) {
        auto s = c.char_string();
        if (c.bad) return std::nullopt;
        if (!first) out.push_back(' ');
        first = false;
        append_quoted(out, s);
      }
      return out;
    }
    case rrtype::SRV: {
      uint16_t prio = c.u16(), weight = c.u16(), port = c.u16();
      auto n = c.name();
      if (!n || !c.at_end()) return std::nullopt;
      return std::to_string(prio) + " " + std::to_string(weight) + " " + std::to_string(port) +
             " " + n->to_text();
    }
    case rrtype::CAA: {
      uint8_t flags = c.u8();
      auto tag = c.char_string();
      auto value = c.rest();
      if (c.bad || tag.empty()) return std::nullopt;
      for (uint8_t ch : tag) {
        bool alnum =
            (ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
        if (!alnum) return std::nullopt;
      }
      out = std::to_string(flags) + " ";
      out.append(reinterpret_cast<const char*>(tag.data()), tag.size());
      out.push_back(' ');
      append_quoted(out, value);
      return out;
    }
    case rrtype::NAPTR: {
      uint16_t order = c.u16(), pref = c.u16();
      auto flags = c.char_string();
      auto services = c.char_string();
      auto regexp = c.char_string();
      auto repl = c.name();
      if (!repl || !c.at_end()) return std::nullopt;
      out = std::to_string(order) + " " + std::to_string(pref) + " ";
      append_quoted(out, flags);
      out.push_back(' ');
      append_quoted(out, services);
      out.push_back(' ');
      append_quoted(out, regexp);
      out.push_back(' ');
      out += repl->to_text();
      return out;
    }
    case rrtype::SSHFP: {
      uint8_t alg = c.u8(), fptype = c.u8();
      auto fp = c.rest();
      if (c.bad || fp.empty()) return std::nullopt;
      out = std::to_string(alg) + " " + std::to_string(fptype) + " ";
      append_hex(out, fp);
      return out;
    }
    case rrtype::TLSA: {
      uint8_t usage = c.u8(), selector = c.u8(), mtype = c.u8();
      auto data = c.rest();
      if (c.bad || data.empty()) return std::nullopt;
      out = std::to_string(usage) + " " + std::to_string(selector) + " " + std::to_string(mtype) +
            " ";
      append_hex(out, data);
      return out;
    }
    case rrtype::SVCB:
    case rrtype::HTTPS: {
      if (!svcb_well_formed(rdata)) return std::nullopt;
      uint16_t prio = c.u16();
      auto target = c.name();
      out = std::to_string(prio) + " " + target->to_text();
      while (!c.at_end()) {
        uint16_t key = c.u16();
        uint16_t len = c.u16();
        auto v = c.bytes(len);
        out.push_back(' ');
        append_svc_param(out, key, v);
      }
      return out;
    }
    default:
      return std::nullopt;
  }
}

}  // namespace

Status validate_rdata(uint16_t type, std::span<const uint8_t> rdata) {
  if (!has_known_codec(type)) {
    if (rdata.size() > 65535) return make_error("RDATA longer than 65535 octets");
    return {};
  }
  // The shapes of most of a big zone's records, checked without rendering
  // them (this runs for every record of an import, on every node).
  bool well_formed;
  switch (type) {
    case rrtype::A:
      well_formed = rdata.size() == 4;
      break;
    case rrtype::AAAA:
      well_formed = rdata.size() == 16;
      break;
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::PTR:
    case rrtype::DNAME: {
      Cursor c{rdata};
      well_formed = c.name() && c.at_end();
      break;
    }
    default:
      well_formed = known_rdata_text(type, rdata).has_value();
  }
  if (well_formed) return {};
  return make_error("malformed " + type_to_text(type) + " RDATA (" + std::to_string(rdata.size()) +
                    " octets)");
}

// An alpn id holding ',' or '\\' needs the two-level escaping of RFC 9460
// Appendix A, which the zone parser we import with reads with one level only;
// such RDATA is shown in the generic form, which round-trips exactly.
bool svcb_needs_generic_text(std::span<const uint8_t> rdata) {
  Cursor c{rdata};
  c.u16();
  c.name();
  while (!c.at_end() && !c.bad) {
    uint16_t key = c.u16();
    uint16_t len = c.u16();
    auto v = c.bytes(len);
    if (key == svckey::ALPN && alpn_has_list_specials(v)) return true;
  }
  return false;
}

std::string rdata_to_text(uint16_t type, std::span<const uint8_t> rdata) {
  if ((type == rrtype::SVCB || type == rrtype::HTTPS) && svcb_needs_generic_text(rdata)) {
    return unknown_rdata_text(rdata);
  }
  if (has_known_codec(type)) {
    if (auto text = known_rdata_text(type, rdata)) return std::move(*text);
  }
  return unknown_rdata_text(rdata);
}

std::string record_to_text(const Record& rr) {
  // Types without a codec here use the numeric RFC 3597 form with their
  // generic RDATA: every master-file parser reads it, while mnemonics of
  // rare or obsolete types (HIP, NSAP, ...) are refused by some.
  std::string type =
      has_known_codec(rr.type) ? type_to_text(rr.type) : "TYPE" + std::to_string(rr.type);
  return rr.owner.to_text() + " " + std::to_string(rr.ttl) + " " + class_to_text(rr.rclass) + " " +
         type + " " + rdata_to_text(rr.type, rr.rdata);
}

std::optional<Name> rdata_target(uint16_t type, std::span<const uint8_t> rdata) {
  Cursor c{rdata};
  std::optional<Name> n;
  switch (type) {
    case rrtype::NS:
    case rrtype::CNAME:
    case rrtype::DNAME:
    case rrtype::PTR:
      n = c.name();
      break;
    case rrtype::MX:
      c.u16();
      n = c.name();
      break;
    case rrtype::SRV:
      c.u16();
      c.u16();
      c.u16();
      n = c.name();
      break;
    default:
      return std::nullopt;
  }
  if (!n || !c.at_end()) return std::nullopt;
  return n;
}

std::optional<SoaFields> soa_fields(std::span<const uint8_t> rdata) {
  Cursor c{rdata};
  if (!c.name() || !c.name()) return std::nullopt;
  SoaFields f{};
  f.serial = c.u32();
  f.refresh = c.u32();
  f.retry = c.u32();
  f.expire = c.u32();
  f.minimum = c.u32();
  if (!c.at_end()) return std::nullopt;
  return f;
}

std::vector<uint8_t> soa_with_serial(std::span<const uint8_t> rdata, uint32_t serial) {
  std::vector<uint8_t> out(rdata.begin(), rdata.end());
  if (!soa_fields(rdata)) return out;  // malformed: returned unchanged
  size_t at = out.size() - 20;         // serial is the first of the five trailing u32s
  out[at] = static_cast<uint8_t>(serial >> 24);
  out[at + 1] = static_cast<uint8_t>(serial >> 16);
  out[at + 2] = static_cast<uint8_t>(serial >> 8);
  out[at + 3] = static_cast<uint8_t>(serial);
  return out;
}

}  // namespace raftdns::wire
