// LmdbStore: opening (schema check), apply in one write transaction, reads,
// digest, sync, snapshot copy and snapshot swap.
#include "daemon/store/store.h"

#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cinttypes>
#include <cstring>
#include <filesystem>
#include <future>
#include <mutex>
#include <set>

#include "common/fsync.h"
#include "daemon/store/apply.h"
#include "daemon/store/lmdb.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/scan.h"

namespace raftdns::store {

std::string lmdb::error_text(int rc) { return mdb_strerror(rc); }

namespace {

constexpr std::string_view kSchemaKey = "schema_version";
constexpr std::string_view kAppliedIndexKey = "applied_index";
constexpr std::string_view kAppliedTermKey = "applied_term";
constexpr std::string_view kMembershipKey = "membership";

std::span<const uint8_t> bytes_of(const MDB_val& v) {
  return {static_cast<const uint8_t*>(v.mv_data), v.mv_size};
}

std::string u64_value(uint64_t v) {
  std::string s(8, '\0');
  store_u64(reinterpret_cast<uint8_t*>(s.data()), v);
  return s;
}

// 64-bit FNV-1a: simple, fixed, and the same on every platform.
struct Fnv64 {
  uint64_t h = bytes::kFnv64Offset;
  void add(const void* data, size_t n) {
    h = bytes::fnv1a64({static_cast<const uint8_t*>(data), n}, h);
  }
  void add_u64(uint64_t v) {
    uint8_t b[8];
    store_u64(b, v);
    add(b, 8);
  }
  void add_val(const MDB_val& v) {
    add_u64(v.mv_size);
    add(v.mv_data, v.mv_size);
  }
};

}  // namespace

class LmdbStore final : public Store {
 public:
  LmdbStore(std::string dir, StoreOptions opts, std::shared_ptr<lmdb::Env> env)
      : dir_(std::move(dir)), opts_(opts), env_(std::move(env)) {}

  static Result<std::shared_ptr<lmdb::Env>> open_env(const std::string& dir,
                                                     const StoreOptions& opts) {
    auto fail = [&](const std::string& what, int rc) {
      return make_error("store " + dir + ": " + what + ": " + mdb_strerror(rc));
    };
    std::error_code ec;
    std::filesystem::create_directories(dir, ec);
    if (ec) return make_error("store " + dir + ": cannot create directory: " + ec.message());

    auto env = std::make_shared<lmdb::Env>();
    MDB_env* raw = nullptr;
    if (int rc = mdb_env_create(&raw)) return fail("mdb_env_create", rc);
    env->reset(raw);
    if (int rc = mdb_env_set_mapsize(raw, opts.map_size)) return fail("set map size", rc);
    if (int rc = mdb_env_set_maxreaders(raw, opts.max_readers)) return fail("set readers", rc);
    if (int rc = mdb_env_set_maxdbs(raw, 7)) return fail("set max dbs", rc);
    // NOTLS: a worker's ReadTxn is not tied to the thread that began it.
    // NOMETASYNC: the WAL is the durable source (docs/ARCHITECTURE.md,
    // "Durability order"); never NOSYNC.
    // 0600: a zone signed online keeps its private keys here.
    if (int rc = mdb_env_open(raw, dir.c_str(), MDB_NOTLS | MDB_NOMETASYNC, 0600)) {
      return fail("open", rc);
    }
    // A store made by an older version was 0640.
    for (const char* file : {"/data.mdb", "/lock.mdb"}) ::chmod((dir + file).c_str(), 0600);

    lmdb::Txn txn;
    if (int rc = lmdb::Txn::begin(raw, nullptr, 0, txn)) return fail("begin", rc);
    for (auto [name, dbi] : {std::pair{"meta", &env->meta}, std::pair{"zones", &env->zones},
                             std::pair{"rrsets", &env->rrsets},
                             std::pair{"journal", &env->journal},
                             std::pair{"imports", &env->imports}, std::pair{"trash", &env->trash},
                             std::pair{"nsec3", &env->nsec3}}) {
      if (int rc = mdb_dbi_open(txn.get(), name, MDB_CREATE, dbi)) {
        return fail(std::string("open table ") + name, rc);
      }
    }
    MDB_val k = lmdb::val(kSchemaKey), v;
    int rc = mdb_get(txn.get(), env->meta, &k, &v);
    if (rc == MDB_NOTFOUND) {
      MDB_stat st{};
      mdb_stat(txn.get(), env->rrsets, &st);
      if (st.ms_entries != 0) {
        return make_error("store " + dir + ": holds records but no schema version");
      }
      std::string version(4, '\0');
      store_u32(reinterpret_cast<uint8_t*>(version.data()), kSchemaVersion);
      MDB_val nv = lmdb::val(version);
      if ((rc = mdb_put(txn.get(), env->meta, &k, &nv, 0))) return fail("write schema", rc);
    } else if (rc != 0) {
      return fail("read schema", rc);
    } else {
      uint32_t found = v.mv_size == 4 ? load_u32(static_cast<const uint8_t*>(v.mv_data)) : 0;
      if (found == 1) {
        if (auto s = migrate_from_v1(txn.get(), *env); !s) {
          return make_error("store " + dir + ": migrating from schema version 1: " + s.error());
        }
        found = 2;
      }
      if (found == 2) {
        if (auto s = migrate_from_v2(txn.get(), *env); !s) {
          return make_error("store " + dir + ": migrating from schema version 2: " + s.error());
        }
        found = kSchemaVersion;
      }
      if (found != kSchemaVersion) {
        return make_error("store " + dir + ": schema version " + std::to_string(found) +
                          ", but this build reads version " + std::to_string(kSchemaVersion));
      }
    }
    if ((rc = txn.commit())) return fail("commit", rc);
    return env;
  }

