// The TCP transport behind the PeerNetwork interface.
#include "replication/peer_network.h"

namespace raftdns::replication {

namespace {

class TcpNetwork final : public PeerNetwork {
 public:
  TcpNetwork(event_base* base, TransportConfig config)
      : base_(base), config_(std::move(config)) {}

  Status start(Handlers handlers) override {
    config_.on_message = std::move(handlers.on_message);
    config_.on_peer_state = std::move(handlers.on_peer_state);
    config_.notice_for_stranger = std::move(handlers.notice_for_stranger);
    config_.on_key_mismatch = std::move(handlers.on_key_mismatch);
    transport_ = std::make_unique<Transport>(base_, config_);
    return transport_->start();
  }
  bool send(const std::string& peer, uint8_t kind, std::span<const uint8_t> payload) override {
    return transport_ && transport_->send(peer, kind, payload);
  }
  PeerStats peer_stats(const std::string& peer) const override {
    return transport_ ? transport_->peer_stats(peer) : PeerStats{};
  }
  void set_peers(const std::vector<PeerConfig>& peers) override {
    if (transport_) {
      transport_->set_peers(peers);
    } else {
      config_.peers = peers;
    }
  }
  void stop() override {
    if (transport_) transport_->stop();
  }

 private:
  event_base* base_;
  TransportConfig config_;
  std::unique_ptr<Transport> transport_;
};

}  // namespace

std::unique_ptr<PeerNetwork> make_tcp_network(event_base* base, TransportConfig config) {
  return std::make_unique<TcpNetwork>(base, std::move(config));
}

}  // namespace raftdns::replication
