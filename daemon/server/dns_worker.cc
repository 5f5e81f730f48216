// DNS worker threads: UDP batches, RFC 7766 TCP, and engine reloads.
#include "daemon/server/dns_worker.h"

#include <arpa/inet.h>
#include <event2/buffer.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "daemon/server/log.h"
#include "daemon/server/update_service.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"

namespace raftdns::server {
namespace {

constexpr size_t kUdpBatch = 32;
constexpr size_t kMaxMessage = 65535;
constexpr size_t kPktinfoSpace = CMSG_SPACE(sizeof(in6_pktinfo));
// Rounds of recvmmsg per wake-up before yielding to the worker's other
// sockets, so one busy socket cannot starve TCP.
constexpr int kUdpRoundsPerWake = 8;
// Stop reading a TCP client whose unread responses pile up past this.
constexpr size_t kMaxTcpPendingOutput = 256 * 1024;
constexpr size_t kMaxTcpBufferedInput = 2 * (kMaxMessage + 2);
constexpr int kTcpBacklog = 1024;
// A burst queues in the kernel while a worker answers the batch before it.
// The default (rmem_default, ~200 KiB) holds only a few hundred datagrams;
// when that queue overflows, the kernel drops queries from every client
// that hashes to the socket, not just from the one flooding it.
constexpr int kUdpReceiveBuffer = 4 << 20;

// Keep a transfer's output between these (bytes): enough queued that the
// socket never waits for us, little enough that many transfers fit.
constexpr size_t kTransferHighWater = 256 * 1024;
constexpr size_t kTransferLowWater = 64 * 1024;

// TSIG's clock (seconds; the fudge is minutes, so coarse is plenty).
uint64_t wall_seconds() noexcept {
  timespec now{};
  clock_gettime(CLOCK_REALTIME_COARSE, &now);
  return static_cast<uint64_t>(now.tv_sec);
}

// RRL's clock: coarse is plenty for a per-second budget and costs no syscall.
uint32_t monotonic_ms() noexcept {
  timespec now{};
  clock_gettime(CLOCK_MONOTONIC_COARSE, &now);
  return static_cast<uint32_t>(static_cast<uint64_t>(now.tv_sec) * 1000u +
                               static_cast<uint64_t>(now.tv_nsec) / 1000000u);
}

Result<UniqueFd> open_socket(const SocketAddress& addr, int type, bool want_pktinfo) {
  const char* proto = type == SOCK_DGRAM ? "UDP" : "TCP";
  UniqueFd fd(::socket(addr.family(), type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error(std::string("cannot create a ") + proto + " socket: " + errno_text(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) != 0) {
    return make_error(std::string("cannot set SO_REUSEPORT on ") + proto + " " + addr.to_text() +
                      ": " + errno_text(errno));
  }
  if (addr.family() == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (type == SOCK_DGRAM) {
    // The forced form passes net.core.rmem_max when we may (CAP_NET_ADMIN);
    // otherwise the kernel caps the plain request at rmem_max.
    int size = kUdpReceiveBuffer;
    if (::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof(size)) != 0) {
      ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVBUF, &size, sizeof(size));
    }
  }
  if (want_pktinfo) {
    // On a wildcard address the reply must leave from the address the query
    // was sent to, which only the per-packet destination tells us.
    if (addr.family() == AF_INET) {
      ::setsockopt(fd.get(), IPPROTO_IP, IP_PKTINFO, &one, sizeof(one));
    } else {
      ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_RECVPKTINFO, &one, sizeof(one));
    }
  }
  if (::bind(fd.get(), addr.get(), addr.length) != 0) {
    return make_error(std::string("cannot bind ") + proto + " " + addr.to_text() + ": " +
                      errno_text(errno));
  }
  if (type == SOCK_STREAM && ::listen(fd.get(), kTcpBacklog) != 0) {
    return make_error("cannot listen on TCP " + addr.to_text() + ": " + errno_text(errno));
  }
  return fd;
}

void add_counters(query::EngineCounters& into, const query::EngineCounters& from) {
  into.queries += from.queries;
  into.nxdomain += from.nxdomain;
  into.refused += from.refused;
  into.formerr += from.formerr;
  into.truncated += from.truncated;
}

}  // namespace

// The client's address as DNS Cookies hash it (RFC 9018 §4.2).
query::Client cookie_client(const sockaddr_storage& peer, uint32_t now) {
  query::Client c;
  c.now = now;
  if (peer.ss_family == AF_INET) {
    const auto& a = reinterpret_cast<const sockaddr_in&>(peer).sin_addr;
    c.ip = {reinterpret_cast<const uint8_t*>(&a), 4};
  } else if (peer.ss_family == AF_INET6) {
    const auto& a = reinterpret_cast<const sockaddr_in6&>(peer).sin6_addr;
    c.ip = {reinterpret_cast<const uint8_t*>(&a), 16};
  }
  return c;
}

WorkerOptions worker_options(const Config& config) {
  WorkerOptions options;
  options.tcp_idle_timeout_ms = config.tcp_idle_timeout_ms;
  options.max_message_size = config.max_message_size;
  options.rrl = config.rrl;
  options.answer_cache_size = config.answer_cache_size;
  return options;
}

// --- ConnectionLimiter ---

std::string ConnectionLimiter::client_key(const sockaddr* peer) {
  if (peer->sa_family == AF_INET) {
    const auto* a = reinterpret_cast<const sockaddr_in*>(peer);
    return std::string(reinterpret_cast<const char*>(&a->sin_addr), sizeof(a->sin_addr));
  }
  if (peer->sa_family == AF_INET6) {
    const auto* a = reinterpret_cast<const sockaddr_in6*>(peer);
    return std::string(reinterpret_cast<const char*>(&a->sin6_addr), sizeof(a->sin6_addr));
  }
  return {};
}

bool ConnectionLimiter::try_acquire(const sockaddr* peer) {
  std::string key = client_key(peer);
  std::lock_guard lock(mutex_);
  if (total_ >= max_total_) return false;
  uint32_t& mine = per_client_[key];
  if (mine >= max_per_client_) {
    if (mine == 0) per_client_.erase(key);
    return false;
  }
  ++mine;
  ++total_;
  return true;
}

void ConnectionLimiter::release(const sockaddr* peer) {
  std::string key = client_key(peer);
  std::lock_guard lock(mutex_);
  auto it = per_client_.find(key);
  if (it == per_client_.end()) return;
  --total_;
  if (--it->second == 0) per_client_.erase(it);
}

uint32_t ConnectionLimiter::total() const {
  std::lock_guard lock(mutex_);
  return total_;
}

// --- ServingSettings ---

void ServingSettings::publish(query::EngineConfig engine) {
  {
    std::lock_guard lock(mutex_);
    engine_ = std::move(engine);
  }
  generation_.fetch_add(1, std::memory_order_acq_rel);
}

query::EngineConfig ServingSettings::engine() const {
  std::lock_guard lock(mutex_);
  return engine_;
}

// --- per-socket and per-connection state ---

struct DnsWorker::UdpSocket {
  DnsWorker* worker = nullptr;
  UniqueFd fd;
  EventPtr readable;
  bool pktinfo = false;
  void on_readable(evutil_socket_t, short) { worker->serve_udp(*this); }
};

struct DnsWorker::TcpConnection {
  DnsWorker* worker = nullptr;
  BufferEventPtr bev;
  sockaddr_storage peer{};
  // An AXFR or IXFR being streamed; the connection reads no further queries
  // until it ends (they wait in the input buffer).
  std::unique_ptr<xfr::OutgoingTransfer> transfer;
  bool paused = false;   // reading stopped until the client drains responses
  bool closing = false;  // client sent EOF; close once responses are out
  uint64_t serial = 0;
  unsigned pending_updates = 0;  // UPDATEs whose answers are still to come
  void on_read(bufferevent*) { worker->answer_tcp(*this); }
  void on_write(bufferevent*) { worker->tcp_drained(*this); }
  void on_event(bufferevent*, short what) { worker->tcp_event(*this, what); }
};

struct DnsWorker::UdpBuffers {
  explicit UdpBuffers(size_t max_query) : in_stride(max_query), in(kUdpBatch * max_query) {}
  mmsghdr in_msgs[kUdpBatch];
  iovec in_iov[kUdpBatch];
  sockaddr_storage peers[kUdpBatch];
  alignas(cmsghdr) uint8_t in_control[kUdpBatch][kPktinfoSpace];
  // A datagram longer than a slot is cut short by the kernel (MSG_TRUNC) and
  // dropped rather than answered from a fragment.
  size_t in_stride;
  std::vector<uint8_t> in;
  mmsghdr out_msgs[kUdpBatch];
  iovec out_iov[kUdpBatch];
  alignas(cmsghdr) uint8_t out_control[kUdpBatch][kPktinfoSpace];
  std::vector<uint8_t> out = std::vector<uint8_t>(kUdpBatch * kMaxMessage);
  // Answer cache keys of the batch's queries, where `cacheable` is set.
  AnswerCache::Key keys[kUdpBatch];
  bool cacheable[kUdpBatch];
};

// --- DnsWorker ---

DnsWorker::DnsWorker(unsigned index, const store::Store& store, ServingSettings& settings,
                     ConnectionLimiter& limiter, WorkerOptions options, UpdateService* updates)
    : index_(index),
      store_(store),
      settings_(settings),
      limiter_(limiter),
      options_(options),
      base_(event_base_new()),
      udp_buffers_(std::make_unique<UdpBuffers>(options.max_message_size)),
      tcp_out_(kMaxMessage + 2),
      updates_(updates) {
  if (!base_) throw std::runtime_error("cannot create an event base for a DNS worker");
  inbox_ = std::make_shared<Inbox>(base_.get());
  if (options_.rrl.enabled()) {
    std::random_device entropy;
    const uint64_t seed = uint64_t{entropy()} << 32 | entropy();
    rrl_ = std::make_unique<ResponseRateLimiter>(options_.rrl, seed);
  }
  if (options_.answer_cache_size > 0) {
    cache_ = std::make_unique<AnswerCache>(options_.answer_cache_size);
  }
  if (!options_.transfer) options_.transfer = std::make_shared<const xfr::TransferSettings>();
  if (!options_.refusals) {
    own_refusals_ = std::make_unique<xfr::RefusalLog>();
    options_.refusals = own_refusals_.get();
  }
  responder_ = std::make_unique<xfr::Responder>(options_.transfer, store_, *options_.refusals);
  refresh_engine_if_reloaded();
  refresh_timer_.reset(
      event_new(base_.get(), -1, EV_PERSIST, forward_to<&DnsWorker::on_refresh_timer>, this));
  timeval second{1, 0};
  event_add(refresh_timer_.get(), &second);
}

DnsWorker::~DnsWorker() {
  stop();
  inbox_->close();
  for (auto& [bev, conn] : connections_) {
    limiter_.release(reinterpret_cast<const sockaddr*>(&conn->peer));
  }
  connections_.clear();
}

Status DnsWorker::listen(const std::vector<SocketAddress>& addresses) {
  for (const SocketAddress& addr : addresses) {
    auto udp_fd = open_socket(addr, SOCK_DGRAM, addr.is_wildcard());
    if (!udp_fd) return std::move(udp_fd).take_error();
    auto sock = std::make_unique<UdpSocket>();
    sock->worker = this;
    sock->fd = std::move(*udp_fd);
    sock->pktinfo = addr.is_wildcard();
    sock->readable.reset(event_new(base_.get(), sock->fd.get(), EV_READ | EV_PERSIST,
                                   forward_to<&UdpSocket::on_readable>, sock.get()));
    event_add(sock->readable.get(), nullptr);
    udp_.push_back(std::move(sock));

    auto tcp_fd = open_socket(addr, SOCK_STREAM, false);
    if (!tcp_fd) return std::move(tcp_fd).take_error();
    evconnlistener* listener =
        evconnlistener_new(base_.get(), forward_to<&DnsWorker::on_tcp_accept>, this,
                           LEV_OPT_CLOSE_ON_FREE | LEV_OPT_CLOSE_ON_EXEC, -1, tcp_fd->get());
    if (!listener) return make_error("cannot watch TCP " + addr.to_text());
    tcp_fd->release();
    tcp_listeners_.emplace_back(listener);
  }
  return {};
}

void DnsWorker::start() {
  thread_ = std::thread([this] { run(); });
}

void DnsWorker::run() {
  std::string name = "dns-worker-" + std::to_string(index_);
  pthread_setname_np(pthread_self(), name.substr(0, 15).c_str());
  event_base_dispatch(base_.get());
  view_.reset();
}

void DnsWorker::stop() {
  if (!thread_.joinable()) return;
  event_base_loopexit(base_.get(), nullptr);
  thread_.join();
  inbox_->close();  // answers still on their way are dropped
}

void DnsWorker::refresh_engine_if_reloaded() {
  uint64_t generation = settings_.generation();
  if (engine_ && generation == engine_generation_) return;
  if (engine_) add_counters(retired_counters_, engine_->counters());
  engine_ = std::make_unique<query::Engine>(settings_.engine());
  engine_generation_ = generation;
  if (cache_) cache_->clear();  // answers of the old settings
}

const store::ReadTxn* DnsWorker::fresh_view() noexcept {
  view_used_since_refresh_ = true;
  if (!view_ || !view_->renew()) {
    view_.reset();
    view_ = store_.begin_read();
  }
  // The cache serves only answers made from the state this view reads.
  if (cache_) {
    if (view_) {
      cache_->use_state(view_->store_serial(), view_->snapshot_id());
    } else {
      cache_->clear();
    }
  }
  return view_.get();
}

// An idle worker lets go of its read transaction, so it does not pin an old
// snapshot and keep LMDB from reusing freed pages while writes go on.
void DnsWorker::on_refresh_timer(evutil_socket_t, short) {
  if (!view_used_since_refresh_) view_.reset();
  view_used_since_refresh_ = false;
  report_limits();
}

// An operator should learn that limits bite (a flood, or limits set too
// tight) without a line per packet: one summary per worker per period.
void DnsWorker::report_limits() {
  constexpr int kReportEverySeconds = 10;
  if (++seconds_since_limits_report_ < kReportEverySeconds) return;
  seconds_since_limits_report_ = 0;
  const uint64_t withheld = counters_.rrl_dropped.load(std::memory_order_relaxed);
  const uint64_t slipped = counters_.rrl_slipped.load(std::memory_order_relaxed);
  const uint64_t oversized = counters_.oversized.load(std::memory_order_relaxed);
  const uint64_t tcp_refused = counters_.tcp_refused.load(std::memory_order_relaxed);
  LimitsReport& last = last_limits_report_;
  if (withheld == last.withheld && slipped == last.slipped && oversized == last.oversized &&
      tcp_refused == last.tcp_refused) {
    return;
  }
  log_warning("worker " + std::to_string(index_) + ", last " + std::to_string(kReportEverySeconds) +
              " s: rate limiting dropped " + std::to_string(withheld - last.withheld) +
              " and truncated " + std::to_string(slipped - last.slipped) + " UDP responses; " +
              std::to_string(oversized - last.oversized) + " oversized queries; " +
              std::to_string(tcp_refused - last.tcp_refused) +
              " TCP connections refused at the caps");
  last = {withheld, slipped, oversized, tcp_refused};
}

void DnsWorker::publish_counters() {
  query::EngineCounters total = retired_counters_;
  add_counters(total, engine_->counters());
  counters_.queries.store(total.queries, std::memory_order_relaxed);
  counters_.nxdomain.store(total.nxdomain, std::memory_order_relaxed);
  counters_.refused.store(total.refused, std::memory_order_relaxed);
  counters_.formerr.store(total.formerr, std::memory_order_relaxed);
  counters_.truncated.store(total.truncated, std::memory_order_relaxed);
  if (cache_) {
    counters_.answer_cache_hits.store(cache_->stats().hits, std::memory_order_relaxed);
    counters_.answer_cache_misses.store(cache_->stats().misses, std::memory_order_relaxed);
  }
}

// --- UDP ---

namespace {

// Copies the destination of a received datagram into the control data of
// its reply, so the reply's source address is the one the client asked.
size_t reply_pktinfo(msghdr& received, uint8_t* out_control) {
  std::memset(out_control, 0, kPktinfoSpace);
  for (cmsghdr* c = CMSG_FIRSTHDR(&received); c; c = CMSG_NXTHDR(&received, c)) {
    if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
      in_pktinfo got;
      std::memcpy(&got, CMSG_DATA(c), sizeof(got));
      in_pktinfo reply{};
      reply.ipi_spec_dst = got.ipi_addr;
      auto* out = reinterpret_cast<cmsghdr*>(out_control);
      out->cmsg_level = IPPROTO_IP;
      out->cmsg_type = IP_PKTINFO;
      out->cmsg_len = CMSG_LEN(sizeof(reply));
      std::memcpy(CMSG_DATA(out), &reply, sizeof(reply));
      return CMSG_SPACE(sizeof(reply));
    }
    if (c->cmsg_level == IPPROTO_IPV6 && c->cmsg_type == IPV6_PKTINFO) {
      in6_pktinfo got;
      std::memcpy(&got, CMSG_DATA(c), sizeof(got));
      auto* out = reinterpret_cast<cmsghdr*>(out_control);
      out->cmsg_level = IPPROTO_IPV6;
      out->cmsg_type = IPV6_PKTINFO;
      out->cmsg_len = CMSG_LEN(sizeof(got));
      std::memcpy(CMSG_DATA(out), &got, sizeof(got));
      return CMSG_SPACE(sizeof(got));
    }
  }
  return 0;
}

}  // namespace

