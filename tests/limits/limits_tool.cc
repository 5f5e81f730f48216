// limits_tool: bounded floods and measuring clients for the limits tests.
// Every mode sends a fixed number of packets or connections and stops at a
// deadline, and prints key=value figures for the test script to check.
//
//   limits_tool rrl SERVER PORT FLOOD_SRC PROBE_SRCS COUNT NAME PROBE_INTERVAL_US
//       Sends COUNT UDP queries for NAME/A from FLOOD_SRC as fast as the
//       socket takes them, counting full and truncated answers. While the
//       flood is being sent, other clients (PROBE_SRCS, comma-separated
//       addresses, taking turns) ask one query at a time, one every
//       PROBE_INTERVAL_US, and record the latency.
//   limits_tool tcp-hold SERVER PORT SRC COUNT HOLD_MS
//       Opens COUNT TCP connections from SRC, reports how many the server
//       closed, asks one query on each open one, then holds them for HOLD_MS.
//   limits_tool tcp-idle SERVER PORT SRC QUERY_FIRST MAX_MS
//       Opens one connection (after one query when QUERY_FIRST is 1) and
//       reports after how long the server closed it.
//   limits_tool oversized SERVER PORT udp|tcp SIZE NAME
//       Sends one query for NAME/A padded (EDNS padding) to exactly SIZE
//       bytes and reports whether it was answered.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;
using Clock = std::chrono::steady_clock;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "limits_tool: %s\n", message.c_str());
  std::exit(2);
}

sockaddr_storage address(const char* host, int port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(port));
    len = sizeof(sockaddr_in6);
  } else {
    die(std::string("not a numeric address: ") + host);
  }
  return ss;
}

// A socket of `type` bound to `source` (port 0) and connected to the server.
int open_from(const char* source, const char* server, int port, int type) {
  socklen_t server_len = 0, source_len = 0;
  sockaddr_storage to = address(server, port, server_len);
  sockaddr_storage from = address(source, 0, source_len);
  int fd = ::socket(to.ss_family, type | SOCK_CLOEXEC, 0);
  if (fd < 0) die(std::string("socket: ") + std::strerror(errno));
  if (::bind(fd, reinterpret_cast<sockaddr*>(&from), source_len) != 0) {
    die(std::string("cannot bind to ") + source + ": " + std::strerror(errno));
  }
  if (::connect(fd, reinterpret_cast<sockaddr*>(&to), server_len) != 0) {
    die(std::string("cannot connect from ") + source + ": " + std::strerror(errno));
  }
  return fd;
}

void put16(Bytes& b, size_t v) {
  b.push_back(static_cast<uint8_t>(v >> 8));
  b.push_back(static_cast<uint8_t>(v));
}

// A query for NAME/A with RD clear. When `pad_to` is set, an OPT record with
// an EDNS padding option (RFC 7830) brings the message to exactly that size.
Bytes make_query(uint16_t id, const std::string& name, size_t pad_to = 0) {
  Bytes q;
  put16(q, id);
  put16(q, 0);
  put16(q, 1);
  put16(q, 0);
  put16(q, 0);
  put16(q, pad_to ? 1 : 0);
  size_t start = 0;
  while (start < name.size()) {
    size_t dot = name.find('.', start);
    if (dot == std::string::npos) dot = name.size();
    q.push_back(static_cast<uint8_t>(dot - start));
    q.insert(q.end(), name.begin() + static_cast<long>(start),
             name.begin() + static_cast<long>(dot));
    start = dot + 1;
  }
  q.push_back(0);
  put16(q, 1);  // A
  put16(q, 1);  // IN
  if (pad_to) {
    const size_t opt_fixed = 11, option_header = 4;
    if (pad_to < q.size() + opt_fixed + option_header) die("SIZE too small for a padded query");
    const size_t padding = pad_to - q.size() - opt_fixed - option_header;
    q.push_back(0);  // root owner
    put16(q, 41);    // OPT
    put16(q, 1232);  // UDP payload size
    put16(q, 0);     // extended rcode, version
    put16(q, 0);     // flags
    put16(q, option_header + padding);
    put16(q, 12);  // Padding
    put16(q, padding);
    q.insert(q.end(), padding, 0);
  }
  return q;
}

struct Reply {
  uint16_t id = 0;
  bool truncated = false;
  uint8_t rcode = 0;
  uint16_t answers = 0;
};

bool parse_reply(const uint8_t* p, size_t n, Reply& r) {
  if (n < 12 || !(p[2] & 0x80)) return false;
  r.id = static_cast<uint16_t>(p[0] << 8 | p[1]);
  r.truncated = (p[2] & 0x02) != 0;
  r.rcode = p[3] & 0x0f;
  r.answers = static_cast<uint16_t>(p[6] << 8 | p[7]);
  return true;
}

