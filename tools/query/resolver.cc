// c-ares channel setup (explicit servers, no system resolver configuration) and a poll-driven loop.
#include "tools/query/resolver.h"

#include <poll.h>
#include <sys/time.h>

#include <algorithm>
#include <utility>

namespace raftdns::query_tool {
namespace {

struct Pending {
  Resolver::Completion done;
  std::chrono::steady_clock::time_point started;
  size_t* in_flight;
};

}  // namespace

Result<std::unique_ptr<Resolver>> Resolver::open(const ResolverConfig& config) {
  // Every field that c-ares would otherwise fill from /etc/resolv.conf, the
  // environment (LOCALDOMAIN, RES_OPTIONS) or /etc/host.conf is given here,
  // so c-ares has no reason to read any of them: the servers are exactly the
  // ones on the command line, names are never searched or aliased, and the
  // hosts file is never consulted ("b": DNS only).
  ares_options options{};
  int mask = 0;
  options.flags = ARES_FLAG_NOSEARCH | ARES_FLAG_NOALIASES | ARES_FLAG_STAYOPEN |
                  // Show SERVFAIL and REFUSED as they came, instead of c-ares
                  // quietly moving on to the next server.
                  ARES_FLAG_NOCHECKRESP;
  if (config.use_tcp) options.flags |= ARES_FLAG_USEVC;
  if (config.ignore_truncation) options.flags |= ARES_FLAG_IGNTC;
  if (!config.recursion_desired) options.flags |= ARES_FLAG_NORECURSE;
  if (config.edns_udp_size != 0) {
    options.flags |= ARES_FLAG_EDNS;
    options.ednspsz = config.edns_udp_size;
    mask |= ARES_OPT_EDNSPSZ;
  }
  mask |= ARES_OPT_FLAGS;

  // c-ares waits timeout << (try / servers) for each attempt, so the whole
  // query spends servers * timeout * (2^tries - 1). Pick the base so that
  // sum equals the budget the user gave.
  const int tries = std::clamp(config.tries, 1, 8);
  const long long rounds = (1LL << tries) - 1;
  const long long servers = static_cast<long long>(std::max<size_t>(config.server_count, 1));
  options.timeout =
      static_cast<int>(std::max<long long>(1, config.timeout.count() / (servers * rounds)));
  mask |= ARES_OPT_TIMEOUTMS;
  options.tries = tries;
  mask |= ARES_OPT_TRIES;
  options.ndots = 1;
  mask |= ARES_OPT_NDOTS;
  options.servers = nullptr;
  options.nservers = 0;
  mask |= ARES_OPT_SERVERS;
  options.domains = nullptr;
  options.ndomains = 0;
  mask |= ARES_OPT_DOMAINS;
  char dns_only[] = "b";
  options.lookups = dns_only;
  mask |= ARES_OPT_LOOKUPS;
  options.sortlist = nullptr;
  options.nsort = 0;
  mask |= ARES_OPT_SORTLIST;
  mask |= config.rotate ? ARES_OPT_ROTATE : ARES_OPT_NOROTATE;

  ares_channel channel = nullptr;
  int status = ares_init_options(&channel, &options, mask);
  if (status != ARES_SUCCESS) {
    return make_error(std::string("c-ares channel setup failed: ") + ares_strerror(status));
  }
  status = ares_set_servers_ports_csv(channel, config.servers_csv.c_str());
  if (status != ARES_SUCCESS) {
    ares_destroy(channel);
    return make_error("servers \"" + config.servers_csv +
                      "\" rejected by c-ares: " + ares_strerror(status));
  }
  return std::unique_ptr<Resolver>(new Resolver(channel));
}

Resolver::~Resolver() { ares_destroy(channel_); }

void Resolver::on_reply(void* arg, int status, int /*timeouts*/, unsigned char* abuf, int alen) {
  std::unique_ptr<Pending> pending(static_cast<Pending*>(arg));
  --*pending->in_flight;
  if (status == ARES_EDESTRUCTION) return;  // the Resolver is being destroyed
  Outcome outcome;
  // ares_query turns NXDOMAIN, NODATA, SERVFAIL and REFUSED into error
  // statuses but still hands over the reply; a reply is a success here and
  // its rcode speaks for itself.
  if (abuf != nullptr && alen > 0) {
    outcome.status = ARES_SUCCESS;
    outcome.reply.assign(abuf, abuf + alen);
  } else {
    outcome.status = status == ARES_SUCCESS ? ARES_EBADRESP : status;
  }
  outcome.latency = std::chrono::steady_clock::now() - pending->started;
  pending->done(std::move(outcome));
}

void Resolver::query(const std::string& name, uint16_t rclass, uint16_t type, Completion done) {
  auto* pending = new Pending{std::move(done), std::chrono::steady_clock::now(), &in_flight_};
  ++in_flight_;
  ares_query(channel_, name.c_str(), rclass, type, &Resolver::on_reply, pending);
}

void Resolver::send(std::span<const uint8_t> packet, Completion done) {
  auto* pending = new Pending{std::move(done), std::chrono::steady_clock::now(), &in_flight_};
  ++in_flight_;
  ares_send(channel_, packet.data(), static_cast<int>(packet.size()), &Resolver::on_reply, pending);
}

void Resolver::run_once(std::chrono::milliseconds max_wait) {
  ares_socket_t sockets[ARES_GETSOCK_MAXNUM];
  const int bits = ares_getsock(channel_, sockets, ARES_GETSOCK_MAXNUM);
  pollfd fds[ARES_GETSOCK_MAXNUM];
  int count = 0;
  for (int i = 0; i < ARES_GETSOCK_MAXNUM; ++i) {
    short events = 0;
    if (ARES_GETSOCK_READABLE(bits, i)) events |= POLLIN;
    if (ARES_GETSOCK_WRITABLE(bits, i)) events |= POLLOUT;
    if (events == 0) break;
    fds[count++] = pollfd{sockets[i], events, 0};
  }

  timeval longest{};
  longest.tv_sec = static_cast<time_t>(max_wait.count() / 1000);
  longest.tv_usec = static_cast<suseconds_t>((max_wait.count() % 1000) * 1000);
  timeval until_timeout{};
  timeval* wait = ares_timeout(channel_, &longest, &until_timeout);
  const int wait_ms = static_cast<int>(wait->tv_sec * 1000 + (wait->tv_usec + 999) / 1000);

  const int ready = poll(fds, static_cast<nfds_t>(count), wait_ms);
  if (ready <= 0) {
    // Nothing to read: let c-ares expire the queries whose time is up.
    ares_process_fd(channel_, ARES_SOCKET_BAD, ARES_SOCKET_BAD);
    return;
  }
  for (int i = 0; i < count; ++i) {
    // An ICMP error shows up as POLLERR; c-ares learns of it by reading.
    const bool readable = (fds[i].revents & (POLLIN | POLLERR | POLLHUP)) != 0;
    const bool writable = (fds[i].revents & POLLOUT) != 0;
    if (!readable && !writable) continue;
    ares_process_fd(channel_, readable ? fds[i].fd : ARES_SOCKET_BAD,
                    writable ? fds[i].fd : ARES_SOCKET_BAD);
  }
}

void Resolver::cancel_all() { ares_cancel(channel_); }

Result<std::vector<uint8_t>> build_query(const std::string& name, uint16_t rclass, uint16_t type,
                                         bool recursion_desired, uint16_t edns_udp_size) {
  unsigned char* buffer = nullptr;
  int length = 0;
  int status = ares_create_query(name.c_str(), rclass, type, 0, recursion_desired ? 1 : 0, &buffer,
                                 &length, edns_udp_size);
  if (status != ARES_SUCCESS) {
    return make_error("cannot build a query for \"" + name + "\": " + ares_strerror(status));
  }
  std::vector<uint8_t> packet(buffer, buffer + length);
  ares_free_string(buffer);
  return packet;
}

}  // namespace raftdns::query_tool
