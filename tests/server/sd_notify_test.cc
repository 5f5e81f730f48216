// sd_notify: the datagram reaches $NOTIFY_SOCKET, whether a path or abstract.
#include <gtest/gtest.h>

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <string>

#include "daemon/server/sd_notify.h"

namespace raftdns::server {
namespace {

class NotifyReceiver {
 public:
  // An empty `path` binds an abstract socket named `abstract_name`.
  NotifyReceiver(const std::string& path, const std::string& abstract_name) {
    fd_ = ::socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    socklen_t len;
    if (!path.empty()) {
      ::unlink(path.c_str());
      std::memcpy(addr.sun_path, path.data(), path.size());
      len = sizeof(addr);
      env_ = path;
    } else {
      std::memcpy(addr.sun_path + 1, abstract_name.data(), abstract_name.size());
      len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + abstract_name.size());
      env_ = "@" + abstract_name;
    }
    bound_ = ::bind(fd_, reinterpret_cast<sockaddr*>(&addr), len) == 0;
    timeval tv{2, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  }
  ~NotifyReceiver() { ::close(fd_); }
  bool bound() const { return bound_; }
  const std::string& env() const { return env_; }
  std::string receive() {
    char buf[512];
    ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
    return n > 0 ? std::string(buf, static_cast<size_t>(n)) : std::string();
  }

 private:
  int fd_ = -1;
  bool bound_ = false;
  std::string env_;
};

TEST(SdNotify, ReadyReachesAFilesystemSocket) {
  NotifyReceiver receiver(::testing::TempDir() + "/raftdns-notify-" + std::to_string(getpid()), "");
  ASSERT_TRUE(receiver.bound());
  ::setenv("NOTIFY_SOCKET", receiver.env().c_str(), 1);
  EXPECT_TRUE(sd_notify_send("READY=1"));
  EXPECT_EQ(receiver.receive(), "READY=1");
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, StoppingReachesAnAbstractSocket) {
  NotifyReceiver receiver("", "raftdns-notify-test-" + std::to_string(getpid()));
  ASSERT_TRUE(receiver.bound());
  ::setenv("NOTIFY_SOCKET", receiver.env().c_str(), 1);
  EXPECT_TRUE(sd_notify_send("STOPPING=1"));
  EXPECT_EQ(receiver.receive(), "STOPPING=1");
  ::unsetenv("NOTIFY_SOCKET");
}

TEST(SdNotify, WithoutNotifySocketNothingIsSent) {
  ::unsetenv("NOTIFY_SOCKET");
  EXPECT_FALSE(sd_notify_send("READY=1"));
}

}  // namespace
}  // namespace raftdns::server
