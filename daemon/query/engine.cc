// Engine::answer: request checks (QR, opcode, QDCOUNT, EDNS version, class,
// transfers), CHAOS identity, the IN lookup, and the one place where the
// collected sections are encoded with compression and truncation.
#include "daemon/query/engine.h"

#include <algorithm>
#include <cstring>

#include "daemon/query/resolver.h"
#include "daemon/query/response.h"
#include "daemon/wire/message.h"

namespace raftdns::query {
namespace {

namespace T = wire::rrtype;

constexpr size_t kMaxTcpMessage = 65535;

// RFC 8914 §4 INFO-CODEs.
namespace ede {
constexpr int kProhibited = 18, kNotAuthoritative = 20, kNotSupported = 21, kInvalidData = 24;
}
constexpr uint16_t kEdeOption = 15;
constexpr uint16_t kBadCookie = 23;  // RFC 7873 §8

// TXT RDATA for `text` (character-strings of at most 255 octets), packed as
// the store packs RDATA so it can be answered like a stored RRset.
std::vector<uint8_t> packed_txt(const std::string& text) {
  if (text.empty()) return {};
  std::vector<uint8_t> rdata;
  for (size_t i = 0; i < text.size(); i += 255) {
    size_t n = std::min<size_t>(255, text.size() - i);
    rdata.push_back(static_cast<uint8_t>(n));
    rdata.insert(rdata.end(), text.begin() + static_cast<std::ptrdiff_t>(i),
                 text.begin() + static_cast<std::ptrdiff_t>(i + n));
  }
  rdata.resize(std::min<size_t>(rdata.size(), 0xffff));
  std::vector<uint8_t> packed(2);
  store::store_u16(packed.data(), static_cast<uint16_t>(rdata.size()));
  packed.insert(packed.end(), rdata.begin(), rdata.end());
  return packed;
}

wire::Name name_of(const char* text) {
  auto n = wire::Name::from_text(text);
  return n ? *n : wire::Name();
}

// Writes one RRset whole, or nothing of it.
bool write_rrset(wire::MessageWriter& w, wire::Section s, const OutRRset& rr) {
  const auto mark = w.mark();
  for (auto rd : rr.rdatas) {
    if (!w.add_record(s, *rr.owner, rr.type, rr.rclass, rr.ttl, rd)) {
      w.rewind(mark);
      return false;
    }
  }
  return true;
}

template <size_t N>
bool write_section(wire::MessageWriter& w, wire::Section s, const SectionList<N>& list) {
  for (size_t i = 0; i < list.count; ++i)
    if (!write_rrset(w, s, list[i])) return false;
  return true;
}

}  // namespace

Engine::Engine(EngineConfig cfg)
    : cfg_(std::move(cfg)),
      id_server_(name_of("id.server.")),
      hostname_bind_(name_of("hostname.bind.")),
      version_bind_(name_of("version.bind.")),
      version_server_(name_of("version.server.")),
      identity_packed_(packed_txt(cfg_.identity)),
      version_packed_(packed_txt(cfg_.version)) {}

namespace {

struct Request {
  const wire::QueryView& qv;
  bool echo_question;
  bool with_opt;
  uint16_t udp_size;
  size_t limit;
  int ede = -1;  // Extended DNS Error to attach to the OPT, or -1
  // Client cookie then our server cookie, for the OPT; nullptr for none.
  const uint8_t* cookie = nullptr;
};

wire::Header reply_header(const wire::Header& q) {
  wire::Header h;
  h.id = q.id;
  h.qr = true;
  h.opcode = q.opcode;
  h.rd = q.rd;
  h.cd = q.cd;
  return h;
}

void start(wire::MessageWriter& w, const Request& req, const wire::Header& h, uint16_t rcode,
           bool do_bit) {
  w.set_header(h);
  w.header().rcode = static_cast<uint8_t>(rcode);  // the writer moves bits 4-11 into the OPT
  if (req.echo_question) (void)w.add_question(req.qv.question);
  if (req.with_opt) {
    wire::Edns opt;
    opt.udp_size = req.udp_size;
    opt.do_bit = do_bit;
    if (req.cookie) {
      constexpr size_t n = kClientCookieSize + kServerCookieSize;
      opt.options = {0, wire::kOptionCookie, 0, n};
      opt.options.insert(opt.options.end(), req.cookie, req.cookie + n);
    }
    if (req.ede >= 0) {
      // One EDE option with its INFO-CODE and no EXTRA-TEXT (RFC 8914 §2).
      opt.options.insert(opt.options.end(), {kEdeOption >> 8, kEdeOption & 0xff, 0, 2,
                                             static_cast<uint8_t>(req.ede >> 8),
                                             static_cast<uint8_t>(req.ede & 0xff)});
    }
    w.reserve_opt(opt);
  }
}

// Collected sections -> wire. The answer and authority sections must fit
// whole, RRSIGs and denial proofs included, else the reply is cut to the
// question with TC (RFC 2181 §9, RFC 4035 §3.1.1). In the
// additional section, the glue of name servers inside a delegated domain
// must fit, else TC is set (RFC 9471 §3.1); other RRsets go in when they fit
// whole, and are left out otherwise.
size_t encode(const Request& req, const Response& r, std::span<uint8_t> out, bool& truncated) {
  wire::Header h = reply_header(req.qv.header);
  h.aa = r.aa;
  wire::MessageWriter w(out, req.limit);
  start(w, req, h, r.rcode, req.qv.edns_do);
  if (!write_section(w, wire::Section::answer, r.answer) ||
      !write_section(w, wire::Section::authority, r.authority)) {
    wire::MessageWriter t(out, req.limit);
    h.tc = true;
    start(t, req, h, r.rcode, req.qv.edns_do);
    truncated = true;
    return t.finish();
  }
  for (size_t i = 0; i < r.additional.count; ++i) {
    const OutRRset& rr = r.additional[i];
    if (rr.required && !write_rrset(w, wire::Section::additional, rr)) truncated = true;
  }
  // An RRset's RRSIGs follow it only when it went in; when they do not fit
  // they are left out whole (RFC 4035 §3.1.1), the RRset staying.
  bool last_written = false;
  for (size_t i = 0; i < r.additional.count; ++i) {
    const OutRRset& rr = r.additional[i];
    if (rr.signatures) {
      if (last_written) (void)write_rrset(w, wire::Section::additional, rr);
    } else {
      last_written = rr.required || write_rrset(w, wire::Section::additional, rr);
    }
  }
  if (truncated) w.header().tc = true;
  return w.finish();
}

}  // namespace

size_t Engine::answer(std::span<const uint8_t> query, std::span<uint8_t> out, Transport transport,
                      const store::ReadTxn& view, const Client& client) noexcept {
  last_cookie_valid_ = false;
  last_answer_reusable_ = false;
  // Too short to carry an ID, or a response (answering one invites loops).
  if (query.size() < wire::kHeaderSize || out.size() < wire::kMinUdpSize) return 0;
  if (query[2] & 0x80) return 0;
  ++counters_.queries;

  wire::QueryView qv;
  const wire::WireError err = wire::parse_query(query, qv);
  const uint16_t qdcount = static_cast<uint16_t>(query[4] << 8 | query[5]);

  // RFC 7873 §5.2: a COOKIE option is answered with the client cookie and
  // a fresh server cookie, whatever else the answer holds.
  uint8_t cookie[kClientCookieSize + kServerCookieSize];
  const uint8_t* reply_cookie = nullptr;
  if (err == wire::WireError::ok && cfg_.cookies && qv.has_cookie) {
    std::memcpy(cookie, qv.client_cookie, kClientCookieSize);
    if (qv.server_cookie_length) {
      last_cookie_valid_ =
          server_cookie_valid(cfg_.cookie_secret, qv.client_cookie,
                              {qv.server_cookie, qv.server_cookie_length}, client.ip, client.now);
    }
    make_server_cookie(cfg_.cookie_secret, qv.client_cookie, client.ip, client.now,
                       cookie + kClientCookieSize);
    reply_cookie = cookie;
  }

  auto simple_reply = [&](uint16_t rcode, bool echo_question, bool with_opt) -> size_t {
    if (rcode == wire::rcode::FORMERR) ++counters_.formerr;
    if (rcode == wire::rcode::REFUSED) ++counters_.refused;
    Request req{qv, echo_question, with_opt, std::max(cfg_.max_udp_size, wire::kMinUdpSize),
                wire::kMinUdpSize};
    if (with_opt) req.cookie = reply_cookie;
    wire::MessageWriter w(out, req.limit);
    start(w, req, reply_header(qv.header), rcode, qv.edns_do);
    return w.finish();
  };

  if (err != wire::WireError::ok) {
    // Echo what the header says about the query; the rest is not trusted.
    qv.header.id = static_cast<uint16_t>(query[0] << 8 | query[1]);
    qv.header.opcode = (query[2] >> 3) & 0xf;
    qv.header.rd = query[2] & 1;
    qv.header.cd = query[3] & 0x10;
    qv.edns_do = false;
    // RFC 6891 §7: a query that carried an OPT gets one back, FORMERR too.
    return simple_reply(wire::rcode::FORMERR, false, qv.has_edns);
  }
  if (qdcount != 1 || !qv.has_question) {
    return simple_reply(wire::rcode::FORMERR, false, qv.has_edns);
  }
  if (qv.header.opcode != wire::opcode::QUERY) {
    return simple_reply(wire::rcode::NOTIMP, true, qv.has_edns);
  }
  // RFC 6891 §6.1.3: a version we do not speak gets BADVERS, with our OPT.
  if (qv.has_edns && qv.edns_version > 0) return simple_reply(wire::rcode::BADVERS, true, true);
  // RFC 7873 §5.2.3/§5.2.4: a server cookie we did not make (or that has
  // expired) over UDP gets BADCOOKIE and a fresh one, which the client then
  // uses; over TCP the address is proven and the query is answered.
  if (reply_cookie && qv.server_cookie_length && !last_cookie_valid_ &&
      transport == Transport::udp) {
    return simple_reply(kBadCookie, true, true);
  }

  const uint16_t our_udp = std::max(cfg_.max_udp_size, wire::kMinUdpSize);
  size_t limit = wire::kMinUdpSize;  // RFC 1035 §4.2.1 without EDNS
  if (transport == Transport::tcp) {
    limit = std::min(out.size(), kMaxTcpMessage);
  } else if (qv.has_edns) {
    limit = std::clamp<size_t>(qv.edns_udp_size, wire::kMinUdpSize, our_udp);
  }
  Request req{qv, true, qv.has_edns, our_udp, limit};
  req.cookie = reply_cookie;

  const uint16_t qtype = qv.question.qtype;
  const uint16_t qclass = qv.question.qclass;
  Response r;
  if (qclass == wire::rrclass::CH) {
    const wire::Name& n = qv.question.name;
    const std::vector<uint8_t>* packed = nullptr;
    if (n == id_server_ || n == hostname_bind_) packed = &identity_packed_;
    if (n == version_bind_ || n == version_server_) packed = &version_packed_;
    if (!packed || packed->empty()) {
      // Names we do not answer in CH, and identities the operator hid.
      r.rcode = wire::rcode::REFUSED;
      r.ede = packed ? ede::kProhibited : ede::kNotAuthoritative;
    } else {
      r.aa = true;
      if (qtype == T::TXT || qtype == T::ANY) {
        store::RRsetView txt;
        txt.type = T::TXT;
        txt.rclass = wire::rrclass::CH;
        txt.count = 1;
        txt.packed = *packed;
        r.answer.push(&qv.question.name, txt, 0);
      }
    }
  } else if (qclass != wire::rrclass::IN && qclass != wire::rrclass::ANY) {
    r.rcode = wire::rcode::REFUSED;
    r.ede = ede::kNotSupported;
  } else if (qtype == T::AXFR || qtype == T::IXFR) {
    r.rcode = wire::rcode::REFUSED;  // no zone transfers (yet)
    r.ede = ede::kProhibited;
  } else {
    Resolver(view, r, qtype, cfg_.minimal_responses, qv.edns_do).resolve(qv.question.name);
    // RFC 1035 §6.2: an answer to QCLASS ANY is never authoritative, since
    // data of other classes may exist elsewhere.
    if (qclass == wire::rrclass::ANY) r.aa = false;
  }

  // RFC 8914: say why a query was refused or failed.
  if (r.ede < 0 && r.rcode == wire::rcode::REFUSED) r.ede = ede::kNotAuthoritative;
  if (r.ede < 0 && r.rcode == wire::rcode::SERVFAIL) r.ede = ede::kInvalidData;
  req.ede = r.ede;
  if (r.rcode == wire::rcode::NXDOMAIN) ++counters_.nxdomain;
  if (r.rcode == wire::rcode::REFUSED) ++counters_.refused;
  bool truncated = false;
  size_t n = encode(req, r, out, truncated);
  if (truncated) ++counters_.truncated;
  last_answer_reusable_ = !r.spells_query_name && reply_cookie == nullptr;
  return n;
}

void Engine::count_reused(std::span<const uint8_t> response) noexcept {
  if (response.size() < wire::kHeaderSize) return;
  ++counters_.queries;
  // Every reused answer carries its question, so its RCODE fits the header's
  // four bits (the extended ones only come with BADVERS and BADCOOKIE).
  const uint8_t rcode = response[3] & 0x0f;
  if (rcode == wire::rcode::NXDOMAIN) ++counters_.nxdomain;
  if (rcode == wire::rcode::REFUSED) ++counters_.refused;
  if (response[2] & 0x02) ++counters_.truncated;
}

}  // namespace raftdns::query
