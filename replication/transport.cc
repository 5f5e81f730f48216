// The peer transport: authenticated, length-prefixed messages between cluster nodes over TCP.
#include "replication/transport.h"

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sodium.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <deque>
#include <map>
#include <set>

#include "replication/address.h"
#include "common/libevent.h"
#include "common/unique_fd.h"
#include "replication/frame.h"
#include "replication/sodium.h"

namespace raftdns::replication {
namespace {

using Clock = std::chrono::steady_clock;
using std::chrono::milliseconds;

constexpr milliseconds kMinBackoff{50};
constexpr milliseconds kMaxBackoff{2000};
// A connection that stayed up this long was healthy: its loss starts the backoff afresh.
constexpr milliseconds kStableConnection{2000};
constexpr milliseconds kHandshakeTimeout{3000};
constexpr milliseconds kKeepaliveInterval{1000};
constexpr milliseconds kKeepaliveCheck{250};
// Five keepalive intervals without a frame, or without the peer acknowledging our data.
constexpr milliseconds kIdleTimeout{5000};
constexpr milliseconds kRefusalFlushTimeout{1000};
// The same inbound refusal from the same source is logged at most this often.
constexpr auto kRefusalLogInterval = std::chrono::seconds{60};
constexpr std::size_t kMaxRefusalLogSources = 1024;
constexpr int kListenBacklog = 64;

constexpr const char* kWrongKeyReason = "handshake MAC mismatch — wrong cluster key?";

timeval to_timeval(milliseconds duration) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(duration.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>(duration.count() % 1000 * 1000);
  return tv;
}


bool valid_node_id(const std::string& id) {
  if (id.empty() || id.size() > kMaxNodeIdBytes) return false;
  return std::all_of(id.begin(), id.end(), [](char c) { return c > ' ' && c <= '~'; });
}

std::string frame_type_name(FrameType type) {
  switch (type) {
    case FrameType::kHello:
      return "hello";
    case FrameType::kWelcome:
      return "welcome";
    case FrameType::kProof:
      return "proof";
    case FrameType::kRefusal:
      return "refusal";
    case FrameType::kMessage:
      return "message";
    case FrameType::kKeepalive:
      return "keepalive";
  }
  return "unknown";
}

std::string describe_decode_error(const DecodeResult& result) {
  const std::string error = result.error;
  if (error == "unsupported protocol version") {
    return error + " " + std::to_string(result.claimed_version) + " (this node speaks " +
           std::to_string(kProtocolVersion) + ")";
  }
  if (error == "oversized frame") {
    return error + ": length " + std::to_string(result.claimed_length) + " exceeds the limit of " +
           std::to_string(result.length_limit) + " bytes";
  }
  if (error == "replayed or out-of-order frame") {
    return error + ": sequence " + std::to_string(result.claimed_sequence) + ", expected " +
           std::to_string(result.expected_sequence);
  }
  return error;
}

void set_socket_option(int fd, int level, int name, int value) {
  // Best effort: a socket without these options still works, only slower to notice trouble.
  (void)::setsockopt(fd, level, name, &value, sizeof value);
}

}  // namespace

enum class Role { kDialer, kAcceptor };

enum class ConnectionState {
  kConnecting,    // dialer: TCP connect in progress
  kAwaitHello,    // acceptor: waiting for the dialer's hello
  kAwaitWelcome,  // dialer: hello sent
  kAwaitProof,    // acceptor: welcome sent
  kEstablished,
  kClosing,  // flushing a refusal, then retired
};

struct Peer;

// One TCP connection, in either role. Owned by Transport::Impl; after it is retired it stays
// allocated until the loop comes back around, because its own callback may still be running.
struct Connection {
  Transport::Impl* owner = nullptr;
  Role role = Role::kAcceptor;
  BufferEventPtr bev;
  std::string address;  // the remote end
  std::string peer_id;  // dialer: the peer dialed; acceptor: the id the hello claimed
  ConnectionState state = ConnectionState::kConnecting;
  FrameDecoder decoder;
  std::size_t wanted_bytes = kFrameHeaderBytes;
  std::vector<std::uint8_t> hello_payload;  // the transcript's first part
  std::optional<HandshakeSecrets> secrets;
  std::optional<FrameEncoder> encoder;  // dialer, once established
  Peer* peer = nullptr;                 // dialer: always; acceptor: once established
  bool retired = false;
  Clock::time_point established_at{};
  // Acceptor: the dialer is not a peer; this is what it is told once it has proven the key.
  std::optional<StrangerNotice> stranger_notice;

  bool in_handshake() const {
    return state == ConnectionState::kAwaitHello || state == ConnectionState::kAwaitWelcome ||
           state == ConnectionState::kAwaitProof;
  }

  void on_read(bufferevent* bev);
  void on_write(bufferevent* bev);
  void on_event(bufferevent* bev, short what);
};

struct PendingMessage {
  std::uint8_t kind;
  std::vector<std::uint8_t> payload;
};

struct Peer {
  Transport::Impl* owner = nullptr;
  PeerConfig config;
  SocketAddress address;
  Connection* outbound = nullptr;  // connecting, handshaking or established
  Connection* inbound = nullptr;   // established only
  bool up = false;
  EventPtr retry_timer;
  milliseconds backoff{0};
  std::deque<PendingMessage> pending;  // while the outbound connection is not yet established
  std::size_t pending_bytes = 0;
  std::string last_logged_failure;
  Clock::time_point last_sent{};
  Clock::time_point established_at{};
  PeerStats stats;