long long micros_since(Clock::time_point t) {
  return std::chrono::duration_cast<std::chrono::microseconds>(Clock::now() - t).count();
}

int remaining_ms(Clock::time_point deadline) {
  auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
  return left < 0 ? 0 : static_cast<int>(left);
}

// --- rrl ---

struct FloodResult {
  long sent = 0, full = 0, truncated = 0, other = 0;
  double seconds = 0;
};

void count_replies(int fd, FloodResult& result) {
  constexpr int kBatch = 64;
  static uint8_t buffers[kBatch][1500];
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  for (;;) {
    for (int i = 0; i < kBatch; ++i) {
      iov[i] = {buffers[i], sizeof(buffers[i])};
      msgs[i] = {};
      msgs[i].msg_hdr.msg_iov = &iov[i];
      msgs[i].msg_hdr.msg_iovlen = 1;
    }
    int n = ::recvmmsg(fd, msgs, kBatch, MSG_DONTWAIT, nullptr);
    if (n <= 0) return;
    for (int i = 0; i < n; ++i) {
      Reply r;
      if (!parse_reply(buffers[i], msgs[i].msg_len, r)) {
        ++result.other;
      } else if (r.truncated) {
        ++result.truncated;
      } else if (r.rcode == 0 && r.answers > 0) {
        ++result.full;
      } else {
        ++result.other;
      }
    }
  }
}

constexpr double kMinFloodSeconds = 1.5;

FloodResult flood(const char* server, int port, const char* source, long count,
                  const std::string& name, std::atomic<bool>& sending) {
  FloodResult result;
  int fd = open_from(source, server, port, SOCK_DGRAM);
  // Room for every reply, so the client never drops what the server sent.
  int big = 16 << 20;
  if (::setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, sizeof(big)) != 0) {
    ::setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof(big));
  }
  constexpr int kBatch = 64;
  std::vector<Bytes> queries;
  for (int i = 0; i < kBatch; ++i) queries.push_back(make_query(static_cast<uint16_t>(i), name));
  mmsghdr msgs[kBatch];
  iovec iov[kBatch];
  for (int i = 0; i < kBatch; ++i) {
    iov[i] = {queries[static_cast<size_t>(i)].data(), queries[static_cast<size_t>(i)].size()};
    msgs[i] = {};
    msgs[i].msg_hdr.msg_iov = &iov[i];
    msgs[i].msg_hdr.msg_iovlen = 1;
  }
  const auto start = Clock::now();
  const auto send_deadline = start + std::chrono::seconds(20);
  while (result.sent < count && Clock::now() < send_deadline) {
    const int want = static_cast<int>(std::min<long>(kBatch, count - result.sent));
    int n = ::sendmmsg(fd, msgs, static_cast<unsigned>(want), MSG_DONTWAIT);
    if (n > 0) {
      result.sent += n;
      // Spread the flood over at least kMinFloodSeconds (still thousands of
      // queries a second, far above any rate limit), so the other clients
      // measure their latency during it even on a fast machine.
      const auto due = start + std::chrono::microseconds(static_cast<long long>(
                                   kMinFloodSeconds * 1e6 * static_cast<double>(result.sent) /
                                   static_cast<double>(count)));
      while (Clock::now() < due) {
        pollfd p{fd, POLLIN, 0};
        ::poll(&p, 1, 1);
        count_replies(fd, result);
      }
    } else if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR &&
               errno != ECONNREFUSED) {
      die(std::string("sendmmsg: ") + std::strerror(errno));
    } else {
      pollfd p{fd, POLLOUT, 0};
      ::poll(&p, 1, 10);
    }
    count_replies(fd, result);
  }
  result.seconds = static_cast<double>(micros_since(start)) / 1e6;
  sending.store(false);
  // Stragglers: stop after 300 ms of silence, or 3 s in all.
  const auto drain_deadline = Clock::now() + std::chrono::seconds(3);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, std::min(300, remaining_ms(drain_deadline))) <= 0) break;
    count_replies(fd, result);
  }
  ::close(fd);
  return result;
}

struct ProbeResult {
  long sent = 0, answered = 0, truncated = 0, lost = 0;
  std::vector<long long> latency_us;
};

