// Transport tests over loopback TCP: delivery, reconnection, bounded queues and refusals.
//
// Every test owns three ports from 15500-15599 (port_block), so tests may run in parallel.
// Every wait runs the event loop against a deadline.
#include "replication/transport.h"

#include <arpa/inet.h>
#include <event2/event.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "replication/frame.h"

namespace raftdns::replication {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::uint16_t port_block(int test_index) {
  return static_cast<std::uint16_t>(15500 + 3 * test_index);
}

std::string loopback(std::uint16_t port) { return "127.0.0.1:" + std::to_string(port); }

std::vector<std::uint8_t> bytes_of(std::string_view text) { return {text.begin(), text.end()}; }

class EventLoop {
 public:
  EventLoop() : base_(event_base_new()) {
    // A persistent tick guarantees EVLOOP_ONCE returns even when nothing else happens.
    tick_ = event_new(
        base_, -1, EV_PERSIST, [](evutil_socket_t, short, void*) {}, nullptr);
  }
  ~EventLoop() {
    event_free(tick_);
    event_base_free(base_);
  }
  EventLoop(const EventLoop&) = delete;
  EventLoop& operator=(const EventLoop&) = delete;

  event_base* base() const { return base_; }

  // Runs the loop until `done` holds or `timeout` passes; returns whether `done` held.
  bool run_until(const std::function<bool()>& done, std::chrono::milliseconds timeout = 5s) {
    const timeval tick{0, 5000};
    event_add(tick_, &tick);
    const auto deadline = Clock::now() + timeout;
    bool held = false;
    while (!(held = done()) && Clock::now() < deadline) event_base_loop(base_, EVLOOP_ONCE);
    event_del(tick_);
    return held;
  }
  void run_for(std::chrono::milliseconds duration) {
    run_until([] { return false; }, duration);
  }

 private:
  event_base* base_;
  event* tick_;
};

struct Received {
  std::string from;
  std::uint8_t kind;
  std::vector<std::uint8_t> payload;
};

// One transport plus everything its callbacks reported.
struct Node {
  std::string id;
  std::uint16_t port = 0;
  std::vector<Received> received;
  std::vector<std::string> logs;
  std::map<std::string, int> ups;
  std::map<std::string, int> downs;
  std::unique_ptr<Transport> transport;
  std::function<void()> after_receive;

