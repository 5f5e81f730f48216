// An AXFR client (RFC 5936) over TCP, with TSIG: fetches a whole zone from
// another primary (BIND, NSD, Knot, PowerDNS), as `dnsadm zone add
// --from-primary` does to migrate a zone in. Blocking, with a deadline for
// each read; meant for a tool, never for the daemon's event loops.
#pragma once

#include <sys/socket.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/tsig/tsig.h"
#include "daemon/wire/rr.h"

namespace raftdns::xfr {

struct FetchedZone {
  std::vector<wire::Record> records;  // SOA first; the closing SOA is not repeated
  uint32_t serial = 0;
  size_t messages = 0;
};

// Transfers `zone` from `primary` (`primary_text` names it in errors). With
// `key`, the request is signed and every signed message of the answer is
// checked (unsigned runs of up to 99 are allowed, as RFC 8945 §5.3.1 says;
// the last message must be signed). `idle` bounds the connect and each wait
// for data. An error says what failed: unreachable, refused (with the
// rcode), TSIG, a malformed or truncated stream.
Result<FetchedZone> fetch_axfr(const sockaddr* primary, socklen_t primary_length,
                               const std::string& primary_text, const wire::Name& zone,
                               const tsig::Key* key, std::chrono::milliseconds idle);

}  // namespace raftdns::xfr