  void on_retry_timer(evutil_socket_t fd, short what);
};

class Transport::Impl {
 public:
  Impl(event_base* base, TransportConfig config);
  ~Impl();

  Status start();
  std::uint16_t listen_port() const { return listen_port_; }
  bool send(const std::string& peer_id, std::uint8_t kind, std::span<const std::uint8_t> payload);
  PeerStats peer_stats(const std::string& peer_id) const;
  std::vector<std::string> peer_ids() const;
  void set_peers(const std::vector<PeerConfig>& peers);
  void stop();

  // Forwarded libevent callbacks.
  void handle_read(Connection& connection);
  void handle_write(Connection& connection);
  void handle_event(Connection& connection, short what);
  void dial(Peer& peer);
  void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* address, int length);
  void on_accept_error(evconnlistener* listener);
  void on_keepalive_timer(evutil_socket_t fd, short what);
  void on_reap_timer(evutil_socket_t fd, short what);

 private:
  void handle_frame(Connection& connection, const Frame& frame);
  void handle_acceptor_frame(Connection& connection, const Frame& frame);
  void handle_dialer_frame(Connection& connection, const Frame& frame);
  void establish_outbound(Connection& connection);
  void establish_inbound(Connection& connection);
  void send_stranger_notice(Connection& connection);
  void key_mismatch(const Connection& connection);

  // Logs the reason, tells a handshaking peer why (so its operator sees it too), and closes.
  void refuse(Connection& connection, const std::string& reason);
  // Closes without telling the peer; `reason` is logged when worth it.
  void close_connection(Connection& connection, const std::string& reason, bool log_it);
  void detach(Connection& connection);
  void retire(Connection& connection);
  void outbound_failed(Peer& peer, const std::string& reason);
  Status add_peer(const PeerConfig& peer_config);
  void drop_peer(const std::string& id);
  void schedule_retry(Peer& peer);

  void write_frame(Connection& connection, FrameType type, std::uint8_t kind,
                   std::span<const std::uint8_t> payload);
  void write_handshake(Connection& connection, FrameType type,
                       std::span<const std::uint8_t> payload);
  std::size_t queued_bytes(const Peer& peer) const;
  Connection& adopt(std::unique_ptr<Connection> connection, bufferevent* bev);

  std::string describe(const Connection& connection) const;
  void log(const std::string& line) const;
  void log_inbound_refusal(const Connection& connection, const std::string& reason);
  void log_refusal(const std::string& description, const std::string& source,
                   const std::string& reason);

  event_base* base_;
  TransportConfig config_;
  std::map<std::string, std::unique_ptr<Peer>, std::less<>> peers_;
  std::vector<std::unique_ptr<Connection>> connections_;
  std::vector<std::unique_ptr<Connection>> retired_;
  std::vector<std::unique_ptr<Peer>> retired_peers_;  // dropped; freed with retired_
  ListenerPtr listener_;
  EventPtr keepalive_timer_;
  EventPtr reap_timer_;
  std::uint16_t listen_port_ = 0;
  std::size_t inbound_connections_ = 0;
  std::size_t max_inbound_connections_ = 0;
  bool started_ = false;
  bool stopped_ = false;

  struct RefusalLogEntry {
    std::string reason;
    Clock::time_point logged_at;
    std::uint64_t suppressed = 0;
  };
  std::map<std::string, RefusalLogEntry> refusal_log_;
};

void Connection::on_read(bufferevent*) { owner->handle_read(*this); }
void Connection::on_write(bufferevent*) { owner->handle_write(*this); }
void Connection::on_event(bufferevent*, short what) { owner->handle_event(*this, what); }
void Peer::on_retry_timer(evutil_socket_t, short) { owner->dial(*this); }

Transport::Impl::Impl(event_base* base, TransportConfig config)
    : base_(base), config_(std::move(config)) {
  ensure_sodium_initialized();
  if (!config_.log) {
    config_.log = [](const std::string& line) { std::fprintf(stderr, "%s\n", line.c_str()); };
  }
}

Transport::Impl::~Impl() {
  stop();
  // Connections go before the peers whose timers and pointers they reference.
  connections_.clear();
  retired_.clear();
}

