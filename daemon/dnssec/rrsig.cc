// Canonical RRset form, RRSIG creation and verification.
#include "daemon/dnssec/rrsig.h"

#include <algorithm>

#include "common/bytes.h"
#include "daemon/wire/rr.h"
#include "daemon/wire/types.h"

namespace raftdns::dnssec {
namespace {

// Lowercases the uncompressed name starting at rdata[pos] and moves pos past
// it; false if it runs off the end.
bool lowercase_name(std::vector<uint8_t>& rdata, size_t& pos) {
  while (pos < rdata.size()) {
    uint8_t len = rdata[pos++];
    if (len == 0) return true;
    if (len > wire::kMaxLabelLength || rdata.size() - pos < len) return false;
    for (size_t i = 0; i < len; ++i) {
      uint8_t& c = rdata[pos + i];
      if (c >= 'A' && c <= 'Z') c = static_cast<uint8_t>(c + ('a' - 'A'));
    }
    pos += len;
  }
  return false;
}

bool skip_string(const std::vector<uint8_t>& rdata, size_t& pos) {
  if (pos >= rdata.size() || rdata.size() - pos - 1 < rdata[pos]) return false;
  pos += 1 + rdata[pos];
  return true;
}

// The layout of the types whose names are lowercased: 'N' a name, 'S' a
// character-string, a digit n skips n fixed octets.
const char* name_layout(uint16_t type) noexcept {
  switch (type) {
    case wire::rrtype::NS:
    case 3:  // MD
    case 4:  // MF
    case wire::rrtype::CNAME:
    case 7:  // MB
    case 8:  // MG
    case 9:  // MR
    case wire::rrtype::PTR:
    case wire::rrtype::DNAME:
      return "N";
    case wire::rrtype::SOA:
    case 14:  // MINFO
    case 17:  // RP
      return "NN";
    case wire::rrtype::MX:
    case 18:  // AFSDB
    case 21:  // RT
    case 36:  // KX
      return "2N";
    case 26:  // PX
      return "2NN";
    case wire::rrtype::SRV:
      return "6N";
    case wire::rrtype::NAPTR:
      return "4SSSN";
    default:
      return nullptr;
  }
}

}  // namespace

std::vector<uint8_t> canonical_rdata(uint16_t type, std::span<const uint8_t> rdata) {
  std::vector<uint8_t> out(rdata.begin(), rdata.end());
  const char* layout = name_layout(type);
  if (layout == nullptr) return out;
  size_t pos = 0;
  for (const char* f = layout; *f != '\0'; ++f) {
    bool ok = true;
    if (*f == 'N') {
      ok = lowercase_name(out, pos);
    } else if (*f == 'S') {
      ok = skip_string(out, pos);
    } else {
      pos += static_cast<size_t>(*f - '0');
      ok = pos <= out.size();
    }
    if (!ok) return {rdata.begin(), rdata.end()};
  }
  return out;
}

uint8_t rrsig_labels(const wire::Name& owner) noexcept {
  size_t labels = owner.label_count();
  if (owner.is_wildcard()) --labels;
  return static_cast<uint8_t>(labels);
}

namespace {

void put_u16(std::vector<uint8_t>& out, uint16_t v) {
  out.push_back(static_cast<uint8_t>(v >> 8));
  out.push_back(static_cast<uint8_t>(v));
}
void put_u32(std::vector<uint8_t>& out, uint32_t v) {
  put_u16(out, static_cast<uint16_t>(v >> 16));
  put_u16(out, static_cast<uint16_t>(v));
}

void put_fields(std::vector<uint8_t>& out, const RrsigFields& f) {
  put_u16(out, f.type_covered);
  out.push_back(f.algorithm);
  out.push_back(f.labels);
  put_u32(out, f.original_ttl);
  put_u32(out, f.expiration);
  put_u32(out, f.inception);
  put_u16(out, f.key_tag);
  const wire::Name lower = f.signer.lowercased();
  auto signer = lower.wire();
  out.insert(out.end(), signer.begin(), signer.end());
}

}  // namespace

std::vector<uint8_t> signature_input(const RrsigFields& fields, const RRsetView& rrset) {
  std::vector<uint8_t> out;
  put_fields(out, fields);

  // RFC 4035 §5.3.2: a wildcard expansion is verified against "*." plus the
  // rightmost `labels` labels of the owner.
  wire::Name owner = rrset.owner.lowercased();
  if (fields.labels < owner.label_count()) {
    auto wildcard = owner.strip_left(owner.label_count() - fields.labels).wildcard_child();
    if (wildcard) owner = *wildcard;
  }
  auto owner_wire = owner.wire();

  std::vector<std::vector<uint8_t>> canonical;
  canonical.reserve(rrset.rdatas.size());
  for (const auto& rd : rrset.rdatas) canonical.push_back(canonical_rdata(rrset.type, rd));
  std::sort(canonical.begin(), canonical.end());
  canonical.erase(std::unique(canonical.begin(), canonical.end()), canonical.end());

  size_t per_rr = owner_wire.size() + 10;
  size_t total = out.size();
  for (const auto& rd : canonical) total += per_rr + rd.size();
  out.reserve(total);
  for (const auto& rd : canonical) {
    out.insert(out.end(), owner_wire.begin(), owner_wire.end());
    put_u16(out, rrset.type);
    put_u16(out, rrset.rclass);
    put_u32(out, fields.original_ttl);
    put_u16(out, static_cast<uint16_t>(rd.size()));
    out.insert(out.end(), rd.begin(), rd.end());
  }
  return out;
}

Result<std::vector<uint8_t>> make_rrsig(const KeyPair& key, uint16_t tag, const wire::Name& signer,
                                        const RRsetView& rrset, uint32_t inception,
                                        uint32_t expiration) {
  RrsigFields fields;
  fields.type_covered = rrset.type;
  fields.algorithm = key.algorithm;
  fields.labels = rrsig_labels(rrset.owner);
  fields.original_ttl = rrset.ttl;
  fields.expiration = expiration;
  fields.inception = inception;
  fields.key_tag = tag;
  fields.signer = signer;
  auto signature = sign(key, signature_input(fields, rrset));
  if (!signature) return std::move(signature).take_error();
  std::vector<uint8_t> out;
  out.reserve(18 + signer.wire_length() + signature->size());
  put_fields(out, fields);
  out.insert(out.end(), signature->begin(), signature->end());
  return out;
}

std::optional<RrsigFields> parse_rrsig(std::span<const uint8_t> rdata,
                                       std::span<const uint8_t>* signature) {
  if (rdata.size() < 19) return std::nullopt;
  RrsigFields f;
  const uint8_t* p = rdata.data();
  f.type_covered = bytes::load_u16(p);
  f.algorithm = p[2];
  f.labels = p[3];
  f.original_ttl = bytes::load_u32(p + 4);
  f.expiration = bytes::load_u32(p + 8);
  f.inception = bytes::load_u32(p + 12);
  f.key_tag = bytes::load_u16(p + 16);
  size_t pos = 18;
  while (pos < rdata.size() && rdata[pos] != 0) pos += 1 + rdata[pos];
  if (pos >= rdata.size()) return std::nullopt;
  ++pos;  // the root label
  auto signer = wire::Name::from_wire(rdata.subspan(18, pos - 18));
  if (!signer) return std::nullopt;
  f.signer = *signer;
  if (signature != nullptr) *signature = rdata.subspan(pos);
  return f;
}

Status verify_rrsig(const RRsetView& rrset, std::span<const uint8_t> rrsig_rdata,
                    std::span<const uint8_t> dnskey, uint32_t now) {
  std::span<const uint8_t> signature;
  auto fields = parse_rrsig(rrsig_rdata, &signature);
  if (!fields) return make_error("malformed RRSIG RDATA");
  if (dnskey.size() < 5) return make_error("malformed DNSKEY RDATA");
  // RFC 4035 §5.3.1: only a zone key (protocol 3) signs zone data.
  if ((bytes::load_u16(dnskey.data()) & flag::kZone) == 0 || dnskey[2] != 3) {
    return make_error("DNSKEY is not a zone key");
  }
  if (fields->type_covered != rrset.type) return make_error("RRSIG covers another type");
  if (fields->algorithm != dnskey[3]) return make_error("RRSIG algorithm differs from the key's");
  if (fields->key_tag != key_tag(dnskey)) return make_error("RRSIG key tag differs from the key's");
  if (fields->labels > rrsig_labels(rrset.owner)) return make_error("RRSIG labels field too large");
  if (!rrset.owner.is_subdomain_of(fields->signer)) {
    return make_error("RRSIG signer is not an ancestor of the owner");
  }
  if (wire::serial_gt(fields->inception, now)) return make_error("RRSIG is not yet valid");
  if (wire::serial_gt(now, fields->expiration)) return make_error("RRSIG has expired");
  if (!verify(fields->algorithm, dnskey.subspan(4), signature_input(*fields, rrset), signature)) {
    return make_error("RRSIG signature does not verify");
  }
  return {};
}

}  // namespace raftdns::dnssec
