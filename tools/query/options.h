// Command-line options of raftdns-query, parsed by hand for dig-style "@server name type..."
// syntax.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "common/result.h"
#include "tools/query/resolver.h"

namespace raftdns::query_tool {

struct Options {
  std::vector<std::string> servers;  // as given: "127.0.0.1", "::1", "[::1]:53", "10.0.0.1:53"
  uint16_t port = 53;
  ResolverConfig resolver;  // servers_csv and server_count are filled from servers and port

  std::string name;
  std::vector<uint16_t> types;
  uint16_t rclass = 1;

  bool short_output = false;
  bool quiet = false;
  bool stats = false;

  std::optional<std::vector<std::string>> expect;  // set (possibly empty) when --expect is given
  std::optional<int> expect_rcode;

  std::string batch_file;  // "-" for standard input
  size_t concurrency = 100;

  bool help = false;
  bool version = false;
};

// Parses argv. The error is a one-line reason for a usage error (exit 2).
Result<Options> parse_options(int argc, char** argv);

std::string usage_text();

}  // namespace raftdns::query_tool