  // Schema 1 keyed rrsets without a generation: every zone's content
  // becomes generation 0, in the same transaction as the open.
  static Status migrate_from_v1(MDB_txn* txn, const lmdb::Env& env) {
    auto put = [&](MDB_dbi dbi, std::string_view key, std::string_view value) -> Status {
      MDB_val k = lmdb::val(key), v = lmdb::val(value);
      if (int rc = mdb_put(txn, dbi, &k, &v, 0)) return make_error(mdb_strerror(rc));
      return {};
    };
    std::vector<std::pair<std::string, std::string>> rows;
    for (MDB_dbi dbi : {env.zones, env.rrsets}) {
      rows.clear();
      lmdb::Cursor cursor;
      if (int rc = lmdb::Cursor::open(txn, dbi, cursor)) return make_error(mdb_strerror(rc));
      MDB_val k, v;
      for (int rc = cursor.get(&k, &v, MDB_FIRST); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
        rows.emplace_back(lmdb::view(k), lmdb::view(v));
      }
      cursor.close();
      if (int rc = mdb_drop(txn, dbi, 0)) return make_error(mdb_strerror(rc));
      for (auto& [key, value] : rows) {
        if (dbi == env.zones) {
          // The generation goes after the fixed fields, before the SOA copy.
          if (value.size() < 24) return make_error("damaged zones entry");
          value.insert(24, 4, '\0');
        } else {
          // After the 0x00 that ends the zone key (see split_rrset_key).
          size_t i = 0;
          while (i < key.size() && key[i] != 0) {
            while (i < key.size() && key[i] != 0) ++i;
            ++i;
          }
          if (i >= key.size()) return make_error("damaged rrsets key");
          key.insert(i + 1, 4, '\0');
        }
        if (auto s = put(dbi, key, value); !s) return s;
      }
    }
    std::string version(4, '\0');
    store_u32(reinterpret_cast<uint8_t*>(version.data()), 2);
    return put(env.meta, kSchemaKey, version);
  }

  // Schema 2 had no nsec3 table: index every NSEC3 RRset already stored
  // (live, staged and trashed generations alike, as apply and reclaim
  // would have), in the same transaction as the open.
  static Status migrate_from_v2(MDB_txn* txn, const lmdb::Env& env) {
    lmdb::Cursor cursor;
    if (int rc = lmdb::Cursor::open(txn, env.rrsets, cursor)) return make_error(mdb_strerror(rc));
    std::vector<std::string> index;
    MDB_val k, v;
    for (int rc = cursor.get(&k, &v, MDB_FIRST); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
      RRsetKeyParts parts;
      if (!split_rrset_key(bytes_of(k), parts) || parts.type != wire::rrtype::NSEC3) continue;
      uint8_t hash[kMaxNsec3Hash];
      const size_t n = nsec3_owner_hash(parts.owner_rel, hash);
      if (n == 0) continue;
      KeyBuffer key;
      make_nsec3_key(parts.zone_key, parts.generation, {hash, n}, key);
      if (key.size <= kMaxLmdbKey) index.push_back(key.str());
    }
    cursor.close();
    for (const auto& key : index) {
      MDB_val ik = lmdb::val(key), iv = lmdb::val(std::string_view());
      if (int rc = mdb_put(txn, env.nsec3, &ik, &iv, 0)) return make_error(mdb_strerror(rc));
    }
    std::string version(4, '\0');
    store_u32(reinterpret_cast<uint8_t*>(version.data()), kSchemaVersion);
    MDB_val sk = lmdb::val(kSchemaKey), sv = lmdb::val(version);
    if (int rc = mdb_put(txn, env.meta, &sk, &sv, 0)) return make_error(mdb_strerror(rc));
    return {};
  }

  // ---- apply ----