Status Transport::Impl::start() {
  if (started_) return make_error("transport already started");
  started_ = true;
  if (!valid_node_id(config_.self_id)) {
    return make_error("invalid node id \"" + config_.self_id +
                      "\": 1 to 64 printable characters without spaces");
  }
  auto listen_address = parse_socket_address(config_.listen);
  if (!listen_address) return make_error("cluster listen address: " + listen_address.error());

  for (const PeerConfig& peer_config : config_.peers) {
    if (peers_.count(peer_config.id) != 0) {
      return make_error("peer " + peer_config.id + " is listed twice");
    }
    if (auto added = add_peer(peer_config); !added) return added;
  }
  // Room for every peer to reconnect a few times while stale connections time out.
  max_inbound_connections_ = 4 * peers_.size() + 16;

  const std::string where = listen_address->to_text();
  const int fd = ::socket(listen_address->family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return make_error("cannot listen on " + where + ": " + errno_text(errno));
  set_socket_option(fd, SOL_SOCKET, SO_REUSEADDR, 1);
  if (listen_address->family() == AF_INET6) set_socket_option(fd, IPPROTO_IPV6, IPV6_V6ONLY, 1);
  if (::bind(fd, listen_address->get(), listen_address->length) != 0 ||
      ::listen(fd, kListenBacklog) != 0) {
    const int error = errno;
    ::close(fd);
    return make_error("cannot listen on " + where + ": " + errno_text(error));
  }
  SocketAddress bound;
  bound.length = sizeof bound.storage;
  if (::getsockname(fd, reinterpret_cast<sockaddr*>(&bound.storage), &bound.length) == 0) {
    listen_port_ = bound.port();
  }
  listener_.reset(evconnlistener_new(base_, forward_to<&Impl::on_accept>, this,
                                     LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, fd));
  if (!listener_) {
    ::close(fd);
    return make_error("cannot listen on " + where + ": libevent refused the socket");
  }
  evconnlistener_set_error_cb(listener_.get(), forward_to<&Impl::on_accept_error>);

  keepalive_timer_.reset(
      event_new(base_, -1, EV_PERSIST, forward_to<&Impl::on_keepalive_timer>, this));
  reap_timer_.reset(evtimer_new(base_, forward_to<&Impl::on_reap_timer>, this));
  if (!keepalive_timer_ || !reap_timer_) return make_error("cannot create transport timers");
  const timeval keepalive = to_timeval(kKeepaliveCheck);
  event_add(keepalive_timer_.get(), &keepalive);

  for (auto& [id, peer] : peers_) dial(*peer);
  return {};
}

Status Transport::Impl::add_peer(const PeerConfig& peer_config) {
  if (!valid_node_id(peer_config.id)) {
    return make_error("invalid peer id \"" + peer_config.id +
                      "\": 1 to 64 printable characters without spaces");
  }
  if (peer_config.id == config_.self_id) {
    return make_error("peer " + peer_config.id + " has this node's own id");
  }
  auto address = parse_socket_address(peer_config.address);
  if (!address) return make_error("peer " + peer_config.id + ": " + address.error());
  auto peer = std::make_unique<Peer>();
  peer->owner = this;
  peer->config = peer_config;
  peer->address = *address;
  peer->retry_timer.reset(evtimer_new(base_, forward_to<&Peer::on_retry_timer>, peer.get()));
  if (!peer->retry_timer) return make_error("cannot create a timer for peer " + peer_config.id);
  peers_.emplace(peer_config.id, std::move(peer));
  return {};
}

// The peer is gone from the membership: its connections close, what was
// queued for it is dropped, and the Peer itself lives on (unreachable) until
// the reap timer, because a callback of one of its connections may be
// running further up the stack.
void Transport::Impl::drop_peer(const std::string& id) {
  const auto it = peers_.find(id);
  if (it == peers_.end()) return;
  Peer& peer = *it->second;
  if (peer.retry_timer) event_del(peer.retry_timer.get());
  if (peer.outbound != nullptr) retire(*peer.outbound);
  if (peer.inbound != nullptr) retire(*peer.inbound);
  peer.stats.dropped += peer.pending.size();
  peer.pending.clear();
  peer.pending_bytes = 0;
  peer.up = false;
  log("peer " + id + " (" + peer.address.to_text() + "): no longer a peer; disconnected");
  retired_peers_.push_back(std::move(it->second));
  peers_.erase(it);
  if (reap_timer_) {
    const timeval now{0, 0};
    evtimer_add(reap_timer_.get(), &now);
  }
}

void Transport::Impl::set_peers(const std::vector<PeerConfig>& wanted) {
  if (!started_) {
    config_.peers = wanted;
    return;
  }
  if (stopped_) return;
  std::vector<std::string> gone;
  for (const auto& entry : peers_) {
    const std::string& id = entry.first;
    const auto w = std::find_if(wanted.begin(), wanted.end(),
                                [&](const PeerConfig& p) { return p.id == id; });
    if (w == wanted.end() || w->address != entry.second->config.address) gone.push_back(id);
  }
  for (const auto& id : gone) drop_peer(id);
  for (const PeerConfig& p : wanted) {
    if (peers_.count(p.id) != 0) continue;
    if (auto added = add_peer(p); !added) {
      log("cannot add peer: " + added.error());
      continue;
    }
    log("peer " + p.id + " (" + p.address + "): added");
    dial(*peers_.at(p.id));
  }
  max_inbound_connections_ = 4 * peers_.size() + 16;
}

void Transport::Impl::stop() {
  if (stopped_) return;
  stopped_ = true;
  listener_.reset();
  if (keepalive_timer_) event_del(keepalive_timer_.get());
  for (auto& [id, peer] : peers_) {
    if (peer->retry_timer) event_del(peer->retry_timer.get());
    peer->stats.dropped += peer->pending.size();
    peer->pending.clear();
    peer->pending_bytes = 0;
    peer->up = false;
  }
  while (!connections_.empty()) retire(*connections_.back());
}

// --- sending ---------------------------------------------------------------------------

std::size_t Transport::Impl::queued_bytes(const Peer& peer) const {
  std::size_t bytes = peer.pending_bytes;
  if (peer.outbound != nullptr && peer.outbound->state == ConnectionState::kEstablished) {
    bytes += evbuffer_get_length(bufferevent_get_output(peer.outbound->bev.get()));
  }
  return bytes;
}

bool Transport::Impl::send(const std::string& peer_id, std::uint8_t kind,
                           std::span<const std::uint8_t> payload) {
  const auto it = peers_.find(peer_id);
  if (it == peers_.end()) return false;
  Peer& peer = *it->second;
  const std::size_t frame_bytes = kFrameHeaderBytes + payload.size() + kFrameMacBytes;
  // An empty queue takes any frame, so a maximal snapshot chunk always gets through.
  const std::size_t queued = peer.outbound == nullptr ? 0 : queued_bytes(peer);
  if (stopped_ || peer.outbound == nullptr || payload.size() > kMaxFramePayload ||
      (queued > 0 && queued + frame_bytes > config_.max_queue_bytes_per_peer)) {
    ++peer.stats.dropped;
    return false;
  }
  Connection& connection = *peer.outbound;
  if (connection.state == ConnectionState::kEstablished) {
    write_frame(connection, FrameType::kMessage, kind, payload);
  } else {
    peer.pending.push_back(PendingMessage{kind, {payload.begin(), payload.end()}});
    peer.pending_bytes += frame_bytes;
  }
  return true;
}

void Transport::Impl::write_frame(Connection& connection, FrameType type, std::uint8_t kind,
                                  std::span<const std::uint8_t> payload) {
  const FrameEncoder::Sealed sealed = connection.encoder->seal(type, kind, payload);
  evbuffer* output = bufferevent_get_output(connection.bev.get());
  if (evbuffer_add(output, sealed.header.data(), sealed.header.size()) != 0 ||
      evbuffer_add(output, payload.data(), payload.size()) != 0 ||
      evbuffer_add(output, sealed.mac.data(), sealed.mac.size()) != 0) {
    // Out of memory half-way through a frame: the stream is unusable, start afresh.
    close_connection(connection, "cannot buffer an outgoing frame", true);
    return;
  }
  Peer& peer = *connection.peer;
  ++peer.stats.frames_sent;
  peer.stats.bytes_sent += kFrameHeaderBytes + payload.size() + kFrameMacBytes;
  peer.last_sent = Clock::now();
}

void Transport::Impl::write_handshake(Connection& connection, FrameType type,
                                      std::span<const std::uint8_t> payload) {
  const std::vector<std::uint8_t> frame = encode_handshake_frame(type, payload);
  bufferevent_write(connection.bev.get(), frame.data(), frame.size());
}

void Transport::Impl::on_keepalive_timer(evutil_socket_t, short) {
  const Clock::time_point now = Clock::now();
  for (auto& [id, peer] : peers_) {
    Connection* connection = peer->outbound;
    if (connection != nullptr && connection->state == ConnectionState::kEstablished &&
        now - peer->last_sent >= kKeepaliveInterval) {
      write_frame(*connection, FrameType::kKeepalive, 0, {});
    }
  }
}

// --- dialing -----------------------------------------------------------------------------

Connection& Transport::Impl::adopt(std::unique_ptr<Connection> connection, bufferevent* bev) {
  connection->owner = this;
  connection->bev.reset(bev);
  bufferevent_setcb(bev, forward_to<&Connection::on_read>, forward_to<&Connection::on_write>,
                    forward_to<&Connection::on_event>, connection.get());
  const timeval handshake = to_timeval(kHandshakeTimeout);
  bufferevent_set_timeouts(bev, &handshake, &handshake);
  bufferevent_setwatermark(bev, EV_READ, kFrameHeaderBytes, 0);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  connections_.push_back(std::move(connection));
  return *connections_.back();
}

void Transport::Impl::dial(Peer& peer) {
  if (stopped_ || peer.outbound != nullptr) return;
  const int fd = ::socket(peer.address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    outbound_failed(peer, "cannot create a socket: " + errno_text(errno));
    return;
  }
  set_socket_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  // Unacknowledged data (keepalives flow every second) for this long means the peer is gone.
  set_socket_option(fd, IPPROTO_TCP, TCP_USER_TIMEOUT, static_cast<int>(kIdleTimeout.count()));
  bufferevent* bev = bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    ::close(fd);
    outbound_failed(peer, "cannot create a bufferevent");
    return;
  }
  auto owned = std::make_unique<Connection>();
  owned->role = Role::kDialer;
  owned->address = peer.address.to_text();
  owned->peer_id = peer.config.id;
  owned->peer = &peer;
  owned->state = ConnectionState::kConnecting;
  Connection& connection = adopt(std::move(owned), bev);
  peer.outbound = &connection;
  if (bufferevent_socket_connect(bev, const_cast<sockaddr*>(peer.address.get()),
                                 static_cast<int>(peer.address.length)) != 0) {
    close_connection(connection, "connect failed: " + errno_text(errno), true);
  }
}

