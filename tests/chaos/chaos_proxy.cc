// chaos_proxy: a TCP relay between cluster peers on loopback that drops, slows
// or cuts each direction on command; the chaos test's fallback when it cannot
// make network namespaces.
//
//   chaos_proxy ROUTES CONTROL_FIFO SEED
//
// ROUTES holds one line per link, "FROM TO LISTEN_PORT TARGET_PORT": node FROM
// reaches node TO by dialing 127.0.0.1:LISTEN_PORT, which is relayed to
// 127.0.0.1:TARGET_PORT. CONTROL_FIFO takes one command per line:
//
//   drop FROM TO PCT   bytes travelling from node FROM to node TO: PCT 100
//                      discards them (a cut); a smaller PCT holds back that
//                      share of chunks for up to 400 ms, in order, which is
//                      what a lossy path looks like to TCP (retransmissions)
//   heal               every link clean again; connections that lost bytes
//                      while cut are closed, as their peers would have timed
//                      them out, so both ends reconnect
//
// A stream relay cannot lose single packets without corrupting the stream,
// hence delays for partial loss and whole-direction discards for cuts.
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <random>
#include <sstream>
#include <string>
#include <utility>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;
using Millis = std::chrono::milliseconds;

constexpr int kMaxHoldMs = 400;
constexpr size_t kChunk = 16384;
constexpr size_t kMaxQueued = 4 << 20;  // stop reading a side that far ahead

struct Route {
  int from = 0;
  int to = 0;
  uint16_t listen_port = 0;
  uint16_t target_port = 0;
  int listen_fd = -1;
};

struct Chunk {
  Clock::time_point release;
  std::string bytes;
  size_t sent = 0;
};

// One direction of a relayed connection: bytes read from `in` wait in
// `queue` until their release time, then go out on `out`.
struct Direction {
  int from_node = 0;
  int to_node = 0;
  std::deque<Chunk> queue;
  size_t queued = 0;
  Clock::time_point last_release{};
};

struct Conn {
  int client = -1;    // the dialing node's side
  int upstream = -1;  // the dialed node's side
  bool connecting = true;
  bool tainted = false;  // lost bytes while cut: closed on heal
  Direction up;          // client -> upstream
  Direction down;        // upstream -> client
};

int fail(const std::string& what) {
  std::fprintf(stderr, "chaos_proxy: %s: %s\n", what.c_str(), std::strerror(errno));
  return 1;
}

bool set_nonblocking(int fd) {
  int flags = fcntl(fd, F_GETFL, 0);
  return flags >= 0 && fcntl(fd, F_SETFL, flags | O_NONBLOCK) == 0;
}

sockaddr_in loopback(uint16_t port) {
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return a;
}

class Proxy {
 public:
  Proxy(std::vector<Route> routes, int control_fd, uint32_t seed)
      : routes_(std::move(routes)), control_fd_(control_fd), rng_(seed) {}