  bool logged(std::string_view needle) const {
    for (const auto& line : logs) {
      if (line.find(needle) != std::string::npos) return true;
    }
    return false;
  }
  std::string all_logs() const {
    std::string text;
    for (const auto& line : logs) text += "  " + line + "\n";
    return text;
  }
  std::size_t received_from(const std::string& peer) const {
    std::size_t count = 0;
    for (const auto& message : received) count += message.from == peer;
    return count;
  }
};

struct NodeSpec {
  std::string id;
  std::uint16_t port;
};

std::unique_ptr<Node> start_node(EventLoop& loop, const NodeSpec& self,
                                 const std::vector<NodeSpec>& peers, const Key& key,
                                 std::size_t max_queue = std::size_t{64} << 20,
                                 const std::function<void(TransportConfig&)>& tune = {}) {
  auto node = std::make_unique<Node>();
  node->id = self.id;
  node->port = self.port;
  Node* raw = node.get();
  TransportConfig config;
  config.self_id = self.id;
  config.listen = loopback(self.port);
  config.key = key;
  for (const NodeSpec& peer : peers) {
    if (peer.id != self.id) config.peers.push_back({peer.id, loopback(peer.port)});
  }
  config.max_queue_bytes_per_peer = max_queue;
  config.on_message = [raw](const std::string& from, std::uint8_t kind,
                            std::span<const std::uint8_t> payload) {
    raw->received.push_back({from, kind, {payload.begin(), payload.end()}});
    if (raw->after_receive) raw->after_receive();
  };
  config.on_peer_state = [raw](const std::string& peer, bool up) {
    ++(up ? raw->ups : raw->downs)[peer];
  };
  config.log = [raw](const std::string& line) {
    if (std::getenv("TRANSPORT_TEST_VERBOSE") != nullptr) {
      std::fprintf(stderr, "[%s] %s\n", raw->id.c_str(), line.c_str());
    }
    raw->logs.push_back(line);
  };
  if (tune) tune(config);
  node->transport = std::make_unique<Transport>(loop.base(), std::move(config));
  const Status started = node->transport->start();
  EXPECT_TRUE(started.ok()) << started.error();
  return node;
}

std::vector<std::unique_ptr<Node>> start_cluster(EventLoop& loop,
                                                 const std::vector<NodeSpec>& specs,
                                                 const Key& key) {
  std::vector<std::unique_ptr<Node>> nodes;
  for (const NodeSpec& spec : specs) nodes.push_back(start_node(loop, spec, specs, key));
  return nodes;
}

bool fully_connected(const std::vector<std::unique_ptr<Node>>& nodes) {
  for (const auto& node : nodes) {
    for (const auto& other : nodes) {
      if (node == other) continue;
      const PeerStats stats = node->transport->peer_stats(other->id);
      if (!stats.connected || !stats.inbound_connected) return false;
    }
  }
  return true;
}

std::vector<std::uint8_t> numbered_payload(std::size_t index, std::size_t size) {
  std::vector<std::uint8_t> payload(std::max<std::size_t>(size, 8));
  for (std::size_t i = 0; i < payload.size(); ++i) {
    payload[i] = static_cast<std::uint8_t>(index * 31 + i * 7);
  }
  std::memcpy(payload.data(), &index, sizeof index);
  return payload;
}

std::size_t index_of(const std::vector<std::uint8_t>& payload) {
  std::size_t index = 0;
  std::memcpy(&index, payload.data(), sizeof index);
  return index;
}

// A hand-driven dialer that speaks the wire protocol directly, to send what a real
// transport never would: replays, truncations, lies about its identity.
class RawPeer {
 public:
  RawPeer(EventLoop& loop, std::uint16_t port) : loop_(loop) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof address) == 0;
  }
  ~RawPeer() { ::close(fd_); }
  RawPeer(const RawPeer&) = delete;
  RawPeer& operator=(const RawPeer&) = delete;

  bool connected() const { return connected_; }

  void send(std::span<const std::uint8_t> bytes) {
    ASSERT_EQ(::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL),
              static_cast<ssize_t>(bytes.size()));
  }
  void finish_sending() { ::shutdown(fd_, SHUT_WR); }

  // The next handshake frame from the transport, if one arrives in time.
  std::optional<std::pair<FrameType, std::vector<std::uint8_t>>> read_frame() {
    std::optional<std::pair<FrameType, std::vector<std::uint8_t>>> frame;
    loop_.run_until([&] {
      pump();
      const DecodeResult result = decoder_.decode(buffer_);
      if (result.status == DecodeStatus::kFrame) {
        frame.emplace(result.frame.type, std::vector<std::uint8_t>(result.frame.payload.begin(),
                                                                   result.frame.payload.end()));
        buffer_.erase(buffer_.begin(), buffer_.begin() + static_cast<long>(result.consumed));
        return true;
      }
      return result.status == DecodeStatus::kError || closed_;
    });
    return frame;
  }

  // Whether the transport closed the connection in time (whatever it sent first is ignored).
  bool wait_closed(std::chrono::milliseconds timeout = 5s) {
    return loop_.run_until(
        [&] {
          pump();
          return closed_;
        },
        timeout);
  }

  // Runs the dialer side of the handshake; returns the encoder for authenticated frames.
  // With a wrong key the acceptor's proof does not verify; the proof is sent anyway.
  FrameEncoder handshake(const Key& key, const std::string& self, const std::string& target,
                         bool* acceptor_proof_valid = nullptr) {
    const auto hello = encode_hello(Hello{random_nonce(), self, target});
    send(encode_handshake_frame(FrameType::kHello, hello));
    const auto reply = read_frame();
    EXPECT_TRUE(reply.has_value() && reply->first == FrameType::kWelcome);
    Welcome welcome;
    if (reply) {
      const auto parsed = parse_welcome(reply->second);
      if (parsed.ok()) welcome = *parsed;
    }
    const HandshakeSecrets secrets = derive_handshake_secrets(key, hello, welcome.acceptor_nonce);
    const bool valid = macs_equal(secrets.acceptor_proof, welcome.acceptor_proof);
    if (acceptor_proof_valid != nullptr) {
      *acceptor_proof_valid = valid;
    } else {
      EXPECT_TRUE(valid);
    }
    send(encode_handshake_frame(FrameType::kProof, secrets.dialer_proof));
    return FrameEncoder(secrets.session, Direction::kDialerToAcceptor);
  }

 private:
  void pump() {
    std::uint8_t chunk[4096];
    while (!closed_) {
      const ssize_t got = ::recv(fd_, chunk, sizeof chunk, MSG_DONTWAIT);
      if (got > 0) {
        buffer_.insert(buffer_.end(), chunk, chunk + got);
      } else if (got == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
        closed_ = true;
      } else {
        return;
      }
    }
  }

  EventLoop& loop_;
  int fd_ = -1;
  bool connected_ = false;
  bool closed_ = false;
  std::vector<std::uint8_t> buffer_;
  FrameDecoder decoder_;
};

// A lone node n1 whose configured peer n2 is played by a RawPeer.
struct LoneNode {
  LoneNode(EventLoop& loop, int test_index, const Key& key)
      : ports(port_block(test_index)),
        node(start_node(loop, {"n1", ports}, {{"n2", static_cast<std::uint16_t>(ports + 1)}},
                        key)) {}
  std::uint16_t ports;
  std::unique_ptr<Node> node;
};

class TransportTest : public ::testing::Test {
 protected:
  EventLoop loop_;  // declared first: destroyed after every transport that uses it
  Key key_ = generate_key();
};