void DnsWorker::serve_udp(UdpSocket& sock) {
  UdpBuffers& b = *udp_buffers_;
  for (int round = 0; round < kUdpRoundsPerWake; ++round) {
    for (size_t i = 0; i < kUdpBatch; ++i) {
      b.in_iov[i] = {b.in.data() + i * b.in_stride, b.in_stride};
      msghdr& h = b.in_msgs[i].msg_hdr;
      h = msghdr{};
      h.msg_name = &b.peers[i];
      h.msg_namelen = sizeof(b.peers[i]);
      h.msg_iov = &b.in_iov[i];
      h.msg_iovlen = 1;
      if (sock.pktinfo) {
        h.msg_control = b.in_control[i];
        h.msg_controllen = kPktinfoSpace;
      }
      b.in_msgs[i].msg_len = 0;
    }
    int received = ::recvmmsg(sock.fd.get(), b.in_msgs, kUdpBatch, MSG_DONTWAIT, nullptr);
    if (received < 0) {
      if (errno == EINTR) continue;
      if (errno != EAGAIN && errno != EWOULDBLOCK) log_debug("recvmmsg: " + errno_text(errno));
      return;
    }
    if (received == 0) return;

    refresh_engine_if_reloaded();
    const store::ReadTxn* view = fresh_view();
    const uint32_t now_ms = rrl_ ? monotonic_ms() : 0;
    const auto now = static_cast<uint32_t>(std::time(nullptr));
    unsigned replies = 0;
    // Counted locally: under a flood these are the hot path.
    uint64_t rrl_dropped = 0, rrl_slipped = 0;
    // The cache's keys for the whole batch first, so that its lookups wait
    // on memory side by side rather than one after another.
    for (int i = 0; i < received; ++i) {
      b.cacheable[i] = cache_ && view && !(b.in_msgs[i].msg_hdr.msg_flags & MSG_TRUNC) &&
                       cache_->make_key({b.in.data() + i * b.in_stride, b.in_msgs[i].msg_len},
                                        false, b.keys[i]);
      if (b.cacheable[i]) cache_->prefetch(b.keys[i]);
    }
    for (int i = 0; i < received; ++i) {
      if (b.cacheable[i]) cache_->prefetch_slot(b.keys[i]);
    }
    for (int i = 0; i < received; ++i) {
      msghdr& in = b.in_msgs[i].msg_hdr;
      if ((in.msg_flags & MSG_TRUNC) || !view) {
        if (in.msg_flags & MSG_TRUNC) counters_.oversized.fetch_add(1, std::memory_order_relaxed);
        counters_.udp_dropped.fetch_add(1, std::memory_order_relaxed);
        continue;
      }
      if (updates_ && UpdateService::is_update({b.in.data() + i * b.in_stride, b.in_msgs[i].msg_len})) {
        udp_update(sock, {b.in.data() + i * b.in_stride, b.in_msgs[i].msg_len}, b.peers[i],
                   in.msg_namelen, in);
        continue;
      }
      uint8_t* out = b.out.data() + static_cast<size_t>(i) * kMaxMessage;
      const std::span<const uint8_t> query{b.in.data() + i * b.in_stride, b.in_msgs[i].msg_len};
      size_t length = 0;
      // A valid server cookie proves the source address: not rate limited.
      // (Queries with a cookie never go through the cache.)
      bool proven = false;
      ClassifiedResponse response;
      bool classified = false;
      if (b.cacheable[i]) {
        length = answer_via_cache(b.keys[i], query, {out, kMaxMessage}, false, *view,
                                  cookie_client(b.peers[i], now), rrl_ ? &response : nullptr);
        classified = rrl_ != nullptr;
      } else {
        length = respond(query, {out, kMaxMessage}, false, *view,
                         reinterpret_cast<const sockaddr*>(&b.peers[i]),
                         cookie_client(b.peers[i], now), nullptr);
        proven = engine_->last_cookie_valid();
      }
      if (length == 0) continue;
      count_response(metrics_, DnsProtocol::udp, {out, length});
      if (rrl_ && !proven) {
        if (!classified) response = classify_response({out, length});
        switch (rrl_->check(reinterpret_cast<const sockaddr*>(&b.peers[i]), response, now_ms)) {
          case RrlVerdict::send:
            break;
          case RrlVerdict::drop:
            ++rrl_dropped;
            continue;
          case RrlVerdict::slip:
            ++rrl_slipped;
            length = make_slip_response({out, length}, response.question_end);
            if (length == 0) continue;
            break;
        }
      }
      b.out_iov[replies] = {out, length};
      msghdr& reply = b.out_msgs[replies].msg_hdr;
      reply = msghdr{};
      reply.msg_name = in.msg_name;
      reply.msg_namelen = in.msg_namelen;
      reply.msg_iov = &b.out_iov[replies];
      reply.msg_iovlen = 1;
      if (sock.pktinfo) {
        size_t control = reply_pktinfo(in, b.out_control[replies]);
        if (control > 0) {
          reply.msg_control = b.out_control[replies];
          reply.msg_controllen = control;
        }
      }
      ++replies;
    }
    if (!view) log_error("worker " + std::to_string(index_) + ": cannot open a store read view");
    if (rrl_dropped) counters_.rrl_dropped.fetch_add(rrl_dropped, std::memory_order_relaxed);
    if (rrl_slipped) counters_.rrl_slipped.fetch_add(rrl_slipped, std::memory_order_relaxed);

    unsigned done = 0;
    while (done < replies) {
      int sent = ::sendmmsg(sock.fd.get(), b.out_msgs + done, replies - done, MSG_DONTWAIT);
      if (sent > 0) {
        done += static_cast<unsigned>(sent);
      } else if (sent < 0 && errno == EINTR) {
        continue;
      } else if (sent < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        counters_.udp_dropped.fetch_add(replies - done, std::memory_order_relaxed);
        break;
      } else {
        // One destination failed (unreachable, filtered): skip just it.
        counters_.udp_dropped.fetch_add(1, std::memory_order_relaxed);
        ++done;
      }
    }
    publish_counters();
    if (static_cast<size_t>(received) < kUdpBatch) return;
  }
}

