// The catalog zone (RFC 9432, version 2): a zone that lists every other zone,
// so a secondary that consumes it (Knot's catalog-role: interpret) serves a
// new zone without a change to its own configuration.
//
// The catalog is an ordinary zone in the store, changed through the log like
// any write: so it is identical on every node, gets its serial bumped by the
// apply, has an IXFR journal, and sends NOTIFY. The leader keeps it in step:
// after every change to the set of zones (and every few seconds, to cover a
// change of leader or a catalog newly configured) it compares the catalog's
// member PTRs with the zones in the store and proposes the difference. Every
// node with [catalog] configured must name the same zone.
//
//   catalog.          0 IN SOA invalid. invalid. serial 3600 600 2147483646 0
//   catalog.          0 IN NS  invalid.
//   version.catalog.  0 IN TXT "2"
//   <id>.zones.catalog. 0 IN PTR member.zone.
//
// <id> is a hash of the member's name: stable, so re-adding a zone keeps its
// member node.
#pragma once

#include <event2/event.h>

#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "common/result.h"
#include "common/libevent.h"
#include "daemon/server/proposer.h"
#include "daemon/wire/rr.h"

namespace raftdns::store {
class Store;
}

namespace raftdns::server {

// The member node label of `zone` in a catalog (RFC 9432 §4.1).
std::string catalog_member_label(const wire::Name& zone);
// The records of a catalog `catalog` listing `members` (serial 1).
std::vector<wire::Record> catalog_records(const wire::Name& catalog,
                                          const std::vector<wire::Name>& members);

class CatalogKeeper {
 public:
  CatalogKeeper(event_base* base, const store::Store& store, Proposer& proposer,
                wire::Name catalog, std::function<bool()> is_leader);
  Status start();
  // Any thread: zones changed; the catalog is checked shortly after.
  void zones_changed();

 private:
  void on_timer(evutil_socket_t, short);
  void reconcile();

  event_base* base_;
  const store::Store& store_;
  Proposer& proposer_;
  wire::Name catalog_;
  std::function<bool()> is_leader_;
  EventPtr soon_, periodic_;
  bool in_flight_ = false;
};

}  // namespace raftdns::server