TEST_F(TransportTest, TwoNodesExchangeMessagesInOrder) {
  const std::uint16_t port = port_block(0);
  auto nodes =
      start_cluster(loop_, {{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}}, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); })) << nodes[0]->all_logs();
  EXPECT_EQ(nodes[0]->ups["n2"], 1);
  EXPECT_EQ(nodes[1]->ups["n1"], 1);

  constexpr std::size_t kCount = 2000;
  for (std::size_t i = 0; i < kCount; ++i) {
    ASSERT_TRUE(
        nodes[0]->transport->send("n2", static_cast<std::uint8_t>(i % 5), numbered_payload(i, 64)));
    ASSERT_TRUE(nodes[1]->transport->send("n1", 9, numbered_payload(i, 16)));
  }
  ASSERT_TRUE(loop_.run_until(
      [&] { return nodes[0]->received.size() == kCount && nodes[1]->received.size() == kCount; }));
  for (std::size_t i = 0; i < kCount; ++i) {
    const Received& at_n2 = nodes[1]->received[i];
    EXPECT_EQ(at_n2.from, "n1");
    EXPECT_EQ(at_n2.kind, i % 5);
    EXPECT_EQ(at_n2.payload, numbered_payload(i, 64));
    const Received& at_n1 = nodes[0]->received[i];
    EXPECT_EQ(at_n1.from, "n2");
    EXPECT_EQ(index_of(at_n1.payload), i);
  }
}

TEST_F(TransportTest, ThreeNodesDeliverEveryPairInOrder) {
  const std::uint16_t port = port_block(1);
  std::vector<NodeSpec> specs{{"n1", port},
                              {"n2", static_cast<std::uint16_t>(port + 1)},
                              {"n3", static_cast<std::uint16_t>(port + 2)}};
  auto nodes = start_cluster(loop_, specs, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); }));

  constexpr std::size_t kCount = 500;
  for (std::size_t i = 0; i < kCount; ++i) {
    for (auto& sender : nodes) {
      for (auto& receiver : nodes) {
        if (sender != receiver) {
          ASSERT_TRUE(sender->transport->send(receiver->id, 1, numbered_payload(i, 100)));
        }
      }
    }
  }
  ASSERT_TRUE(loop_.run_until([&] {
    for (auto& node : nodes) {
      if (node->received.size() != 2 * kCount) return false;
    }
    return true;
  }));
  for (auto& node : nodes) {
    std::map<std::string, std::size_t> next;
    for (const Received& message : node->received) {
      EXPECT_EQ(index_of(message.payload), next[message.from]++)
          << node->id << " from " << message.from;
    }
    EXPECT_EQ(next.size(), 2u);
  }
}

TEST_F(TransportTest, LargePayloadsArriveIntact) {
  const std::uint16_t port = port_block(2);
  auto nodes =
      start_cluster(loop_, {{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}}, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); }));

  const std::vector<std::size_t> sizes{std::size_t{1} << 20, 3'000'001, std::size_t{16} << 20, 0};
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    ASSERT_TRUE(nodes[0]->transport->send("n2", 2, numbered_payload(i, sizes[i])));
  }
  std::vector<std::uint8_t> too_large(kMaxFramePayload + 1);
  EXPECT_FALSE(nodes[0]->transport->send("n2", 2, too_large));

  ASSERT_TRUE(loop_.run_until([&] { return nodes[1]->received.size() == sizes.size(); }, 20s));
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    EXPECT_EQ(nodes[1]->received[i].payload, numbered_payload(i, sizes[i])) << "payload " << i;
  }
  EXPECT_EQ(nodes[0]->transport->peer_stats("n2").dropped, 1u);
}

TEST_F(TransportTest, ReconnectsAfterAPeerStopsAndRestarts) {
  const std::uint16_t port = port_block(3);
  const std::vector<NodeSpec> specs{{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}};
  auto nodes = start_cluster(loop_, specs, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); }));

  nodes[1]->transport->stop();
  nodes[1].reset();
  ASSERT_TRUE(loop_.run_until([&] { return nodes[0]->downs["n2"] == 1; }));
  EXPECT_FALSE(nodes[0]->transport->send("n2", 1, bytes_of("lost while down")));
  EXPECT_TRUE(
      nodes[0]->logged("peer n2 (127.0.0.1:" + std::to_string(port + 1) + "): connection lost"))
      << nodes[0]->all_logs();
  loop_.run_for(300ms);  // a few failed redials

  nodes[1] = start_node(loop_, specs[1], specs, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); }, 6s)) << nodes[0]->all_logs();
  EXPECT_EQ(nodes[0]->ups["n2"], 2);

  ASSERT_TRUE(nodes[0]->transport->send("n2", 4, bytes_of("after restart")));
  ASSERT_TRUE(nodes[1]->transport->send("n1", 4, bytes_of("back again")));
  ASSERT_TRUE(loop_.run_until(
      [&] { return nodes[1]->received.size() == 1 && nodes[0]->received.size() == 1; }));
  EXPECT_EQ(nodes[1]->received[0].payload, bytes_of("after restart"));
  EXPECT_EQ(nodes[0]->received[0].payload, bytes_of("back again"));
}