// --- one query, through the answer cache or the transfer responder and the engine ---

// A query the cache takes is unsigned, has no EDNS options and asks for no
// transfer, so the transfer responder would pass it: the engine answers it.
size_t DnsWorker::answer_via_cache(const AnswerCache::Key& key, std::span<const uint8_t> query,
                                   std::span<uint8_t> out, bool tcp, const store::ReadTxn& view,
                                   const query::Client& client,
                                   ClassifiedResponse* rrl_class) noexcept {
  bool classified = false;
  size_t n = cache_->find(key, query, out, rrl_class, &classified);
  if (n > 0) {
    engine_->count_reused({out.data(), n});
    if (rrl_class && !classified) *rrl_class = classify_response({out.data(), n});
    return n;
  }
  n = engine_->answer(query, out, tcp ? query::Transport::tcp : query::Transport::udp, view,
                      client);
  if (n == 0) return 0;
  if (rrl_class) *rrl_class = classify_response({out.data(), n});
  if (engine_->last_answer_reusable()) cache_->insert(key, {out.data(), n}, rrl_class);
  return n;
}

size_t DnsWorker::respond(std::span<const uint8_t> query, std::span<uint8_t> out, bool tcp,
                          const store::ReadTxn& view, const sockaddr* peer,
                          const query::Client& client,
                          std::unique_ptr<xfr::OutgoingTransfer>* started) noexcept {
  const query::Transport transport = tcp ? query::Transport::tcp : query::Transport::udp;
  try {
    const uint64_t now = wall_seconds();
    xfr::Responder::Outcome o = responder_->inspect(query, peer, tcp, view, out, now);
    switch (o.kind) {
      case xfr::Responder::Kind::pass:
        break;
      case xfr::Responder::Kind::reply:
        return o.length;
      case xfr::Responder::Kind::engine_then_sign: {
        size_t n = engine_->answer(o.unsigned_query, out, transport, view, client);
        return responder_->sign_answer(out, n, now);
      }
      case xfr::Responder::Kind::transfer:
        if (started) *started = std::move(o.transfer);
        return 0;
    }
  } catch (const std::exception& e) {
    // Only allocation can throw on this path; answer as if unsigned.
    log_error(std::string("worker ") + std::to_string(index_) + ": " + e.what());
  }
  return engine_->answer(query, out, transport, view, client);
}