  Status apply(std::span<const ApplyItem> items, std::vector<Status>* outcomes) override {
    auto env = env_;
    std::vector<Status> results;
    results.reserve(items.size());
    std::set<std::string> changed;
    try {
      lmdb::Txn txn;
      if (int rc = lmdb::Txn::begin(env->get(), nullptr, 0, txn)) {
        return make_error("store " + dir_ + ": begin write: " + mdb_strerror(rc));
      }
      uint64_t applied = read_u64(txn.get(), *env, kAppliedIndexKey);
      uint64_t term = read_u64(txn.get(), *env, kAppliedTermKey);
      bool moved = false;
      for (const auto& item : items) {
        // Index 0 carries no Raft position (direct single-node writes); an
        // index already applied is a replay and changes nothing.
        if (item.index != 0 && item.index <= applied) {
          results.emplace_back();
          continue;
        }
        if (item.index != 0) {
          Applier housekeeping(txn.get(), *env, opts_.journal_entries);
          housekeeping.drop_stale_imports(item.index);
        }
        auto cmd = decode_command(item.command);
        if (!cmd) {
          results.emplace_back(std::move(cmd).take_error());
        } else {
          results.push_back(
              apply_nested(txn.get(), *env, *cmd, item.index, opts_.journal_entries, changed));
          // A refused chunk or commit ends its import, on every node alike;
          // a chunk ahead of its turn only is refused (command.h).
          uint64_t import_id = 0;
          if (auto* chunk = std::get_if<ImportChunk>(&*cmd)) import_id = chunk->id;
          if (auto* commit = std::get_if<ImportCommit>(&*cmd)) import_id = commit->id;
          if (!results.back() && import_id != 0 && !is_chunk_ahead(results.back().error())) {
            (void)apply_nested(txn.get(), *env, ImportAbort{import_id}, item.index,
                               opts_.journal_entries, changed);
          }
        }
        if (item.index != 0) {
          applied = item.index;
          term = item.term;
          moved = true;
        }
      }
      if (moved) {
        put_meta(txn.get(), *env, kAppliedIndexKey, u64_value(applied));
        put_meta(txn.get(), *env, kAppliedTermKey, u64_value(term));
      }
      if (int rc = txn.commit()) {
        return make_error("store " + dir_ + ": commit: " + mdb_strerror(rc));
      }
    } catch (const LmdbFailure& f) {
      return make_error("store " + dir_ + ": " + f.what);
    }
    if (outcomes) {
      for (auto& r : results) outcomes->push_back(std::move(r));
    }
    if (observer_ && !changed.empty()) {
      std::vector<wire::Name> zones;
      for (const auto& key : changed) {
        if (auto n = wire::Name::from_canonical_key(key)) zones.push_back(*n);
      }
      observer_(zones);
    }
    return {};
  }

  void set_change_observer(ChangeObserver observer) override { observer_ = std::move(observer); }

  Status check(const Command& c) const override {
    auto env = env_;
    try {
      lmdb::Txn txn;  // aborted on return: nothing is written
      if (int rc = lmdb::Txn::begin(env->get(), nullptr, 0, txn)) {
        return make_error("store " + dir_ + ": begin: " + mdb_strerror(rc));
      }
      Applier applier(txn.get(), *env, opts_.journal_entries);
      applier.set_check_only(true);
      return applier.run(c);
    } catch (const LmdbFailure& f) {
      return make_error("store " + dir_ + ": " + f.what);
    }
  }

  // ---- reads ----

  std::unique_ptr<ReadTxn> begin_read() const override {
    std::shared_ptr<lmdb::Env> env;
    {
      std::lock_guard lock(env_mu_);
      env = env_;
    }
    std::unique_ptr<ReadTxn> r(new ReadTxn());
    r->env_ = env;
    if (mdb_txn_begin(env->get(), nullptr, MDB_RDONLY, &r->txn_) != 0) return nullptr;
    if (mdb_cursor_open(r->txn_, env->rrsets, &r->cursor_) != 0) return nullptr;
    if (mdb_cursor_open(r->txn_, env->nsec3, &r->nsec3_cursor_) != 0) return nullptr;
    r->load_hints();
    return r;
  }

  StoreStats stats() const override {
    StoreStats s;
    auto r = read();
    if (!r.txn) return s;
    s.applied_index = read_u64(r.txn.get(), *r.env, kAppliedIndexKey);
    s.applied_term = read_u64(r.txn.get(), *r.env, kAppliedTermKey);
    for_each(r, r.env->zones, [&](const MDB_val&, const MDB_val& v) {
      ++s.zones;
      ZoneMeta meta;
      if (ZoneMeta::parse(bytes_of(v), meta)) s.records += meta.records;
    });
    for_each(r, r.env->imports, [&](const MDB_val&, const MDB_val& v) {
      ++s.imports;
      ImportState state;
      ZoneMeta meta;
      if (ImportState::parse(bytes_of(v), state) &&
          ZoneMeta::parse({reinterpret_cast<const uint8_t*>(state.meta.data()), state.meta.size()},
                          meta)) {
        s.staged_records += meta.records;
      }
    });
    MDB_stat trash{};
    if (mdb_stat(r.txn.get(), r.env->trash, &trash) == 0) s.reclaim_pending = trash.ms_entries;
    return s;
  }