TEST_F(TransportTest, PeerWithAWrongKeyIsRefusedAndLoggedWhileGoodPeersKeepWorking) {
  const std::uint16_t port = port_block(4);
  const std::vector<NodeSpec> specs{{"n1", port},
                                    {"n2", static_cast<std::uint16_t>(port + 1)},
                                    {"n3", static_cast<std::uint16_t>(port + 2)}};
  auto n1 = start_node(loop_, specs[0], specs, key_);
  auto n2 = start_node(loop_, specs[1], specs, key_);
  auto impostor = start_node(loop_, specs[2], specs, generate_key());

  const std::string dialed_n3 = "peer n3 (127.0.0.1:" + std::to_string(port + 2) +
                                "): handshake MAC mismatch — wrong cluster key?";
  const std::string n3_refused_us =
      "(claims n3): refused the handshake: handshake MAC mismatch — wrong cluster key?";
  ASSERT_TRUE(loop_.run_until([&] {
    return n1->transport->peer_stats("n2").connected && n2->transport->peer_stats("n1").connected &&
           n1->logged(dialed_n3) && n1->logged(n3_refused_us);
  })) << n1->all_logs();
  EXPECT_TRUE(impostor->logged("peer n1 (127.0.0.1:" + std::to_string(port) +
                               "): handshake MAC mismatch — wrong cluster key?"))
      << impostor->all_logs();

  EXPECT_FALSE(impostor->transport->send("n1", 1, bytes_of("let me in")));
  ASSERT_TRUE(n1->transport->send("n2", 1, bytes_of("still fine")));
  ASSERT_TRUE(n2->transport->send("n1", 1, bytes_of("here too")));
  loop_.run_for(500ms);
  ASSERT_EQ(n2->received.size(), 1u);
  ASSERT_EQ(n1->received.size(), 1u);
  EXPECT_EQ(n1->received[0].from, "n2");
  EXPECT_EQ(impostor->received.size(), 0u);
  for (const auto* node : {n1.get(), n2.get()}) {
    const PeerStats stats = node->transport->peer_stats("n3");
    EXPECT_FALSE(stats.connected);
    EXPECT_FALSE(stats.inbound_connected);
    EXPECT_EQ(node->ups.count("n3"), 0u);
  }
}

TEST_F(TransportTest, CapturedFrameReplayedIntoANewConnectionIsRefusedAndLogged) {
  LoneNode lone(loop_, 5, key_);
  Node& n1 = *lone.node;
  std::vector<std::uint8_t> captured;
  {
    RawPeer first(loop_, lone.ports);
    ASSERT_TRUE(first.connected());
    FrameEncoder encoder = first.handshake(key_, "n2", "n1");
    captured = encoder.encode(FrameType::kMessage, 7, bytes_of("vote for n2"));
    first.send(captured);
    ASSERT_TRUE(loop_.run_until([&] { return n1.received.size() == 1; })) << n1.all_logs();
  }
  RawPeer second(loop_, lone.ports);
  second.handshake(key_, "n2", "n1");
  ASSERT_TRUE(loop_.run_until([&] { return n1.transport->peer_stats("n2").inbound_connected; }));
  second.send(captured);
  EXPECT_TRUE(second.wait_closed());
  loop_.run_for(50ms);
  EXPECT_EQ(n1.received.size(), 1u);
  EXPECT_TRUE(n1.logged("(n2): frame MAC mismatch")) << n1.all_logs();
  EXPECT_FALSE(n1.transport->peer_stats("n2").inbound_connected);
}

TEST_F(TransportTest, FrameReplayedWithinAConnectionIsRefusedAndLogged) {
  LoneNode lone(loop_, 6, key_);
  Node& n1 = *lone.node;
  RawPeer peer(loop_, lone.ports);
  FrameEncoder encoder = peer.handshake(key_, "n2", "n1");
  const auto frame = encoder.encode(FrameType::kMessage, 3, bytes_of("append entries"));
  peer.send(frame);
  peer.send(frame);
  EXPECT_TRUE(peer.wait_closed());
  loop_.run_for(50ms);
  EXPECT_EQ(n1.received.size(), 1u);
  EXPECT_TRUE(n1.logged("(n2): replayed or out-of-order frame: sequence 0, expected 1"))
      << n1.all_logs();
}

TEST_F(TransportTest, TruncatedFrameIsNeverDeliveredAndIsLogged) {
  LoneNode lone(loop_, 7, key_);
  Node& n1 = *lone.node;
  RawPeer peer(loop_, lone.ports);
  FrameEncoder encoder = peer.handshake(key_, "n2", "n1");
  const auto frame = encoder.encode(FrameType::kMessage, 1, std::vector<std::uint8_t>(1000, 0x5A));
  peer.send(std::span(frame).first(500));
  peer.finish_sending();
  EXPECT_TRUE(peer.wait_closed());
  loop_.run_for(50ms);
  EXPECT_EQ(n1.received.size(), 0u);
  EXPECT_TRUE(n1.logged("(n2): truncated frame: connection closed after 500 of " +
                        std::to_string(frame.size()) + " bytes"))
      << n1.all_logs();
}