ProbeResult probe(const char* server, int port, const std::vector<std::string>& sources,
                  const std::string& name, int interval_us, const std::atomic<bool>& flooding) {
  ProbeResult result;
  std::vector<int> fds;
  for (const std::string& source : sources) {
    fds.push_back(open_from(source.c_str(), server, port, SOCK_DGRAM));
  }
  uint16_t id = 0x4000;
  // Bounded: at most 20000 queries even if the flood never ends.
  while (flooding.load() && result.sent < 20000) {
    const int fd = fds[static_cast<size_t>(result.sent) % fds.size()];
    Bytes q = make_query(++id, name);
    const auto sent_at = Clock::now();
    if (::send(fd, q.data(), q.size(), 0) < 0) die(std::string("send: ") + std::strerror(errno));
    ++result.sent;
    const auto deadline = sent_at + std::chrono::seconds(1);
    bool got = false;
    while (!got) {
      pollfd p{fd, POLLIN, 0};
      if (::poll(&p, 1, remaining_ms(deadline)) <= 0) break;
      uint8_t buf[1500];
      ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
      Reply r;
      if (n > 0 && parse_reply(buf, static_cast<size_t>(n), r) && r.id == id) {
        got = true;
        result.latency_us.push_back(micros_since(sent_at));
        if (r.truncated) {
          ++result.truncated;
        } else if (r.rcode == 0 && r.answers > 0) {
          ++result.answered;
        }
      }
    }
    if (!got) ++result.lost;
    std::this_thread::sleep_for(std::chrono::microseconds(interval_us));
  }
  for (int fd : fds) ::close(fd);
  return result;
}

long long percentile(std::vector<long long> v, double p) {
  if (v.empty()) return -1;
  std::sort(v.begin(), v.end());
  size_t i = static_cast<size_t>(p * static_cast<double>(v.size() - 1) + 0.5);
  return v[std::min(i, v.size() - 1)];
}

int run_rrl(char** argv) {
  const char* server = argv[0];
  const int port = std::atoi(argv[1]);
  const char* flood_source = argv[2];
  std::vector<std::string> probe_sources;
  for (std::string list = argv[3]; !list.empty();) {
    size_t comma = list.find(',');
    probe_sources.push_back(list.substr(0, comma));
    list = comma == std::string::npos ? "" : list.substr(comma + 1);
  }
  const long count = std::atol(argv[4]);
  const std::string name = argv[5];
  const int interval_us = std::atoi(argv[6]);

  std::atomic<bool> flooding{true};
  ProbeResult p;
  std::thread prober([&] { p = probe(server, port, probe_sources, name, interval_us, flooding); });
  FloodResult f = flood(server, port, flood_source, count, name, flooding);
  prober.join();

  const long limited = f.sent - f.full;
  std::printf("flood_sent=%ld\nflood_full=%ld\nflood_truncated=%ld\nflood_other=%ld\n", f.sent,
              f.full, f.truncated, f.other);
  std::printf("flood_unanswered=%ld\nflood_seconds=%.3f\n", f.sent - f.full - f.truncated - f.other,
              f.seconds);
  std::printf("flood_limited_percent=%.2f\n",
              f.sent ? 100.0 * static_cast<double>(limited) / static_cast<double>(f.sent) : 0.0);
  std::printf("probe_sent=%ld\nprobe_answered=%ld\nprobe_truncated=%ld\nprobe_lost=%ld\n", p.sent,
              p.answered, p.truncated, p.lost);
  std::printf("probe_p50_us=%lld\nprobe_p99_us=%lld\nprobe_max_us=%lld\n",
              percentile(p.latency_us, 0.50), percentile(p.latency_us, 0.99),
              percentile(p.latency_us, 1.0));
  return 0;
}

// --- TCP ---

bool read_exact(int fd, uint8_t* out, size_t n, Clock::time_point deadline) {
  size_t got = 0;
  while (got < n) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) return false;
    ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

bool send_framed(int fd, const Bytes& message) {
  Bytes framed;
  put16(framed, message.size());
  framed.insert(framed.end(), message.begin(), message.end());
  return ::send(fd, framed.data(), framed.size(), MSG_NOSIGNAL) ==
         static_cast<ssize_t>(framed.size());
}

// One framed query and its answer; false if none came within `ms`.
bool tcp_ask(int fd, const Bytes& query, int ms) {
  if (!send_framed(fd, query)) return false;
  const auto deadline = Clock::now() + std::chrono::milliseconds(ms);
  uint8_t prefix[2];
  if (!read_exact(fd, prefix, 2, deadline)) return false;
  Bytes answer(size_t{prefix[0]} << 8 | prefix[1]);
  if (!read_exact(fd, answer.data(), answer.size(), deadline)) return false;
  Reply r;
  return parse_reply(answer.data(), answer.size(), r) && r.id == (query[0] << 8 | query[1]);
}