  int run() {
    for (auto& r : routes_) {
      r.listen_fd = socket(AF_INET, SOCK_STREAM, 0);
      int one = 1;
      setsockopt(r.listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
      auto addr = loopback(r.listen_port);
      if (bind(r.listen_fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
        return fail("bind 127.0.0.1:" + std::to_string(r.listen_port));
      }
      if (listen(r.listen_fd, 64) != 0 || !set_nonblocking(r.listen_fd)) return fail("listen");
    }
    std::fprintf(stderr, "chaos_proxy: relaying %zu links\n", routes_.size());
    for (;;) {
      std::vector<pollfd> fds;
      std::vector<std::pair<int, int>> owners;  // (kind, index): 0 route, 1 control, 2 conn
      for (size_t i = 0; i < routes_.size(); ++i) {
        fds.push_back({routes_[i].listen_fd, POLLIN, 0});
        owners.emplace_back(0, static_cast<int>(i));
      }
      fds.push_back({control_fd_, POLLIN, 0});
      owners.emplace_back(1, 0);
      for (auto& [id, c] : conns_) {
        short cev = 0, uev = 0;
        if (!c->connecting) {
          if (c->up.queued < kMaxQueued) cev |= POLLIN;
          if (c->down.queued < kMaxQueued) uev |= POLLIN;
        } else {
          uev |= POLLOUT;
        }
        if (ready(c->down)) cev |= POLLOUT;
        if (!c->connecting && ready(c->up)) uev |= POLLOUT;
        fds.push_back({c->client, cev, 0});
        owners.emplace_back(2, id);
        fds.push_back({c->upstream, uev, 0});
        owners.emplace_back(3, id);
      }
      int wait_ms = next_release_ms();
      if (poll(fds.data(), fds.size(), wait_ms) < 0 && errno != EINTR) return fail("poll");
      for (size_t i = 0; i < fds.size(); ++i) {
        if (!fds[i].revents) continue;
        auto [kind, idx] = owners[i];
        if (kind == 0) {
          accept_on(routes_[idx]);
        } else if (kind == 1) {
          read_control();
        } else {
          auto it = conns_.find(idx);
          if (it == conns_.end()) continue;
          if (!serve(*it->second, kind == 2, fds[i].revents)) close_conn(idx);
        }
      }
      flush_all();
    }
  }

 private:
  static bool ready(const Direction& d) {
    return !d.queue.empty() && d.queue.front().release <= Clock::now();
  }

  int next_release_ms() const {
    int best = 100;
    auto now = Clock::now();
    for (const auto& [id, c] : conns_) {
      for (const Direction* d : {&c->up, &c->down}) {
        if (d->queue.empty()) continue;
        auto ms = std::chrono::duration_cast<Millis>(d->queue.front().release - now).count();
        best = std::min<int>(best, static_cast<int>(std::max<int64_t>(ms, 0)));
      }
    }
    return best;
  }

  void accept_on(const Route& r) {
    for (;;) {
      int fd = accept(r.listen_fd, nullptr, nullptr);
      if (fd < 0) return;
      int up = socket(AF_INET, SOCK_STREAM, 0);
      set_nonblocking(fd);
      set_nonblocking(up);
      int one = 1;
      setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      setsockopt(up, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
      auto addr = loopback(r.target_port);
      if (connect(up, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 &&
          errno != EINPROGRESS) {
        close(fd);
        close(up);
        continue;
      }
      auto c = std::make_unique<Conn>();
      c->client = fd;
      c->upstream = up;
      c->up.from_node = r.from;
      c->up.to_node = r.to;
      c->down.from_node = r.to;
      c->down.to_node = r.from;
      conns_.emplace(next_id_++, std::move(c));
    }
  }

  // Reads what arrived on one side and queues it by the link's current rule.
  bool take(int fd, Direction& d, Conn& c) {
    char buf[kChunk];
    ssize_t n = read(fd, buf, sizeof buf);
    if (n == 0) return false;
    if (n < 0) return errno == EAGAIN || errno == EINTR;
    int pct = loss_[{d.from_node, d.to_node}];
    if (pct >= 100) {
      c.tainted = true;
      return true;
    }
    auto now = Clock::now();
    auto release = std::max(now, d.last_release);
    if (pct > 0 && static_cast<int>(rng_() % 100) < pct) {
      release = std::max(release, now + Millis(rng_() % kMaxHoldMs));
    }
    d.last_release = release;
    d.queue.push_back({release, std::string(buf, static_cast<size_t>(n)), 0});
    d.queued += static_cast<size_t>(n);
    return true;
  }

  bool give(int fd, Direction& d) {
    auto now = Clock::now();
    while (!d.queue.empty() && d.queue.front().release <= now) {
      Chunk& ch = d.queue.front();
      ssize_t n = write(fd, ch.bytes.data() + ch.sent, ch.bytes.size() - ch.sent);
      if (n < 0) return errno == EAGAIN || errno == EINTR;
      ch.sent += static_cast<size_t>(n);
      d.queued -= static_cast<size_t>(n);
      if (ch.sent < ch.bytes.size()) return true;
      d.queue.pop_front();
    }
    return true;
  }

  bool serve(Conn& c, bool client_side, short revents) {
    if (!client_side && c.connecting) {
      if (revents & (POLLOUT | POLLERR | POLLHUP)) {
        int err = 0;
        socklen_t len = sizeof err;
        getsockopt(c.upstream, SOL_SOCKET, SO_ERROR, &err, &len);
        if (err != 0) return false;
        c.connecting = false;
      }
      return true;
    }
    int fd = client_side ? c.client : c.upstream;
    Direction& in = client_side ? c.up : c.down;
    Direction& out = client_side ? c.down : c.up;
    if (revents & POLLIN) {
      if (!take(fd, in, c)) return false;
    } else if (revents & (POLLERR | POLLHUP)) {
      return false;
    }
    if (revents & POLLOUT) return give(fd, out);
    return true;
  }

  void flush_all() {
    std::vector<int> dead;
    for (auto& [id, c] : conns_) {
      if (!give(c->client, c->down))
        dead.push_back(id);
      else if (!c->connecting && !give(c->upstream, c->up))
        dead.push_back(id);
    }
    for (int id : dead) close_conn(id);
  }

  void close_conn(int id) {
    auto it = conns_.find(id);
    if (it == conns_.end()) return;
    close(it->second->client);
    close(it->second->upstream);
    conns_.erase(it);
  }

  void read_control() {
    char buf[4096];
    ssize_t n = read(control_fd_, buf, sizeof buf);
    if (n <= 0) return;
    pending_.append(buf, static_cast<size_t>(n));
    size_t nl;
    while ((nl = pending_.find('\n')) != std::string::npos) {
      std::string line = pending_.substr(0, nl);
      pending_.erase(0, nl + 1);
      command(line);
    }
  }

  void command(const std::string& line) {
    std::istringstream in(line);
    std::string verb;
    in >> verb;
    if (verb == "drop") {
      int from = 0, to = 0, pct = 100;
      in >> from >> to >> pct;
      loss_[{from, to}] = std::clamp(pct, 0, 100);
      std::fprintf(stderr, "chaos_proxy: %d -> %d loses %d%%\n", from, to, pct);
    } else if (verb == "heal") {
      loss_.clear();
      std::vector<int> tainted;
      for (auto& [id, c] : conns_) {
        if (c->tainted) tainted.push_back(id);
      }
      for (int id : tainted) close_conn(id);
      std::fprintf(stderr, "chaos_proxy: healed, closed %zu cut connections\n", tainted.size());
    } else if (!verb.empty()) {
      std::fprintf(stderr, "chaos_proxy: unknown command '%s'\n", line.c_str());
    }
  }

  std::vector<Route> routes_;
  int control_fd_;
  std::mt19937 rng_;
  std::map<std::pair<int, int>, int> loss_;
  std::map<int, std::unique_ptr<Conn>> conns_;
  int next_id_ = 0;
  std::string pending_;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc != 4) {
    std::fprintf(stderr, "usage: chaos_proxy ROUTES CONTROL_FIFO SEED\n");
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  std::vector<Route> routes;
  std::ifstream in(argv[1]);
  Route r;
  while (in >> r.from >> r.to >> r.listen_port >> r.target_port) routes.push_back(r);
  if (routes.empty()) {
    std::fprintf(stderr, "chaos_proxy: no routes in %s\n", argv[1]);
    return 2;
  }
  // Read-write, so the FIFO never reports end-of-file between writers.
  int control = open(argv[2], O_RDWR | O_NONBLOCK);
  if (control < 0) return fail(std::string("open ") + argv[2]);
  return Proxy(std::move(routes), control,
               static_cast<uint32_t>(std::strtoul(argv[3], nullptr, 10)))
      .run();
}
