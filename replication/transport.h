// The peer transport: authenticated, length-prefixed messages between cluster nodes over TCP.
//
// Each node dials every peer once and keeps that outbound connection for sending; it accepts
// the peers' connections for receiving. Messages are fire-and-forget: send() queues on the
// outbound connection, and drops (returning false) when the peer is unknown or unreachable or
// its bounded queue is full. Raft tolerates loss, and a message kept for minutes behind a
// partition is worth less than the fresh one that replaces it.
//
// Everything runs on the caller's event_base, on that loop's thread: callbacks are invoked
// from inside the loop and the object is not thread-safe. A callback may call send(),
// peer_stats() and stop(), but must not destroy the Transport. Destroy the Transport before
// the event_base.
//
// Connection lifecycle and policy:
//  - outbound: connect, handshake (see frame.h), established; on any failure it waits and
//    dials again, with exponential backoff from 50 ms to 2 s and random jitter. A connection
//    that lived for a while resets the backoff.
//  - messages sent while the outbound connection is still connecting or handshaking wait in
//    the same bounded queue and go out once it is established (they are counted as dropped if
//    that attempt fails); while it is backing off they are dropped at once.
//  - frames are HMAC-SHA256'd on both ends; with libsodium's portable SHA-256 that costs
//    roughly 100-400 MB/s of CPU per side, which bounds snapshot streaming, not Raft traffic.
//  - the dialer sends a keepalive when it has sent nothing for a second; the acceptor closes
//    a connection that has been silent for five, and the dialer's TCP_USER_TIMEOUT closes one
//    whose data stays unacknowledged for five, so a dead or partitioned peer is noticed.
//  - a refused connection (wrong key, unknown node id, wrong target, bad version, malformed
//    or replayed frame) is dropped with ONE log line naming the peer address, the node id it
//    claimed and the reason. Repeats of the same outbound failure are logged once until the
//    connection succeeds or the reason changes.
//  - a dialer that is not a peer but holds the key may be sent one authenticated notice
//    before its connection is closed (TransportConfig::notice_for_stranger); the acceptor
//    sends nothing else, ever.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"
#include "replication/address.h"
#include "replication/key.h"

struct event_base;

namespace raftdns::replication {

// What a node that holds the cluster key, but is not one of the peers, is told when it dials.
struct StrangerNotice {
  std::uint8_t kind = 0;
  std::vector<std::uint8_t> payload;
};

struct TransportConfig {
  std::string self_id;
  std::string listen;  // numeric "addr:port"; port 0 lets the kernel choose (see listen_port())
  Key key;
  std::vector<PeerConfig> peers;  // must not contain self_id
  // Bound on the bytes waiting to be sent to one peer (frame overhead included). A message
  // that finds the queue empty is always taken, so one maximal frame can pass a smaller bound.
  std::size_t max_queue_bytes_per_peer = std::size_t{64} << 20;
  // A message from an authenticated peer. `payload` is valid only during the call.
  std::function<void(const std::string& peer_id, std::uint8_t kind,
                     std::span<const std::uint8_t> payload)>
      on_message;
  // The outbound connection to a peer became established (true) or was lost (false).
  std::function<void(const std::string& peer_id, bool up)> on_peer_state;
  // Asked when a node that is not one of the peers dials. With a notice, the handshake goes
  // on, and once the dialer has proven it holds the cluster key the notice is sent to it as
  // one authenticated message (it arrives through the dialer's on_message, from the peer it
  // dialed) and the connection is closed. Without one (or when unset), the dialer is
  // refused at its hello as an unknown node id. A node removed from the membership while it
  // was down learns so this way, from a message it can trust.
  std::function<std::optional<StrangerNotice>(const std::string& node_id)> notice_for_stranger;
  // A handshake failed on its MAC: the other end does not hold this node's cluster key.
  // `peer` is the node id this node dialed, or the one the dialer claimed.
  std::function<void(const std::string& peer, const std::string& address)> on_key_mismatch;
  // One line per event worth an operator's attention (refusals, connects, losses).
  std::function<void(const std::string& line)> log;
};

struct PeerStats {
  bool connected = false;          // the outbound connection is established
  bool inbound_connected = false;  // the peer's connection to us is established
  // When a frame (message or keepalive) last arrived from the peer; empty if never.
  std::optional<std::chrono::steady_clock::time_point> last_heard;
  std::uint64_t bytes_sent = 0;  // handed to the outbound connection, frame overhead included
  std::uint64_t frames_sent = 0;
  std::uint64_t bytes_received = 0;
  std::uint64_t frames_received = 0;
  std::uint64_t dropped = 0;     // messages refused by send()
  std::size_t queued_bytes = 0;  // waiting to be written to the peer right now
};

class Transport {
 public:
  Transport(event_base* base, TransportConfig config);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  // Validates the config, binds and listens, and starts dialing every peer. Errors name the
  // address or the peer.
  [[nodiscard]] Status start();
  // The port actually bound (useful with port 0); 0 before start().
  std::uint16_t listen_port() const;

  // Queues one message for `peer_id`. Returns false, and counts a drop, when the peer is
  // unknown, not connected (backing off), or its queue cannot take the message. `kind` is
  // opaque to the transport. Payloads above kMaxFramePayload (64 MiB) are always refused.
  bool send(const std::string& peer_id, std::uint8_t kind, std::span<const std::uint8_t> payload);

  // Replaces the set of peers at run time: a new id is dialed, a missing one is dropped (its
  // connections closed, its queue discarded), one whose address changed is redialed there.
  // An invalid entry is logged and skipped.
  void set_peers(const std::vector<PeerConfig>& peers);

  // Counters for one peer; all zero for an unknown id.
  PeerStats peer_stats(const std::string& peer_id) const;
  std::vector<std::string> peer_ids() const;

  // Closes the listener and every connection and cancels every timer. No callback runs after
  // it returns. The object cannot be started again.
  void stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace raftdns::replication
