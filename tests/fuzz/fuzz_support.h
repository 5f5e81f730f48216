// Shared by the fuzz targets: invariant checks that abort loudly, and a reader for structured
// inputs.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>

namespace raftdns::fuzz {

// A broken promise: print what and where, then abort so libFuzzer keeps the input as a crash.
[[noreturn]] inline void broken(const char* target, const std::string& what) {
  std::fprintf(stderr, "%s: invariant broken: %s\n", target, what.c_str());
  std::fflush(stderr);
  std::abort();
}

// Hands out the fuzz input piece by piece. Reading past the end yields zeros and empty spans,
// so every input, however short, is a complete description.
class InputReader {
 public:
  explicit InputReader(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}

  bool empty() const { return bytes_.empty(); }
  std::size_t remaining() const { return bytes_.size(); }

  std::uint8_t u8() {
    if (bytes_.empty()) return 0;
    const std::uint8_t v = bytes_[0];
    bytes_ = bytes_.subspan(1);
    return v;
  }
  std::uint16_t u16() { return static_cast<std::uint16_t>(u8() << 8 | u8()); }
  std::uint32_t u32() { return std::uint32_t{u16()} << 16 | u16(); }
  std::span<const std::uint8_t> take(std::size_t n) {
    n = std::min(n, bytes_.size());
    const auto out = bytes_.first(n);
    bytes_ = bytes_.subspan(n);
    return out;
  }
  std::span<const std::uint8_t> rest() { return take(bytes_.size()); }

 private:
  std::span<const std::uint8_t> bytes_;
};

}  // namespace raftdns::fuzz
