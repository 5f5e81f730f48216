// Per-worker DNS counters: responses by protocol, qtype and rcode, truncated
// responses and TCP connections, read by the metrics scraper.
//
// Cost on the query path: each worker owns one DnsMetrics, aligned to its own
// cache lines, and is its only writer. An increment is a relaxed load and a
// relaxed store (no locked instruction, no shared line); the scraper sums
// the workers' copies with relaxed loads. The only sharing is the scraper
// pulling a line into its cache once per scrape.
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <span>
#include <string_view>

namespace raftdns::server {

enum class DnsProtocol : uint8_t { udp, tcp };
inline constexpr size_t kDnsProtocols = 2;
std::string_view protocol_label(size_t protocol) noexcept;

// qtypes with their own label; every other type counts as "OTHER", and a
// response without a question (FORMERR for a malformed query) as "NONE".
inline constexpr size_t kQtypeSlots = 26;
inline constexpr size_t kQtypeOther = kQtypeSlots - 2;
inline constexpr size_t kQtypeNone = kQtypeSlots - 1;
std::string_view qtype_label(size_t slot) noexcept;
size_t qtype_slot(uint16_t qtype) noexcept;

// rcodes 0..16 (16 is BADVERS, carried in the OPT record) by name; anything
// above as "OTHER".
inline constexpr size_t kRcodeSlots = 18;
std::string_view rcode_label(size_t slot) noexcept;

struct alignas(64) DnsMetrics {
  using Counter = std::atomic<uint64_t>;
  // Single writer: the owning worker.
  static void bump(Counter& c, uint64_t by = 1) noexcept {
    c.store(c.load(std::memory_order_relaxed) + by, std::memory_order_relaxed);
  }

  std::array<std::array<std::array<Counter, kRcodeSlots>, kQtypeSlots>, kDnsProtocols> responses{};
  std::array<Counter, kDnsProtocols> truncated{};
  Counter tcp_accepted{0};
  Counter tcp_closed{0};
};

// Counts one response the engine made: reads the rcode and TC bit from the
// header and the qtype from the echoed question. Never reads past `response`.
// The extended rcode (BADVERS) is read from an OPT record that directly
// follows the question, which is where the engine puts it on every response
// that carries one (those have no answer or authority records).
void count_response(DnsMetrics& m, DnsProtocol protocol,
                    std::span<const uint8_t> response) noexcept;

}  // namespace raftdns::server