// True when the server has closed (EOF or reset) `fd` by now.
bool closed_by_server(int fd) {
  pollfd p{fd, POLLIN, 0};
  if (::poll(&p, 1, 0) <= 0) return false;
  uint8_t byte;
  ssize_t n = ::recv(fd, &byte, 1, MSG_DONTWAIT | MSG_PEEK);
  return n <= 0;
}

int run_tcp_hold(char** argv) {
  const char* server = argv[0];
  const int port = std::atoi(argv[1]);
  const char* source = argv[2];
  const int count = std::atoi(argv[3]);
  const int hold_ms = std::atoi(argv[4]);
  if (count < 1 || count > 4096) die("COUNT must be 1-4096");
  const auto start = Clock::now();
  std::vector<int> fds;
  for (int i = 0; i < count; ++i) fds.push_back(open_from(source, server, port, SOCK_STREAM));
  // The server accepts (and refuses) from its event loops; give it a moment.
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  std::vector<int> open;
  for (int fd : fds) {
    if (closed_by_server(fd)) {
      ::close(fd);
    } else {
      open.push_back(fd);
    }
  }
  int served = 0;
  uint16_t id = 1;
  for (int fd : open) served += tcp_ask(fd, make_query(id++, "www.example.com"), 2000);
  std::printf("open=%zu\nclosed=%zu\nserved=%d\n", open.size(), fds.size() - open.size(), served);
  std::fflush(stdout);
  const auto until = start + std::chrono::milliseconds(hold_ms);
  if (Clock::now() < until) std::this_thread::sleep_until(until);
  for (int fd : open) ::close(fd);
  return 0;
}

int run_tcp_idle(char** argv) {
  const char* server = argv[0];
  const int port = std::atoi(argv[1]);
  const char* source = argv[2];
  const bool query_first = std::atoi(argv[3]) != 0;
  const int max_ms = std::atoi(argv[4]);
  int fd = open_from(source, server, port, SOCK_STREAM);
  if (query_first && !tcp_ask(fd, make_query(7, "www.example.com"), 2000)) {
    die("the first query on the connection was not answered");
  }
  const auto idle_since = Clock::now();
  const auto deadline = idle_since + std::chrono::milliseconds(max_ms);
  for (;;) {
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, remaining_ms(deadline)) <= 0) {
      std::printf("closed_after_ms=-1\n");  // still open at the deadline
      return 0;
    }
    uint8_t buf[512];
    if (::recv(fd, buf, sizeof(buf), 0) <= 0) break;
  }
  std::printf("closed_after_ms=%lld\n", micros_since(idle_since) / 1000);
  ::close(fd);
  return 0;
}

int run_oversized(char** argv) {
  const char* server = argv[0];
  const int port = std::atoi(argv[1]);
  const std::string proto = argv[2];
  const size_t size = static_cast<size_t>(std::atol(argv[3]));
  const std::string name = argv[4];
  if (size > 65535) die("SIZE must be at most 65535");
  Bytes q = make_query(0x5151, name, size);
  const char* source = std::strchr(server, ':') ? "::1" : "127.0.0.1";
  const auto deadline = Clock::now() + std::chrono::seconds(1);
  if (proto == "udp") {
    int fd = open_from(source, server, port, SOCK_DGRAM);
    if (::send(fd, q.data(), q.size(), 0) != static_cast<ssize_t>(q.size())) {
      die(std::string("send: ") + std::strerror(errno));
    }
    pollfd p{fd, POLLIN, 0};
    uint8_t buf[1500];
    Reply r;
    bool answered =
        ::poll(&p, 1, remaining_ms(deadline)) > 0 &&
        parse_reply(buf, static_cast<size_t>(std::max<ssize_t>(0, ::recv(fd, buf, sizeof(buf), 0))),
                    r) &&
        r.id == 0x5151;
    std::printf("size=%zu\nanswered=%d\n", q.size(), answered ? 1 : 0);
    return 0;
  }
  if (proto != "tcp") die("protocol must be udp or tcp");
  int fd = open_from(source, server, port, SOCK_STREAM);
  bool answered = tcp_ask(fd, q, 1000);
  // After a refusal the server must also have closed the connection.
  bool closed = !answered && closed_by_server(fd);
  std::printf("size=%zu\nanswered=%d\nclosed=%d\n", q.size(), answered ? 1 : 0, closed ? 1 : 0);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  if (mode == "rrl" && argc == 9) return run_rrl(argv + 2);
  if (mode == "tcp-hold" && argc == 7) return run_tcp_hold(argv + 2);
  if (mode == "tcp-idle" && argc == 7) return run_tcp_idle(argv + 2);
  if (mode == "oversized" && argc == 7) return run_oversized(argv + 2);
  std::fprintf(stderr, "usage: see the comment at the top of limits_tool.cc\n");
  return 2;
}
