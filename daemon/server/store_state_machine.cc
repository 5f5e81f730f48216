// StoreStateMachine: maps the driver's apply, snapshot and membership calls onto store::Store.
#include "daemon/server/store_state_machine.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>

#include "daemon/store/command.h"

namespace raftdns::server {

namespace {
constexpr const char* kStoreFile = "data.mdb";
}

replication::AppliedPosition StoreStateMachine::applied() const {
  auto st = store_.stats();
  return {st.applied_index, st.applied_term};
}

std::vector<uint8_t> StoreStateMachine::membership() const { return store_.membership(); }

Status StoreStateMachine::apply(std::span<const replication::ApplyItem> items,
                                std::vector<Status>* outcomes) {
  std::vector<store::ApplyItem> out;
  out.reserve(items.size());
  std::vector<std::vector<uint8_t>> owned;
  owned.reserve(items.size());
  for (const auto& item : items) {
    store::ApplyItem a{item.index, item.term, {}};
    switch (item.kind) {
      case replication::ApplyItem::Kind::command:
        a.command = item.data;
        break;
      case replication::ApplyItem::Kind::membership:
        owned.push_back(store::encode_command(
            store::SetMembership{std::vector<uint8_t>(item.data.begin(), item.data.end())}));
        a.command = owned.back();
        break;
      case replication::ApplyItem::Kind::none:
        break;
    }
    out.push_back(a);
  }
  return store_.apply(out, outcomes);
}

Status StoreStateMachine::sync() { return store_.sync(); }

Result<replication::SnapshotFile> StoreStateMachine::write_snapshot(const std::string& dir) const {
  auto copy = store_.copy_to(dir);
  if (!copy) return std::move(copy).take_error();
  replication::SnapshotFile f;
  f.path = copy->file;
  f.position = {copy->applied_index, copy->applied_term};
  f.membership = std::move(copy->membership);
  return f;
}

Status StoreStateMachine::install_snapshot(const std::string& file) {
  // The store swaps in a whole directory holding data.mdb.
  namespace fs = std::filesystem;
  fs::path path(file);
  fs::path dir = path.parent_path();
  if (path.filename() != kStoreFile) {
    if (::rename(file.c_str(), (dir / kStoreFile).c_str()) != 0) {
      return make_error("snapshot " + file + ": rename: " + std::strerror(errno));
    }
    int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return make_error("snapshot " + dir.string() + ": " + std::strerror(errno));
    int rc = ::fsync(fd);
    int err = errno;
    ::close(fd);
    if (rc != 0) return make_error("snapshot " + dir.string() + ": fsync: " + std::strerror(err));
  }
  return store_.replace_with(dir.string());
}

std::string StoreStateMachine::digest() const { return store_.digest(); }
std::function<std::string()> StoreStateMachine::digest_job() const { return store_.digest_job(); }

std::string StoreStateMachine::location() const { return store_.directory(); }

}  // namespace raftdns::server
