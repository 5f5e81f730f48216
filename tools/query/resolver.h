// A c-ares channel pointed at explicit servers, with the event loop driven here (poll +
// ares_process_fd).
#pragma once

#include <ares.h>

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace raftdns::query_tool {

struct ResolverConfig {
  // "127.0.0.1:5353,[::1]:5353", as ares_set_servers_ports_csv takes it.
  std::string servers_csv;
  size_t server_count = 1;
  bool use_tcp = false;
  bool ignore_truncation = false;
  bool recursion_desired = true;
  bool rotate = false;
  uint16_t edns_udp_size = 1232;            // 0: no OPT record
  std::chrono::milliseconds timeout{5000};  // per query, across all tries and servers
  int tries = 2;
};

struct Outcome {
  int status = ARES_SUCCESS;  // ARES_SUCCESS whenever a reply arrived, whatever its rcode
  std::vector<uint8_t> reply;
  std::chrono::nanoseconds latency{0};
};

class Resolver {
 public:
  using Completion = std::function<void(Outcome&&)>;

  static Result<std::unique_ptr<Resolver>> open(const ResolverConfig& config);
  ~Resolver();
  Resolver(const Resolver&) = delete;
  Resolver& operator=(const Resolver&) = delete;

  // ares_query: c-ares builds the question from name, class and type.
  void query(const std::string& name, uint16_t rclass, uint16_t type, Completion done);
  // ares_send: sends a ready-made query (c-ares assigns the id).
  void send(std::span<const uint8_t> packet, Completion done);

  size_t in_flight() const { return in_flight_; }

  // Waits for socket activity or the next c-ares timeout (at most max_wait)
  // and lets c-ares process it; completions run from inside this call.
  void run_once(std::chrono::milliseconds max_wait);

  // Ends every outstanding query with ARES_ECANCELLED.
  void cancel_all();

 private:
  explicit Resolver(ares_channel channel) : channel_(channel) {}
  static void on_reply(void* arg, int status, int timeouts, unsigned char* abuf, int alen);

  ares_channel channel_;
  size_t in_flight_ = 0;
};

// Builds a query packet with c-ares (ares_create_query), for ares_send.
Result<std::vector<uint8_t>> build_query(const std::string& name, uint16_t rclass, uint16_t type,
                                         bool recursion_desired, uint16_t edns_udp_size);

}  // namespace raftdns::query_tool
