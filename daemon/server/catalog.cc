// The catalog zone: its records, and the leader's reconciliation.
#include "daemon/server/catalog.h"

#include <cstdio>
#include <map>

#include "daemon/server/log.h"
#include "daemon/store/store.h"
#include "daemon/zone/zone.h"

namespace raftdns::server {
namespace {

constexpr uint32_t kTtl = 0;

wire::Record make(const wire::Name& owner, const std::string& rest, const wire::Name& origin) {
  auto r = zone::parse_record(owner.to_text() + " " + std::to_string(kTtl) + " IN " + rest, &origin);
  if (!r) throw std::runtime_error("catalog record: " + r.error());
  return *r;
}

wire::Name child(const wire::Name& parent, const std::string& label) {
  auto n = wire::Name::from_text(label, &parent);
  if (!n) throw std::runtime_error("catalog name: " + n.error());
  return *n;
}

}  // namespace

std::string catalog_member_label(const wire::Name& zone) {
  // FNV-1a 64 over the lowercased wire form: stable across nodes and runs.
  uint64_t h = 0xcbf29ce484222325ull;
  const wire::Name lower = zone.lowercased();  // alive for the whole loop
  for (uint8_t b : lower.wire()) {
    h ^= b;
    h *= 0x100000001b3ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof(buf), "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::vector<wire::Record> catalog_records(const wire::Name& catalog,
                                          const std::vector<wire::Name>& members) {
  std::vector<wire::Record> out;
  out.push_back(make(catalog, "SOA invalid. invalid. 1 3600 600 2147483646 0", catalog));
  out.push_back(make(catalog, "NS invalid.", catalog));
  out.push_back(make(child(catalog, "version"), "TXT \"2\"", catalog));
  const wire::Name zones = child(catalog, "zones");
  for (const auto& m : members) {
    out.push_back(make(child(zones, catalog_member_label(m)), "PTR " + m.to_text(), catalog));
  }
  return out;
}

CatalogKeeper::CatalogKeeper(event_base* base, const store::Store& store, Proposer& proposer,
                             wire::Name catalog, std::function<bool()> is_leader)
    : base_(base),
      store_(store),
      proposer_(proposer),
      catalog_(std::move(catalog)),
      is_leader_(std::move(is_leader)) {}

Status CatalogKeeper::start() {
  soon_.reset(event_new(base_, -1, 0, forward_to<&CatalogKeeper::on_timer>, this));
  periodic_.reset(event_new(base_, -1, EV_PERSIST, forward_to<&CatalogKeeper::on_timer>, this));
  if (!soon_ || !periodic_) return make_error("cannot create the catalog timers");
  timeval every{3, 0};
  event_add(periodic_.get(), &every);
  return {};
}

void CatalogKeeper::zones_changed() {
  // Coalesce a burst of writes into one look at the catalog.
  if (!soon_ || event_pending(soon_.get(), EV_TIMEOUT, nullptr)) return;
  timeval later{0, 100 * 1000};
  event_add(soon_.get(), &later);
}

void CatalogKeeper::on_timer(evutil_socket_t, short) { reconcile(); }

void CatalogKeeper::reconcile() {
  if (in_flight_ || !is_leader_()) return;
  std::vector<wire::Name> members;
  for (const store::ZoneInfo& z : store_.zones()) {
    if (z.name != catalog_) members.push_back(z.name);
  }
  store::Command command;
  try {
    if (store_.get(catalog_, wire::rrtype::SOA).empty()) {
      command = store::PutZone{catalog_, catalog_records(catalog_, members)};
    } else {
      // What the catalog lists now, by member node, against what it should.
      const wire::Name zones = child(catalog_, "zones");
      std::map<wire::Name, wire::Record> want, have;
      for (auto& r : catalog_records(catalog_, members)) {
        if (r.type == wire::rrtype::PTR) want.emplace(r.owner, std::move(r));
      }
      auto records = store_.zone_records(catalog_);
      if (!records) return;
      for (auto& r : *records) {
        if (r.type == wire::rrtype::PTR && r.owner.parent() == zones) {
          have.emplace(r.owner, std::move(r));
        }
      }
      store::Batch batch;
      store::AddRecords add;
      for (auto& [owner, r] : want) {
        auto it = have.find(owner);
        if (it == have.end() || it->second.rdata != r.rdata) {
          if (it != have.end()) batch.commands.push_back(store::RemoveRRset{owner, wire::rrtype::PTR});
          add.records.push_back(r);
        }
      }
      for (auto& [owner, r] : have) {
        if (!want.count(owner)) batch.commands.push_back(store::RemoveRRset{owner, wire::rrtype::PTR});
      }
      if (!add.records.empty()) batch.commands.push_back(std::move(add));
      if (batch.commands.empty()) return;
      command = std::move(batch);
    }
  } catch (const std::exception& e) {
    log_error(std::string("catalog ") + catalog_.to_text() + ": " + e.what());
    return;
  }
  in_flight_ = true;
  ProposalOptions options;
  options.deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  proposer_.submit(std::move(command), options, [this](Status s, uint64_t) {
    in_flight_ = false;
    if (!s) log_warning("catalog " + catalog_.to_text() + ": update failed: " + s.error());
  });
}

}  // namespace raftdns::server
