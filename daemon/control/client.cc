// Blocking control-socket client: one request, one response, one deadline;
// or a connection with several requests in flight, answered in order.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include "common/unique_fd.h"
#include "daemon/control/protocol.h"

namespace raftdns::control {
namespace {


using Clock = std::chrono::steady_clock;

int remaining_ms(Clock::time_point deadline) {
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() < 0 ? 0 : static_cast<int>(left.count());
}


}  // namespace

Connection::Connection(Connection&& o) noexcept
    : fd_(std::exchange(o.fd_, -1)), path_(std::move(o.path_)), reader_(std::move(o.reader_)) {}

Connection& Connection::operator=(Connection&& o) noexcept {
  if (this != &o) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = std::exchange(o.fd_, -1);
    path_ = std::move(o.path_);
    reader_ = std::move(o.reader_);
  }
  return *this;
}

Connection::~Connection() {
  if (fd_ >= 0) ::close(fd_);
}

Result<Connection> Connection::open(const std::string& socket_path, uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (socket_path.empty() || socket_path.size() >= sizeof(addr.sun_path)) {
    return make_error("socket path \"" + socket_path + "\" is empty or too long");
  }
  std::memcpy(addr.sun_path, socket_path.data(), socket_path.size());

  UniqueFd sock(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (sock.get() < 0) return make_error("cannot create a socket: " + errno_text(errno));
  if (::connect(sock.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
    // A Unix stream connect completes or fails at once; EAGAIN means the
    // listen backlog is full, which a deadline should ride out.
    if (errno == EACCES || errno == EPERM) {
      return make_error("cannot connect to " + socket_path + ": " + errno_text(errno) +
                        " (dnsadm needs root or membership in the socket's group)");
    }
    if (errno != EAGAIN && errno != EINPROGRESS) {
      return make_error("cannot connect to " + socket_path + ": " + errno_text(errno) +
                        " (is raftdnsd running?)");
    }
    pollfd pfd{sock.get(), POLLOUT, 0};
    int n = ::poll(&pfd, 1, remaining_ms(deadline));
    if (n <= 0) return make_error("timed out connecting to " + socket_path);
    int err = 0;
    socklen_t len = sizeof(err);
    ::getsockopt(sock.get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) return make_error("cannot connect to " + socket_path + ": " + errno_text(err));
  }
  Connection c;
  c.fd_ = sock.release();
  c.path_ = socket_path;
  return c;
}

Status Connection::send(const Request& request, uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  const std::string body = encode_request_body(request);
  if (body.size() > kMaxFrameSize) {
    return make_error("request of " + std::to_string(body.size()) +
                      " bytes is larger than the control socket's limit of " +
                      std::to_string(kMaxFrameSize) + " bytes; split it into smaller parts");
  }
  const std::string out = frame(body);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{fd_, POLLOUT, 0};
      int ready = ::poll(&pfd, 1, remaining_ms(deadline));
      if (ready < 0 && errno == EINTR) continue;  // a signal: the caller looks at it later
      if (ready <= 0) return make_error("timed out sending the request to " + path_);
      continue;
    }
    return make_error("cannot send to " + path_ + ": " + errno_text(errno));
  }
  return {};
}

Result<Response> Connection::receive(uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  uint8_t buf[65536];
  for (;;) {
    if (auto body = reader_.next()) {
      auto decoded =
          decode_response_body({reinterpret_cast<const uint8_t*>(body->data()), body->size()});
      if (!decoded) return make_error("bad response from raftdnsd: " + decoded.error());
      return decoded;
    }
    if (reader_.oversized()) return make_error("response from raftdnsd is too large");
    pollfd pfd{fd_, POLLIN, 0};
    int ready = ::poll(&pfd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      return make_error("timed out after " + std::to_string(timeout_ms) +
                        " ms waiting for raftdnsd");
    }
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return make_error("cannot read from " + path_ + ": " + errno_text(errno));
    if (n == 0) return make_error("raftdnsd closed the connection without answering");
    reader_.feed({buf, static_cast<size_t>(n)});
  }
}

Result<Response> call(const std::string& socket_path, const Request& request, uint32_t timeout_ms) {
  const auto deadline = Clock::now() + std::chrono::milliseconds(timeout_ms);
  auto left = [&] { return static_cast<uint32_t>(remaining_ms(deadline)); };
  auto conn = Connection::open(socket_path, timeout_ms);
  if (!conn) return std::move(conn).take_error();
  if (auto s = conn->send(request, left()); !s) return std::move(s).take_error();
  return conn->receive(left());
}

}  // namespace raftdns::control
