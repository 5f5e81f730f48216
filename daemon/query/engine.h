// The answer engine: (query bytes, store read view) -> response bytes.
// No sockets, no threads, no locks; noexcept.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "daemon/query/cookie.h"
#include "daemon/wire/name.h"

namespace raftdns::store {
class ReadTxn;
}

namespace raftdns::query {

enum class Transport : uint8_t { udp, tcp };

struct EngineConfig {
  // CHAOS TXT id.server / hostname.bind; empty = refuse (REFUSED).
  std::string identity;
  // CHAOS TXT version.bind / version.server; empty = refuse.
  std::string version;
  // Largest UDP response we send even when the client offers more.
  uint16_t max_udp_size = 1232;
  // [dns] minimal_responses: false adds the zone's NS RRset (authority) and
  // their addresses (additional) to positive answers, as NSD does.
  bool minimal_responses = true;
  // [dns] cookies: answer RFC 7873 COOKIE options with RFC 9018 server
  // cookies made with this secret (the same on every node of a cluster).
  bool cookies = true;
  CookieSecret cookie_secret{};
};

// Who asked, for DNS Cookies: the client's address (4 or 16 octets) and the
// time in seconds since the epoch.
struct Client {
  std::span<const uint8_t> ip;
  uint32_t now = 0;
};

struct EngineCounters {
  uint64_t queries = 0;
  uint64_t nxdomain = 0;
  uint64_t refused = 0;
  uint64_t formerr = 0;
  uint64_t truncated = 0;
};

class Engine {
 public:
  explicit Engine(EngineConfig cfg);

  // Answers one query. `out` must hold at least 65535 bytes. Returns the
  // response length, or 0 when the packet must be dropped (e.g. it is a
  // response, or too short to carry an ID).
  size_t answer(std::span<const uint8_t> query, std::span<uint8_t> out, Transport transport,
                const store::ReadTxn& view, const Client& client = {}) noexcept;

  // Whether the last query answered carried a server cookie that this
  // cluster made for that client: rate limiting lets such clients through,
  // since their address is proven (RFC 7873 §5.3).
  bool last_cookie_valid() const noexcept { return last_cookie_valid_; }

  // Whether the last answer is the same for every spelling of the query
  // name once the question is copied in: false when some of its RDATA was
  // made from the name's letters (a DNAME substitution), or when it carries
  // a server cookie. Answers for which it is false are not to be reused.
  bool last_answer_reusable() const noexcept { return last_answer_reusable_; }

  // Counts an answer given for this engine from elsewhere (a cache of its
  // earlier answers) as if it had answered: `response` is that answer.
  void count_reused(std::span<const uint8_t> response) noexcept;

  const EngineCounters& counters() const noexcept { return counters_; }

 private:
  EngineConfig cfg_;
  EngineCounters counters_;
  bool last_cookie_valid_ = false;
  bool last_answer_reusable_ = false;
  // CHAOS names and their TXT RDATA, prepared once (length-prefixed as the
  // store packs RDATA: u16 length | rdata).
  wire::Name id_server_, hostname_bind_, version_bind_, version_server_;
  std::vector<uint8_t> identity_packed_, version_packed_;
};

}  // namespace raftdns::query