// --- TCP ---

void DnsWorker::on_tcp_accept(evconnlistener*, evutil_socket_t fd, sockaddr* addr, int len) {
  if (!limiter_.try_acquire(addr)) {
    counters_.tcp_refused.fetch_add(1, std::memory_order_relaxed);
    ::close(fd);
    return;
  }
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  auto conn = std::make_unique<TcpConnection>();
  conn->worker = this;
  std::memcpy(&conn->peer, addr, std::min<size_t>(static_cast<size_t>(len), sizeof(conn->peer)));
  bufferevent* bev = bufferevent_socket_new(base_.get(), fd, BEV_OPT_CLOSE_ON_FREE);
  if (!bev) {
    ::close(fd);
    limiter_.release(addr);
    return;
  }
  conn->bev.reset(bev);
  conn->serial = next_tcp_serial_++;
  tcp_by_serial_.emplace(conn->serial, conn.get());
  bufferevent_setcb(bev, forward_to<&TcpConnection::on_read>,
                    forward_to<&TcpConnection::on_write>,
                    forward_to<&TcpConnection::on_event>, conn.get());
  timeval idle{static_cast<time_t>(options_.tcp_idle_timeout_ms / 1000),
               static_cast<suseconds_t>(options_.tcp_idle_timeout_ms % 1000) * 1000};
  bufferevent_set_timeouts(bev, &idle, &idle);
  bufferevent_setwatermark(bev, EV_READ, 0, kMaxTcpBufferedInput);
  bufferevent_enable(bev, EV_READ | EV_WRITE);
  connections_.emplace(bev, std::move(conn));
  DnsMetrics::bump(metrics_.tcp_accepted);
}

