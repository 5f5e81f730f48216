// A fault-injecting in-memory file system for WAL tests: crashes, torn writes, lost sectors, EIO.
//
// Model. Every file (inode) has the bytes reads see ("current") and the bytes
// that would survive a power cut ("durable"); datasync()/sync() copy current
// into durable. The directory likewise has a current and a durable table of
// names; sync_dir() makes the current one durable. Each mutating call is one
// numbered "point". Arming a crash at point N makes call N fail as if the
// machine died while doing it, and every later call fail too. If call N is a
// pwrite, the first `tear` bytes of it are considered to have reached the disk.
// crash_image() then produces the files a rebooted machine would see, in one
// of two ways:
//   lose_unsynced: only durable bytes and names survive (plus the torn prefix);
//   keep_unsynced: every completed write survives, as if the kernel had
//                  flushed everything except the torn remainder;
//   mixed_sectors: any mix of the two, sector by sector.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "wal/file_system.h"

namespace raftdns::wal::testing {

using Image = std::map<std::string, std::vector<uint8_t>>;  // path -> bytes

// lose_unsynced and keep_unsynced are the two extremes; mixed_sectors takes
// each 512-byte sector of every durable file from either its synced or its
// latest version at random (and the file size from either), which is what a
// disk that reorders writes can leave behind.
enum class CrashMode { lose_unsynced, keep_unsynced, mixed_sectors };

class FaultFs final : public FileSystem {
 public:
  FaultFs() = default;
  // A file system holding `image` as fully durable files.
  explicit FaultFs(const Image& image);

  // Makes call number `point` (0-based, counting every mutating call) the
  // crash; for a pwrite, `tear` bytes of it land on disk.
  void arm_crash(uint64_t point, uint64_t tear) {
    crash_point_ = point;
    crash_tear_ = tear;
  }
  // Makes call number `point` fail with EIO if it is a datasync/sync (no crash).
  void arm_sync_error(uint64_t point) { sync_error_point_ = point; }

  bool crashed() const { return crashed_; }
  uint64_t points() const { return points_; }
  // Size of the write made at `point`, if that call was a pwrite.
  std::optional<uint64_t> write_size_at(uint64_t point) const;
  // How many datasync/sync calls were made after the injected sync error.
  uint64_t syncs_after_error() const { return syncs_after_error_; }

  Image crash_image(CrashMode mode, uint64_t seed = 0) const;
  // The files as reads see them now (no crash).
  Image current_image() const;

  // FileSystem
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override;
  Status rename(const std::string& from, const std::string& to) override;
  Status unlink(const std::string& path) override;
  Status sync_dir(const std::string& dir) override;
  Result<std::vector<std::string>> list(const std::string& dir) override;
  Result<bool> make_dir(const std::string& dir) override;

  struct Inode {
    std::vector<uint8_t> current;
    std::vector<uint8_t> durable;
  };

  // Called by files: returns an error if this call is (or comes after) the crash.
  Status enter_point(bool is_sync);
  void note_write(uint64_t size) { write_sizes_[points_ - 1] = size; }
  // The in-flight write at the crash point, torn to its first crash_tear_ bytes.
  void record_torn_write(std::shared_ptr<Inode> inode, uint64_t offset,
                         std::span<const uint8_t> data);
  bool failed_sync_seen() const { return sync_error_seen_; }

 private:
  std::map<std::string, std::shared_ptr<Inode>> current_dir_;
  std::map<std::string, std::shared_ptr<Inode>> durable_dir_;
  std::set<std::string> dirs_;
  uint64_t points_ = 0;
  std::optional<uint64_t> crash_point_;
  uint64_t crash_tear_ = 0;
  std::optional<uint64_t> sync_error_point_;
  bool sync_error_seen_ = false;
  uint64_t syncs_after_error_ = 0;
  bool crashed_ = false;
  std::map<uint64_t, uint64_t> write_sizes_;
  struct TornWrite {
    std::shared_ptr<Inode> inode;
    uint64_t offset;
    std::vector<uint8_t> bytes;
  };
  std::optional<TornWrite> torn_;
};

}  // namespace raftdns::wal::testing
