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
  // With `dnssec` (the query's DO bit, RFC 3225), answers carry the
  // RRSIGs of their RRsets and the NSEC or NSEC3 records that prove what
  // does not exist (RFC 4035 §3.1, RFC 5155 §7.2), when the zone is signed.
  Resolver(const store::ReadTxn& view, Response& response, uint16_t qtype,
           bool minimal = true, bool dnssec = false) noexcept
      : view_(view), r_(response), qtype_(qtype), minimal_(minimal), dnssec_(dnssec) {}

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
  Next answer_delegation(const store::ZoneRef& z, const store::NameKey& key,
                         const wire::Name& name, size_t cut_labels,
                         const store::NodeView& node) noexcept;
  Next answer_dname(const store::ZoneRef& z, const store::NameKey& key, const wire::Name& name,
                    size_t owner_labels, const store::NodeView& node) noexcept;
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

  // ---- DNSSEC (resolver_dnssec.cc) ----

  // How a zone denies existence: by the NSEC3 chain its NSEC3PARAM names,
  // by NSEC, or not at all (an unsigned zone).
  struct Denial {
    enum Kind : uint8_t { none, nsec, nsec3 } kind = none;
    uint8_t algorithm = 0;
    uint16_t iterations = 0;
    std::span<const uint8_t> salt;
  };
  static constexpr size_t kNoWildcard = ~size_t{0};

  // Adds `rrset` to a section and, for a DO query, the RRSIGs at
  // `owner_key` that cover its type right after it (RFC 4035 §3.1.1).
  template <size_t N>
  void add(SectionList<N>& section, const store::ZoneRef& z, std::span<const uint8_t> owner_key,
           const wire::Name* owner, const store::RRsetView& rrset, uint32_t ttl,
           bool required = false) noexcept {
    if (!section.push(owner, rrset, ttl, required)) return;
    store::RRsetView sigs;
    if (dnssec_ && rrset.type != wire::rrtype::RRSIG &&
        signatures_for(z, owner_key, rrset.type, sigs)) {
      section.push(owner, sigs, ttl, false, true);
    }
  }
  bool signatures_for(const store::ZoneRef& z, std::span<const uint8_t> owner_key,
                      uint16_t covered, store::RRsetView& out) const noexcept;
  Denial denial_of(const store::ZoneRef& z, const store::NameKey& key) const noexcept;
  size_t closest_encloser(const store::ZoneRef& z, const store::NameKey& key,
                          size_t from) const noexcept;
  void prove_nxdomain(const store::ZoneRef& z, const store::NameKey& key,
                      const wire::Name& name) noexcept;
  void prove_nodata(const store::ZoneRef& z, const store::NameKey& key,
                    const wire::Name& name) noexcept;
  void prove_wildcard(const store::ZoneRef& z, const store::NameKey& key,
                      const wire::Name& name, size_t encloser, bool nodata) noexcept;
  void prove_no_ds(const store::ZoneRef& z, const store::NameKey& key, const wire::Name& name,
                   size_t cut_labels) noexcept;
  void add_denial(const store::ZoneRef& z, std::span<const uint8_t> owner_key,
                  const store::RRsetView& rrset) noexcept;
  bool add_nsec_at(const store::ZoneRef& z, std::span<const uint8_t> owner_key) noexcept;
  void add_nsec_covering(const store::ZoneRef& z, std::span<const uint8_t> name_key) noexcept;
  bool add_nsec3(const store::ZoneRef& z, const store::NameKey& key, const Denial& d,
                 const wire::Name& name, bool match) noexcept;
  size_t add_closest_encloser_proof(const store::ZoneRef& z, const store::NameKey& key,
                                    const Denial& d, const wire::Name& name,
                                    size_t from) noexcept;

  const store::ReadTxn& view_;
  Response& r_;
  uint16_t qtype_;
  bool minimal_;
  bool dnssec_;
  // While answering from a wildcard: the closest encloser's label count.
  size_t wildcard_encloser_ = kNoWildcard;
  const wire::Name* next_ = nullptr;
  // The zone of the chain's last lookup (whose NS RRset a non-minimal
  // answer carries, as NSD does), and the apex whose NS RRset was added.
  store::ZoneRef last_zone_;
  const wire::Name* last_apex_ = nullptr;
  const wire::Name* apex_ns_owner_ = nullptr;
  bool ended_at_synthesized_cname_ = false;  // the chain's next name when lookup() returns follow
};

}  // namespace raftdns::query
