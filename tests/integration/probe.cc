// integration_probe: raw-socket helper for the integration tests. It sends
// what well-behaved clients never send (garbage datagrams, broken control
// frames, pipelined TCP) and listens for sd_notify datagrams.
//
//   integration_probe udp-garbage ADDR PORT
//   integration_probe tcp-pipeline ADDR PORT COUNT NAME
//   integration_probe tcp-zero-length ADDR PORT
//   integration_probe tcp-idle ADDR PORT MAX_SECONDS
//   integration_probe control-raw SOCKET TEXT      (TEXT sent as one frame body)
//   integration_probe control-version SOCKET VERSION
//   integration_probe control-oversized SOCKET
//   integration_probe control-garbled-then-status SOCKET
//   integration_probe notify-listen PATH SECONDS OUTFILE
//   integration_probe control-silent PATH SECONDS  (accepts, never answers)
//
// Exit status 0 means the expectation written next to each command held;
// otherwise a line on stderr says what happened.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <vector>

namespace {

using Bytes = std::vector<uint8_t>;

[[noreturn]] void die(const std::string& message) {
  std::fprintf(stderr, "integration_probe: %s\n", message.c_str());
  std::exit(1);
}

sockaddr_storage inet_address(const char* host, const char* port, socklen_t& len) {
  sockaddr_storage ss{};
  auto* v4 = reinterpret_cast<sockaddr_in*>(&ss);
  auto* v6 = reinterpret_cast<sockaddr_in6*>(&ss);
  if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
    v4->sin_family = AF_INET;
    v4->sin_port = htons(static_cast<uint16_t>(std::atoi(port)));
    len = sizeof(sockaddr_in);
  } else if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
    v6->sin6_family = AF_INET6;
    v6->sin6_port = htons(static_cast<uint16_t>(std::atoi(port)));
    len = sizeof(sockaddr_in6);
  } else {
    die(std::string("not a numeric address: ") + host);
  }
  return ss;
}

Bytes query(uint16_t id, const std::string& name, uint16_t qtype) {
  Bytes q = {
      static_cast<uint8_t>(id >> 8), static_cast<uint8_t>(id), 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0};
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
  q.push_back(static_cast<uint8_t>(qtype >> 8));
  q.push_back(static_cast<uint8_t>(qtype));
  q.push_back(0);
  q.push_back(1);
  return q;
}

bool wait_readable(int fd, int ms) {
  pollfd p{fd, POLLIN, 0};
  return ::poll(&p, 1, ms) > 0;
}

// Reads exactly n bytes or fails after `ms`.
bool read_exact(int fd, uint8_t* out, size_t n, int ms) {
  auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(ms);
  size_t got = 0;
  while (got < n) {
    int left = static_cast<int>(std::chrono::duration_cast<std::chrono::milliseconds>(
                                    deadline - std::chrono::steady_clock::now())
                                    .count());
    if (left <= 0 || !wait_readable(fd, left)) return false;
    ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r <= 0) return false;
    got += static_cast<size_t>(r);
  }
  return true;
}

void send_all(int fd, const Bytes& data) {
  size_t sent = 0;
  while (sent < data.size()) {
    ssize_t n = ::send(fd, data.data() + sent, data.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) die("send failed: " + std::string(std::strerror(errno)));
    sent += static_cast<size_t>(n);
  }
}

int tcp_connect(const char* host, const char* port) {
  socklen_t len = 0;
  sockaddr_storage ss = inet_address(host, port, len);
  int fd = ::socket(ss.ss_family, SOCK_STREAM, 0);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    die(std::string("cannot connect: ") + std::strerror(errno));
  }
  return fd;
}

int unix_connect(const char* path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) {
    die(std::string("cannot connect to ") + path + ": " + std::strerror(errno));
  }
  return fd;
}

Bytes framed(const std::string& body) {
  uint32_t n = static_cast<uint32_t>(body.size());
  Bytes out = {static_cast<uint8_t>(n >> 24), static_cast<uint8_t>(n >> 16),
               static_cast<uint8_t>(n >> 8), static_cast<uint8_t>(n)};
  out.insert(out.end(), body.begin(), body.end());
  return out;
}

