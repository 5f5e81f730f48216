// POSIX implementation of the WAL file layer: thin syscall wrappers with errno in every message.
#include "wal/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

#include "common/unique_fd.h"

namespace raftdns::wal {
namespace {

Error errno_error(const char* what, const std::string& path, int err) {
  return make_error(std::string(what) + " " + path + ": " + errno_text(err));
}

class PosixFile final : public File {
 public:
  PosixFile(UniqueFd fd, std::string path) : fd_(std::move(fd)), path_(std::move(path)) {}

  Result<std::size_t> pread(uint64_t offset, std::span<uint8_t> buf) override {
    std::size_t done = 0;
    while (done < buf.size()) {
      ssize_t n = ::pread(fd_.get(), buf.data() + done, buf.size() - done,
                          static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("pread", path_, errno);
      }
      if (n == 0) break;
      done += static_cast<std::size_t>(n);
    }
    return done;
  }

  Status pwrite(uint64_t offset, std::span<const uint8_t> data) override {
    std::size_t done = 0;
    while (done < data.size()) {
      ssize_t n = ::pwrite(fd_.get(), data.data() + done, data.size() - done,
                           static_cast<off_t>(offset + done));
      if (n < 0) {
        if (errno == EINTR) continue;
        return errno_error("pwrite", path_, errno);
      }
      done += static_cast<std::size_t>(n);
    }
    return {};
  }

  Status datasync() override {
    // No EINTR loop: fdatasync is not restartable in a meaningful way, and a
    // failed one must never be retried as if nothing happened.
    if (::fdatasync(fd_.get()) != 0) return errno_error("fdatasync", path_, errno);
    return {};
  }

  Status sync() override {
    if (::fsync(fd_.get()) != 0) return errno_error("fsync", path_, errno);
    return {};
  }

  Status truncate(uint64_t size) override {
    if (::ftruncate(fd_.get(), static_cast<off_t>(size)) != 0) {
      return errno_error("ftruncate", path_, errno);
    }
    return {};
  }

  Status allocate(uint64_t size) override {
    int rc = ::posix_fallocate(fd_.get(), 0, static_cast<off_t>(size));
    if (rc != 0) return errno_error("posix_fallocate", path_, rc);
    return {};
  }

  Result<uint64_t> size() override {
    struct stat st {};
    if (::fstat(fd_.get(), &st) != 0) return errno_error("fstat", path_, errno);
    return static_cast<uint64_t>(st.st_size);
  }

 private:
  UniqueFd fd_;
  std::string path_;
};

class PosixFileSystem final : public FileSystem {
 public:
  Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) override {
    int flags = O_RDWR | O_CLOEXEC;
    if (mode == OpenMode::create_exclusive) flags |= O_CREAT | O_EXCL;
    // 0600: the log carries what the store does, private keys included.
    int fd = ::open(path.c_str(), flags, 0600);
    if (fd < 0) return errno_error("open", path, errno);
    if (mode != OpenMode::create_exclusive) (void)::fchmod(fd, 0600);  // made by an older version
    return std::unique_ptr<File>(std::make_unique<PosixFile>(UniqueFd(fd), path));
  }

  Status rename(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return errno_error("rename", from + " to", errno);
    return {};
  }

  Status unlink(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return errno_error("unlink", path, errno);
    return {};
  }

  Status sync_dir(const std::string& dir) override {
    UniqueFd fd(::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (fd.get() < 0) return errno_error("open directory", dir, errno);
    if (::fsync(fd.get()) != 0) return errno_error("fsync directory", dir, errno);
    return {};
  }

  Result<std::vector<std::string>> list(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return errno_error("opendir", dir, errno);
    std::vector<std::string> names;
    errno = 0;
    while (dirent* e = ::readdir(d)) {
      std::string name = e->d_name;
      if (name != "." && name != "..") names.push_back(std::move(name));
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return errno_error("readdir", dir, err);
    return names;
  }

  Result<bool> make_dir(const std::string& dir) override {
    if (::mkdir(dir.c_str(), 0750) == 0) return true;
    if (errno == EEXIST) {
      struct stat st {};
      if (::stat(dir.c_str(), &st) == 0 && S_ISDIR(st.st_mode)) return false;
      return make_error("mkdir " + dir + ": exists and is not a directory");
    }
    return errno_error("mkdir", dir, errno);
  }
};

}  // namespace

FileSystem& posix_file_system() {
  static PosixFileSystem fs;
  return fs;
}

}  // namespace raftdns::wal
