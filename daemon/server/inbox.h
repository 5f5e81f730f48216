// Inbox: hands work from any thread to one event loop.
//
// A DNS worker takes an UPDATE on its own thread, the main loop proposes it,
// and the answer goes back out on the worker's thread: each hop is a post()
// to the inbox of the loop that must run the next step. A closed inbox (its
// loop has stopped) drops what is posted to it, and what was still queued,
// without running it, so a reply never reaches a loop that is gone.
#pragma once

#include <deque>
#include <functional>
#include <mutex>

#include "common/libevent.h"

namespace raftdns::server {

class Inbox {
 public:
  // `base` must have been created after evthread_use_pthreads().
  explicit Inbox(event_base* base);
  Inbox(const Inbox&) = delete;
  Inbox& operator=(const Inbox&) = delete;

  // Any thread. Runs `fn` on the inbox's loop, soon; false when closed.
  bool post(std::function<void()> fn);
  // Stops taking work and drops what is queued. Call before the loop's
  // event_base is freed, from the loop's thread or once it has stopped.
  void close();

 private:
  void drain(evutil_socket_t, short);

  std::mutex mutex_;
  std::deque<std::function<void()>> queue_;
  bool open_ = true;
  EventPtr event_;
};

}  // namespace raftdns::server
