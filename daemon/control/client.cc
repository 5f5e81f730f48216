// Blocking control-socket client: one request, one response, one deadline.
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>

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

Result<Response> call(const std::string& socket_path, const Request& request, uint32_t timeout_ms) {
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

  const std::string body = encode_request_body(request);
  if (body.size() > kMaxFrameSize) {
    return make_error("request of " + std::to_string(body.size()) +
                      " bytes is larger than the control socket's limit of " +
                      std::to_string(kMaxFrameSize) + " bytes; split it into smaller parts");
  }
  const std::string out = frame(body);
  size_t sent = 0;
  while (sent < out.size()) {
    ssize_t n = ::send(sock.get(), out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno == EAGAIN) {
      pollfd pfd{sock.get(), POLLOUT, 0};
      if (::poll(&pfd, 1, remaining_ms(deadline)) <= 0) {
        return make_error("timed out sending the request to " + socket_path);
      }
      continue;
    }
    return make_error("cannot send to " + socket_path + ": " + errno_text(errno));
  }

  FrameReader reader;
  uint8_t buf[65536];
  for (;;) {
    if (auto body = reader.next()) {
      auto decoded =
          decode_response_body({reinterpret_cast<const uint8_t*>(body->data()), body->size()});
      if (!decoded) return make_error("bad response from raftdnsd: " + decoded.error());
      return decoded;
    }
    if (reader.oversized()) return make_error("response from raftdnsd is too large");
    pollfd pfd{sock.get(), POLLIN, 0};
    int ready = ::poll(&pfd, 1, remaining_ms(deadline));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      return make_error("timed out after " + std::to_string(timeout_ms) +
                        " ms waiting for raftdnsd");
    }
    ssize_t n = ::recv(sock.get(), buf, sizeof(buf), 0);
    if (n < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (n < 0) return make_error("cannot read from " + socket_path + ": " + errno_text(errno));
    if (n == 0) return make_error("raftdnsd closed the connection without answering");
    reader.feed({buf, static_cast<size_t>(n)});
  }
}

}  // namespace raftdns::control
