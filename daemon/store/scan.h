// Lookups shared by ReadTxn (query path) and the apply code (write path):
// plain functions over an LMDB txn/cursor, no allocation.
#pragma once

#include <lmdb.h>

#include <span>

#include "daemon/store/keys.h"
#include "daemon/store/read_txn.h"

namespace raftdns::store::scan {

std::span<const uint8_t> bytes_of(const MDB_val& v) noexcept;

bool find_zone(MDB_txn* txn, MDB_dbi zones, const NameKey& name, size_t max_labels,
               ZoneRef& out) noexcept;
// `rrsets_cursor` is a cursor on the rrsets table; `generation` names the
// version of the zone's content to read (ZoneRef::generation for the live one).
void load_node(MDB_cursor* rrsets_cursor, std::span<const uint8_t> zone_key, uint32_t generation,
               std::span<const uint8_t> owner_key, NodeView& out) noexcept;
bool get_rrset(MDB_txn* txn, MDB_dbi rrsets, std::span<const uint8_t> zone_key,
               uint32_t generation, std::span<const uint8_t> owner_key, uint16_t type,
               RRsetView& out) noexcept;

}  // namespace raftdns::store::scan
