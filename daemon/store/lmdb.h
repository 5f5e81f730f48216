// Move-only RAII wrappers for LMDB handles (environment, transaction, cursor).
//
// A transaction aborts in its destructor unless it was committed; a cursor is
// closed before the transaction that owns it ends (declare it after the txn).
// Errors are reported as LMDB return codes; callers turn them into Status
// messages that name the store directory.
#pragma once

#include <lmdb.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>
#include <utility>

namespace raftdns::store::lmdb {

// An MDB_val over existing bytes (LMDB never writes through a key pointer).
inline MDB_val val(const void* data, size_t size) noexcept {
  return MDB_val{size, const_cast<void*>(data)};
}
inline MDB_val val(std::string_view s) noexcept { return val(s.data(), s.size()); }
inline std::string_view view(const MDB_val& v) noexcept {
  return {static_cast<const char*>(v.mv_data), v.mv_size};
}

std::string error_text(int rc);

// The environment plus the seven named databases. Shared (via shared_ptr) by
// the store and every ReadTxn, so a snapshot swap (replace_with) leaves old
// readers on the old map until they finish.
class Env {
 public:
  Env() = default;
  Env(const Env&) = delete;
  Env& operator=(const Env&) = delete;
  Env(Env&& o) noexcept { *this = std::move(o); }
  Env& operator=(Env&& o) noexcept {
    if (this != &o) {
      close();
      env_ = std::exchange(o.env_, nullptr);
      meta = o.meta;
      zones = o.zones;
      rrsets = o.rrsets;
      journal = o.journal;
      imports = o.imports;
      trash = o.trash;
      nsec3 = o.nsec3;
      retired.store(o.retired.load());
      serial = o.serial;
    }
    return *this;
  }
  ~Env() { close(); }

  MDB_env* get() const noexcept { return env_; }
  void reset(MDB_env* e) noexcept {
    close();
    env_ = e;
  }

  MDB_dbi meta = 0, zones = 0, rrsets = 0, journal = 0, imports = 0, trash = 0, nsec3 = 0;
  // Set once the store has swapped in another environment; ReadTxn::renew()
  // then tells its owner to begin a fresh read.
  std::atomic<bool> retired{false};
  // Tells environments apart for as long as the process runs (no two get
  // the same), where an address could be reused: a transaction ID means
  // something only together with the environment it came from.
  uint64_t serial = next_serial();

 private:
  static uint64_t next_serial() noexcept {
    static std::atomic<uint64_t> last{0};
    return last.fetch_add(1, std::memory_order_relaxed) + 1;
  }
  void close() noexcept {
    if (env_) mdb_env_close(env_);
    env_ = nullptr;
  }
  MDB_env* env_ = nullptr;
};

class Txn {
 public:
  Txn() = default;
  Txn(const Txn&) = delete;
  Txn& operator=(const Txn&) = delete;
  Txn(Txn&& o) noexcept : txn_(std::exchange(o.txn_, nullptr)) {}
  Txn& operator=(Txn&& o) noexcept {
    if (this != &o) {
      abort();
      txn_ = std::exchange(o.txn_, nullptr);
    }
    return *this;
  }
  ~Txn() { abort(); }

  // Begins a transaction (read-only with MDB_RDONLY); `parent` nests a write txn.
  static int begin(MDB_env* env, MDB_txn* parent, unsigned flags, Txn& out) noexcept {
    MDB_txn* t = nullptr;
    int rc = mdb_txn_begin(env, parent, flags, &t);
    if (rc == 0) {
      out.abort();
      out.txn_ = t;
    }
    return rc;
  }
  int commit() noexcept {
    int rc = mdb_txn_commit(txn_);  // frees the handle even on failure
    txn_ = nullptr;
    return rc;
  }
  void abort() noexcept {
    if (txn_) mdb_txn_abort(txn_);
    txn_ = nullptr;
  }
  MDB_txn* get() const noexcept { return txn_; }
  explicit operator bool() const noexcept { return txn_ != nullptr; }

 private:
  MDB_txn* txn_ = nullptr;
};

class Cursor {
 public:
  Cursor() = default;
  Cursor(const Cursor&) = delete;
  Cursor& operator=(const Cursor&) = delete;
  Cursor(Cursor&& o) noexcept : cur_(std::exchange(o.cur_, nullptr)) {}
  Cursor& operator=(Cursor&& o) noexcept {
    if (this != &o) {
      close();
      cur_ = std::exchange(o.cur_, nullptr);
    }
    return *this;
  }
  ~Cursor() { close(); }

  static int open(MDB_txn* txn, MDB_dbi dbi, Cursor& out) noexcept {
    MDB_cursor* c = nullptr;
    int rc = mdb_cursor_open(txn, dbi, &c);
    if (rc == 0) {
      out.close();
      out.cur_ = c;
    }
    return rc;
  }
  int get(MDB_val* k, MDB_val* v, MDB_cursor_op op) const noexcept {
    return mdb_cursor_get(cur_, k, v, op);
  }
  MDB_cursor* get() const noexcept { return cur_; }
  void close() noexcept {
    if (cur_) mdb_cursor_close(cur_);
    cur_ = nullptr;
  }

 private:
  MDB_cursor* cur_ = nullptr;
};

}  // namespace raftdns::store::lmdb
