// raftdns-query's program logic: single queries with dig-like output and checks, and batch runs.
#pragma once

namespace raftdns::query_tool {

// Exit statuses, as documented in raftdns-query(1).
inline constexpr int kExitOk = 0;
inline constexpr int kExitExpectationFailed = 1;
inline constexpr int kExitUsage = 2;
inline constexpr int kExitNetwork = 3;

int run(int argc, char** argv);

}  // namespace raftdns::query_tool
