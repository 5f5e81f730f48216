// AXFR client: connect, send the (signed) request, read and check the stream.
#include "daemon/xfr/client.h"

#include <fcntl.h>
#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>
#include <random>

#include "daemon/wire/message.h"
#include "daemon/wire/types.h"

namespace raftdns::xfr {
namespace {

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

// Waits for `events` on fd; false on timeout.
bool wait_for(int fd, short events, std::chrono::milliseconds idle) {
  pollfd p{fd, events, 0};
  for (;;) {
    int rc = ::poll(&p, 1, static_cast<int>(idle.count()));
    if (rc < 0 && errno == EINTR) continue;
    return rc > 0;
  }
}

// Reads exactly `n` bytes; an error text on failure.
std::string read_exact(int fd, uint8_t* out, size_t n, std::chrono::milliseconds idle) {
  size_t got = 0;
  while (got < n) {
    if (!wait_for(fd, POLLIN, idle)) return "no data for " + std::to_string(idle.count() / 1000) + " s";
    ssize_t r = ::recv(fd, out + got, n - got, 0);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) return std::strerror(errno);
    if (r == 0) return got == 0 && n == 2 ? "eof" : "the connection closed in mid-message";
    got += static_cast<size_t>(r);
  }
  return {};
}

}  // namespace

Result<FetchedZone> fetch_axfr(const sockaddr* primary, socklen_t primary_length,
                               const std::string& primary_text, const wire::Name& zone,
                               const tsig::Key* key, std::chrono::milliseconds idle) {
  const std::string what = "AXFR of " + zone.to_text() + " from " + primary_text;
  auto fail = [&](const std::string& why) -> Result<FetchedZone> {
    return make_error(what + ": " + why);
  };

  // The request.
  std::random_device entropy;
  const uint16_t id = static_cast<uint16_t>(entropy());
  wire::Message q;
  q.header.id = id;
  q.questions.push_back({zone, wire::rrtype::AXFR, wire::rrclass::IN});
  std::vector<uint8_t> request = wire::encode_message(q);
  std::vector<uint8_t> request_mac;
  if (key) {
    tsig::Signer signer(*key, {});
    const size_t n = request.size();
    request.resize(n + signer.record_size());
    const size_t signed_length = signer.sign(request, n, static_cast<uint64_t>(std::time(nullptr)));
    if (signed_length == 0) return fail("cannot sign the request");
    request.resize(signed_length);
    request_mac.assign(signer.last_mac().begin(), signer.last_mac().end());
  }

  Fd fd(::socket(primary->sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (fd.get() < 0) return fail(std::string("cannot create a socket: ") + std::strerror(errno));
  if (::connect(fd.get(), primary, primary_length) != 0 && errno != EINPROGRESS) {
    return fail(std::string("cannot connect: ") + std::strerror(errno));
  }
  if (!wait_for(fd.get(), POLLOUT, idle)) return fail("cannot connect: timed out");
  int so_error = 0;
  socklen_t so_len = sizeof(so_error);
  ::getsockopt(fd.get(), SOL_SOCKET, SO_ERROR, &so_error, &so_len);
  if (so_error != 0) return fail(std::string("cannot connect: ") + std::strerror(so_error));

  std::vector<uint8_t> framed{static_cast<uint8_t>(request.size() >> 8),
                              static_cast<uint8_t>(request.size())};
  framed.insert(framed.end(), request.begin(), request.end());
  for (size_t sent = 0; sent < framed.size();) {
    if (!wait_for(fd.get(), POLLOUT, idle)) return fail("cannot send the request: timed out");
    ssize_t w = ::send(fd.get(), framed.data() + sent, framed.size() - sent, MSG_NOSIGNAL);
    if (w < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (w < 0) return fail(std::string("cannot send the request: ") + std::strerror(errno));
    sent += static_cast<size_t>(w);
  }

  std::optional<tsig::ResponseVerifier> verifier;
  if (key) verifier.emplace(*key, request_mac);
  FetchedZone out;
  std::vector<uint8_t> message;
  for (;;) {
    uint8_t prefix[2];
    std::string err = read_exact(fd.get(), prefix, 2, idle);
    if (err == "eof") {
      return fail(out.messages == 0 ? "the primary closed the connection without an answer"
                                    : "the stream ended before the closing SOA");
    }
    if (!err.empty()) return fail(err);
    message.resize(size_t{prefix[0]} << 8 | prefix[1]);
    if (!(err = read_exact(fd.get(), message.data(), message.size(), idle)).empty()) {
      return fail(err);
    }
    ++out.messages;
    wire::Message m;
    if (auto e = wire::parse_message(message, m); e != wire::WireError::ok) {
      return fail("message " + std::to_string(out.messages) + " is malformed: " +
                  wire::wire_error_text(e));
    }
    if (m.header.id != id || !m.header.qr) {
      return fail("message " + std::to_string(out.messages) + " does not answer the request");
    }
    if (verifier) {
      if (auto s = verifier->next(message, static_cast<uint64_t>(std::time(nullptr))); !s) {
        return fail(s.error());
      }
    }
    if (m.header.rcode != wire::rcode::NOERROR) {
      return fail("the primary answered " + wire::rcode_to_text(m.header.rcode) +
                  (m.header.rcode == wire::rcode::REFUSED ? " (not allowed to transfer?)" : ""));
    }
    for (auto& rr : m.answer) {
      if (out.records.empty()) {
        if (rr.type != wire::rrtype::SOA || rr.owner != zone) {
          return fail("the answer does not start with the zone's SOA");
        }
        out.serial = wire::soa_fields(rr.rdata).value_or(wire::SoaFields{}).serial;
        out.records.push_back(std::move(rr));
        continue;
      }
      if (rr.type == wire::rrtype::SOA && rr.owner == zone) {
        // The closing SOA (RFC 5936 §2.2): the zone is complete.
        if (key && !verifier->last_was_signed()) return fail("the last message is not signed");
        if (&rr != &m.answer.back()) return fail("records follow the closing SOA");
        return out;
      }
      out.records.push_back(std::move(rr));
    }
  }
}

}  // namespace raftdns::xfr
