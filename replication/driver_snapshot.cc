// Driver: snapshots — the copy (on a thread), chunked streaming, receiving, and the install a Ready asks for.
//
// Sending: when the core asks to send a snapshot, the state machine writes a
// copy on a background thread (a large store takes seconds, and the loop must
// keep its heartbeats going meanwhile). pump_snapshots() polls for the copy,
// then streams it in chunks while the peer's queue has room, and ends with
// the snap message, whose metadata is that of the copy.
//
// Receiving: chunks go to <snapshot_dir>/in/snapshot. When the last one is in
// and the file and its directory are durable (made so on a thread), the snap
// message is stepped.
// Only if the core accepts it does a Ready carry the snapshot, and only then
// is the state machine replaced: a snapshot the core refuses (a stale term,
// or one we are already past) never touches the state.
#include <fcntl.h>

#include "common/bytes.h"
#include "replication/driver.h"

namespace raftdns::replication {

using bytes::get_u64_be;
using bytes::put_u64_be;

namespace {

constexpr const char* kIncomingName = "snapshot";

}  // namespace

// A snapshot file is the size of the store, and unlinking one drops that
// many pages from the page cache: a second for a gigabyte, held by the
// thread that asks, longer than an election timeout. So the loop only
// renames the files into the trash directory (cheap, and it frees their
// names for the next transfer at once) and a thread unlinks them. What a
// crash leaves in the trash is emptied at the next open.
void Driver::discard_files(const std::string& dir) {
  auto names = fs_.list(dir);
  if (!names || names->empty()) return;
  std::vector<std::string> doomed;
  for (const auto& n : *names) {
    std::string to = trash_dir() + "/" + std::to_string(++trash_seq_) + "-" + n;
    if (fs_.rename(dir + "/" + n, to)) {
      doomed.push_back(std::move(to));
    } else {
      (void)fs_.unlink(dir + "/" + n);
    }
  }
  if (doomed.empty()) return;
  wal::FileSystem* fs = &fs_;
  removals_.push_back(std::async(std::launch::async, [fs, doomed = std::move(doomed)] {
    for (const auto& path : doomed) (void)fs->unlink(path);
  }));
  update_pump();
}

void Driver::reap_removals(bool wait) {
  std::erase_if(removals_, [wait](std::future<void>& f) {
    if (!wait && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready) return false;
    f.get();
    return true;
  });
}

void Driver::update_pump() {
  if (hooks_.pump) {
    hooks_.pump(!stopped_ && (!sending_.empty() || !abandoned_.empty() || !digests_.empty() ||
                              !removals_.empty() || syncing_.has_value()));
  }
}

void Driver::reap_abandoned(bool wait) {
  for (auto it = abandoned_.begin(); it != abandoned_.end();) {
    if (!wait && it->copy.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
      ++it;
      continue;
    }
    (void)it->copy.get();
    discard_files(it->dir);
    it = abandoned_.erase(it);
  }
}

bool Driver::snapshot_copy_running() const {
  auto running = [](const std::future<Result<SnapshotFile>>& f) {
    return f.valid() && f.wait_for(std::chrono::seconds(0)) != std::future_status::ready;
  };
  for (const auto& [peer, s] : sending_) {
    if (running(s.copy)) return true;
  }
  for (const auto& a : abandoned_) {
    if (running(a.copy)) return true;
  }
  return false;
}

// ---- sending ----

void Driver::start_snapshot_send(const std::string& peer, raft::Message m) {
  if (sending_.count(peer)) return;  // one at a time; the core waits for our report
  if (!m.snapshot) return;
  std::string dir = cfg_.snapshot_dir + "/out-" + peer;
  for (const auto& a : abandoned_) {
    if (a.dir == dir) {
      // The last copy for this peer is still being written; the core asks again.
      node_->report_snapshot(m.to, false);
      return;
    }
  }
  if (auto made = fs_.make_dir(dir); !made) {
    log("snapshot for " + peer + ": " + made.error());
    node_->report_snapshot(m.to, false);
    return;
  }
  discard_files(dir);
  SnapshotSend s;
  s.msg = std::move(m);
  s.dir = dir;
  const StateMachine* sm = &sm_;
  s.copy = std::async(std::launch::async, [sm, dir] { return sm->write_snapshot(dir); });
  sending_.emplace(peer, std::move(s));
  update_pump();
}

// The copy thread is done: the snap message takes the copy's position
// (the state may have moved on while it ran), then streaming starts.
void Driver::finish_snapshot_copy(const std::string& peer) {
  SnapshotSend& s = sending_.at(peer);
  Result<SnapshotFile> made = s.copy.get();
  if (!made) return abort_snapshot_send(peer, made.error());
  auto conf_at = conf_history_.upper_bound(made->position.index);
  std::optional<raft::ConfState> conf = decode_membership(made->membership);
  if (!conf && conf_at != conf_history_.begin()) conf = std::prev(conf_at)->second;
  if (!conf || made->position.index < s.msg.snapshot->index) {
    return abort_snapshot_send(peer, "the copy's position does not match the log");
  }
  s.msg.snapshot->index = made->position.index;
  s.msg.snapshot->term = made->position.term;
  s.msg.snapshot->conf = *conf;
  auto file = fs_.open(made->path, wal::OpenMode::read_write);
  if (!file) return abort_snapshot_send(peer, "open copy: " + file.error());
  auto size = (*file)->size();
  if (!size) return abort_snapshot_send(peer, "size of copy: " + size.error());
  s.file = std::move(*file);
  s.size = *size;
  if (cfg_.metrics) cfg_.metrics->snapshots_made.fetch_add(1, std::memory_order_relaxed);
  log("snapshot: sending index " + std::to_string(s.msg.snapshot->index) + " (" +
      std::to_string(s.size) + " bytes) to " + peer);
}

void Driver::end_snapshot_send(const std::string& peer, bool success) {
  auto it = sending_.find(peer);
  if (it == sending_.end()) return;
  uint64_t to = it->second.msg.to;
  std::string dir = it->second.dir;
  if (success && cfg_.metrics) {
    cfg_.metrics->snapshots_sent.fetch_add(1, std::memory_order_relaxed);
    cfg_.metrics->snapshot_bytes_sent.fetch_add(it->second.size, std::memory_order_relaxed);
  }
  if (it->second.copy.valid()) {
    abandoned_.push_back({dir, std::move(it->second.copy)});
  } else {
    discard_files(dir);
  }
  sending_.erase(it);
  node_->report_snapshot(to, success);
  update_pump();
  wake();
}

void Driver::abort_snapshot_send(const std::string& peer, const std::string& why) {
  if (!sending_.count(peer)) return;
  log("snapshot to " + peer + " aborted: " + why);
  end_snapshot_send(peer, false);
}

// Feeds chunks while the peer's queue has room, so a large store never
// sits in memory at once.
void Driver::pump_snapshots() {
  if (stopped_) return;
  reap_abandoned(false);
  reap_digests();
  reap_removals(false);
  finish_snapshot_sync();
  std::vector<std::string> ready_copies, done, failed;
  for (auto& [peer, s] : sending_) {
    if (s.copy.valid() &&
        s.copy.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
      ready_copies.push_back(peer);
    }
  }
  for (const auto& peer : ready_copies) finish_snapshot_copy(peer);
  for (auto& [peer, s] : sending_) {
    if (s.copy.valid() || !s.file) continue;  // still copying
    while (s.offset < s.size &&
           network_->peer_stats(peer).queued_bytes < 4 * cfg_.snapshot_chunk) {
      std::vector<uint8_t> chunk;
      put_u64_be(chunk, s.msg.snapshot->index);
      put_u64_be(chunk, s.size);
      put_u64_be(chunk, s.offset);
      size_t n = static_cast<size_t>(std::min<uint64_t>(cfg_.snapshot_chunk, s.size - s.offset));
      size_t head = chunk.size();
      chunk.resize(head + n);
      auto got = s.file->pread(s.offset, {chunk.data() + head, n});
      if (!got || *got != n || !network_->send(peer, kSnapshotChunk, chunk)) {
        failed.push_back(peer);
        break;
      }
      s.offset += n;
    }
    if (s.offset == s.size) {
      std::vector<uint8_t> fin;
      put_u64_be(fin, s.size);
      auto msg = raft::encode_message(s.msg);
      fin.insert(fin.end(), msg.begin(), msg.end());
      if (network_->send(peer, kSnapshotDone, fin)) {
        done.push_back(peer);
      } else {
        failed.push_back(peer);
      }
    }
  }
  for (const auto& peer : failed) abort_snapshot_send(peer, "the peer's queue refused a chunk");
  for (const auto& peer : done) end_snapshot_send(peer, true);
  update_pump();
}

// ---- receiving ----

void Driver::reset_incoming() {
  receiving_ = {};
  received_.reset();
  if (auto made = fs_.make_dir(incoming_dir()); !made) {
    log("snapshot: cannot create " + incoming_dir() + ": " + made.error());
    return;
  }
  discard_files(incoming_dir());
}

void Driver::on_snapshot_chunk(const std::string& peer, std::span<const uint8_t> p) {
  uint64_t index = 0, total = 0, offset = 0;
  if (!get_u64_be(p, index) || !get_u64_be(p, total) || !get_u64_be(p, offset)) {
    log("snapshot chunk from " + peer + ": malformed");
    return;
  }
  if (syncing_) {
    // The last transfer's file is being made durable under its name; the
    // leader sends again once it hears nothing came of this one.
    return;
  }
  if (offset == 0) {
    reset_incoming();
    std::string path = incoming_dir() + "/" + kIncomingName;
    auto file = fs_.open(path, wal::OpenMode::create_exclusive);
    if (!file) {
      log("snapshot from " + peer + ": cannot create " + path + ": " + file.error());
      return;
    }
    receiving_.file = std::move(*file);
    receiving_.from = peer;
    receiving_.index = index;
    receiving_.total = total;
  }
  if (!receiving_.file || receiving_.from != peer || receiving_.index != index ||
      offset != receiving_.received || receiving_.received + p.size() > receiving_.total) {
    return;  // out of sequence: the leader restarts the transfer from 0
  }
  if (auto s = receiving_.file->pwrite(offset, p); !s) {
    log("snapshot from " + peer + ": write failed: " + s.error());
    receiving_ = {};
    return;
  }
  receiving_.received += p.size();
}

void Driver::on_snapshot_done(const std::string& peer, std::span<const uint8_t> p) {
  uint64_t total = 0;
  if (!get_u64_be(p, total)) return;
  auto msg = raft::decode_message(p);
  if (!msg || msg->type != raft::MessageType::snap || !msg->snapshot ||
      msg->from != raft_id_of(peer)) {
    log("snapshot from " + peer + ": malformed final message");
    return;
  }
  if (syncing_) return;  // see on_snapshot_chunk
  bool complete = receiving_.file && receiving_.from == peer && receiving_.total == total &&
                  receiving_.received == total && receiving_.index == msg->snapshot->index;
  if (!complete) {
    receiving_ = {};
    log("snapshot from " + peer + ": incomplete transfer, ignored");
    return;
  }
  // The file, its name and the directory holding it are durable before the
  // core hears of the snapshot. That fsync writes the whole file out (a
  // gigabyte takes seconds), so it runs on a thread and the loop goes on;
  // finish_snapshot_sync() steps the message once it is done.
  std::shared_ptr<wal::File> file = std::move(receiving_.file);
  receiving_ = {};
  wal::FileSystem* fs = &fs_;
  std::string in = incoming_dir(), top = cfg_.snapshot_dir;
  syncing_ = SnapshotSync{std::move(*msg), total,
                          std::async(std::launch::async, [file, fs, in, top]() -> Status {
                            if (auto s = file->sync(); !s) {
                              return make_error("snapshot file fsync failed: " + s.error());
                            }
                            if (auto s = fs->sync_dir(in); !s) {
                              return make_error("fsync of " + in + " failed: " + s.error());
                            }
                            if (auto s = fs->sync_dir(top); !s) {
                              return make_error("fsync of " + top + " failed: " + s.error());
                            }
                            return {};
                          })};
  update_pump();
}

void Driver::finish_snapshot_sync() {
  if (!syncing_ ||
      syncing_->durable.wait_for(std::chrono::seconds(0)) != std::future_status::ready) {
    return;
  }
  // A failed fsync may have dropped the data while reporting success later,
  // exactly as in the WAL: stop here.
  if (auto s = syncing_->durable.get(); !s) fatal(s.error());
  raft::Message msg = std::move(syncing_->msg);
  const uint64_t total = syncing_->total;
  syncing_.reset();
  if (cfg_.metrics) cfg_.metrics->snapshot_bytes_received.fetch_add(total, std::memory_order_relaxed);
  received_ = ReceivedSnapshot{msg.snapshot->index, incoming_dir() + "/" + kIncomingName};
  // The core decides. If it accepts, the next Ready carries the snapshot
  // and install_snapshot() puts it in place; if not, the file waits to be
  // replaced by the next transfer.
  step(msg);
  update_pump();
}

// A Ready carries a snapshot the core accepted: replace the state machine,
// then restart the WAL at its point. A crash between the two leaves the
// state ahead of the WAL, which open() repairs; a crash inside the state
// machine's install leaves the old state or the new one, whole.
void Driver::install_snapshot(const raft::SnapshotMeta& meta) {
  if (!received_ || received_->index != meta.index) {
    fatal("the core accepted snapshot " + std::to_string(meta.index) +
          " but no complete snapshot file for it was received");
  }
  // Entries committed before the snapshot are applied (or the install
  // would race the apply thread); they are below its index anyway.
  drain_applier();
  // A copy of the old state may still be running for a peer; let it finish
  // before the state underneath it is replaced.
  std::vector<std::string> peers;
  for (const auto& [peer, s] : sending_) peers.push_back(peer);
  for (const auto& peer : peers) abort_snapshot_send(peer, "this node is installing a snapshot");
  reap_abandoned(true);
  if (auto s = sm_.install_snapshot(received_->path); !s) {
    fatal("snapshot install failed: " + s.error());
  }
  received_.reset();
  if (auto s = wal_->reset_to_snapshot(meta.index, meta.term); !s) {
    fatal("WAL reset to snapshot failed: " + s.error());
  }
  log("snapshot: installed index " + std::to_string(meta.index));
  if (cfg_.metrics) cfg_.metrics->snapshots_received.fetch_add(1, std::memory_order_relaxed);
  applied_ = meta.index;
  applied_term_ = meta.term;
  handed_ = applied_;
  applied_conf_ = meta.conf;
  if (auto m = decode_membership_record(sm_.membership()); m && m->conf() == meta.conf) {
    members_ = std::move(*m);
  } else {
    fatal("snapshot " + std::to_string(meta.index) +
          ": the membership recorded in the state does not match the snapshot's");
  }
  conf_history_.clear();
  conf_history_[applied_] = applied_conf_;
  log("cluster: membership from the snapshot: " + members_.describe());
  refresh_peers();
  wal_bytes_after_compact_ = wal_->size_bytes();
}

}  // namespace raftdns::replication