// One control response body, or "" when the daemon closed without one.
std::string read_control_response(int fd) {
  uint8_t header[4];
  if (!read_exact(fd, header, 4, 5000)) return "";
  size_t n = size_t{header[0]} << 24 | size_t{header[1]} << 16 | size_t{header[2]} << 8 | header[3];
  if (n > (1u << 24)) die("response frame too large");
  std::string body(n, '\0');
  if (!read_exact(fd, reinterpret_cast<uint8_t*>(body.data()), n, 5000)) return "";
  return body;
}

// Expect: the daemon is still there afterwards (the script checks with dig).
int udp_garbage(const char* host, const char* port) {
  socklen_t len = 0;
  sockaddr_storage ss = inet_address(host, port, len);
  int fd = ::socket(ss.ss_family, SOCK_DGRAM, 0);
  std::vector<Bytes> packets = {
      {},                                                            // empty datagram
      {0x12},                                                        // shorter than an ID
      {0x12, 0x34, 0x01},                                            // shorter than a header
      {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0},                 // QDCOUNT 1, no question
      {0x12, 0x34, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0},                 // QDCOUNT 0
      {0x12, 0x34, 0x81, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 1},  // a response
      // A compression pointer to itself as the question name.
      {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1},
      // A label running past the end.
      {0x12, 0x34, 0x01, 0, 0, 1, 0, 0, 0, 0, 0, 0, 63, 'a', 'b'},
      // Every count at its maximum.
      {0x12, 0x34, 0x01, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff},
  };
  std::mt19937 rng(7);
  for (int i = 0; i < 200; ++i) {
    Bytes p(rng() % 600);
    for (auto& b : p) b = static_cast<uint8_t>(rng());
    packets.push_back(std::move(p));
  }
  packets.push_back(Bytes(8000, 0x41));  // larger than any query buffer
  for (const Bytes& p : packets) {
    ::sendto(fd, p.data(), p.size(), 0, reinterpret_cast<sockaddr*>(&ss), len);
  }
  std::printf("sent %zu malformed datagrams\n", packets.size());
  return 0;
}

// Expect: COUNT answers, in order, each NOERROR with the query's ID.
int tcp_pipeline(const char* host, const char* port, int count, const std::string& name) {
  int fd = tcp_connect(host, port);
  Bytes all;
  for (int i = 0; i < count; ++i) {
    Bytes q = query(static_cast<uint16_t>(1000 + i), name, 1);
    all.push_back(static_cast<uint8_t>(q.size() >> 8));
    all.push_back(static_cast<uint8_t>(q.size()));
    all.insert(all.end(), q.begin(), q.end());
  }
  send_all(fd, all);  // every query in one write: the server must split them
  for (int i = 0; i < count; ++i) {
    uint8_t prefix[2];
    if (!read_exact(fd, prefix, 2, 5000)) die("answer " + std::to_string(i + 1) + " missing");
    size_t n = size_t{prefix[0]} << 8 | prefix[1];
    Bytes answer(n);
    if (n < 12 || !read_exact(fd, answer.data(), n, 5000)) die("answer truncated");
    uint16_t id = static_cast<uint16_t>(answer[0] << 8 | answer[1]);
    if (id != 1000 + i) die("answer " + std::to_string(i + 1) + " has ID " + std::to_string(id));
    if ((answer[3] & 0x0f) != 0) die("answer " + std::to_string(i + 1) + " is not NOERROR");
    if ((answer[6] << 8 | answer[7]) == 0) die("answer " + std::to_string(i + 1) + " is empty");
  }
  ::close(fd);
  std::printf("%d pipelined answers in order\n", count);
  return 0;
}

// Expect: the server closes a connection whose message length is 0.
int tcp_zero_length(const char* host, const char* port) {
  int fd = tcp_connect(host, port);
  send_all(fd, {0, 0});
  uint8_t b;
  if (!wait_readable(fd, 5000)) die("connection still open after a zero-length message");
  if (::recv(fd, &b, 1, 0) > 0) die("server answered a zero-length message");
  std::printf("closed\n");
  return 0;
}

// Expect: an idle connection is closed by the server within MAX_SECONDS.
int tcp_idle(const char* host, const char* port, int max_seconds) {
  int fd = tcp_connect(host, port);
  auto start = std::chrono::steady_clock::now();
  if (!wait_readable(fd, max_seconds * 1000)) die("idle connection was not closed");
  uint8_t b;
  if (::recv(fd, &b, 1, 0) > 0) die("unexpected data on an idle connection");
  auto secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  std::printf("closed after %.1f s\n", secs);
  return 0;
}

