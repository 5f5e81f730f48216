// The fault-injecting in-memory file system used by the WAL crash tests.
#include "tests/wal/fault_fs.h"

#include <algorithm>
#include <random>

namespace raftdns::wal::testing {
namespace {

Error crash_error() { return make_error("simulated crash"); }

void write_at(std::vector<uint8_t>& bytes, uint64_t offset, std::span<const uint8_t> data) {
  if (bytes.size() < offset + data.size()) bytes.resize(offset + data.size(), 0);
  std::copy(data.begin(), data.end(), bytes.begin() + static_cast<std::ptrdiff_t>(offset));
}

class FaultFile final : public File {
 public:
  FaultFile(FaultFs* fs, std::shared_ptr<FaultFs::Inode> inode)
      : fs_(fs), inode_(std::move(inode)) {}

  Result<std::size_t> pread(uint64_t offset, std::span<uint8_t> buf) override {
    if (fs_->crashed()) return crash_error();
    const auto& bytes = inode_->current;
    if (offset >= bytes.size()) return std::size_t{0};
    std::size_t n = std::min<std::size_t>(buf.size(), bytes.size() - offset);
    std::copy_n(bytes.begin() + static_cast<std::ptrdiff_t>(offset), n, buf.begin());
    return n;
  }

  Status pwrite(uint64_t offset, std::span<const uint8_t> data) override {
    const bool was_crashed = fs_->crashed();
    auto s = fs_->enter_point(false);
    if (!was_crashed) fs_->note_write(data.size());
    if (!s) {
      if (!was_crashed && fs_->crashed()) fs_->record_torn_write(inode_, offset, data);
      return s;
    }
    write_at(inode_->current, offset, data);
    return {};
  }

  Status datasync() override { return sync(); }

  Status sync() override {
    if (auto s = fs_->enter_point(true); !s) return s;
    inode_->durable = inode_->current;
    return {};
  }

  Status truncate(uint64_t size) override {
    if (auto s = fs_->enter_point(false); !s) return s;
    inode_->current.resize(size, 0);
    return {};
  }

  Status allocate(uint64_t size) override {
    if (auto s = fs_->enter_point(false); !s) return s;
    if (inode_->current.size() < size) inode_->current.resize(size, 0);
    return {};
  }

  Result<uint64_t> size() override {
    if (fs_->crashed()) return crash_error();
    return static_cast<uint64_t>(inode_->current.size());
  }

