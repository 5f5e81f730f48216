// RFC 2136 UPDATE: message reading, the grant check and the response.
#include "daemon/update/update.h"

#include <algorithm>

#include "daemon/wire/types.h"

namespace raftdns::update {
namespace {

namespace T = wire::rrtype;
constexpr uint16_t kTsigType = 250;

Refusal refuse(uint16_t rcode, std::string reason, const wire::Message& m,
               std::optional<wire::Question> zone = std::nullopt) {
  return Refusal{rcode, std::move(reason), m.header, std::move(zone)};
}

std::string record_label(const wire::Record& r) {
  return r.owner.to_text() + " " + wire::type_to_text(r.type);
}

}  // namespace

std::variant<Request, Refusal> parse(std::span<const uint8_t> message) {
  wire::Message m;
  const wire::WireError e = wire::parse_message(message, m);
  if (e != wire::WireError::ok) {
    Refusal r{wire::rcode::FORMERR, std::string("malformed UPDATE: ") + wire::wire_error_text(e),
              std::nullopt, std::nullopt};
    if (message.size() >= wire::kHeaderSize) r.header = m.header;
    return r;
  }
  if (m.header.opcode != wire::opcode::UPDATE || m.header.qr) {
    return refuse(wire::rcode::FORMERR, "not an UPDATE request", m);
  }
  if (m.questions.size() != 1) {
    return refuse(wire::rcode::FORMERR,
                  "the zone section holds " + std::to_string(m.questions.size()) +
                      " entries; an UPDATE names exactly one zone",
                  m);
  }
  const wire::Question& zone = m.questions.front();
  if (zone.qtype != T::SOA) {
    return refuse(wire::rcode::FORMERR,
                  "the zone section's type is " + wire::type_to_text(zone.qtype) + ", not SOA", m,
                  zone);
  }
  if (zone.qclass != wire::rrclass::IN) {
    return refuse(wire::rcode::NOTAUTH,
                  "zone " + zone.name.to_text() + " of class " +
                      wire::class_to_text(zone.qclass) + " is not served here",
                  m, zone);
  }
  // The additional section may end with the (already verified) TSIG record.
  for (size_t i = 0; i < m.additional.size(); ++i) {
    if (m.additional[i].type == kTsigType && i + 1 != m.additional.size()) {
      return refuse(wire::rcode::FORMERR, "a TSIG record that is not the last record", m, zone);
    }
  }
  Request req;
  req.header = m.header;
  req.edns = std::move(m.edns);
  req.command.zone = zone.name;
  req.command.prerequisites = std::move(m.answer);
  req.command.updates = std::move(m.authority);
  return req;
}

std::optional<NamePattern> NamePattern::parse(std::string_view text) {
  NamePattern p;
  if (text.size() >= 2 && text.substr(0, 2) == "*.") {
    p.below = true;
    text.remove_prefix(2);
  } else if (text == "*") {
    return std::nullopt;  // "every name" is an absent names list
  }
  auto name = wire::Name::from_text(std::string(text));
  if (!name) return std::nullopt;
  p.name = *name;
  return p;
}

bool NamePattern::matches(const wire::Name& n) const noexcept {
  if (!below) return n == name;
  return n.label_count() > name.label_count() && n.is_subdomain_of(name);
}

std::string NamePattern::to_text() const { return (below ? "*." : "") + name.to_text(); }

Verdict check(const store::Update& update, const std::vector<const Grant*>& grants) {
  for (const wire::Record& r : update.updates) {
    const bool every_type = r.rclass == wire::rrclass::ANY && r.type == T::ANY;
    const bool granted = std::any_of(grants.begin(), grants.end(), [&](const Grant* g) {
      if (!(g->zone == update.zone)) return false;
      if (!g->names.empty() &&
          std::none_of(g->names.begin(), g->names.end(),
                       [&](const NamePattern& p) { return p.matches(r.owner); })) {
        return false;
      }
      if (g->types.empty()) return true;
      if (every_type) return false;
      return std::find(g->types.begin(), g->types.end(), r.type) != g->types.end();
    });
    if (!granted) {
      std::string what = every_type ? "deleting every RRset at " + r.owner.to_text()
                                     : (r.rclass == wire::rrclass::IN ? "adding " : "deleting ") +
                                           record_label(r);
      return {false, what + " in zone " + update.zone.to_text() + " is not granted" +
                         (grants.empty() ? " (no grant applies to this client)" : "")};
    }
  }
  return {true, {}};
}

size_t write_response(std::span<uint8_t> out, const wire::Header& request,
                      const std::optional<wire::Question>& zone, bool edns, uint16_t rcode) {
  wire::MessageWriter w(out, out.size());
  wire::Header h;
  h.id = request.id;
  h.qr = true;
  h.opcode = wire::opcode::UPDATE;
  h.rcode = static_cast<uint8_t>(rcode & 0xf);
  w.set_header(h);
  if (edns) {
    wire::Edns ours;
    ours.udp_size = 1232;  // the DNS Flag Day 2020 size
    w.reserve_opt(ours);
  }
  if (zone && !w.add_question(*zone)) return 0;
  return w.finish();
}

}  // namespace raftdns::update