void Transport::Impl::schedule_retry(Peer& peer) {
  if (stopped_) return;
  peer.backoff = peer.backoff.count() == 0 ? kMinBackoff : std::min(peer.backoff * 2, kMaxBackoff);
  // Jitter over the upper half keeps restarted nodes from dialing in lockstep.
  const auto half = peer.backoff.count() / 2;
  const milliseconds delay{half + randombytes_uniform(static_cast<std::uint32_t>(half) + 1)};
  const timeval tv = to_timeval(delay);
  evtimer_add(peer.retry_timer.get(), &tv);
}

void Transport::Impl::outbound_failed(Peer& peer, const std::string& reason) {
  const bool was_up = peer.up;
  peer.up = false;
  peer.outbound = nullptr;
  peer.stats.dropped += peer.pending.size();
  peer.pending.clear();
  peer.pending_bytes = 0;
  const std::string where = "peer " + peer.config.id + " (" + peer.address.to_text() + "): ";
  if (was_up && Clock::now() - peer.established_at >= kStableConnection) {
    peer.backoff = milliseconds{0};
  }
  if (was_up) {
    log(where + "connection lost: " + reason);
    peer.last_logged_failure = reason;
  } else if (reason != peer.last_logged_failure) {
    log(where + reason);
    peer.last_logged_failure = reason;
  }
  schedule_retry(peer);
  if (was_up && config_.on_peer_state) config_.on_peer_state(peer.config.id, false);
}

