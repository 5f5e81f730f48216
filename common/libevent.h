// Move-only owners for libevent handles, and the one adapter that routes a libevent callback to a member.
#pragma once

#include <event2/bufferevent.h>
#include <event2/event.h>
#include <event2/listener.h>

#include <memory>

namespace raftdns {

struct EventBaseDeleter {
  void operator()(event_base* b) const noexcept { event_base_free(b); }
};
struct EventDeleter {
  void operator()(event* e) const noexcept { event_free(e); }
};
struct BufferEventDeleter {
  void operator()(bufferevent* b) const noexcept { bufferevent_free(b); }
};
struct ListenerDeleter {
  void operator()(evconnlistener* l) const noexcept { evconnlistener_free(l); }
};

using EventBasePtr = std::unique_ptr<event_base, EventBaseDeleter>;
using EventPtr = std::unique_ptr<event, EventDeleter>;
using BufferEventPtr = std::unique_ptr<bufferevent, BufferEventDeleter>;
using ListenerPtr = std::unique_ptr<evconnlistener, ListenerDeleter>;

// Every libevent callback passes its user pointer last. forward_to<&Class::method> is a plain C
// function of that shape which casts the pointer back and calls the member with the other
// arguments, so no callback needs a hand-written static trampoline. The call is noexcept: an
// exception must not unwind through libevent's C frames, so it terminates loudly instead.
template <auto Method>
struct MemberCallback;

template <class Object, class... Args, void (Object::*Method)(Args...)>
struct MemberCallback<Method> {
  static void invoke(Args... args, void* object) noexcept {
    (static_cast<Object*>(object)->*Method)(args...);
  }
};

template <class Object, class... Args, void (Object::*Method)(Args...) noexcept>
struct MemberCallback<Method> {
  static void invoke(Args... args, void* object) noexcept {
    (static_cast<Object*>(object)->*Method)(args...);
  }
};

template <auto Method>
inline constexpr auto forward_to = &MemberCallback<Method>::invoke;

}  // namespace raftdns
