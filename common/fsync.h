// fsync_path: open a file or directory and fsync it, with an error that names the path.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <string>

#include "common/result.h"
#include "common/unique_fd.h"

namespace raftdns {

// Opens `path` (a directory when `directory`) and fsyncs it.
inline Status fsync_path(const std::string& path, bool directory) {
  UniqueFd fd(::open(path.c_str(), (directory ? O_RDONLY | O_DIRECTORY : O_RDONLY) | O_CLOEXEC));
  if (!fd) {
    int error = errno;
    return make_error(path + ": " + errno_text(error));
  }
  if (::fsync(fd.get()) != 0) {
    int error = errno;
    return make_error(path + ": fsync: " + errno_text(error));
  }
  return {};
}

}  // namespace raftdns
