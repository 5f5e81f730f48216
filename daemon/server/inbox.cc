#include "daemon/server/inbox.h"

#include <stdexcept>

namespace raftdns::server {

Inbox::Inbox(event_base* base) {
  event_.reset(event_new(base, -1, 0, forward_to<&Inbox::drain>, this));
  if (!event_) throw std::runtime_error("cannot create an inbox event");
}

bool Inbox::post(std::function<void()> fn) {
  std::lock_guard lock(mutex_);
  if (!open_) return false;
  queue_.push_back(std::move(fn));
  if (queue_.size() == 1) event_active(event_.get(), 0, 0);
  return true;
}

void Inbox::close() {
  std::deque<std::function<void()>> dropped;
  {
    std::lock_guard lock(mutex_);
    open_ = false;
    dropped.swap(queue_);
    event_.reset();
  }
  // Destroyed outside the lock: a closure's captures may post elsewhere.
}

void Inbox::drain(evutil_socket_t, short) {
  std::deque<std::function<void()>> work;
  {
    std::lock_guard lock(mutex_);
    work.swap(queue_);
  }
  for (auto& fn : work) fn();
}

}  // namespace raftdns::server
