// The metrics HTTP server: evhttp on a thread of its own.
#include "daemon/server/metrics_http.h"

#include <event2/buffer.h>
#include <event2/keyvalq_struct.h>
#include <pthread.h>
#include <sys/socket.h>

#include <cerrno>
#include <cstring>
#include <stdexcept>

namespace raftdns::server {

MetricsHttpServer::MetricsHttpServer(std::chrono::seconds timeout) : base_(event_base_new()) {
  if (!base_) throw std::runtime_error("cannot create an event base for the metrics server");
  http_.reset(evhttp_new(base_.get()));
  if (!http_) throw std::runtime_error("cannot create the metrics HTTP server");
  evhttp_set_timeout(http_.get(), static_cast<int>(timeout.count()));
  evhttp_set_max_headers_size(http_.get(), 16 * 1024);
  evhttp_set_max_body_size(http_.get(), 0);
  evhttp_set_gencb(http_.get(), forward_to<&MetricsHttpServer::on_request>, this);
}

MetricsHttpServer::~MetricsHttpServer() {
  stop();
  http_.reset();
}

void MetricsHttpServer::route(std::string path, Handler handler) {
  routes_[std::move(path)] = std::move(handler);
}

Status MetricsHttpServer::listen(const SocketAddress& address) {
  const std::string where = "metrics.listen " + address.to_text();
  UniqueFd fd(::socket(address.family(), SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd) return make_error("cannot create a socket for " + where + ": " + std::strerror(errno));
  int one = 1;
  ::setsockopt(fd.get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
  if (address.family() == AF_INET6) {
    ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
  }
  if (::bind(fd.get(), address.get(), address.length) != 0) {
    return make_error("cannot bind " + where + ": " + std::strerror(errno));
  }
  if (::listen(fd.get(), 64) != 0) {
    return make_error("cannot listen on " + where + ": " + std::strerror(errno));
  }
  // evhttp's listener closes the socket when the server is freed.
  if (!evhttp_accept_socket_with_handle(http_.get(), fd.get())) {
    return make_error("cannot serve HTTP on " + where);
  }
  fd.release();
  return {};
}

void MetricsHttpServer::start() {
  thread_ = std::thread([this] {
    pthread_setname_np(pthread_self(), "metrics-http");
    event_base_dispatch(base_.get());
  });
}

void MetricsHttpServer::stop() {
  if (!thread_.joinable()) return;
  event_base_loopexit(base_.get(), nullptr);
  thread_.join();
}

void MetricsHttpServer::on_request(evhttp_request* request) {
  const evhttp_uri* uri = evhttp_request_get_evhttp_uri(request);
  const char* path = uri ? evhttp_uri_get_path(uri) : nullptr;
  auto route = path ? routes_.find(std::string_view(path)) : routes_.end();
  HttpAnswer answer;
  const evhttp_cmd_type method = evhttp_request_get_command(request);
  if (method != EVHTTP_REQ_GET && method != EVHTTP_REQ_HEAD) {
    answer.code = 405;
    answer.body = "only GET and HEAD\n";
    evhttp_add_header(evhttp_request_get_output_headers(request), "Allow", "GET, HEAD");
  } else if (route == routes_.end()) {
    answer.code = HTTP_NOTFOUND;
    answer.body = "not found; try /metrics, /healthz or /readyz\n";
  } else {
    answer = route->second();
  }
  evkeyvalq* headers = evhttp_request_get_output_headers(request);
  evhttp_add_header(headers, "Content-Type", answer.content_type.c_str());
  evhttp_add_header(headers, "Cache-Control", "no-store");
  evbuffer* body = evbuffer_new();
  if (!body) {
    evhttp_send_error(request, HTTP_INTERNAL, nullptr);
    return;
  }
  evbuffer_add(body, answer.body.data(), answer.body.size());
  const char* reason = answer.code == 200   ? "OK"
                       : answer.code == 404 ? "Not Found"
                       : answer.code == 405 ? "Method Not Allowed"
                       : answer.code == 503 ? "Service Unavailable"
                                            : "Error";
  evhttp_send_reply(request, answer.code, reason, body);
  evbuffer_free(body);
}

}  // namespace raftdns::server
