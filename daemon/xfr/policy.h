// Transfer policy: which clients (address prefix and/or TSIG key) may
// transfer which zones. Default deny: a transfer is allowed only when some
// rule matches. Per node (it is configuration, not replicated state).
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "daemon/tsig/tsig.h"
#include "daemon/wire/name.h"

namespace raftdns::xfr {

// An address prefix: "192.0.2.0/24", "2001:db8::/32", or a bare address
// (a host prefix).
struct Cidr {
  int family = AF_INET;
  uint8_t bytes[16] = {};
  uint8_t prefix = 32;

  static Result<Cidr> parse(std::string_view text);
  bool contains(const sockaddr* address) const noexcept;
  std::string to_text() const;
};

struct AllowRule {
  std::optional<Cidr> from;           // any client when absent
  std::optional<wire::Name> key;      // the request must be signed with this key
  std::vector<wire::Name> zones;      // every zone when empty
};

class TransferPolicy {
 public:
  TransferPolicy() = default;
  explicit TransferPolicy(std::vector<AllowRule> rules) : rules_(std::move(rules)) {}

  // True when some rule lets `client`, with the verified key `key` (null for
  // an unsigned request), transfer `zone`.
  bool allows(const sockaddr* client, const tsig::Key* key, const wire::Name& zone) const noexcept;
  const std::vector<AllowRule>& rules() const noexcept { return rules_; }

 private:
  std::vector<AllowRule> rules_;
};

// Says whether a refusal for a client should be logged: once per client
// address and minute, so a misconfigured secondary retrying every few
// seconds leaves one line a minute, not a flood. Shared by the workers.
class RefusalLog {
 public:
  bool should_log(const sockaddr* client, uint64_t now_seconds);

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, uint64_t> last_;
};

// "192.0.2.1" / "2001:db8::1" for log lines.
std::string address_text(const sockaddr* address);

}  // namespace raftdns::xfr
