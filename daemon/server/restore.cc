// raftdnsd --restore: a new data directory from a store backup, with the membership from the config.
#include "daemon/server/restore.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/fsync.h"
#include "daemon/store/command.h"
#include "daemon/store/store.h"
#include "replication/membership.h"
#include "replication/node.h"

namespace raftdns::server {

Result<std::string> restore_backup(const Config& config, const std::string& backup_file) {
  namespace fs = std::filesystem;
  std::error_code ec;
  const fs::path data(config.data_dir);
  if (fs::exists(data, ec) && !fs::is_empty(data, ec)) {
    return make_error("--restore: data_dir " + config.data_dir +
                      " is not empty; a restore makes a new cluster's data directory (move the "
                      "old one away first)");
  }
  if (!fs::is_regular_file(backup_file, ec)) {
    return make_error("--restore: " + backup_file + " is not a file");
  }
  const fs::path store_dir = data / "store";
  fs::create_directories(store_dir, ec);
  if (ec) return make_error("--restore: " + store_dir.string() + ": " + ec.message());
  const fs::path target = store_dir / "data.mdb";
  auto undo = [&] {
    std::error_code ignore;
    fs::remove_all(store_dir, ignore);
  };
  if (!fs::copy_file(backup_file, target, ec)) {
    undo();
    return make_error("--restore: copying " + backup_file + ": " + ec.message());
  }
  if (auto s = fsync_path(target.string(), false); !s) {
    undo();
    return make_error("--restore: " + s.error());
  }

  store::StoreOptions options;
  options.journal_entries = config.journal_entries;
  auto opened = store::Store::open(store_dir.string(), options);
  if (!opened) {
    undo();
    return make_error("--restore: " + backup_file + " is not a raftdns store backup: " +
                      opened.error());
  }
  std::unique_ptr<store::Store> st = std::move(*opened);
  const store::StoreStats stats = st->stats();
  if (stats.applied_index == 0) {
    undo();
    return make_error("--restore: " + backup_file + " holds no applied state");
  }

  // The new cluster's membership: this node and its configured peers.
  replication::Membership members;
  auto self_address = config.cluster_advertise ? config.cluster_advertise->to_text()
                      : config.cluster_listen  ? config.cluster_listen->to_text()
                                               : std::string();
  members.members.push_back(
      {replication::raft_id_of(config.node_id), config.node_id, self_address, true, false});
  for (const auto& p : config.peers) {
    members.members.push_back(
        {replication::raft_id_of(p.id), p.id, p.address, true, false});
  }
  std::sort(members.members.begin(), members.members.end(),
            [](const auto& a, const auto& b) { return a.raft_id < b.raft_id; });
  // Recorded one index past the backup's, at its term: every member
  // restores the same bytes to the same position, and the log starts there.
  auto command =
      store::encode_command(store::SetMembership{replication::encode_membership(members)});
  store::ApplyItem item{stats.applied_index + 1, stats.applied_term, command};
  std::vector<Status> outcomes;
  if (auto s = st->apply({&item, 1}, &outcomes); !s) {
    st.reset();
    undo();
    return make_error("--restore: recording the membership: " + s.error());
  }
  if (auto s = st->sync(); !s) {
    st.reset();
    undo();
    return make_error("--restore: " + s.error());
  }
  const std::string digest = st->digest();
  st.reset();
  if (auto s = fsync_path(store_dir.string(), true); !s) return make_error("--restore: " + s.error());
  return "restored " + backup_file + " (applied index " + std::to_string(stats.applied_index) +
         ", " + std::to_string(stats.zones) + " zones, " + std::to_string(stats.records) +
         " records, digest " + digest + ") into " + config.data_dir + "; members " +
         members.describe();
}

}  // namespace raftdns::server
