// Fuzz target: one presentation-format record line, the `dnsadm add` path.
//
// parse_record must refuse or accept without harm. What it accepts must survive the trip back
// to text: parse_record(record_to_text(rr)) gives the same record, octet for octet, and the
// text of that record is the same text again.
#include <cstdint>
#include <string>
#include <string_view>

#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"
#include "daemon/zone/zone.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_record_text";

const wire::Name& origin() {
  static const wire::Name name = [] {
    auto n = wire::Name::from_text("example.com.");
    if (!n) broken(kTarget, n.error());
    return *n;
  }();
  return name;
}

std::string hex(const std::vector<std::uint8_t>& bytes) {
  static const char* digits = "0123456789abcdef";
  std::string out;
  for (const std::uint8_t b : bytes) {
    out += digits[b >> 4];
    out += digits[b & 15];
  }
  return out;
}

std::string show(const wire::Record& rr) {
  return "owner " + hex({rr.owner.wire().begin(), rr.owner.wire().end()}) + " type " +
         std::to_string(rr.type) + " class " + std::to_string(rr.rclass) + " ttl " +
         std::to_string(rr.ttl) + " rdata " + hex(rr.rdata);
}

bool identical(const wire::Record& a, const wire::Record& b) {
  const auto wa = a.owner.wire();
  const auto wb = b.owner.wire();
  return std::equal(wa.begin(), wa.end(), wb.begin(), wb.end()) && a.type == b.type &&
         a.rclass == b.rclass && a.ttl == b.ttl && a.rdata == b.rdata;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 4096) return 0;  // one line; longer inputs only slow the search down
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  auto parsed = zone::parse_record(line, &origin());
  if (!parsed) return 0;
  const wire::Record& rr = *parsed;

  const std::string text = wire::record_to_text(rr);
  auto again = zone::parse_record(text, &origin());
  if (!again) {
    broken(kTarget, "the text of an accepted record is refused: \"" + text +
                        "\": " + again.error() + "; record " + show(rr));
  }
  if (!identical(rr, *again)) {
    broken(kTarget, "text round trip changed the record: \"" + text + "\"\n  before: " + show(rr) +
                        "\n  after:  " + show(*again));
  }
  const std::string text_again = wire::record_to_text(*again);
  if (text_again != text) {
    broken(kTarget, "record text is not stable: \"" + text + "\" then \"" + text_again + "\"");
  }
  return 0;
}