void DnsWorker::answer_tcp(TcpConnection& conn) {
  bufferevent* bev = conn.bev.get();
  evbuffer* input = bufferevent_get_input(bev);
  evbuffer* output = bufferevent_get_output(bev);
  const store::ReadTxn* view = nullptr;
  while (!conn.closing && !conn.transfer) {
    if (evbuffer_get_length(output) > kMaxTcpPendingOutput) {
      bufferevent_disable(bev, EV_READ);
      conn.paused = true;
      break;
    }
    size_t available = evbuffer_get_length(input);
    if (available < 2) break;
    uint8_t prefix[2];
    evbuffer_copyout(input, prefix, 2);
    size_t length = size_t{prefix[0]} << 8 | prefix[1];
    if (length == 0) {
      // A zero-length message has no ID to answer with: the stream is
      // garbage from here on.
      close_tcp(conn);
      return;
    }
    if (length > options_.max_message_size) {
      // Reading a message only to refuse it would let a client make us buffer
      // up to 64 KiB; the stream cannot be resynchronised without it, so the
      // connection ends here.
      counters_.oversized.fetch_add(1, std::memory_order_relaxed);
      log_debug("worker " + std::to_string(index_) + ": closing a TCP connection that sent a " +
                std::to_string(length) + "-byte query (dns.max_message_size is " +
                std::to_string(options_.max_message_size) + ")");
      close_tcp(conn);
      return;
    }
    if (available < 2 + length) break;
    const uint8_t* message = evbuffer_pullup(input, static_cast<ssize_t>(2 + length));
    if (!message) {
      close_tcp(conn);
      return;
    }
    if (!view) {
      refresh_engine_if_reloaded();
      view = fresh_view();
      if (!view) {
        log_error("worker " + std::to_string(index_) + ": cannot open a store read view");
        close_tcp(conn);
        return;
      }
    }
    if (updates_ && UpdateService::is_update({message + 2, length})) {
      tcp_update(conn, {message + 2, length});
      evbuffer_drain(input, 2 + length);
      continue;
    }
    const std::span<const uint8_t> query{message + 2, length};
    const query::Client client =
        cookie_client(conn.peer, static_cast<uint32_t>(std::time(nullptr)));
    size_t answer = 0;
    if (cache_ && cache_->make_key(query, true, cache_key_)) {
      answer = answer_via_cache(cache_key_, query, {tcp_out_.data() + 2, kMaxMessage}, true, *view,
                                client, nullptr);
    } else {
      answer = respond(query, {tcp_out_.data() + 2, kMaxMessage}, true, *view,
                       reinterpret_cast<const sockaddr*>(&conn.peer), client, &conn.transfer);
    }
    evbuffer_drain(input, 2 + length);
    if (conn.transfer) {
      // Stream it while the client reads; queries pipelined behind it wait.
      bufferevent_disable(bev, EV_READ);
      bufferevent_setwatermark(bev, EV_WRITE, kTransferLowWater, 0);
      // libevent hands the socket 16 KiB per write by default; a transfer
      // goes out in fewer, larger writes.
      bufferevent_set_max_single_write(bev, kTransferHighWater);
      if (!pump_transfer(conn)) break;
      continue;
    }
    if (answer == 0) continue;
    count_response(metrics_, DnsProtocol::tcp, {tcp_out_.data() + 2, answer});
    tcp_out_[0] = static_cast<uint8_t>(answer >> 8);
    tcp_out_[1] = static_cast<uint8_t>(answer);
    evbuffer_add(output, tcp_out_.data(), answer + 2);
  }
  if (view) publish_counters();
}

