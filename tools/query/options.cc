// Parsing of raftdns-query's command line: servers, question, expectations, batch and output
// options.
#include "tools/query/options.h"

#include <arpa/inet.h>

#include <charconv>
#include <cmath>
#include <string_view>
#include <utility>

#include "tools/query/dns_text.h"

namespace raftdns::query_tool {
namespace {

std::optional<unsigned long> parse_unsigned(std::string_view text, unsigned long max) {
  unsigned long value = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc() || end != text.data() + text.size() || text.empty() || value > max) {
    return std::nullopt;
  }
  return value;
}

bool is_ipv4(const std::string& text) {
  in_addr address{};
  return inet_pton(AF_INET, text.c_str(), &address) == 1;
}

bool is_ipv6(const std::string& text) {
  in6_addr address{};
  return inet_pton(AF_INET6, text.c_str(), &address) == 1;
}

// One server in the form ares_set_servers_ports_csv takes ("1.2.3.4:53",
// "[::1]:53"). Only numeric addresses: names would need a resolver, and this
// tool never consults the system's.
Result<std::string> server_entry(const std::string& server, uint16_t default_port) {
  std::string address = server;
  std::string port = std::to_string(default_port);
  bool ipv6 = false;
  if (!server.empty() && server.front() == '[') {
    auto close = server.find(']');
    if (close == std::string::npos) return make_error("server \"" + server + "\" lacks a ']'");
    address = server.substr(1, close - 1);
    ipv6 = true;
    std::string rest = server.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return make_error("server \"" + server + "\" is malformed");
      port = rest.substr(1);
    }
  } else if (server.find(':') != server.rfind(':')) {
    ipv6 = true;  // a bare IPv6 address; a port needs the [addr]:port form
  } else if (auto colon = server.find(':'); colon != std::string::npos) {
    address = server.substr(0, colon);
    port = server.substr(colon + 1);
  }
  if (ipv6 ? !is_ipv6(address) : !is_ipv4(address)) {
    return make_error("server \"" + server +
                      "\" is not a numeric IPv4 or IPv6 address (names are not resolved)");
  }
  auto port_number = parse_unsigned(port, 65535);
  if (!port_number || *port_number == 0) {
    return make_error("server \"" + server + "\" has a bad port \"" + port + "\"");
  }
  return ipv6 ? "[" + address + "]:" + port : address + ":" + port;
}

void split_servers(std::string_view list, std::vector<std::string>& out) {
  size_t start = 0;
  while (start <= list.size()) {
    size_t comma = list.find(',', start);
    if (comma == std::string_view::npos) comma = list.size();
    if (comma > start) out.emplace_back(list.substr(start, comma - start));
    start = comma + 1;
  }
}

}  // namespace

std::string usage_text() {
  return R"(usage: raftdns-query [@SERVER[,SERVER...]] [options] NAME [TYPE...]
       raftdns-query [@SERVER[,SERVER...]] [options] --batch FILE [--stats]

Sends DNS queries with c-ares to the given servers only (never the system
resolver) and prints the replies in dig-like form.

servers and transport:
  @SERVER[,SERVER...]   numeric IPv4/IPv6 addresses, optionally ADDR:PORT or
                        [ADDR6]:PORT (default 127.0.0.1)
  -s, --server LIST     same as @LIST
  -p, --port PORT       port for servers given without one (default 53)
  --tcp                 query over TCP instead of UDP
  --ignore-tc           keep a truncated UDP reply instead of retrying over TCP
  --timeout SECONDS     give up on a query after this long (default 5)
  --tries N             attempts per server within the timeout (default 2)
  --rotate              spread queries over the servers instead of using the
                        first and failing over
question:
  NAME [TYPE...]        one query per TYPE (default A); TYPEnnn for any type
  -c, --class CLASS     IN (default), CH, HS or CLASSnnn
  --norecurse           clear the RD bit (set by default, like dig)
  --edns SIZE           advertise this EDNS UDP size (default 1232)
  --no-edns             send no OPT record
checks:
  --expect [VALUE...]   exit 1 unless the answer records of the queried
                        type(s) are exactly these values (takes every
                        following argument up to the next option; none
                        means an empty answer)
  --expect-rcode RCODE  exit 1 unless every reply has this rcode
                        (NOERROR, NXDOMAIN, REFUSED, ... or a number)
batch:
  --batch FILE          read "NAME [TYPE [CLASS]]" lines (- for stdin) and
                        send them concurrently
  --concurrency N       queries in flight at once in batch mode (default 100)
  --stats               print count, errors and latency p50/p99/max instead
                        of one line per query
output:
  --short               print only the answer values
  -q, --quiet           print nothing but errors and statistics
  -h, --help            this text
  --version             print the version

exit status: 0 success, 1 an expectation failed, 2 usage error,
             3 timeout or network error (including a malformed reply)
)";
}