TEST_F(TransportTest, OversizedFrameIsRefusedBeforeItsPayloadArrives) {
  LoneNode lone(loop_, 8, key_);
  Node& n1 = *lone.node;
  {
    RawPeer peer(loop_, lone.ports);
    peer.handshake(key_, "n2", "n1");
    peer.send(
        encode_frame_header(FrameHeader{kProtocolVersion, FrameType::kMessage, 1, 0x7fffffffu, 0}));
    EXPECT_TRUE(peer.wait_closed());
  }
  EXPECT_TRUE(n1.logged("(n2): oversized frame: length 2147483647 exceeds the limit of " +
                        std::to_string(kMaxFramePayload) + " bytes"))
      << n1.all_logs();
  {
    // A stranger may not even announce a large frame before the handshake.
    RawPeer stranger(loop_, lone.ports);
    stranger.send(
        encode_frame_header(FrameHeader{kProtocolVersion, FrameType::kHello, 0, 100000, 0}));
    EXPECT_TRUE(stranger.wait_closed());
  }
  EXPECT_TRUE(n1.logged("oversized frame: length 100000 exceeds the limit of " +
                        std::to_string(kMaxHandshakePayload) + " bytes"))
      << n1.all_logs();
  EXPECT_EQ(n1.received.size(), 0u);
}

TEST_F(TransportTest, UnknownNodeIdIsRefusedAndLogged) {
  LoneNode lone(loop_, 9, key_);
  Node& n1 = *lone.node;
  RawPeer peer(loop_, lone.ports);
  peer.send(
      encode_handshake_frame(FrameType::kHello, encode_hello(Hello{random_nonce(), "n9", "n1"})));
  const auto reply = peer.read_frame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->first, FrameType::kRefusal);
  EXPECT_NE(parse_refusal(reply->second).find("unknown node id"), std::string::npos);
  EXPECT_TRUE(peer.wait_closed());
  ASSERT_EQ(n1.logs.size() >= 1, true);
  EXPECT_TRUE(n1.logged("peer 127.0.0.1:")) << n1.all_logs();
  EXPECT_TRUE(n1.logged("(claims n9): unknown node id")) << n1.all_logs();
}

TEST_F(TransportTest, HelloForAnotherNodeOrVersionIsRefusedAndLogged) {
  LoneNode lone(loop_, 10, key_);
  Node& n1 = *lone.node;
  {
    RawPeer peer(loop_, lone.ports);
    peer.send(
        encode_handshake_frame(FrameType::kHello, encode_hello(Hello{random_nonce(), "n2", "n3"})));
    EXPECT_TRUE(peer.wait_closed());
  }
  EXPECT_TRUE(n1.logged("(claims n2): addressed to node n3, but this is node n1")) << n1.all_logs();
  {
    RawPeer peer(loop_, lone.ports);
    auto hello =
        encode_handshake_frame(FrameType::kHello, encode_hello(Hello{random_nonce(), "n2", "n1"}));
    hello[2] = 9;
    peer.send(hello);
    EXPECT_TRUE(peer.wait_closed());
  }
  EXPECT_TRUE(n1.logged("unsupported protocol version 9 (this node speaks 1)")) << n1.all_logs();
}

TEST_F(TransportTest, DialerWithAWrongKeyIsRefusedByTheAcceptorAndLogged) {
  LoneNode lone(loop_, 11, key_);
  Node& n1 = *lone.node;
  RawPeer peer(loop_, lone.ports);
  bool acceptor_proof_valid = true;
  peer.handshake(generate_key(), "n2", "n1", &acceptor_proof_valid);
  EXPECT_FALSE(acceptor_proof_valid) << "the acceptor's proof must not verify under another key";
  const auto reply = peer.read_frame();
  ASSERT_TRUE(reply.has_value());
  EXPECT_EQ(reply->first, FrameType::kRefusal);
  EXPECT_TRUE(peer.wait_closed());
  EXPECT_TRUE(n1.logged("(claims n2): handshake MAC mismatch — wrong cluster key?"))
      << n1.all_logs();
  EXPECT_FALSE(n1.transport->peer_stats("n2").inbound_connected);
}