// --- accepting ---------------------------------------------------------------------------

void Transport::Impl::on_accept(evconnlistener*, evutil_socket_t fd, sockaddr* address,
                                int length) {
  const std::string where = format_socket_address(address, static_cast<socklen_t>(length));
  if (stopped_ || inbound_connections_ >= max_inbound_connections_) {
    ::close(fd);
    log_refusal(
        "peer " + where, where.substr(0, where.rfind(':')),
        "too many inbound connections (" + std::to_string(inbound_connections_) + "); refused");
    return;
  }
  set_socket_option(fd, IPPROTO_TCP, TCP_NODELAY, 1);
  bufferevent* bev = bufferevent_socket_new(base_, fd, BEV_OPT_CLOSE_ON_FREE);
  if (bev == nullptr) {
    ::close(fd);
    log("peer " + where + ": cannot create a bufferevent; connection refused");
    return;
  }
  auto owned = std::make_unique<Connection>();
  owned->role = Role::kAcceptor;
  owned->address = where;
  owned->state = ConnectionState::kAwaitHello;
  ++inbound_connections_;
  adopt(std::move(owned), bev);
}

void Transport::Impl::on_accept_error(evconnlistener*) {
  // Typically EMFILE; libevent keeps listening, so say so once per burst.
  log("cluster listener on " + config_.listen +
      ": accept failed: " + errno_text(EVUTIL_SOCKET_ERROR()));
}

// --- receiving -----------------------------------------------------------------------------

void Transport::Impl::handle_read(Connection& connection) {
  evbuffer* input = bufferevent_get_input(connection.bev.get());
  while (!connection.retired && connection.state != ConnectionState::kClosing) {
    if (evbuffer_get_length(input) < connection.wanted_bytes) break;
    const std::uint8_t* data =
        evbuffer_pullup(input, static_cast<ev_ssize_t>(connection.wanted_bytes));
    if (data == nullptr) {
      close_connection(connection, "cannot buffer an incoming frame", true);
      return;
    }
    const DecodeResult result = connection.decoder.decode({data, connection.wanted_bytes});
    if (result.status == DecodeStatus::kNeedMore) {
      // decode() saw wanted_bytes, so it can only ask for more than that.
      connection.wanted_bytes = result.needed;
      continue;
    }
    if (result.status == DecodeStatus::kError) {
      refuse(connection, describe_decode_error(result));
      return;
    }
    connection.wanted_bytes = kFrameHeaderBytes;
    if (connection.peer != nullptr && connection.state == ConnectionState::kEstablished) {
      connection.peer->stats.bytes_received += result.consumed;
    }
    handle_frame(connection, result.frame);
    // The connection object outlives a retire until the loop comes round, so this is safe.
    evbuffer_drain(input, result.consumed);
  }
  if (!connection.retired) {
    bufferevent_setwatermark(connection.bev.get(), EV_READ, connection.wanted_bytes, 0);
  }
}

void Transport::Impl::handle_frame(Connection& connection, const Frame& frame) {
  if (connection.role == Role::kAcceptor) {
    handle_acceptor_frame(connection, frame);
  } else {
    handle_dialer_frame(connection, frame);
  }
}