Result<Options> parse_options(int argc, char** argv) {
  Options options;
  std::vector<std::string> positional;
  bool only_positional = false;

  for (int i = 1; i < argc; ++i) {
    std::string_view arg = argv[i];
    if (only_positional || arg.empty() || arg == "-" || (arg[0] != '-' && arg[0] != '@')) {
      positional.emplace_back(arg);
      continue;
    }
    if (arg[0] == '@') {
      split_servers(arg.substr(1), options.servers);
      continue;
    }
    if (arg == "--") {
      only_positional = true;
      continue;
    }
    std::string_view name = arg;
    std::optional<std::string> inline_value;
    if (auto equals = arg.find('='); arg.starts_with("--") && equals != std::string_view::npos) {
      name = arg.substr(0, equals);
      inline_value = std::string(arg.substr(equals + 1));
    }
    auto take_value = [&]() -> Result<std::string> {
      if (inline_value) return *inline_value;
      if (i + 1 >= argc) return make_error("option " + std::string(name) + " needs a value");
      return std::string(argv[++i]);
    };
    auto flag = [&](bool& target) -> Status {
      if (inline_value) return make_error("option " + std::string(name) + " takes no value");
      target = true;
      return {};
    };

    Status status;
    bool ignored = false;
    if (name == "-h" || name == "--help") {
      status = flag(options.help);
    } else if (name == "--version") {
      status = flag(options.version);
    } else if (name == "--tcp") {
      status = flag(options.resolver.use_tcp);
    } else if (name == "--ignore-tc") {
      status = flag(options.resolver.ignore_truncation);
    } else if (name == "--rotate") {
      status = flag(options.resolver.rotate);
    } else if (name == "--short") {
      status = flag(options.short_output);
    } else if (name == "-q" || name == "--quiet") {
      status = flag(options.quiet);
    } else if (name == "--stats") {
      status = flag(options.stats);
    } else if (name == "--norecurse") {
      bool no_recursion = false;
      status = flag(no_recursion);
      options.resolver.recursion_desired = false;
    } else if (name == "--no-edns") {
      bool no_edns = false;
      status = flag(no_edns);
      options.resolver.edns_udp_size = 0;
    } else if (name == "-s" || name == "--server") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      split_servers(*value, options.servers);
    } else if (name == "-p" || name == "--port") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      auto port = parse_unsigned(*value, 65535);
      if (!port || *port == 0) return make_error("port \"" + *value + "\" is not 1-65535");
      options.port = static_cast<uint16_t>(*port);
    } else if (name == "--timeout") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      double seconds = 0;
      auto [end, ec] = std::from_chars(value->data(), value->data() + value->size(), seconds);
      if (ec != std::errc() || end != value->data() + value->size() || !(seconds > 0) ||
          seconds > 3600) {
        return make_error("timeout \"" + *value + "\" is not a number of seconds in (0, 3600]");
      }
      options.resolver.timeout =
          std::chrono::milliseconds(static_cast<long long>(std::ceil(seconds * 1000)));
    } else if (name == "--tries") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      auto tries = parse_unsigned(*value, 8);
      if (!tries || *tries == 0) return make_error("tries \"" + *value + "\" is not 1-8");
      options.resolver.tries = static_cast<int>(*tries);
    } else if (name == "-c" || name == "--class") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      auto rclass = class_from_text(*value);
      if (!rclass) return make_error("unknown class \"" + *value + "\"");
      options.rclass = *rclass;
    } else if (name == "--edns") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      auto size = parse_unsigned(*value, 65535);
      if (!size || *size < 512) return make_error("EDNS size \"" + *value + "\" is not 512-65535");
      options.resolver.edns_udp_size = static_cast<uint16_t>(*size);
    } else if (name == "--expect") {
      if (!options.expect) options.expect.emplace();
      if (inline_value) {
        options.expect->push_back(*inline_value);
      } else {
        while (i + 1 < argc && argv[i + 1][0] != '-' && argv[i + 1][0] != '@') {
          options.expect->emplace_back(argv[++i]);
        }
      }
    } else if (name == "--expect-rcode") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      auto rcode = rcode_from_text(*value);
      if (!rcode) return make_error("unknown rcode \"" + *value + "\"");
      options.expect_rcode = *rcode;
    } else if (name == "--batch") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      if (value->empty()) return make_error("--batch needs a file name");
      options.batch_file = *value;
    } else if (name == "--concurrency") {
      auto value = take_value();
      if (!value) return std::move(value).take_error();
      auto concurrency = parse_unsigned(*value, 65535);
      if (!concurrency || *concurrency == 0) {
        return make_error("concurrency \"" + *value + "\" is not 1-65535");
      }
      options.concurrency = *concurrency;
    } else {
      ignored = true;
    }
    if (ignored) return make_error("unknown option " + std::string(arg));
    if (!status) return std::move(status).take_error();
  }

  if (options.help || options.version) return options;

  if (options.servers.empty()) options.servers.emplace_back("127.0.0.1");
  std::string csv;
  for (const auto& server : options.servers) {
    auto entry = server_entry(server, options.port);
    if (!entry) return std::move(entry).take_error();
    if (!csv.empty()) csv += ',';
    csv += *entry;
  }
  options.resolver.servers_csv = csv;
  options.resolver.server_count = options.servers.size();

  if (!options.batch_file.empty()) {
    if (!positional.empty()) {
      return make_error("--batch takes its questions from the file, not \"" + positional[0] + "\"");
    }
    if (options.expect) return make_error("--expect cannot be used with --batch");
    return options;
  }
  if (options.stats) return make_error("--stats needs --batch");
  if (positional.empty()) return make_error("no name to query");
  options.name = positional[0];
  for (size_t i = 1; i < positional.size(); ++i) {
    auto type = type_from_text(positional[i]);
    if (!type) return make_error("unknown type \"" + positional[i] + "\"");
    options.types.push_back(*type);
  }
  if (options.types.empty()) options.types.push_back(kTypeA);
  return options;
}

}  // namespace raftdns::query_tool
