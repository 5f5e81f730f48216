// Applier: runs one Command against an open LMDB write transaction, enforcing
// the zone rules and bumping SOA serials. Internal to the store.
#pragma once

#include <lmdb.h>

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "common/result.h"
#include "daemon/dnssec/zone_signer.h"
#include "daemon/store/command.h"
#include "daemon/store/signing.h"
#include "daemon/store/keys.h"
#include "daemon/store/lmdb.h"

namespace raftdns::store {

// Thrown (and caught by the store) when LMDB itself fails: an I/O failure,
// not a rejection of the command.
struct LmdbFailure {
  int rc;
  std::string what;
};

// An RRset as the write path handles it.
struct RRsetData {
  uint32_t ttl = 0;
  uint16_t rclass = wire::rrclass::IN;
  std::vector<std::vector<uint8_t>> rdatas;  // sorted by canonical form, no duplicates
};
std::string encode_rrset(const RRsetData& r);
RRsetData decode_rrset(std::string_view value);

// RDATA with the embedded names of NS, CNAME, PTR, DNAME, MX, SRV and SOA
// lowercased (RFC 4034 §6.2): the form used to compare and order RDATA.
std::vector<uint8_t> canonical_rdata(uint16_t type, std::span<const uint8_t> rdata);

// The types at a name and where it stands, for signing.
struct NodeKindInfo {
  dnssec::NodeKind kind = dnssec::NodeKind::kAuthoritative;
  std::vector<uint16_t> types;  // without RRSIG and NSEC3
};
// NSEC3 hash -> the bitmap its NSEC3 should carry (nullopt: none).
using Nsec3Plan = std::map<std::array<uint8_t, 20>, std::optional<std::vector<uint8_t>>>;

class Applier {
 public:
  // `journal_entries`: changes kept per zone in the IXFR journal.
  Applier(MDB_txn* txn, const lmdb::Env& env, uint32_t journal_entries = 0)
      : txn_(txn), env_(env), journal_entries_(journal_entries) {}

  // The log index of the command run() applies next (0: none), which an
  // import records to tell when it has gone stale.
  void set_index(uint64_t index) { index_ = index; }
  // For Store::check(): judge the command but skip the signing it would
  // cause (which cannot refuse it, and may be long).
  void set_check_only(bool on) { check_only_ = on; }

  // Applies `c` in the transaction. A rejection returns the reason and may
  // leave partial writes behind: the caller runs each command in a nested
  // transaction and aborts it on rejection. Throws LmdbFailure.
  Status run(const Command& c);
  // The canonical keys of the zones the last run() created, changed or
  // removed.
  std::vector<std::string> touched_zones() const {
    std::vector<std::string> out;
    for (const auto& [zone, before] : touched_) out.push_back(zone);
    return out;
  }

  // Drops every staged import whose last chunk (or begin) is more than
  // kImportStaleEntries entries before `index`. Deterministic: it depends on
  // the log position only. Throws LmdbFailure.
  void drop_stale_imports(uint64_t index);

 private:
  Status dispatch(const Command& c);
  Status add_records(const std::vector<wire::Record>& records);
  Status remove_records(const std::vector<wire::Record>& records);
  Status remove_rrset(const RemoveRRset& r);
  Status put_zone(const PutZone& p);
  Status remove_zone(const RemoveZone& r);
  Status set_membership(const SetMembership& m);
  Status update(const Update& u);  // apply_update.cc
  Status import_begin(const ImportBegin& b);
  Status import_chunk(const ImportChunk& c);
  Status stage_records(std::span<const uint8_t> zone_key, size_t apex_labels, uint32_t generation,
                       const std::vector<wire::Record>& records, ZoneMeta& meta,
                       std::string& soa_value);
  Status import_commit(const ImportCommit& c);
  Status import_abort(const ImportAbort& a);
  // Online signing (apply_sign.cc).
  Status zone_signing(const ZoneSigning& z);
  Status check_signer_owned(const Command& c);
  SigningState* signing_state(std::span<const uint8_t> zone_key);
  void save_signing_state(std::span<const uint8_t> zone_key, const SigningState* state);
  void note_signing_change(std::span<const uint8_t> zone_key, std::span<const uint8_t> owner_key,
                           uint16_t type);
  // Signs what this command changed in zones signed online; true when it
  // wrote anything (the serials then need another look).
  Result<bool> sign_pending();
  void write_key_rrsets(std::span<const uint8_t> zone_key, const SigningState& state);
  uint32_t nsec3_ttl(std::span<const uint8_t> zone_key);
  void strip_signing(std::span<const uint8_t> zone_key, bool keys);
  NodeKindInfo node_kind(std::span<const uint8_t> zone_key, const NameKey& owner,
                         size_t apex_labels);
  bool has_descendants(std::span<const uint8_t> zone_key, std::span<const uint8_t> owner_key);
  std::vector<std::string> owners_below(std::span<const uint8_t> zone_key,
                                        std::span<const uint8_t> owner_key);
  Status resign_types(std::span<const uint8_t> zone_key, const wire::Name& apex,
                      const SigningState& state, const NameKey& owner, dnssec::NodeKind kind,
                      const std::set<uint16_t>& types);
  std::optional<std::array<uint8_t, 20>> nsec3_neighbour(std::span<const uint8_t> zone_key,
                                                         const std::array<uint8_t, 20>& hash,
                                                         bool after);
  // `sign`: sign the NSEC3s written (false while a sliced signing puts the
  // chain together; its chain pass signs them).
  Status apply_nsec3_changes(std::span<const uint8_t> zone_key, const wire::Name& apex,
                             const SigningState& state, const Nsec3Plan& plan, bool sign);
  void start_whole_signing(std::span<const uint8_t> zone_key);
  Status signing_slice(std::span<const uint8_t> zone_key, SigningState& state);
  Status reconcile_owner(std::span<const uint8_t> zone_key, const wire::Name& apex,
                         const SigningState& state, std::string_view owner_bytes,
                         const std::set<uint16_t>& noted, Nsec3Plan& plan);
  Status renewal_walk(std::span<const uint8_t> zone_key, SigningState& state);
  bool rollover_steps(SigningState& state, const NewKey* offered);
  std::optional<ImportState> read_import(uint64_t id);
  void drop_import(uint64_t id, const ImportState& state);
  uint32_t allocate_generation();
  // Queues one generation of a zone's content for reclaiming.
  void trash_content(std::span<const uint8_t> zone_key, uint32_t generation);
  void index_nsec3(std::span<const uint8_t> zone_key, uint32_t generation,
                   std::span<const uint8_t> owner_key, bool present);
  // The generation that reads and writes of `zone_key` go to: the live one
  // (0 when no zone). An import's chunks write the staged one directly
  // (stage_records).
  uint32_t generation_of(std::span<const uint8_t> zone_key);