  std::vector<ZoneInfo> zones() const override {
    std::vector<ZoneInfo> out;
    auto r = read();
    if (!r.txn) return out;
    for_each(r, r.env->zones, [&](const MDB_val& k, const MDB_val& v) {
      auto key = lmdb::view(k);
      ZoneMeta meta;
      if (key.empty() || !ZoneMeta::parse(bytes_of(v), meta)) return;
      auto name = wire::Name::from_canonical_key(key.substr(0, key.size() - 1));
      if (!name) return;
      out.push_back(ZoneInfo{*name, meta.serial, meta.records});
    });
    return out;
  }

  std::optional<SigningInfo> signing(const wire::Name& zone) const override {
    auto r = read();
    if (!r.txn) return std::nullopt;
    NameKey zk(zone);
    auto key = signing_meta_key(zk.bytes());
    MDB_val k = lmdb::val(key.data(), key.size()), v;
    if (mdb_get(r.txn.get(), r.env->meta, &k, &v) != 0) return std::nullopt;
    auto state = SigningState::decode(bytes_of(v));
    if (!state) return std::nullopt;
    return signing_info(zone, *state);
  }

  std::vector<wire::Name> signed_zones() const override {
    std::vector<wire::Name> out;
    auto r = read();
    if (!r.txn) return out;
    for_each(r, r.env->meta, [&](const MDB_val& k, const MDB_val&) {
      auto key = lmdb::view(k);
      if (key.substr(0, kSigningMetaPrefix.size()) != kSigningMetaPrefix) return;
      auto name = wire::Name::from_canonical_key(key.substr(kSigningMetaPrefix.size()));
      if (name) out.push_back(*name);
    });
    return out;
  }

  Result<std::vector<wire::Record>> zone_records(const wire::Name& zone) const override {
    auto r = read();
    if (!r.txn) return make_error("store " + dir_ + ": cannot begin a read");
    NameKey zk(zone);
    KeyBuffer zkey;
    make_zone_key(zk.bytes(), zkey);
    MDB_val k = lmdb::val(zkey.data, zkey.size), v;
    ZoneMeta meta;
    if (zkey.size > kMaxLmdbKey || mdb_get(r.txn.get(), r.env->zones, &k, &v) != 0 ||
        !ZoneMeta::parse(bytes_of(v), meta)) {
      return make_error("no zone " + zone.to_text());
    }
    make_content_key(zk.bytes(), meta.generation, zkey);
    k = lmdb::val(zkey.data, zkey.size);
    std::vector<wire::Record> out;
    std::vector<wire::Record> soa;
    lmdb::Cursor cursor;
    if (lmdb::Cursor::open(r.txn.get(), r.env->rrsets, cursor) != 0) {
      return make_error("store " + dir_ + ": cannot open a cursor");
    }
    int rc = cursor.get(&k, &v, MDB_SET_RANGE);
    std::string owner_key;
    for (; rc == 0; rc = cursor.get(&k, &v, MDB_NEXT)) {
      auto kb = bytes_of(k);
      if (kb.size() < zkey.size || std::memcmp(kb.data(), zkey.data, zkey.size) != 0) break;
      RRsetKeyParts parts;
      RRsetView rrset;
      if (!split_rrset_key(kb, parts) || !RRsetView::parse(parts.type, bytes_of(v), rrset)) {
        return make_error("store " + dir_ + ": damaged rrset in zone " + zone.to_text());
      }
      owner_key.assign(reinterpret_cast<const char*>(parts.zone_key.data()), parts.zone_key.size());
      owner_key.append(reinterpret_cast<const char*>(parts.owner_rel.data()),
                       parts.owner_rel.size());
      auto owner = wire::Name::from_canonical_key(owner_key);
      if (!owner) return make_error("store " + dir_ + ": damaged key in zone " + zone.to_text());
      auto& dest = (parts.type == wire::rrtype::SOA && parts.owner_rel.empty()) ? soa : out;
      for (auto rd : rrset) {
        dest.push_back(wire::Record{*owner, rrset.type, rrset.rclass, rrset.ttl,
                                    std::vector<uint8_t>(rd.begin(), rd.end())});
      }
    }
    out.insert(out.begin(), soa.begin(), soa.end());
    return out;
  }

