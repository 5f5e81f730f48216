// DNS workers: one thread each, with its own event_base, answer engine and
// SO_REUSEPORT UDP and TCP sockets on every listen address.
//
// UDP is read and answered in recvmmsg/sendmmsg batches, and each batch is
// answered from ONE store read transaction. TCP follows RFC 7766: 2-byte
// length framing, pipelined queries answered in order, an idle timeout, and
// caps on connections in total and per client address. No lock is taken on
// the query path; the only shared state is the connection limiter (taken at
// accept and close) and the reload generation (an atomic load per batch).
//
// Inbound limits: a query larger than max_message_size is dropped (UDP) or
// ends its connection (TCP). UDP responses pass the worker's own response
// rate limiter (rrl.h) when it is on; TCP is never rate limited, as it is
// the way back for real clients that a limited prefix hides.
#pragma once

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "common/result.h"
#include "daemon/query/engine.h"
#include "daemon/server/answer_cache.h"
#include "daemon/server/config.h"
#include "common/libevent.h"
#include "common/unique_fd.h"
#include "daemon/server/dns_metrics.h"
#include "daemon/server/inbox.h"
#include "daemon/server/rrl.h"
#include "daemon/xfr/responder.h"

namespace raftdns::store {
class Store;
class ReadTxn;
}  // namespace raftdns::store

namespace raftdns::server {

class UpdateService;

// Counts TCP connections across all workers: in total and per client IP.
class ConnectionLimiter {
 public:
  ConnectionLimiter(uint32_t max_total, uint32_t max_per_client)
      : max_total_(max_total), max_per_client_(max_per_client) {}
  // False when either cap is reached; the caller then closes the socket.
  bool try_acquire(const sockaddr* peer);
  void release(const sockaddr* peer);
  uint32_t total() const;

 private:
  static std::string client_key(const sockaddr* peer);
  mutable std::mutex mutex_;
  uint32_t max_total_, max_per_client_;
  uint32_t total_ = 0;
  std::unordered_map<std::string, uint32_t> per_client_;
};

// Settings every worker reads. The engine config may change on SIGHUP: the
// main thread publishes a new one and bumps `generation`; each worker sees
// the bump at its next batch and rebuilds its engine.
class ServingSettings {
 public:
  explicit ServingSettings(query::EngineConfig engine) : engine_(std::move(engine)) {}
  void publish(query::EngineConfig engine);
  uint64_t generation() const { return generation_.load(std::memory_order_acquire); }
  query::EngineConfig engine() const;

 private:
  mutable std::mutex mutex_;
  query::EngineConfig engine_;
  std::atomic<uint64_t> generation_{0};
};

struct WorkerOptions {
  uint32_t tcp_idle_timeout_ms = 10000;
  uint32_t max_message_size = 4096;  // largest query accepted, UDP or TCP
  RrlConfig rrl;                     // off unless rrl.rate > 0
  // Slots of the worker's cache of finished answers (answer_cache.h); 0: none.
  uint32_t answer_cache_size = 131072;
  // TSIG keys and transfer policy; transfers are refused without them.
  std::shared_ptr<const xfr::TransferSettings> transfer;
  xfr::RefusalLog* refusals = nullptr;  // shared by the workers, owned by the daemon
};

// The worker options a config asks for.
WorkerOptions worker_options(const Config& config);

// Per-worker counters, published after every batch for status readers.
struct WorkerCounters {
  std::atomic<uint64_t> queries{0};
  std::atomic<uint64_t> nxdomain{0};
  std::atomic<uint64_t> refused{0};
  std::atomic<uint64_t> formerr{0};
  std::atomic<uint64_t> truncated{0};
  std::atomic<uint64_t> udp_dropped{0};
  std::atomic<uint64_t> tcp_refused{0};
  std::atomic<uint64_t> oversized{0};    // queries over max_message_size
  std::atomic<uint64_t> rrl_dropped{0};  // UDP responses withheld by RRL
  std::atomic<uint64_t> rrl_slipped{0};  // ... sent truncated instead
  std::atomic<uint64_t> answer_cache_hits{0};    // answers reused from the cache
  std::atomic<uint64_t> answer_cache_misses{0};  // cacheable queries the engine answered
};

class DnsWorker {
 public:
  // `updates` takes the UPDATE messages (RFC 2136); null answers them NOTIMP.
  DnsWorker(unsigned index, const store::Store& store, ServingSettings& settings,
            ConnectionLimiter& limiter, WorkerOptions options, UpdateService* updates = nullptr);
  ~DnsWorker();
  DnsWorker(const DnsWorker&) = delete;
  DnsWorker& operator=(const DnsWorker&) = delete;

