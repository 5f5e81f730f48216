// Numeric "addr:port" socket addresses ("127.0.0.1:7001", "[::1]:7001") for peers and listeners; never resolved.
#pragma once

#include <sys/socket.h>

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

namespace raftdns::replication {

struct SocketAddress {
  sockaddr_storage storage{};
  socklen_t length = 0;

  const sockaddr* get() const { return reinterpret_cast<const sockaddr*>(&storage); }
  int family() const { return storage.ss_family; }
  std::uint16_t port() const;
  bool is_wildcard() const;  // 0.0.0.0 or ::
  // "127.0.0.1:7001" or "[::1]:7001".
  std::string to_text() const;
};

// Parses "a.b.c.d:port" or "[v6]:port". The port is required (0 asks the kernel for one when
// listening). Host names are refused: the daemon links statically and never resolves names.
Result<SocketAddress> parse_socket_address(std::string_view text);

// Formats a kernel-supplied address (from accept or getsockname) like SocketAddress::text().
std::string format_socket_address(const sockaddr* address, socklen_t length);

// A member of the cluster to dial: its node id and peer address in the
// numeric text form SocketAddress::to_text() gives. The TOML's
// [[cluster.peer]] list and the replicated membership both produce it.
struct PeerConfig {
  std::string id;       // node id, e.g. "n2"
  std::string address;  // "127.0.0.1:7002" or "[::1]:7002"
};

}  // namespace raftdns::replication