  // cursor: generation u32 | serial u32 | the rrsets key of the last RRset
  // sent, below the content key (empty: nothing sent yet)
  Result<ZonePart> export_part(const wire::Name& zone, std::span<const uint8_t> cursor,
                               size_t max_records) const override {
    auto r = read();
    if (!r.txn) return make_error("store " + dir_ + ": cannot begin a read");
    NameKey zk(zone);
    KeyBuffer zkey;
    make_zone_key(zk.bytes(), zkey);
    MDB_val k = lmdb::val(zkey.data, zkey.size), v;
    ZoneMeta meta;
    if (zkey.size > kMaxLmdbKey || mdb_get(r.txn.get(), r.env->zones, &k, &v) != 0 ||
        !ZoneMeta::parse(bytes_of(v), meta)) {
      return make_error("no zone " + zone.to_text());
    }
    const bool first = cursor.empty();
    if (!first) {
      if (cursor.size() < 8) return make_error("export of " + zone.to_text() + ": bad cursor");
      if (load_u32(cursor.data()) != meta.generation || load_u32(cursor.data() + 4) != meta.serial) {
        return make_error("zone " + zone.to_text() +
                          " changed during the export (now serial " +
                          std::to_string(meta.serial) + "); export it again");
      }
    }
    KeyBuffer prefix;
    make_content_key(zk.bytes(), meta.generation, prefix);
    lmdb::Cursor c;
    if (lmdb::Cursor::open(r.txn.get(), r.env->rrsets, c) != 0) {
      return make_error("store " + dir_ + ": cannot open a cursor");
    }
    ZonePart part;
    std::string start(reinterpret_cast<const char*>(prefix.data), prefix.size);
    if (!first) start.append(reinterpret_cast<const char*>(cursor.data() + 8), cursor.size() - 8);
    MDB_val sk = lmdb::val(start), sv;
    int rc = c.get(&sk, &sv, MDB_SET_RANGE);
    // Resume after the last RRset sent.
    if (rc == 0 && !first && lmdb::view(sk) == start) rc = c.get(&sk, &sv, MDB_NEXT);
    std::string owner_key, last;
    auto emit = [&](const MDB_val& key, const MDB_val& value, bool soa_only) -> Status {
      RRsetKeyParts parts;
      RRsetView rrset;
      if (!split_rrset_key(bytes_of(key), parts) ||
          !RRsetView::parse(parts.type, bytes_of(value), rrset)) {
        return make_error("store " + dir_ + ": damaged rrset in zone " + zone.to_text());
      }
      const bool apex_soa = parts.type == wire::rrtype::SOA && parts.owner_rel.empty();
      if (apex_soa != soa_only) return {};
      owner_key.assign(reinterpret_cast<const char*>(parts.zone_key.data()), parts.zone_key.size());
      owner_key.append(reinterpret_cast<const char*>(parts.owner_rel.data()),
                       parts.owner_rel.size());
      auto owner = wire::Name::from_canonical_key(owner_key);
      if (!owner) return make_error("store " + dir_ + ": damaged key in zone " + zone.to_text());
      for (auto rd : rrset) {
        part.records.push_back(wire::Record{*owner, rrset.type, rrset.rclass, rrset.ttl,
                                            std::vector<uint8_t>(rd.begin(), rd.end())});
      }
      return {};
    };
    if (first) {
      // The SOA leads, wherever it sorts among the apex's RRsets.
      KeyBuffer soa_key;
      make_rrset_key(zk.bytes(), meta.generation, zk.bytes(), wire::rrtype::SOA, soa_key);
      MDB_val qk = lmdb::val(soa_key.data, soa_key.size), qv;
      if (mdb_get(r.txn.get(), r.env->rrsets, &qk, &qv) == 0) {
        if (auto s = emit(qk, qv, true); !s) return std::move(s).take_error();
      }
    }
    bool more = false;
    for (; rc == 0; rc = c.get(&sk, &sv, MDB_NEXT)) {
      if (sk.mv_size < prefix.size || std::memcmp(sk.mv_data, prefix.data, prefix.size) != 0) break;
      if (part.records.size() >= max_records) {
        more = true;
        break;
      }
      if (auto s = emit(sk, sv, false); !s) return std::move(s).take_error();
      last.assign(static_cast<const char*>(sk.mv_data) + prefix.size, sk.mv_size - prefix.size);
    }
    if (more) {
      part.cursor.resize(8);
      store_u32(part.cursor.data(), meta.generation);
      store_u32(part.cursor.data() + 4, meta.serial);
      part.cursor.insert(part.cursor.end(), last.begin(), last.end());
    }
    return part;
  }