TEST_F(TransportTest, BoundedQueueDropsWhenFullAndDeliversWhatItTook) {
  const std::uint16_t port = port_block(12);
  const std::vector<NodeSpec> specs{{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}};
  constexpr std::size_t kQueueBytes = 64 * 1024;
  auto n1 = start_node(loop_, specs[0], specs, key_, kQueueBytes);
  auto n2 = start_node(loop_, specs[1], specs, key_);
  ASSERT_TRUE(loop_.run_until([&] {
    return n1->transport->peer_stats("n2").connected && n2->transport->peer_stats("n1").connected;
  }));

  // Without running the loop nothing drains, so the queue fills.
  std::size_t accepted = 0;
  for (std::size_t i = 0; i < 200; ++i) {
    if (n1->transport->send("n2", 1, numbered_payload(i, 1024))) {
      ASSERT_EQ(accepted, i) << "once full, the queue stays full until the loop drains it";
      ++accepted;
    }
  }
  const std::size_t frame_bytes = 1024 + kFrameHeaderBytes + kFrameMacBytes;
  EXPECT_EQ(accepted, kQueueBytes / frame_bytes);
  const PeerStats stats = n1->transport->peer_stats("n2");
  EXPECT_EQ(stats.dropped, 200 - accepted);
  EXPECT_LE(stats.queued_bytes, kQueueBytes);

  ASSERT_TRUE(loop_.run_until([&] { return n2->received.size() == accepted; }));
  for (std::size_t i = 0; i < accepted; ++i) EXPECT_EQ(index_of(n2->received[i].payload), i);
  EXPECT_TRUE(loop_.run_until([&] { return n1->transport->peer_stats("n2").queued_bytes == 0; }));
  EXPECT_TRUE(n1->transport->send("n2", 1, numbered_payload(0, 1024)));
}

TEST_F(TransportTest, MessagesSentWhileConnectingAreDeliveredOnceEstablished) {
  const std::uint16_t port = port_block(13);
  const std::vector<NodeSpec> specs{{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}};
  auto n2 = start_node(loop_, specs[1], specs, key_);
  auto n1 = start_node(loop_, specs[0], specs, key_);
  for (std::size_t i = 0; i < 10; ++i) {
    ASSERT_TRUE(n1->transport->send("n2", 1, numbered_payload(i, 32)));
  }
  ASSERT_TRUE(loop_.run_until([&] { return n2->received.size() == 10; })) << n1->all_logs();
  for (std::size_t i = 0; i < 10; ++i) EXPECT_EQ(index_of(n2->received[i].payload), i);
}

TEST_F(TransportTest, SendToAnUnknownOrUnreachablePeerFailsAndCountsTheDrop) {
  LoneNode lone(loop_, 14, key_);
  Node& n1 = *lone.node;
  EXPECT_FALSE(n1.transport->send("n7", 1, bytes_of("who?")));
  EXPECT_EQ(n1.transport->peer_ids(), std::vector<std::string>{"n2"});

  // n2 is configured but nobody listens there: the message is dropped at once (backing off)
  // or when the connect fails (it was waiting for the connection).
  loop_.run_for(100ms);
  (void)n1.transport->send("n2", 1, bytes_of("anyone?"));
  ASSERT_TRUE(loop_.run_until([&] { return n1.transport->peer_stats("n2").dropped == 1; }));
  EXPECT_FALSE(n1.transport->peer_stats("n2").connected);
  EXPECT_TRUE(n1.logged("peer n2 (127.0.0.1:" + std::to_string(lone.ports + 1) +
                        "): connect failed: Connection refused"))
      << n1.all_logs();
  loop_.run_for(600ms);
  std::size_t refusals = 0;
  for (const auto& line : n1.logs) refusals += line.find("Connection refused") != std::string::npos;
  EXPECT_EQ(refusals, 1u) << "repeated identical failures are logged once\n" << n1.all_logs();
}

TEST_F(TransportTest, KeepalivesHoldAnIdleConnectionOpenAndRefreshLastHeard) {
  const std::uint16_t port = port_block(15);
  auto nodes =
      start_cluster(loop_, {{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}}, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); }));
  const auto first_heard = nodes[0]->transport->peer_stats("n2").last_heard;
  ASSERT_TRUE(first_heard.has_value());

  loop_.run_for(6500ms);  // longer than the five-second idle timeout
  const PeerStats stats = nodes[0]->transport->peer_stats("n2");
  EXPECT_TRUE(stats.connected);
  EXPECT_TRUE(stats.inbound_connected);
  ASSERT_TRUE(stats.last_heard.has_value());
  EXPECT_GT(*stats.last_heard, *first_heard + 4s);
  EXPECT_LT(Clock::now() - *stats.last_heard, 2s);
  EXPECT_EQ(nodes[0]->ups["n2"], 1) << "no reconnects while idle\n" << nodes[0]->all_logs();
  EXPECT_EQ(nodes[0]->downs.count("n2"), 0u);
}