  // The types of the RRsets at one owner.
  std::vector<uint16_t> types_at(std::span<const uint8_t> zone_key,
                                 std::span<const uint8_t> owner_key);

  Status add_records_grouped(std::span<const uint8_t> zone_key, size_t apex_labels,
                             const std::vector<wire::Record>& records);
  // Merges `rdatas` into the RRset (zone, owner, type), checking the zone rules.
  Status add_to_rrset(std::span<const uint8_t> zone_key, size_t apex_labels,
                      const wire::Name& owner, uint16_t type, uint16_t rclass, uint32_t ttl,
                      const std::vector<std::span<const uint8_t>>& rdatas);
  Status check_placement(const NameKey& owner_key, size_t apex_labels, const wire::Name& owner,
                         uint16_t type);
  void finish_serials();
  // Appends this command's net change to each zone it changed to the
  // zone's journal, and trims the journal to its bound.
  void write_journal();
  void clear_journal(std::span<const uint8_t> zone_key);
  void update_zone_depth_hint();

  // Table access; throw LmdbFailure on LMDB errors.
  std::optional<std::string> get(MDB_dbi dbi, std::span<const uint8_t> key);
  void put(MDB_dbi dbi, std::span<const uint8_t> key, std::string_view value);
  void del(MDB_dbi dbi, std::span<const uint8_t> key);
  std::optional<RRsetData> read_rrset(std::span<const uint8_t> zone_key,
                                      std::span<const uint8_t> owner_key, uint16_t type);
  // Writes (or deletes, when empty) an RRset and keeps the zone's record
  // count and serial in step. Returns whether anything changed.
  bool write_rrset(std::span<const uint8_t> zone_key, std::span<const uint8_t> owner_key,
                   uint16_t type, const RRsetData& data);
  void touch(std::span<const uint8_t> zone_key);
  std::optional<uint32_t> zone_serial(std::span<const uint8_t> zone_key);

  MDB_txn* txn_;
  const lmdb::Env& env_;
  // Zones changed by this command, with their serial before it (nullopt for
  // a zone the command created).
  std::map<std::string, std::optional<uint32_t>> touched_;
  // Each RRset this command wrote, by rrsets key, as it was before (nullopt:
  // absent), so the journal records the net change.
  std::map<std::string, std::optional<std::string>> before_;
  // Zones replaced (PutZone) or removed: their journal starts over.
  std::set<std::string> journal_reset_;
  uint32_t journal_entries_;
  uint64_t index_ = 0;
  // Signing, per run(): states read (nullopt: zone not signed), RRsets
  // changed by owner (type 0: all), zones to sign whole.
  std::map<std::string, std::optional<SigningState>> signing_cache_;
  std::map<std::string, std::map<std::string, std::set<uint16_t>>> signing_dirty_;
  std::set<std::string> signing_whole_;
  bool signing_reset_seen_ = false;  // journal_reset_ looked at this run
  bool check_only_ = false;
  // On rrsets, for check_placement; open only inside run().
  lmdb::Cursor placement_cursor_;
};

}  // namespace raftdns::store