  Result<ReclaimProgress> reclaim(size_t max_rrsets) override {
    auto env = env_;
    ReclaimProgress progress;
    lmdb::Txn txn;
    if (int rc = lmdb::Txn::begin(env->get(), nullptr, 0, txn)) {
      return make_error("store " + dir_ + ": begin reclaim: " + mdb_strerror(rc));
    }
    lmdb::Cursor trash, rrsets, nsec3;
    if (int rc = lmdb::Cursor::open(txn.get(), env->trash, trash);
        rc != 0 || (rc = lmdb::Cursor::open(txn.get(), env->rrsets, rrsets)) != 0 ||
        (rc = lmdb::Cursor::open(txn.get(), env->nsec3, nsec3)) != 0) {
      return make_error("store " + dir_ + ": reclaim: " + mdb_strerror(rc));
    }
    MDB_val tk, tv;
    int rc = trash.get(&tk, &tv, MDB_FIRST);
    while (rc == 0) {
      const std::string prefix(lmdb::view(tk));
      // The generation's rrsets, then its NSEC3 index entries (same prefix).
      bool emptied = false;
      for (lmdb::Cursor* table : {&rrsets, &nsec3}) {
        emptied = false;
        for (;;) {
          if (progress.deleted >= max_rrsets) break;
          MDB_val k = lmdb::val(prefix), v;
          int r = table->get(&k, &v, MDB_SET_RANGE);
          if (r == MDB_NOTFOUND ||
              (r == 0 && (k.mv_size < prefix.size() ||
                          std::memcmp(k.mv_data, prefix.data(), prefix.size()) != 0))) {
            emptied = true;
            break;
          }
          if (r != 0 || (r = mdb_cursor_del(table->get(), 0)) != 0) {
            return make_error("store " + dir_ + ": reclaim: " + mdb_strerror(r));
          }
          ++progress.deleted;
        }
        if (!emptied) break;
      }
      if (!emptied) break;
      if (int r = mdb_cursor_del(trash.get(), 0)) {
        return make_error("store " + dir_ + ": reclaim: " + mdb_strerror(r));
      }
      rc = trash.get(&tk, &tv, MDB_FIRST);
    }
    if (rc != 0 && rc != MDB_NOTFOUND) {
      return make_error("store " + dir_ + ": reclaim: " + mdb_strerror(rc));
    }
    progress.done = rc == MDB_NOTFOUND;
    trash.close();
    rrsets.close();
    nsec3.close();
    if (int r = txn.commit()) {
      return make_error("store " + dir_ + ": reclaim commit: " + mdb_strerror(r));
    }
    return progress;
  }

  std::vector<wire::Record> get(const wire::Name& owner, uint16_t type) const override {
    std::vector<wire::Record> out;
    auto view = begin_read();
    if (!view) return out;
    NameKey key(owner);
    ZoneRef z;
    if (!view->find_zone(key, z)) return out;
    NodeView node;
    view->load_node(z, key.bytes(), node);
    auto emit = [&](const RRsetView& rrset) {
      for (auto rd : rrset)
        out.push_back(wire::Record{owner, rrset.type, rrset.rclass, rrset.ttl,
                                   std::vector<uint8_t>(rd.begin(), rd.end())});
    };
    if (type != 0) {
      RRsetView rrset;
      if (view->find_type(z, key.bytes(), node, type, rrset)) emit(rrset);
    } else if (!node.overflow) {
      for (size_t i = 0; i < node.count; ++i) emit(node.rrsets[i]);
    } else {
      for (uint32_t t = 1; t <= 0xffff; ++t) {
        RRsetView rrset;
        if (view->get_rrset(z, key.bytes(), static_cast<uint16_t>(t), rrset)) emit(rrset);
      }
    }
    return out;
  }

  std::string digest() const override { return digest_of(read()); }

  std::function<std::string()> digest_job() const override {
    // The environment is opened MDB_NOTLS, so the read transaction may be
    // used by the thread that runs the job.
    auto r = std::make_shared<Read>(read());
    return [r] { return digest_of(*r); };
  }

  Status sync() override {
    if (int rc = mdb_env_sync(env_->get(), 1)) {
      return make_error("store " + dir_ + ": sync: " + mdb_strerror(rc));
    }
    return {};
  }

