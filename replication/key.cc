// The cluster key: 32 secret bytes shared by every node, stored as hex in a file of mode 0600.
#include "replication/key.h"

#include <fcntl.h>
#include <sodium.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <string_view>
#include <utility>

#include "common/unique_fd.h"
#include "replication/sodium.h"

namespace raftdns::replication {
namespace {

constexpr std::size_t kHexDigits = kClusterKeyBytes * 2;
// A key file is a line of hex; anything much larger is not a key file.
constexpr std::size_t kMaxKeyFileBytes = 4096;


int hex_value(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool is_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

}  // namespace

Key generate_key() {
  ensure_sodium_initialized();
  Key key;
  randombytes_buf(key.bytes.data(), key.bytes.size());
  return key;
}

Status init_key_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600));
  if (fd.get() < 0) {
    const int error = errno;
    if (error == EEXIST) {
      return make_error("key file " + path + " already exists; refusing to overwrite it");
    }
    return make_error("cannot create key file " + path + ": " + errno_text(error));
  }
  // The umask can only narrow 0600, but a umask of 0 with a default ACL could widen it.
  if (::fchmod(fd.get(), 0600) != 0) {
    const int error = errno;
    ::unlink(path.c_str());
    return make_error("cannot set mode 0600 on key file " + path + ": " + errno_text(error));
  }

  const Key key = generate_key();
  std::string text(kHexDigits + 1, '\0');
  sodium_bin2hex(text.data(), text.size(), key.bytes.data(), key.bytes.size());
  text.back() = '\n';

  std::string_view remaining = text;
  while (!remaining.empty()) {
    const ssize_t written = ::write(fd.get(), remaining.data(), remaining.size());
    if (written < 0) {
      if (errno == EINTR) continue;
      const int error = errno;
      ::unlink(path.c_str());
      sodium_memzero(text.data(), text.size());
      return make_error("cannot write key file " + path + ": " + errno_text(error));
    }
    remaining.remove_prefix(static_cast<std::size_t>(written));
  }
  sodium_memzero(text.data(), text.size());
  if (::fsync(fd.get()) != 0) {
    const int error = errno;
    ::unlink(path.c_str());
    return make_error("cannot sync key file " + path + ": " + errno_text(error));
  }
  if (::close(fd.release()) != 0) {
    return make_error("cannot close key file " + path + ": " + errno_text(errno));
  }
  return {};
}

Result<Key> load_key_file(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (fd.get() < 0) {
    return make_error("cannot open key file " + path + ": " + errno_text(errno));
  }
  struct stat info {};
  if (::fstat(fd.get(), &info) != 0) {
    return make_error("cannot stat key file " + path + ": " + errno_text(errno));
  }
  if (!S_ISREG(info.st_mode)) {
    return make_error("key file " + path + " is not a regular file");
  }
  if ((info.st_mode & 077) != 0) {
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(info.st_mode & 07777));
    return make_error("key file " + path + " has mode " + mode +
                      "; it must not be accessible by group or others (chmod 600 " + path + ")");
  }
  if (static_cast<std::size_t>(info.st_size) > kMaxKeyFileBytes) {
    return make_error("key file " + path + " is too large to be a key (" +
                      std::to_string(info.st_size) + " bytes)");
  }

  std::string text(kMaxKeyFileBytes + 1, '\0');
  std::size_t length = 0;
  while (length < text.size()) {
    const ssize_t got = ::read(fd.get(), text.data() + length, text.size() - length);
    if (got < 0) {
      if (errno == EINTR) continue;
      return make_error("cannot read key file " + path + ": " + errno_text(errno));
    }
    if (got == 0) break;
    length += static_cast<std::size_t>(got);
  }
  text.resize(length);

  std::string_view digits = text;
  while (!digits.empty() && is_space(digits.front())) digits.remove_prefix(1);
  while (!digits.empty() && is_space(digits.back())) digits.remove_suffix(1);

  Key key;
  bool valid = digits.size() == kHexDigits;
  for (std::size_t i = 0; valid && i < kClusterKeyBytes; ++i) {
    const int high = hex_value(digits[2 * i]);
    const int low = hex_value(digits[2 * i + 1]);
    if (high < 0 || low < 0) {
      valid = false;
      break;
    }
    key.bytes[i] = static_cast<std::uint8_t>(high << 4 | low);
  }
  sodium_memzero(text.data(), text.size());
  if (!valid) {
    return make_error("key file " + path + " must hold exactly " + std::to_string(kHexDigits) +
                      " hex digits (create one with raftdnsd --init-key)");
  }
  return key;
}

}  // namespace raftdns::replication