 private:
  FaultFs* fs_;
  std::shared_ptr<FaultFs::Inode> inode_;
};

std::string dir_of(const std::string& path) {
  auto slash = path.find_last_of('/');
  return slash == std::string::npos ? "." : path.substr(0, slash);
}

}  // namespace

FaultFs::FaultFs(const Image& image) {
  for (const auto& [path, bytes] : image) {
    auto inode = std::make_shared<Inode>();
    inode->current = bytes;
    inode->durable = bytes;
    current_dir_[path] = inode;
    durable_dir_[path] = inode;
    dirs_.insert(dir_of(path));
  }
}

Status FaultFs::enter_point(bool is_sync) {
  if (crashed_) return crash_error();
  const uint64_t point = points_++;
  if (crash_point_ && point == *crash_point_) {
    crashed_ = true;
    return crash_error();
  }
  if (is_sync) {
    if (sync_error_seen_) ++syncs_after_error_;
    if (sync_error_point_ && point == *sync_error_point_) {
      sync_error_seen_ = true;
      return make_error("fdatasync: Input/output error (injected)");
    }
  }
  return {};
}

void FaultFs::record_torn_write(std::shared_ptr<Inode> inode, uint64_t offset,
                                std::span<const uint8_t> data) {
  const uint64_t keep = std::min<uint64_t>(crash_tear_, data.size());
  torn_ =
      TornWrite{std::move(inode), offset, std::vector<uint8_t>(data.begin(), data.begin() + keep)};
}

std::optional<uint64_t> FaultFs::write_size_at(uint64_t point) const {
  auto it = write_sizes_.find(point);
  if (it == write_sizes_.end()) return std::nullopt;
  return it->second;
}

Image FaultFs::crash_image(CrashMode mode, uint64_t seed) const {
  Image image;
  if (mode == CrashMode::mixed_sectors) {
    std::mt19937_64 rng(seed);
    for (const auto& [path, inode] : durable_dir_) {
      std::vector<uint8_t> latest = inode->current;
      if (torn_ && torn_->inode == inode && !torn_->bytes.empty()) {
        write_at(latest, torn_->offset, torn_->bytes);
      }
      const std::vector<uint8_t>& synced = inode->durable;
      std::vector<uint8_t> bytes(rng() % 2 ? latest.size() : synced.size(), 0);
      constexpr std::size_t kSector = 512;
      for (std::size_t at = 0; at < bytes.size(); at += kSector) {
        const auto& from = rng() % 2 ? latest : synced;
        const std::size_t end = std::min({bytes.size(), at + kSector, from.size()});
        if (end > at) {
          std::copy(from.begin() + static_cast<std::ptrdiff_t>(at),
                    from.begin() + static_cast<std::ptrdiff_t>(end),
                    bytes.begin() + static_cast<std::ptrdiff_t>(at));
        }
      }
      image[path] = std::move(bytes);
    }
    return image;
  }
  const auto& dir = mode == CrashMode::lose_unsynced ? durable_dir_ : current_dir_;
  for (const auto& [path, inode] : dir) {
    std::vector<uint8_t> bytes = mode == CrashMode::lose_unsynced ? inode->durable : inode->current;
    if (torn_ && torn_->inode == inode && !torn_->bytes.empty()) {
      write_at(bytes, torn_->offset, torn_->bytes);
    }
    image[path] = std::move(bytes);
  }
  return image;
}

Image FaultFs::current_image() const {
  Image image;
  for (const auto& [path, inode] : current_dir_) image[path] = inode->current;
  return image;
}

Result<std::unique_ptr<File>> FaultFs::open(const std::string& path, OpenMode mode) {
  if (mode == OpenMode::create_exclusive) {
    if (auto s = enter_point(false); !s) return std::move(s).take_error();
    if (current_dir_.count(path)) return make_error("open " + path + ": File exists");
    auto inode = std::make_shared<Inode>();
    current_dir_[path] = inode;
    return std::unique_ptr<File>(std::make_unique<FaultFile>(this, inode));
  }
  if (crashed_) return crash_error();
  auto it = current_dir_.find(path);
  if (it == current_dir_.end()) return make_error("open " + path + ": No such file or directory");
  return std::unique_ptr<File>(std::make_unique<FaultFile>(this, it->second));
}

Status FaultFs::rename(const std::string& from, const std::string& to) {
  if (auto s = enter_point(false); !s) return s;
  auto it = current_dir_.find(from);
  if (it == current_dir_.end()) return make_error("rename " + from + ": No such file");
  current_dir_[to] = it->second;
  current_dir_.erase(from);
  return {};
}

Status FaultFs::unlink(const std::string& path) {
  if (auto s = enter_point(false); !s) return s;
  if (current_dir_.erase(path) == 0) return make_error("unlink " + path + ": No such file");
  return {};
}

Status FaultFs::sync_dir(const std::string& dir) {
  if (auto s = enter_point(true); !s) return s;
  std::erase_if(durable_dir_, [&](const auto& kv) { return dir_of(kv.first) == dir; });
  for (const auto& [path, inode] : current_dir_) {
    if (dir_of(path) == dir) durable_dir_[path] = inode;
  }
  return {};
}

Result<std::vector<std::string>> FaultFs::list(const std::string& dir) {
  if (crashed_) return crash_error();
  std::vector<std::string> names;
  for (const auto& [path, inode] : current_dir_) {
    if (dir_of(path) == dir) names.push_back(path.substr(dir.size() + 1));
  }
  return names;
}

Result<bool> FaultFs::make_dir(const std::string& dir) {
  if (crashed_) return crash_error();
  return dirs_.insert(dir).second;
}

}  // namespace raftdns::wal::testing
