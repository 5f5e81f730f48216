// Move-only owners for libevent handles and file descriptors, and the one
// adapter that forwards a libevent callback to a member function.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>
#include <unistd.h>

#include <memory>
#include <utility>

struct evhttp_request;

namespace raftdns::server {

struct EventBaseDeleter {
  void operator()(event_base* b) const { event_base_free(b); }
};
struct EventDeleter {
  void operator()(event* e) const { event_free(e); }
};
struct ListenerDeleter {
  void operator()(evconnlistener* l) const { evconnlistener_free(l); }
};
struct BuffereventDeleter {
  void operator()(bufferevent* b) const { bufferevent_free(b); }
};
using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerDeleter>;
using BuffereventPtr = std::unique_ptr<bufferevent, BuffereventDeleter>;

// A file descriptor that closes itself, including when move-assigned over.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& other) noexcept : fd_(std::exchange(other.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& other) noexcept {
    if (this != &other) reset(std::exchange(other.fd_, -1));
    return *this;
  }
  UniqueFd(const UniqueFd&) = delete;
  UniqueFd& operator=(const UniqueFd&) = delete;
  ~UniqueFd() { reset(); }

  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }
  explicit operator bool() const { return fd_ >= 0; }

 private:
  int fd_ = -1;
};

// Member-function forwarding: `on_event<&Worker::on_udp_readable>` is a plain
// event_callback_fn whose `arg` is the object.
template <class T>
struct MemberClass;
template <class C, class R, class... A>
struct MemberClass<R (C::*)(A...)> {
  using type = C;
};
template <class C, class R, class... A>
struct MemberClass<R (C::*)(A...) noexcept> {
  using type = C;
};

template <auto Method>
void on_event(evutil_socket_t fd, short what, void* arg) {
  using C = typename MemberClass<decltype(Method)>::type;
  (static_cast<C*>(arg)->*Method)(fd, what);
}

template <auto Method>
void on_bufferevent_data(bufferevent* bev, void* arg) {
  using C = typename MemberClass<decltype(Method)>::type;
  (static_cast<C*>(arg)->*Method)(bev);
}

template <auto Method>
void on_bufferevent_event(bufferevent* bev, short what, void* arg) {
  using C = typename MemberClass<decltype(Method)>::type;
  (static_cast<C*>(arg)->*Method)(bev, what);
}

template <auto Method>
void on_accept(evconnlistener* listener, evutil_socket_t fd, sockaddr* addr, int len, void* arg) {
  using C = typename MemberClass<decltype(Method)>::type;
  (static_cast<C*>(arg)->*Method)(listener, fd, addr, len);
}

template <auto Method>
void on_http_request(evhttp_request* request, void* arg) {
  using C = typename MemberClass<decltype(Method)>::type;
  (static_cast<C*>(arg)->*Method)(request);
}

}  // namespace raftdns::server
