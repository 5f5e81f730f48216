// The WAL's file layer: an abstract interface (so tests can inject crashes) and its POSIX version.
//
// Every call the WAL makes to the disk goes through here. The interface is
// deliberately small and mirrors the syscalls one-to-one, so a fault-injecting
// implementation can model exactly which bytes are durable at each instant:
// data written by pwrite() is volatile until datasync() on that file, and a
// create, rename or unlink is volatile until sync_dir() on its directory.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "common/result.h"

namespace raftdns::wal {

// An open file. Not thread-safe; one owner.
class File {
 public:
  virtual ~File() = default;

  // Reads up to buf.size() bytes at `offset`. Returns the count read, which is
  // short only at end of file.
  virtual Result<std::size_t> pread(uint64_t offset, std::span<uint8_t> buf) = 0;
  // Writes all of `data` at `offset`, or fails.
  virtual Status pwrite(uint64_t offset, std::span<const uint8_t> data) = 0;
  // fdatasync: data and the size become durable. An error here means the
  // kernel may already have dropped the dirty pages; the caller must not retry.
  virtual Status datasync() = 0;
  // fsync: data and all metadata. Used on freshly created files.
  virtual Status sync() = 0;
  // ftruncate to `size`; bytes past it are gone and read back as zeros if the
  // file grows again.
  virtual Status truncate(uint64_t size) = 0;
  // Makes [0, size) allocated (fallocate, or zero-filling where unsupported).
  // Never shrinks. New bytes read as zeros.
  virtual Status allocate(uint64_t size) = 0;
  virtual Result<uint64_t> size() = 0;
};

enum class OpenMode {
  read_write,        // existing file
  create_exclusive,  // new file, fails if it exists
};

class FileSystem {
 public:
  virtual ~FileSystem() = default;
  virtual Result<std::unique_ptr<File>> open(const std::string& path, OpenMode mode) = 0;
  virtual Status rename(const std::string& from, const std::string& to) = 0;
  virtual Status unlink(const std::string& path) = 0;
  // Makes creates, renames and unlinks in `dir` durable.
  virtual Status sync_dir(const std::string& dir) = 0;
  // Plain names (no "." or ".."), in no particular order.
  virtual Result<std::vector<std::string>> list(const std::string& dir) = 0;
  // Creates `dir` if missing; returns whether it was created.
  virtual Result<bool> make_dir(const std::string& dir) = 0;
};

// The real file system (open/pread/pwrite/fdatasync/...). A process-wide
// stateless instance.
FileSystem& posix_file_system();

}  // namespace raftdns::wal
