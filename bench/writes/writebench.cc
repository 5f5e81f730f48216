// raftdns-writebench: concurrent writers over persistent control-socket connections.
//
// dnsadm starts a process per write, so a loop of dnsadm calls measures process
// creation as much as the cluster. This client keeps one connection per writer
// open, as etcd's benchmark clients keep their gRPC/HTTP connections, and times
// each request from send to response: what the cluster itself takes to commit and
// apply a write. Each write is one record (Op::add) or, with --batch N, one atomic
// batch of N single-record additions (Op::batch, like `dnsadm batch`).
//
// Output, one line: records=R writes=W seconds=S records_per_s=X writes_per_s=Y
// p50_ms p90_ms p99_ms max_ms mean_ms errors=E (latencies are per write request).
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "daemon/control/protocol.h"

namespace {

namespace control = raftdns::control;
using Clock = std::chrono::steady_clock;

// Uncompressed wire form of a dotted name ("a.b.test" -> 1a 1b 4test 0).
std::vector<uint8_t> wire_name(const std::string& dotted) {
  std::vector<uint8_t> out;
  size_t start = 0;
  while (start < dotted.size()) {
    size_t dot = dotted.find('.', start);
    if (dot == std::string::npos) dot = dotted.size();
    out.push_back(static_cast<uint8_t>(dot - start));
    out.insert(out.end(), dotted.begin() + static_cast<std::ptrdiff_t>(start),
               dotted.begin() + static_cast<std::ptrdiff_t>(dot));
    start = dot + 1;
  }
  out.push_back(0);
  return out;
}

control::WireRecord a_record(const std::string& owner, uint32_t address) {
  control::WireRecord r;
  r.owner = wire_name(owner);
  r.type = 1;  // A
  r.ttl = 300;
  r.rdata = {static_cast<uint8_t>(address >> 24), static_cast<uint8_t>(address >> 16),
             static_cast<uint8_t>(address >> 8), static_cast<uint8_t>(address)};
  return r;
}

class Connection {
 public:
  explicit Connection(const std::string& path) {
    fd_ = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    if (fd_ < 0 || path.size() >= sizeof(addr.sun_path)) return;
    std::memcpy(addr.sun_path, path.data(), path.size());
    if (::connect(fd_, reinterpret_cast<const sockaddr*>(&addr), sizeof(addr)) != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  ~Connection() {
    if (fd_ >= 0) ::close(fd_);
  }
  bool connected() const { return fd_ >= 0; }

  // Sends one request and waits for its response; an empty error means success.
  std::string call(const control::Request& request) {
    const std::string out = control::frame(control::encode_request_body(request));
    for (size_t sent = 0; sent < out.size();) {
      ssize_t n = ::send(fd_, out.data() + sent, out.size() - sent, MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return std::string("send: ") + std::strerror(errno);
      sent += static_cast<size_t>(n);
    }
    uint8_t buf[65536];
    for (;;) {
      if (auto body = reader_.next()) {
        auto response = control::decode_response_body(
            {reinterpret_cast<const uint8_t*>(body->data()), body->size()});
        if (!response) return response.error();
        return response->ok ? std::string() : response->error;
      }
      if (reader_.oversized()) return "oversized response";
      ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return "connection closed by raftdnsd";
      reader_.feed({buf, static_cast<size_t>(n)});
    }
  }

 private:
  int fd_ = -1;
  control::FrameReader reader_;
};

struct WriterResult {
  std::vector<double> latencies_ms;
  uint64_t errors = 0;
  std::string first_error;
};

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"raftdns-writebench: concurrent writers over persistent control connections"};
  std::string socket_path = control::kDefaultSocketPath;
  std::string zone = "writes.test";
  std::string prefix = "wb";
  unsigned writers = 8;
  unsigned writes_per_writer = 1000;
  unsigned batch = 1;
  app.add_option("--socket", socket_path, "control socket of raftdnsd")->capture_default_str();
  app.add_option("--zone", zone, "existing zone the records go into")->capture_default_str();
  app.add_option("--prefix", prefix, "first label of every owner name (keep runs apart)")
      ->capture_default_str();
  app.add_option("--writers", writers, "concurrent connections")->capture_default_str();
  app.add_option("--writes", writes_per_writer, "write requests per writer")->capture_default_str();
  app.add_option("--batch", batch, "records per request (1: Op::add, more: Op::batch)")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (writers == 0 || writes_per_writer == 0 || batch == 0) {
    std::fprintf(stderr, "raftdns-writebench: --writers, --writes and --batch must be > 0\n");
    return 2;
  }

  std::vector<WriterResult> results(writers);
  std::atomic<unsigned> connected{0};
  std::atomic<bool> go{false};
  std::vector<std::thread> threads;
  for (unsigned w = 0; w < writers; ++w) {
    threads.emplace_back([&, w] {
      Connection conn(socket_path);
      WriterResult& result = results[w];
      if (!conn.connected()) {
        result.errors = writes_per_writer;
        result.first_error = "cannot connect to " + socket_path;
        connected.fetch_add(1);
        return;
      }
      connected.fetch_add(1);
      while (!go.load()) std::this_thread::yield();
      result.latencies_ms.reserve(writes_per_writer);
      for (unsigned k = 0; k < writes_per_writer; ++k) {
        control::Request request;
        for (unsigned r = 0; r < batch; ++r) {
          std::string owner = prefix + "-" + std::to_string(w) + "-" + std::to_string(k) + "-" +
                              std::to_string(r) + "." + zone;
          auto record = a_record(owner, (10u << 24) | (w << 16) | ((k * batch + r) & 0xffff));
          if (batch == 1) {
            request.op = control::Op::add;
            request.records.push_back(std::move(record));
          } else {
            request.op = control::Op::batch;
            control::Change change;
            change.op = control::Op::add;
            change.records.push_back(std::move(record));
            request.changes.push_back(std::move(change));
          }
        }
        const auto start = Clock::now();
        std::string error = conn.call(request);
        const auto end = Clock::now();
        if (!error.empty()) {
          if (result.errors++ == 0) result.first_error = error;
          continue;
        }
        result.latencies_ms.push_back(
            std::chrono::duration<double, std::milli>(end - start).count());
      }
    });
  }
  while (connected.load() < writers) std::this_thread::yield();
  const auto start = Clock::now();
  go.store(true);
  for (auto& t : threads) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> all;
  uint64_t errors = 0;
  std::string first_error;
  for (auto& r : results) {
    all.insert(all.end(), r.latencies_ms.begin(), r.latencies_ms.end());
    errors += r.errors;
    if (first_error.empty()) first_error = r.first_error;
  }
  std::sort(all.begin(), all.end());
  auto percentile = [&](double p) {
    if (all.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(all.size() - 1) + 0.5);
    return all[std::min(i, all.size() - 1)];
  };
  const double writes = static_cast<double>(all.size());
  double total_ms = 0;
  for (double ms : all) total_ms += ms;
  std::printf(
      "records=%.0f writes=%.0f seconds=%.3f records_per_s=%.0f writes_per_s=%.0f p50_ms=%.2f "
      "p90_ms=%.2f p99_ms=%.2f max_ms=%.2f mean_ms=%.2f errors=%llu\n",
      writes * batch, writes, seconds, writes * batch / seconds, writes / seconds, percentile(0.50),
      percentile(0.90), percentile(0.99), all.empty() ? 0.0 : all.back(),
      all.empty() ? 0.0 : total_ms / writes, static_cast<unsigned long long>(errors));
  if (errors > 0) {
    std::fprintf(stderr, "raftdns-writebench: %llu writes failed; first: %s\n",
                 static_cast<unsigned long long>(errors), first_error.c_str());
    return 1;
  }
  return 0;
}
