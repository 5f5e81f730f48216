// A small HTTP server for the metrics endpoints, on its own thread and
// event_base, built on libevent's evhttp.
//
// Why its own thread: a scrape renders text and may meet a slow or stuck
// client. On its own loop neither can delay a DNS worker or the Raft loop;
// the handlers read only per-worker counters (relaxed atomics) and a state
// snapshot the main loop publishes (see metrics_service.h). A connection
// that sends nothing, or reads nothing, is closed after `timeout`.
#pragma once

#include <event2/http.h>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>

#include "common/libevent.h"
#include "common/unique_fd.h"
#include "common/result.h"
#include "daemon/server/config.h"

namespace raftdns::server {

struct HttpAnswer {
  int code = 200;
  std::string body;
  std::string content_type = "text/plain; charset=utf-8";
};

class MetricsHttpServer {
 public:
  using Handler = std::function<HttpAnswer()>;

  explicit MetricsHttpServer(std::chrono::seconds timeout = std::chrono::seconds(10));
  ~MetricsHttpServer();
  MetricsHttpServer(const MetricsHttpServer&) = delete;
  MetricsHttpServer& operator=(const MetricsHttpServer&) = delete;

  // Exact-path routes (query strings ignored); call before start(). Every
  // other path gets 404. Methods other than GET and HEAD get 405.
  void route(std::string path, Handler handler);
  // Binds and listens (on the calling thread, so an error stops start-up
  // with the address named).
  [[nodiscard]] Status listen(const SocketAddress& address);
  void start();
  // Ends the loop and joins the thread; open connections are dropped.
  void stop();

 private:
  struct HttpDeleter {
    void operator()(evhttp* h) const { evhttp_free(h); }
  };
  void on_request(evhttp_request* request);

  EventBasePtr base_;
  std::unique_ptr<evhttp, HttpDeleter> http_;
  std::map<std::string, Handler, std::less<>> routes_;
  std::thread thread_;
};

}  // namespace raftdns::server
