// Restoring a backup (dnsadm backup) into a new cluster's data directory: raftdnsd --restore.
#pragma once

#include <string>

#include "common/result.h"
#include "daemon/server/config.h"

namespace raftdns::server {

// Makes config.data_dir from the store copy in `backup_file`: the data and
// its applied position come from the backup, the membership from the
// config (this node and its [[cluster.peer]] list, all voters), as a new
// cluster's. Every member of the new cluster restores the same file with
// configs that agree, so they all start from the same state and log
// position. A data_dir that exists and is not empty is refused; so is a
// file that is not a store copy. Returns a one-line summary.
Result<std::string> restore_backup(const Config& config, const std::string& backup_file);

}  // namespace raftdns::server