void Transport::Impl::handle_acceptor_frame(Connection& connection, const Frame& frame) {
  switch (connection.state) {
    case ConnectionState::kAwaitHello: {
      if (frame.type != FrameType::kHello) {
        refuse(connection, "expected a hello, got a " + frame_type_name(frame.type));
        return;
      }
      auto hello = parse_hello(frame.payload);
      if (!hello) {
        refuse(connection, hello.error());
        return;
      }
      connection.peer_id = hello->dialer_id;
      if (peers_.count(hello->dialer_id) == 0) {
        if (config_.notice_for_stranger) {
          connection.stranger_notice = config_.notice_for_stranger(hello->dialer_id);
        }
        if (!connection.stranger_notice) {
          refuse(connection, "unknown node id (not a configured peer)");
          return;
        }
      }
      if (hello->target_id != config_.self_id) {
        refuse(connection,
               "addressed to node " + hello->target_id + ", but this is node " + config_.self_id);
        return;
      }
      connection.hello_payload.assign(frame.payload.begin(), frame.payload.end());
      Welcome welcome;
      welcome.acceptor_nonce = random_nonce();
      connection.secrets =
          derive_handshake_secrets(config_.key, connection.hello_payload, welcome.acceptor_nonce);
      welcome.acceptor_proof = connection.secrets->acceptor_proof;
      write_handshake(connection, FrameType::kWelcome, encode_welcome(welcome));
      connection.state = ConnectionState::kAwaitProof;
      return;
    }
    case ConnectionState::kAwaitProof: {
      if (frame.type == FrameType::kRefusal) {
        close_connection(connection, "refused the handshake: " + parse_refusal(frame.payload),
                         true);
        return;
      }
      if (frame.type != FrameType::kProof) {
        refuse(connection, "expected a proof, got a " + frame_type_name(frame.type));
        return;
      }
      auto proof = parse_proof(frame.payload);
      if (!proof) {
        refuse(connection, proof.error());
        return;
      }
      if (!macs_equal(*proof, connection.secrets->dialer_proof)) {
        key_mismatch(connection);
        refuse(connection, kWrongKeyReason);
        return;
      }
      if (connection.stranger_notice) {
        send_stranger_notice(connection);
        return;
      }
      establish_inbound(connection);
      return;
    }
    case ConnectionState::kEstablished: {
      Peer& peer = *connection.peer;
      ++peer.stats.frames_received;
      peer.stats.last_heard = Clock::now();
      if (frame.type == FrameType::kMessage && config_.on_message) {
        config_.on_message(peer.config.id, frame.kind, frame.payload);
      }
      return;
    }
    default:
      return;
  }
}

void Transport::Impl::establish_inbound(Connection& connection) {
  connection.decoder.authenticate(connection.secrets->session, Direction::kDialerToAcceptor);
  connection.secrets.reset();
  connection.state = ConnectionState::kEstablished;
  connection.established_at = Clock::now();
  const auto found = peers_.find(connection.peer_id);
  if (found == peers_.end()) {
    // Dropped from the membership while this connection was handshaking.
    close_connection(connection, "no longer a peer", false);
    return;
  }
  Peer& peer = *found->second;
  // A newer connection from the same peer means the old one is dead (the peer restarted or
  // redialed); keep only the newest.
  if (peer.inbound != nullptr) close_connection(*peer.inbound, "replaced", false);
  peer.inbound = &connection;
  connection.peer = &peer;
  peer.stats.last_heard = connection.established_at;
  const timeval idle = to_timeval(kIdleTimeout);
  bufferevent_set_timeouts(connection.bev.get(), &idle, nullptr);
}

// The dialer proved the key but is not a peer: it gets its notice, authenticated under the
// session key in the acceptor's direction, and the connection closes once that is written.
void Transport::Impl::send_stranger_notice(Connection& connection) {
  FrameEncoder encoder(connection.secrets->session, Direction::kAcceptorToDialer);
  connection.secrets.reset();
  const StrangerNotice& notice = *connection.stranger_notice;
  const FrameEncoder::Sealed sealed =
      encoder.seal(FrameType::kMessage, notice.kind, notice.payload);
  evbuffer* output = bufferevent_get_output(connection.bev.get());
  if (evbuffer_add(output, sealed.header.data(), sealed.header.size()) != 0 ||
      evbuffer_add(output, notice.payload.data(), notice.payload.size()) != 0 ||
      evbuffer_add(output, sealed.mac.data(), sealed.mac.size()) != 0) {
    close_connection(connection, "cannot buffer the notice to a node that is not a peer", true);
    return;
  }
  log_inbound_refusal(connection, "not a peer of this node; told so and closed");
  connection.state = ConnectionState::kClosing;
  bufferevent_disable(connection.bev.get(), EV_READ);
  const timeval flush = to_timeval(kRefusalFlushTimeout);
  bufferevent_set_timeouts(connection.bev.get(), nullptr, &flush);
  handle_write(connection);
}

void Transport::Impl::key_mismatch(const Connection& connection) {
  if (config_.on_key_mismatch) config_.on_key_mismatch(connection.peer_id, connection.address);
}

void Transport::Impl::handle_dialer_frame(Connection& connection, const Frame& frame) {
  if (connection.state == ConnectionState::kEstablished && frame.type == FrameType::kMessage &&
      connection.peer != nullptr) {
    // A node that does not count this one among its peers says why before it closes the
    // connection (TransportConfig::notice_for_stranger); the frame is authenticated.
    Peer& peer = *connection.peer;
    ++peer.stats.frames_received;
    peer.stats.last_heard = Clock::now();
    if (config_.on_message) config_.on_message(peer.config.id, frame.kind, frame.payload);
    return;
  }
  if (connection.state != ConnectionState::kAwaitWelcome) {
    refuse(connection, "unexpected " + frame_type_name(frame.type) + " from the acceptor");
    return;
  }
  if (frame.type == FrameType::kRefusal) {
    close_connection(connection, "refused the handshake: " + parse_refusal(frame.payload), true);
    return;
  }
  if (frame.type != FrameType::kWelcome) {
    refuse(connection, "expected a welcome, got a " + frame_type_name(frame.type));
    return;
  }
  auto welcome = parse_welcome(frame.payload);
  if (!welcome) {
    refuse(connection, welcome.error());
    return;
  }
  connection.secrets =
      derive_handshake_secrets(config_.key, connection.hello_payload, welcome->acceptor_nonce);
  if (!macs_equal(welcome->acceptor_proof, connection.secrets->acceptor_proof)) {
    key_mismatch(connection);
    refuse(connection, kWrongKeyReason);
    return;
  }
  write_handshake(connection, FrameType::kProof, connection.secrets->dialer_proof);
  establish_outbound(connection);
}

