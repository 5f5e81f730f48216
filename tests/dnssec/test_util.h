// Test helpers for raftdns::dnssec: hex and base64 test data, records from text.
#pragma once

#include <sodium.h>

#include <cstdint>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "daemon/wire/name.h"
#include "daemon/wire/rr.h"
#include "tests/wire/bytes.h"

namespace raftdns::dnssec::testing {

using wire::testing::hex;

inline std::vector<uint8_t> base64(std::string_view text) {
  std::vector<uint8_t> out(text.size());
  size_t len = 0;
  if (sodium_base642bin(out.data(), out.size(), text.data(), text.size(), " \n", &len, nullptr,
                        sodium_base64_VARIANT_ORIGINAL) != 0) {
    throw std::invalid_argument("bad base64 in test data");
  }
  out.resize(len);
  return out;
}

inline wire::Name name(std::string_view text) {
  auto n = wire::Name::from_text(text);
  if (!n) throw std::invalid_argument("bad name in test data: " + std::string(text));
  return *n;
}

// The uncompressed wire form of a name, for building RDATA by hand.
inline std::vector<uint8_t> name_wire(std::string_view text) {
  const wire::Name n = name(text);
  auto w = n.wire();
  return {w.begin(), w.end()};
}

inline std::vector<uint8_t> concat(std::initializer_list<std::vector<uint8_t>> parts) {
  std::vector<uint8_t> out;
  for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
  return out;
}

// A class IN record.
inline wire::Record rr(const char* owner, uint16_t type, std::vector<uint8_t> rdata,
                       uint32_t ttl = 3600) {
  return wire::Record{name(owner), type, 1, ttl, std::move(rdata)};
}

}  // namespace raftdns::dnssec::testing