  Result<StoreCopy> copy_to(const std::string& path) const override {
    std::error_code ec;
    std::filesystem::create_directories(path, ec);
    if (ec) return make_error("snapshot copy " + path + ": " + ec.message());
    if (std::filesystem::exists(std::filesystem::path(path) / "data.mdb")) {
      return make_error("snapshot copy " + path + ": already holds a data.mdb");
    }
    std::shared_ptr<lmdb::Env> env;
    {
      std::lock_guard lock(env_mu_);
      env = env_;
    }
    if (int rc = mdb_env_copy2(env->get(), path.c_str(), MDB_CP_COMPACT)) {
      return make_error("snapshot copy " + path + ": " + mdb_strerror(rc));
    }
    // The copy holds what the store holds, private keys included.
    if (::chmod((path + "/data.mdb").c_str(), 0600) != 0) {
      return make_error("snapshot copy " + path + ": cannot set mode 0600: " +
                        std::strerror(errno));
    }
    if (auto s = fsync_path(path + "/data.mdb", false); !s) return std::move(s).take_error();
    if (auto s = fsync_path(path, true); !s) return std::move(s).take_error();
    // The copy runs its own read transaction, so it may hold more than was
    // applied when it began: read its position from the copy itself.
    StoreCopy out;
    out.file = path + "/data.mdb";
    {
      auto copy = open_env(path, opts_);
      if (!copy) return make_error("snapshot copy " + path + ": " + copy.error());
      lmdb::Txn txn;
      if (int rc = lmdb::Txn::begin((*copy)->get(), nullptr, MDB_RDONLY, txn)) {
        return make_error("snapshot copy " + path + ": " + mdb_strerror(rc));
      }
      out.applied_index = read_u64(txn.get(), **copy, kAppliedIndexKey);
      out.applied_term = read_u64(txn.get(), **copy, kAppliedTermKey);
      MDB_val k = lmdb::val(kMembershipKey), v;
      if (mdb_get(txn.get(), (*copy)->meta, &k, &v) == 0) {
        auto b = bytes_of(v);
        out.membership.assign(b.begin(), b.end());
      }
    }
    std::filesystem::remove(std::filesystem::path(path) / "lock.mdb", ec);
    return out;
  }

  std::string directory() const override { return dir_; }

  Status replace_with(const std::string& copy_dir) override {
    // Check the copy opens and has our schema before anything moves.
    {
      auto probe = open_env(copy_dir, opts_);
      if (!probe) return make_error("snapshot " + copy_dir + ": " + probe.error());
    }
    if (::renameat2(AT_FDCWD, copy_dir.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE) != 0) {
      return make_error("snapshot swap " + copy_dir + " <-> " + dir_ + ": " + std::strerror(errno));
    }
    // The exchange is durable only once the parent directory is. A failed
    // fsync may have dropped it while a later one reports success: the
    // caller must treat this error as fatal (the WAL's rule, fsyncgate).
    auto parent = std::filesystem::path(dir_).parent_path().string();
    if (auto s = fsync_path(parent.empty() ? "." : parent, true); !s) {
      return make_error("snapshot swap not durable: " + s.error());
    }
    auto fresh = open_env(dir_, opts_);
    if (!fresh) {
      // Put the old data back so the node keeps a working store.
      ::renameat2(AT_FDCWD, copy_dir.c_str(), AT_FDCWD, dir_.c_str(), RENAME_EXCHANGE);
      return make_error("snapshot reopen: " + fresh.error());
    }
    std::shared_ptr<lmdb::Env> old;
    {
      std::lock_guard lock(env_mu_);
      old = std::exchange(env_, std::move(*fresh));
    }
    old->retired.store(true, std::memory_order_release);
    // Readers still mapping the old files keep them alive until they finish.
    // Unlinking them here only drops their names: their pages go when the
    // old environment is closed, which for a big store holds the closing
    // thread for a second. So it is closed on a thread of its own (unless a
    // reader still holds it, which then closes it when done).
    std::error_code ec;
    std::filesystem::remove_all(copy_dir, ec);
    std::erase_if(retiring_, [](std::future<void>& f) {
      return f.wait_for(std::chrono::seconds(0)) == std::future_status::ready;
    });
    retiring_.push_back(
        std::async(std::launch::async, [old = std::move(old)]() mutable { old.reset(); }));
    if (observer_) {
      // Any zone may differ now: tell about every one.
      std::vector<wire::Name> names;
      for (const ZoneInfo& z : zones()) names.push_back(z.name);
      observer_(names);
    }
    return {};
  }

  uint64_t applied_index() const override {
    auto r = read();
    return r.txn ? read_u64(r.txn.get(), *r.env, kAppliedIndexKey) : 0;
  }

  std::vector<uint8_t> membership() const override {
    auto r = read();
    if (!r.txn) return {};
    MDB_val k = lmdb::val(kMembershipKey), v;
    if (mdb_get(r.txn.get(), r.env->meta, &k, &v) != 0) return {};
    auto b = bytes_of(v);
    return {b.begin(), b.end()};
  }

 private:
  struct Read {
    std::shared_ptr<lmdb::Env> env;
    lmdb::Txn txn;
  };
  Read read() const {
    Read r;
    {
      std::lock_guard lock(env_mu_);
      r.env = env_;
    }
    if (lmdb::Txn::begin(r.env->get(), nullptr, MDB_RDONLY, r.txn) != 0) r.txn = lmdb::Txn();
    return r;
  }