TEST_F(TransportTest, StartFailsNamingTheAddressOrPeer) {
  const std::uint16_t port = port_block(16);
  auto first = start_node(loop_, {"n1", port}, {}, key_);

  TransportConfig clash;
  clash.self_id = "n2";
  clash.listen = loopback(port);
  clash.key = key_;
  Transport second(loop_.base(), clash);
  const Status in_use = second.start();
  ASSERT_FALSE(in_use.ok());
  EXPECT_NE(in_use.error().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
      << in_use.error();

  TransportConfig bad_peer;
  bad_peer.self_id = "n3";
  bad_peer.listen = loopback(static_cast<std::uint16_t>(port + 1));
  bad_peer.key = key_;
  bad_peer.peers = {{"n4", "node4.example:7001"}};
  Transport third(loop_.base(), bad_peer);
  const Status bad = third.start();
  ASSERT_FALSE(bad.ok());
  EXPECT_NE(bad.error().find("peer n4"), std::string::npos) << bad.error();
}

TEST_F(TransportTest, PeerStatsCountTrafficBothWays) {
  const std::uint16_t port = port_block(17);
  auto nodes =
      start_cluster(loop_, {{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}}, key_);
  ASSERT_TRUE(loop_.run_until([&] { return fully_connected(nodes); }));
  const PeerStats before = nodes[0]->transport->peer_stats("n2");
  for (int i = 0; i < 10; ++i)
    ASSERT_TRUE(nodes[0]->transport->send("n2", 1, bytes_of("0123456789")));
  ASSERT_TRUE(loop_.run_until([&] { return nodes[1]->received.size() == 10; }));

  const PeerStats sent = nodes[0]->transport->peer_stats("n2");
  EXPECT_EQ(sent.frames_sent - before.frames_sent, 10u);
  EXPECT_EQ(sent.bytes_sent - before.bytes_sent, 10u * (10 + kFrameHeaderBytes + kFrameMacBytes));
  const PeerStats heard = nodes[1]->transport->peer_stats("n1");
  EXPECT_GE(heard.frames_received, 10u);
  EXPECT_GE(heard.bytes_received, 10u * (10 + kFrameHeaderBytes + kFrameMacBytes));
  ASSERT_TRUE(heard.last_heard.has_value());
  EXPECT_LT(Clock::now() - *heard.last_heard, 1s);
  EXPECT_EQ(nodes[0]->transport->peer_stats("nobody").frames_sent, 0u);
}

TEST_F(TransportTest, StopInsideAMessageCallbackIsSafe) {
  const std::uint16_t port = port_block(18);
  const std::vector<NodeSpec> specs{{"n1", port}, {"n2", static_cast<std::uint16_t>(port + 1)}};
  auto n1 = start_node(loop_, specs[0], specs, key_);
  auto n2 = start_node(loop_, specs[1], specs, key_);
  ASSERT_TRUE(loop_.run_until([&] {
    return n1->transport->peer_stats("n2").connected && n2->transport->peer_stats("n1").connected;
  }));
  // n2 stops itself from inside the first delivery; nothing after it may be delivered.
  n2->after_receive = [&] { n2->transport->stop(); };
  for (int i = 0; i < 5; ++i) ASSERT_TRUE(n1->transport->send("n2", 1, bytes_of("x")));
  ASSERT_TRUE(loop_.run_until([&] { return !n2->received.empty(); }));
  loop_.run_for(100ms);
  EXPECT_EQ(n2->received.size(), 1u);
  EXPECT_FALSE(n2->transport->send("n1", 1, bytes_of("after stop")));
  EXPECT_TRUE(loop_.run_until([&] { return n1->downs["n2"] == 1; }));
}

TEST_F(TransportTest, Ipv6PeersExchangeMessages) {
  const std::uint16_t port = port_block(19);
  auto start_v6 = [&](const std::string& self, std::uint16_t self_port, const std::string& peer,
                      std::uint16_t peer_port) {
    auto node = std::make_unique<Node>();
    node->id = self;
    Node* raw = node.get();
    TransportConfig config;
    config.self_id = self;
    config.listen = "[::1]:" + std::to_string(self_port);
    config.key = key_;
    config.peers = {{peer, "[::1]:" + std::to_string(peer_port)}};
    config.on_message = [raw](const std::string& from, std::uint8_t kind,
                              std::span<const std::uint8_t> payload) {
      raw->received.push_back({from, kind, {payload.begin(), payload.end()}});
    };
    config.log = [raw](const std::string& line) { raw->logs.push_back(line); };
    node->transport = std::make_unique<Transport>(loop_.base(), std::move(config));
    const Status started = node->transport->start();
    EXPECT_TRUE(started.ok()) << started.error();
    return node;
  };
  auto n1 = start_v6("n1", port, "n2", static_cast<std::uint16_t>(port + 1));
  auto n2 = start_v6("n2", static_cast<std::uint16_t>(port + 1), "n1", port);
  ASSERT_TRUE(loop_.run_until([&] { return n1->transport->peer_stats("n2").connected; }))
      << n1->all_logs();
  ASSERT_TRUE(n1->transport->send("n2", 1, bytes_of("over ipv6")));
  ASSERT_TRUE(loop_.run_until([&] { return n2->received.size() == 1; })) << n1->all_logs();
  EXPECT_EQ(n2->received[0].payload, bytes_of("over ipv6"));
  EXPECT_TRUE(n2->transport->peer_stats("n1").inbound_connected);
}

TEST_F(TransportTest, RedialsWithExponentialBackoff) {
  // n2's address is a socket that accepts and hangs up at once: each dial fails in its
  // handshake, and the delays must grow (50 ms doubling to 2 s, with jitter).
  LoneNode lone(loop_, 20, key_);
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  const int reuse = 1;
  ::setsockopt(listener, SOL_SOCKET, SO_REUSEADDR, &reuse, sizeof reuse);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<std::uint16_t>(lone.ports + 1));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&address), sizeof address), 0);
  ASSERT_EQ(::listen(listener, 16), 0);
  int attempts = 0;
  loop_.run_until(
      [&] {
        for (int fd; (fd = ::accept(listener, nullptr, nullptr)) >= 0;) {
          ++attempts;
          ::close(fd);
        }
        return false;
      },
      3s);
  ::close(listener);
  // Without backoff this would be hundreds; the schedule allows 5 to 8 in 3 s.
  EXPECT_GE(attempts, 4);
  EXPECT_LE(attempts, 9);
  std::size_t handshake_lines = 0;
  for (const auto& line : lone.node->logs) {
    handshake_lines += line.find("closed during the handshake") != std::string::npos;
  }
  EXPECT_EQ(handshake_lines, 1u) << lone.node->all_logs();
}

