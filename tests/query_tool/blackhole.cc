// A DNS "server" that never answers: binds UDP and TCP on 127.0.0.1:PORT, reads and accepts,
// replies to nothing.
//
// raftdns-query must give up on such a server with exit status 3 within its
// --timeout. The process exits by itself after a bounded lifetime so a test
// that dies early cannot leave it behind for long.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

namespace {

int bound_socket(int type, int port) {
  int fd = socket(AF_INET, type, 0);
  if (fd < 0) return -1;
  int on = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof on);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(static_cast<uint16_t>(port));
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0) {
    close(fd);
    return -1;
  }
  if (type == SOCK_STREAM && listen(fd, 64) != 0) {
    close(fd);
    return -1;
  }
  return fd;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s PORT [LIFETIME_SECONDS]\n", argv[0]);
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const int lifetime = argc > 2 ? std::atoi(argv[2]) : 120;
  const int udp = bound_socket(SOCK_DGRAM, port);
  const int tcp = bound_socket(SOCK_STREAM, port);
  if (udp < 0 || tcp < 0) {
    std::perror("blackhole: bind");
    return 1;
  }
  std::printf("ready\n");
  std::fflush(stdout);
  std::vector<int> held;  // accepted connections, kept open and silent
  const auto end = std::chrono::steady_clock::now() + std::chrono::seconds(lifetime);
  while (std::chrono::steady_clock::now() < end) {
    pollfd fds[2] = {{udp, POLLIN, 0}, {tcp, POLLIN, 0}};
    if (poll(fds, 2, 200) <= 0) continue;
    if (fds[0].revents & POLLIN) {
      char buffer[65536];
      (void)recv(udp, buffer, sizeof buffer, 0);
    }
    if (fds[1].revents & POLLIN) {
      int connection = accept(tcp, nullptr, nullptr);
      if (connection >= 0) held.push_back(connection);
    }
  }
  return 0;
}
