// PeerNetwork: how the driver reaches the other nodes (the TCP transport, or an in-memory one in tests).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "replication/transport.h"

struct event_base;

namespace raftdns::replication {

class PeerNetwork {
 public:
  struct Handlers {
    // A message from an authenticated peer; `payload` is valid only during the call.
    std::function<void(const std::string& peer, uint8_t kind, std::span<const uint8_t> payload)>
        on_message;
    // The outbound connection to `peer` came up or went down. When it goes
    // down, messages accepted by send() but not yet delivered may be lost.
    std::function<void(const std::string& peer, bool up)> on_peer_state;
    // See TransportConfig::notice_for_stranger and on_key_mismatch (optional).
    std::function<std::optional<StrangerNotice>(const std::string& node)> notice_for_stranger;
    std::function<void(const std::string& peer, const std::string& address)> on_key_mismatch;
  };

  virtual ~PeerNetwork() = default;
  // Installs the handlers and starts connecting. Called once.
  [[nodiscard]] virtual Status start(Handlers handlers) = 0;
  // Fire and forget; false when the message was refused at once (see Transport::send).
  virtual bool send(const std::string& peer, uint8_t kind, std::span<const uint8_t> payload) = 0;
  virtual PeerStats peer_stats(const std::string& peer) const = 0;
  // Makes `peers` (never this node) the set of nodes it dials and accepts:
  // new ones are dialed, gone ones dropped, moved ones redialed at their new
  // address. May be called before start().
  virtual void set_peers(const std::vector<PeerConfig>& peers) = 0;
  // No handler runs after it returns.
  virtual void stop() = 0;
};

// The real network: the authenticated TCP transport on `base`.
std::unique_ptr<PeerNetwork> make_tcp_network(event_base* base, TransportConfig config);

}  // namespace raftdns::replication
