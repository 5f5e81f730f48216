// RAFT_INVARIANT: abort loudly, naming file, line and reason, when Raft's state is corrupt.
#pragma once

#include <cstdio>
#include <cstdlib>
#include <string>

namespace raftdns::raft::detail {

[[noreturn]] inline void invariant_failed(const char* file, int line, const char* condition,
                                          const std::string& reason) {
  std::fprintf(stderr, "raft invariant broken at %s:%d: %s (%s)\n", file, line, reason.c_str(),
               condition);
  std::fflush(stderr);
  std::abort();
}

}  // namespace raftdns::raft::detail

// Continuing after a broken invariant could commit or apply the wrong entries, which is
// worse than stopping: the process aborts and the operator gets file, line and reason.
#define RAFT_INVARIANT(condition, reason)                                                \
  do {                                                                                   \
    if (!(condition)) [[unlikely]]                                                       \
      ::raftdns::raft::detail::invariant_failed(__FILE__, __LINE__, #condition, reason); \
  } while (0)