bool DnsWorker::pump_transfer(TcpConnection& conn) {
  bufferevent* bev = conn.bev.get();
  evbuffer* output = bufferevent_get_output(bev);
  const uint64_t now = wall_seconds();
  while (conn.transfer && evbuffer_get_length(output) < kTransferHighWater) {
    size_t n = conn.transfer->next({tcp_out_.data() + 2, kMaxMessage}, now);
    if (n > 0) {
      tcp_out_[0] = static_cast<uint8_t>(n >> 8);
      tcp_out_[1] = static_cast<uint8_t>(n);
      evbuffer_add(output, tcp_out_.data(), n + 2);
    }
    if (n == 0 || conn.transfer->done()) conn.transfer.reset();
  }
  if (conn.transfer) return false;
  bufferevent_setwatermark(bev, EV_WRITE, 0, 0);
  if (!conn.closing) bufferevent_enable(bev, EV_READ);
  return true;
}

void DnsWorker::tcp_drained(TcpConnection& conn) {
  if (conn.transfer) {
    if (!pump_transfer(conn)) return;
    // Done: answer what the client pipelined behind the transfer.
    if (!conn.closing) {
      answer_tcp(conn);
      return;
    }
    if (evbuffer_get_length(bufferevent_get_output(conn.bev.get())) > 0) return;
  }
  if (conn.closing) {
    close_tcp(conn);
    return;
  }
  if (conn.paused) {
    conn.paused = false;
    bufferevent_enable(conn.bev.get(), EV_READ);
    answer_tcp(conn);
  }
}

