// Resolver: the authoritative lookup for one IN-class question, as named
// steps after the DNS cases they implement (RFC 1034 §4.3.2 and its updates).
// Fills a Response; encoding happens elsewhere.
#pragma once

#include <cstddef>
#include <cstdint>

#include "daemon/query/response.h"
#include "daemon/store/read_txn.h"
#include "daemon/wire/name.h"

namespace raftdns::query {

// Longest CNAME/DNAME chain followed within our zones.
inline constexpr size_t kMaxChain = 16;

class Resolver {
 public:
  // With `minimal` false, a positive answer also carries the zone's NS RRset
  // in authority and their addresses in additional (as NSD does by default).
  Resolver(const store::ReadTxn& view, Response& response, uint16_t qtype,
           bool minimal = true) noexcept
      : view_(view), r_(response), qtype_(qtype), minimal_(minimal) {}

  // Answers `qname` (the question's name, its case preserved), following
  // CNAME and DNAME chains, then adds the additional section.
  void resolve(const wire::Name& qname) noexcept;

 private:
  enum class Next : uint8_t { done, follow };

  Next lookup(const wire::Name& name, bool first) noexcept;
  Next answer_node(const store::ZoneRef& z, const store::NameKey& key,
                   std::span<const uint8_t> node_key, const store::NodeView& node,
                   const wire::Name* owner) noexcept;
  Next answer_name_error(const store::ZoneRef& z, const store::NameKey& key, const wire::Name* name,
                         size_t closest_encloser) noexcept;
  Next answer_delegation(const store::NameKey& key, const wire::Name& name, size_t cut_labels,
                         const store::NodeView& node) noexcept;
  Next answer_dname(const wire::Name& name, size_t owner_labels,
                    const store::NodeView& node) noexcept;
  void answer_nodata(const store::ZoneRef& z, const store::NameKey& key,
                     const wire::Name& name) noexcept;
  void answer_nxdomain(const store::ZoneRef& z, const store::NameKey& key,
                       const wire::Name& name) noexcept;
  void add_negative_soa(const store::ZoneRef& z, const store::NameKey& key,
                        const wire::Name& name) noexcept;
  Next follow_cname(const store::RRsetView& cname) noexcept;
  Next damaged_zone() noexcept;
  void answered_in(const store::ZoneRef& z, const wire::Name& owner) noexcept;
  void add_apex_ns() noexcept;
  void add_additional_addresses() noexcept;
  void add_addresses_for(const wire::Name& owner, const wire::Name& target, bool referral) noexcept;
  bool hidden_in_zone(const store::ZoneRef& z, const store::NameKey& target,
                      bool referral) const noexcept;

  const store::ReadTxn& view_;
  Response& r_;
  uint16_t qtype_;
  bool minimal_;
  const wire::Name* next_ = nullptr;
  // The zone of the chain's last lookup (whose NS RRset a non-minimal
  // answer carries, as NSD does), and the apex whose NS RRset was added.
  store::ZoneRef last_zone_;
  const wire::Name* last_apex_ = nullptr;
  const wire::Name* apex_ns_owner_ = nullptr;
  bool ended_at_synthesized_cname_ = false;  // the chain's next name when lookup() returns follow
};

}  // namespace raftdns::query