void Transport::Impl::establish_outbound(Connection& connection) {
  Peer& peer = *connection.peer;
  connection.encoder.emplace(connection.secrets->session, Direction::kDialerToAcceptor);
  // The acceptor sends nothing after its welcome; anything it does send must still be genuine.
  connection.decoder.authenticate(connection.secrets->session, Direction::kAcceptorToDialer);
  connection.secrets.reset();
  connection.state = ConnectionState::kEstablished;
  connection.established_at = Clock::now();
  const timeval idle = to_timeval(kIdleTimeout);
  bufferevent_set_timeouts(connection.bev.get(), nullptr, &idle);

  peer.up = true;
  peer.established_at = connection.established_at;
  peer.last_logged_failure.clear();
  log("peer " + peer.config.id + " (" + peer.address.to_text() + "): connected");
  std::deque<PendingMessage> pending = std::move(peer.pending);
  peer.pending.clear();
  peer.pending_bytes = 0;
  for (const PendingMessage& message : pending) {
    if (connection.retired) break;
    write_frame(connection, FrameType::kMessage, message.kind, message.payload);
  }
  if (!connection.retired) {
    peer.last_sent = Clock::now();
    if (config_.on_peer_state) config_.on_peer_state(peer.config.id, true);
  }
}

// --- connection events and closing ---------------------------------------------------------

void Transport::Impl::handle_write(Connection& connection) {
  if (connection.state == ConnectionState::kClosing &&
      evbuffer_get_length(bufferevent_get_output(connection.bev.get())) == 0) {
    retire(connection);
  }
}

void Transport::Impl::handle_event(Connection& connection, short what) {
  if (connection.state == ConnectionState::kClosing) {
    retire(connection);
    return;
  }
  if ((what & BEV_EVENT_CONNECTED) != 0) {
    Peer& peer = *connection.peer;
    Hello hello;
    hello.dialer_nonce = random_nonce();
    hello.dialer_id = config_.self_id;
    hello.target_id = peer.config.id;
    connection.hello_payload = encode_hello(hello);
    write_handshake(connection, FrameType::kHello, connection.hello_payload);
    connection.state = ConnectionState::kAwaitWelcome;
    return;
  }

  std::string reason;
  bool worth_logging = true;
  const std::size_t buffered = evbuffer_get_length(bufferevent_get_input(connection.bev.get()));
  if ((what & BEV_EVENT_TIMEOUT) != 0) {
    if (connection.state == ConnectionState::kConnecting) {
      reason = "connect timed out";
    } else if (connection.in_handshake()) {
      reason = "handshake timed out";
    } else if ((what & BEV_EVENT_READING) != 0) {
      reason = "silent for " + std::to_string(kIdleTimeout.count() / 1000) + " s; closed";
    } else {
      reason = "not acknowledging data; closed";
    }
  } else if ((what & BEV_EVENT_EOF) != 0) {
    if (buffered > 0) {
      reason = "truncated frame: connection closed after " + std::to_string(buffered) + " of " +
               std::to_string(std::max(connection.wanted_bytes, buffered + 1)) + " bytes";
    } else if (connection.in_handshake()) {
      reason = "connection closed during the handshake";
    } else {
      reason = "connection closed by the peer";
      // An inbound connection ending cleanly is routine (the peer restarted or redialed).
      worth_logging = connection.role == Role::kDialer;
    }
  } else {
    const int error = EVUTIL_SOCKET_ERROR();
    reason = (connection.state == ConnectionState::kConnecting ? "connect failed: "
                                                               : "connection error: ") +
             errno_text(error);
  }
  close_connection(connection, reason, worth_logging);
}

void Transport::Impl::refuse(Connection& connection, const std::string& reason) {
  if (connection.role == Role::kAcceptor) {
    log_inbound_refusal(connection, reason);
  }
  const bool peer_can_read_refusal = connection.in_handshake();
  if (peer_can_read_refusal) {
    const std::string text = reason.substr(0, kMaxRefusalReasonBytes);
    write_handshake(connection, FrameType::kRefusal,
                    {reinterpret_cast<const std::uint8_t*>(text.data()), text.size()});
  }
  if (connection.role == Role::kDialer) {
    if (connection.peer != nullptr) outbound_failed(*connection.peer, reason);
  }
  detach(connection);
  if (peer_can_read_refusal && !connection.retired) {
    // Let the refusal reach the peer, but not wait for a peer that never reads.
    connection.state = ConnectionState::kClosing;
    bufferevent_disable(connection.bev.get(), EV_READ);
    const timeval flush = to_timeval(kRefusalFlushTimeout);
    bufferevent_set_timeouts(connection.bev.get(), nullptr, &flush);
    handle_write(connection);
  } else {
    retire(connection);
  }
}