  template <class F>
  static void for_each(const Read& r, MDB_dbi dbi, F&& f) {
    lmdb::Cursor cursor;
    if (lmdb::Cursor::open(r.txn.get(), dbi, cursor) != 0) return;
    MDB_val k, v;
    for (int rc = cursor.get(&k, &v, MDB_FIRST); rc == 0; rc = cursor.get(&k, &v, MDB_NEXT))
      f(k, v);
  }

  static std::string digest_of(const Read& r) {
    Fnv64 h;
    if (!r.txn) return "";
    auto add = [&](const MDB_val& k, const MDB_val& v) {
      h.add_val(k);
      h.add_val(v);
    };
    // Live and staged content only: what reclaim() has yet to delete is
    // unreachable, and one node may have reclaimed it sooner than another.
    lmdb::Cursor rrsets;
    if (lmdb::Cursor::open(r.txn.get(), r.env->rrsets, rrsets) != 0) return "";
    auto add_content = [&](std::span<const uint8_t> zone_key, uint32_t generation) {
      KeyBuffer prefix;
      make_content_key(zone_key, generation, prefix);
      MDB_val k = lmdb::val(prefix.data, prefix.size), v;
      for (int rc = rrsets.get(&k, &v, MDB_SET_RANGE); rc == 0; rc = rrsets.get(&k, &v, MDB_NEXT)) {
        if (k.mv_size < prefix.size || std::memcmp(k.mv_data, prefix.data, prefix.size) != 0) break;
        add(k, v);
      }
    };
    // The signing state (keys, clock, rollover steps) is replicated data too.
    for_each(r, r.env->meta, [&](const MDB_val& k, const MDB_val& v) {
      if (lmdb::view(k).substr(0, kSigningMetaPrefix.size()) == kSigningMetaPrefix) add(k, v);
    });
    for_each(r, r.env->zones, [&](const MDB_val& k, const MDB_val& v) {
      add(k, v);
      ZoneMeta meta;
      if (k.mv_size == 0 || !ZoneMeta::parse(bytes_of(v), meta)) return;
      add_content(bytes_of(k).first(k.mv_size - 1), meta.generation);
    });
    for_each(r, r.env->imports, [&](const MDB_val& k, const MDB_val& v) {
      add(k, v);
      ImportState state;
      if (!ImportState::parse(bytes_of(v), state)) return;
      auto zone = wire::Name::from_wire(state.zone_wire);
      if (zone) add_content(NameKey(*zone).bytes(), state.generation);
    });
    char hex[17];
    std::snprintf(hex, sizeof hex, "%016" PRIx64, h.h);
    return hex;
  }

  static uint64_t read_u64(MDB_txn* txn, const lmdb::Env& env, std::string_view key) {
    MDB_val k = lmdb::val(key), v;
    if (mdb_get(txn, env.meta, &k, &v) != 0 || v.mv_size != 8) return 0;
    return load_u64(static_cast<const uint8_t*>(v.mv_data));
  }

  static void put_meta(MDB_txn* txn, const lmdb::Env& env, std::string_view key,
                       std::string_view value) {
    MDB_val k = lmdb::val(key), v = lmdb::val(value);
    if (int rc = mdb_put(txn, env.meta, &k, &v, 0)) {
      throw LmdbFailure{rc, std::string("write meta: ") + mdb_strerror(rc)};
    }
  }

  // One command in a nested transaction, so a rejection rolls back cleanly.
  static Status apply_nested(MDB_txn* parent, const lmdb::Env& env, const Command& c,
                             uint64_t index, uint32_t journal_entries,
                             std::set<std::string>& changed) {
    lmdb::Txn child;
    if (int rc = lmdb::Txn::begin(env.get(), parent, 0, child)) {
      throw LmdbFailure{rc, std::string("begin nested: ") + mdb_strerror(rc)};
    }
    Applier applier(child.get(), env, journal_entries);
    applier.set_index(index);
    auto s = applier.run(c);
    if (!s) return s;  // child aborts in its destructor
    if (int rc = child.commit()) {
      throw LmdbFailure{rc, std::string("commit nested: ") + mdb_strerror(rc)};
    }
    for (auto& zone : applier.touched_zones()) changed.insert(std::move(zone));
    return {};
  }

  std::string dir_;
  StoreOptions opts_;
  ChangeObserver observer_;
  mutable std::mutex env_mu_;  // guards the env_ pointer only (swapped by replace_with)
  // Replaced environments being closed off the caller's thread; waited for
  // when the store is destroyed.
  std::vector<std::future<void>> retiring_;
  std::shared_ptr<lmdb::Env> env_;
};

Result<std::unique_ptr<Store>> Store::open(const std::string& dir, StoreOptions opts) {
  auto env = LmdbStore::open_env(dir, opts);
  if (!env) return std::move(env).take_error();
  return std::unique_ptr<Store>(new LmdbStore(dir, opts, std::move(*env)));
}

}  // namespace raftdns::store