// A node removed from the membership while it was down must learn it from a message it can
// trust: a dialer that is not a peer but proves the key gets the acceptor's notice, sealed
// under the session key, and nothing it sends is delivered.
TEST_F(TransportTest, AStrangerThatProvesTheKeyGetsOneAuthenticatedNoticeAndNothingElse) {
  const std::uint16_t port = port_block(20);
  const NodeSpec a{"n1", port}, b{"n2", static_cast<std::uint16_t>(port + 1)},
      stranger{"n9", static_cast<std::uint16_t>(port + 2)};
  std::vector<std::string> asked;
  auto n1 = start_node(loop_, a, {a, b}, key_, std::size_t{64} << 20, [&](TransportConfig& c) {
    c.notice_for_stranger = [&](const std::string& id) -> std::optional<StrangerNotice> {
      asked.push_back(id);
      return StrangerNotice{11, bytes_of("not a member")};
    };
  });
  auto n9 = start_node(loop_, stranger, {a, stranger}, key_);
  ASSERT_TRUE(loop_.run_until([&] { return !n9->received.empty(); })) << n1->all_logs();
  EXPECT_EQ(n9->received[0].from, "n1");
  EXPECT_EQ(n9->received[0].kind, 11);
  EXPECT_EQ(n9->received[0].payload, bytes_of("not a member"));
  ASSERT_FALSE(asked.empty());
  EXPECT_EQ(asked[0], "n9");
  EXPECT_TRUE(n1->logged("(claims n9): not a peer of this node; told so and closed"))
      << n1->all_logs();
  // Whatever the stranger sends on its next connections goes nowhere.
  for (int i = 0; i < 5; ++i) {
    n9->transport->send("n1", 1, bytes_of("let me in"));
    loop_.run_for(100ms);
  }
  EXPECT_TRUE(n1->received.empty());
  EXPECT_EQ(n1->transport->peer_stats("n9").frames_received, 0u);
}

// Without the key there is no notice: the stranger finds the acceptor's proof wrong, refuses,
// and reports the mismatch to its owner (a joining node counts them to give up).
TEST_F(TransportTest, AStrangerWithAnotherKeyGetsNoNoticeAndReportsTheMismatch) {
  const std::uint16_t port = port_block(21);
  const NodeSpec a{"n1", port}, b{"n2", static_cast<std::uint16_t>(port + 1)},
      stranger{"n9", static_cast<std::uint16_t>(port + 2)};
  int notices = 0;
  std::vector<std::string> n9_mismatches;
  auto n1 = start_node(loop_, a, {a, b}, key_, std::size_t{64} << 20, [&](TransportConfig& c) {
    c.notice_for_stranger = [&](const std::string&) -> std::optional<StrangerNotice> {
      ++notices;
      return StrangerNotice{11, bytes_of("not a member")};
    };
  });
  auto n9 =
      start_node(loop_, stranger, {a, stranger}, generate_key(), std::size_t{64} << 20,
                 [&](TransportConfig& c) {
                   c.on_key_mismatch = [&](const std::string& peer, const std::string& address) {
                     n9_mismatches.push_back(peer + " " + address);
                   };
                 });
  ASSERT_TRUE(loop_.run_until([&] { return n9_mismatches.size() >= 2; })) << n9->all_logs();
  EXPECT_EQ(n9_mismatches[0], "n1 " + loopback(port));
  EXPECT_GE(notices, 1);  // asked, but the notice never left without the dialer's proof
  EXPECT_TRUE(n9->received.empty());
  EXPECT_TRUE(n9->logged("handshake MAC mismatch")) << n9->all_logs();
}

}  // namespace
}  // namespace raftdns::replication