  // Binds this worker's sockets (called on the main thread, so a bind error
  // stops start-up with the address named).
  Status listen(const std::vector<SocketAddress>& addresses);
  void start();
  // Ends the loop and joins the thread; connections are closed.
  void stop();

  const WorkerCounters& counters() const { return counters_; }
  // Zone transfers (AXFR, IXFR) this worker started and refused; any thread.
  uint64_t transfers_started() const { return responder_->transfers_started(); }
  uint64_t transfers_refused() const { return responder_->transfers_refused(); }
  // Per-response counters for the metrics endpoint (see dns_metrics.h).
  const DnsMetrics& metrics() const { return metrics_; }

 private:
  struct UdpSocket;
  struct TcpConnection;
  struct UdpBuffers;

  void run();
  void serve_udp(UdpSocket& sock);
  void on_refresh_timer(evutil_socket_t fd, short what);
  void report_limits();
  void on_tcp_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* addr, int len);
  void answer_tcp(TcpConnection& conn);
  void tcp_drained(TcpConnection& conn);
  void tcp_event(TcpConnection& conn, short what);
  void close_tcp(TcpConnection& conn);
  // Answers one query: through the transfer responder (TSIG, AXFR, IXFR)
  // and the engine. A transfer it starts is left in `started`.
  size_t respond(std::span<const uint8_t> query, std::span<uint8_t> out, bool tcp,
                 const store::ReadTxn& view, const sockaddr* peer, const query::Client& client,
                 std::unique_ptr<xfr::OutgoingTransfer>* started) noexcept;
  // Answers a query the answer cache takes (`key` made for it): from the
  // cache, else from the engine, keeping the answer when it may be reused.
  // Fills `rrl_class` (when given) with the answer's RRL class.
  size_t answer_via_cache(const AnswerCache::Key& key, std::span<const uint8_t> query,
                          std::span<uint8_t> out, bool tcp, const store::ReadTxn& view,
                          const query::Client& client, ClassifiedResponse* rrl_class) noexcept;
  // Writes transfer messages until the connection's output is full enough;
  // true once the transfer has ended.
  bool pump_transfer(TcpConnection& conn);
  // Hands an UPDATE to the update service; its answer comes back through
  // inbox_ and goes out on the same socket or connection.
  void udp_update(UdpSocket& sock, std::span<const uint8_t> message, const sockaddr_storage& peer,
                  socklen_t peer_length, msghdr& received);
  void tcp_update(TcpConnection& conn, std::span<const uint8_t> message);
  void tcp_update_answered(uint64_t serial, const std::vector<uint8_t>& response);

  // The view for one batch: renewed to the newest committed state.
  const store::ReadTxn* fresh_view() noexcept;
  void refresh_engine_if_reloaded();
  void publish_counters();

  unsigned index_;
  const store::Store& store_;
  ServingSettings& settings_;
  ConnectionLimiter& limiter_;
  WorkerOptions options_;

  EventBasePtr base_;
  std::vector<std::unique_ptr<UdpSocket>> udp_;
  std::vector<ListenerPtr> tcp_listeners_;
  EventPtr refresh_timer_;
  std::unordered_map<bufferevent*, std::unique_ptr<TcpConnection>> connections_;
  // Connections by serial, for answers that arrive after the connection may
  // have gone (UPDATE).
  std::unordered_map<uint64_t, TcpConnection*> tcp_by_serial_;
  uint64_t next_tcp_serial_ = 1;

  std::unique_ptr<query::Engine> engine_;
  std::unique_ptr<xfr::RefusalLog> own_refusals_;  // when the options bring none
  std::unique_ptr<xfr::Responder> responder_;
  uint64_t engine_generation_ = 0;
  query::EngineCounters retired_counters_{};  // from engines replaced on reload
  std::unique_ptr<store::ReadTxn> view_;
  std::unique_ptr<AnswerCache> cache_;  // null when dns.answer_cache_size is 0
  AnswerCache::Key cache_key_;
  bool view_used_since_refresh_ = false;
  std::unique_ptr<UdpBuffers> udp_buffers_;
  std::unique_ptr<ResponseRateLimiter> rrl_;  // null when RRL is off
  struct LimitsReport {
    uint64_t withheld = 0, slipped = 0, oversized = 0, tcp_refused = 0;
  };
  LimitsReport last_limits_report_;
  int seconds_since_limits_report_ = 0;
  std::vector<uint8_t> tcp_out_;
  UpdateService* updates_;
  std::shared_ptr<Inbox> inbox_;

  WorkerCounters counters_;
  DnsMetrics metrics_;
  std::thread thread_;
};

}  // namespace raftdns::server