void DnsWorker::tcp_event(TcpConnection& conn, short what) {
  if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
      (conn.transfer || evbuffer_get_length(bufferevent_get_output(conn.bev.get())) > 0 ||
       conn.pending_updates > 0)) {
    // The client finished sending (half-close); flush what it asked for.
    conn.closing = true;
    bufferevent_disable(conn.bev.get(), EV_READ);
    return;
  }
  close_tcp(conn);
}

void DnsWorker::close_tcp(TcpConnection& conn) {
  tcp_by_serial_.erase(conn.serial);
  limiter_.release(reinterpret_cast<const sockaddr*>(&conn.peer));
  connections_.erase(conn.bev.get());  // frees the bufferevent and `conn`
  DnsMetrics::bump(metrics_.tcp_closed);
}

// --- UPDATE (RFC 2136) ---

void DnsWorker::udp_update(UdpSocket& sock, std::span<const uint8_t> message,
                           const sockaddr_storage& peer, socklen_t peer_length, msghdr& received) {
  struct Destination {
    sockaddr_storage peer;
    socklen_t peer_length;
    alignas(cmsghdr) uint8_t control[kPktinfoSpace];
    size_t control_length;
  };
  auto to = std::make_shared<Destination>();
  to->peer = peer;
  to->peer_length = peer_length;
  to->control_length = sock.pktinfo ? reply_pktinfo(received, to->control) : 0;
  const int fd = sock.fd.get();
  updates_->handle(message, reinterpret_cast<const sockaddr*>(&peer), inbox_,
                   [this, fd, to](const std::vector<uint8_t>& response) {
                     if (response.empty()) return;
                     iovec iov{const_cast<uint8_t*>(response.data()), response.size()};
                     msghdr reply{};
                     reply.msg_name = &to->peer;
                     reply.msg_namelen = to->peer_length;
                     reply.msg_iov = &iov;
                     reply.msg_iovlen = 1;
                     if (to->control_length > 0) {
                       reply.msg_control = to->control;
                       reply.msg_controllen = to->control_length;
                     }
                     if (::sendmsg(fd, &reply, MSG_DONTWAIT) < 0) {
                       counters_.udp_dropped.fetch_add(1, std::memory_order_relaxed);
                     }
                   });
}

void DnsWorker::tcp_update(TcpConnection& conn, std::span<const uint8_t> message) {
  ++conn.pending_updates;
  const uint64_t serial = conn.serial;
  updates_->handle(message, reinterpret_cast<const sockaddr*>(&conn.peer), inbox_,
                   [this, serial](const std::vector<uint8_t>& response) {
                     tcp_update_answered(serial, response);
                   });
}

void DnsWorker::tcp_update_answered(uint64_t serial, const std::vector<uint8_t>& response) {
  auto it = tcp_by_serial_.find(serial);
  if (it == tcp_by_serial_.end()) return;  // the client has gone
  TcpConnection& conn = *it->second;
  --conn.pending_updates;
  evbuffer* output = bufferevent_get_output(conn.bev.get());
  if (!response.empty()) {
    const uint8_t prefix[2] = {static_cast<uint8_t>(response.size() >> 8),
                               static_cast<uint8_t>(response.size())};
    evbuffer_add(output, prefix, 2);
    evbuffer_add(output, response.data(), response.size());
  } else if (conn.closing && conn.pending_updates == 0 && evbuffer_get_length(output) == 0) {
    close_tcp(conn);
  }
}

}  // namespace raftdns::server