void Transport::Impl::close_connection(Connection& connection, const std::string& reason,
                                       bool log_it) {
  if (connection.retired) return;
  if (connection.role == Role::kDialer) {
    Peer* peer = connection.peer;
    detach(connection);
    retire(connection);
    if (peer != nullptr) outbound_failed(*peer, reason);
    return;
  }
  if (log_it) {
    if (connection.state == ConnectionState::kEstablished) {
      log(describe(connection) + ": " + reason);
    } else {
      log_inbound_refusal(connection, reason);
    }
  }
  detach(connection);
  retire(connection);
}

// Unhooks the connection from its peer so nothing sends on it or counts it as live.
void Transport::Impl::detach(Connection& connection) {
  Peer* peer = connection.peer;
  if (peer == nullptr) return;
  if (peer->outbound == &connection) peer->outbound = nullptr;
  if (peer->inbound == &connection) peer->inbound = nullptr;
  connection.peer = nullptr;
}

void Transport::Impl::retire(Connection& connection) {
  if (connection.retired) return;
  detach(connection);
  connection.retired = true;
  if (connection.role == Role::kAcceptor) --inbound_connections_;
  bufferevent* bev = connection.bev.get();
  bufferevent_setcb(bev, nullptr, nullptr, nullptr, nullptr);
  bufferevent_disable(bev, EV_READ | EV_WRITE);
  // Tell the peer now; the descriptor itself is closed when the bufferevent is freed.
  const evutil_socket_t fd = bufferevent_getfd(bev);
  if (fd >= 0) ::shutdown(fd, SHUT_RDWR);
  const auto it = std::find_if(connections_.begin(), connections_.end(),
                               [&](const auto& owned) { return owned.get() == &connection; });
  if (it != connections_.end()) {
    retired_.push_back(std::move(*it));
    connections_.erase(it);
  }
  if (reap_timer_) {
    const timeval now{0, 0};
    evtimer_add(reap_timer_.get(), &now);
  }
}

void Transport::Impl::on_reap_timer(evutil_socket_t, short) {
  retired_.clear();
  retired_peers_.clear();
}

// --- logging and stats ---------------------------------------------------------------------

std::string Transport::Impl::describe(const Connection& connection) const {
  if (connection.role == Role::kDialer) {
    return "peer " + connection.peer_id + " (" + connection.address + ")";
  }
  if (connection.peer_id.empty()) return "peer " + connection.address;
  if (connection.state == ConnectionState::kEstablished) {
    return "peer " + connection.address + " (" + connection.peer_id + ")";
  }
  return "peer " + connection.address + " (claims " + connection.peer_id + ")";
}

void Transport::Impl::log(const std::string& line) const {
  if (config_.log) config_.log(line);
}

void Transport::Impl::log_inbound_refusal(const Connection& connection, const std::string& reason) {
  // A misconfigured peer redials every couple of seconds; one line a minute per source and
  // reason is enough. The source is the claimed id, or the remote host without its port.
  std::string source = connection.peer_id;
  if (source.empty()) source = connection.address.substr(0, connection.address.rfind(':'));
  log_refusal(describe(connection), source, reason);
}

void Transport::Impl::log_refusal(const std::string& description, const std::string& source,
                                  const std::string& reason) {
  const Clock::time_point now = Clock::now();
  if (refusal_log_.size() > kMaxRefusalLogSources) refusal_log_.clear();
  RefusalLogEntry& entry = refusal_log_[source];
  if (entry.reason == reason && now - entry.logged_at < kRefusalLogInterval) {
    ++entry.suppressed;
    return;
  }
  std::string line = description + ": " + reason;
  if (entry.suppressed > 0 && entry.reason == reason) {
    line += " (" + std::to_string(entry.suppressed) + " more since the last report)";
  }
  entry = RefusalLogEntry{reason, now, 0};
  log(line);
}

PeerStats Transport::Impl::peer_stats(const std::string& peer_id) const {
  const auto it = peers_.find(peer_id);
  if (it == peers_.end()) return {};
  const Peer& peer = *it->second;
  PeerStats stats = peer.stats;
  stats.connected = peer.up;
  stats.inbound_connected = peer.inbound != nullptr;
  stats.queued_bytes = queued_bytes(peer);
  return stats;
}

std::vector<std::string> Transport::Impl::peer_ids() const {
  std::vector<std::string> ids;
  for (const auto& [id, peer] : peers_) ids.push_back(id);
  return ids;
}

// --- public face ---------------------------------------------------------------------------

Transport::Transport(event_base* base, TransportConfig config)
    : impl_(std::make_unique<Impl>(base, std::move(config))) {}
Transport::~Transport() = default;
Status Transport::start() { return impl_->start(); }
std::uint16_t Transport::listen_port() const { return impl_->listen_port(); }
bool Transport::send(const std::string& peer_id, std::uint8_t kind,
                     std::span<const std::uint8_t> payload) {
  return impl_->send(peer_id, kind, payload);
}
PeerStats Transport::peer_stats(const std::string& peer_id) const {
  return impl_->peer_stats(peer_id);
}
std::vector<std::string> Transport::peer_ids() const { return impl_->peer_ids(); }
void Transport::set_peers(const std::vector<PeerConfig>& peers) { impl_->set_peers(peers); }
void Transport::stop() { impl_->stop(); }

}  // namespace raftdns::replication