// Prints the daemon's response body to one raw frame.
int control_raw(const char* path, const std::string& body) {
  int fd = unix_connect(path);
  send_all(fd, framed(body));
  std::string response = read_control_response(fd);
  if (response.empty()) die("no response");
  std::printf("%s\n", response.c_str());
  return 0;
}

int control_version(const char* path, const std::string& version) {
  return control_raw(path, "{\"v\":" + version + ",\"op\":\"status\"}");
}

// Expect: an error response and then the connection closes.
int control_oversized(const char* path) {
  int fd = unix_connect(path);
  send_all(fd, {0x7f, 0xff, 0xff, 0xff, '{'});  // 2 GiB announced
  std::string response = read_control_response(fd);
  if (response.empty()) die("no response to an oversized frame");
  std::printf("%s\n", response.c_str());
  uint8_t b;
  if (wait_readable(fd, 5000) && ::recv(fd, &b, 1, 0) > 0) die("connection not closed");
  return 0;
}

// Expect: a garbled frame gets an error, and the SAME connection then
// answers a valid status request (the framing survives a bad body).
int control_garbled_then_status(const char* path) {
  int fd = unix_connect(path);
  Bytes both = framed("\x01\xff{not json");
  Bytes status = framed("{\"v\":1,\"op\":\"status\"}");
  both.insert(both.end(), status.begin(), status.end());
  send_all(fd, both);
  std::string first = read_control_response(fd);
  std::string second = read_control_response(fd);
  std::printf("%s\n%s\n", first.c_str(), second.c_str());
  if (first.find("\"ok\":false") == std::string::npos) die("garbled frame was not refused");
  if (second.find("\"ok\":true") == std::string::npos) die("status after garbage failed");
  return 0;
}

// Writes every datagram received on a Unix datagram socket at PATH to
// OUTFILE (one per line) until SECONDS pass.
int notify_listen(const char* path, int seconds, const char* outfile) {
  int fd = ::socket(AF_UNIX, SOCK_DGRAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  ::unlink(path);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0) die("cannot bind");
  std::ofstream out(outfile, std::ios::app);
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  char buf[4096];
  while (std::chrono::steady_clock::now() < deadline) {
    if (!wait_readable(fd, 100)) continue;
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) continue;
    std::string msg(buf, static_cast<size_t>(n));
    for (char& c : msg) {
      if (c == '\n') c = ' ';
    }
    out << msg << std::endl;
  }
  return 0;
}

// A control socket that accepts connections and never answers, so clients
// must rely on their own timeout.
int control_silent(const char* path, int seconds) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path, sizeof(addr.sun_path) - 1);
  ::unlink(path);
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 || ::listen(fd, 8) != 0) {
    die("cannot listen");
  }
  std::vector<int> accepted;
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
  while (std::chrono::steady_clock::now() < deadline) {
    if (wait_readable(fd, 100)) accepted.push_back(::accept(fd, nullptr, nullptr));
  }
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> a(argv + 1, argv + argc);
  auto need = [&](size_t n) {
    if (a.size() != n) die("wrong number of arguments for " + (a.empty() ? "" : a[0]));
  };
  if (a.empty()) die("no command");
  if (a[0] == "udp-garbage") return need(3), udp_garbage(argv[2], argv[3]);
  if (a[0] == "tcp-pipeline")
    return need(5), tcp_pipeline(argv[2], argv[3], std::atoi(argv[4]), a[4]);
  if (a[0] == "tcp-zero-length") return need(3), tcp_zero_length(argv[2], argv[3]);
  if (a[0] == "tcp-idle") return need(4), tcp_idle(argv[2], argv[3], std::atoi(argv[4]));
  if (a[0] == "control-raw") return need(3), control_raw(argv[2], a[2]);
  if (a[0] == "control-version") return need(3), control_version(argv[2], a[2]);
  if (a[0] == "control-oversized") return need(2), control_oversized(argv[2]);
  if (a[0] == "control-garbled-then-status") return need(2), control_garbled_then_status(argv[2]);
  if (a[0] == "notify-listen") return need(4), notify_listen(argv[2], std::atoi(argv[3]), argv[4]);
  if (a[0] == "control-silent") return need(3), control_silent(argv[2], std::atoi(argv[3]));
  die("unknown command " + a[0]);
}
