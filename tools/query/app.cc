// raftdns-query: runs the queries, prints replies dig-style, checks expectations, and runs batches.
#include "tools/query/app.h"

#include <ares.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <iostream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "tools/query/dns_text.h"
#include "tools/query/expect.h"
#include "tools/query/options.h"
#include "tools/query/reply.h"
#include "tools/query/resolver.h"

namespace raftdns::query_tool {
namespace {

using Clock = std::chrono::steady_clock;

void say(const std::string& line) { std::cerr << "raftdns-query: " << line << '\n'; }

std::string format_ms(std::chrono::nanoseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%.3f", static_cast<double>(duration.count()) / 1e6);
  return text;
}

std::string format_seconds(std::chrono::milliseconds duration) {
  char text[32];
  std::snprintf(text, sizeof text, "%g", static_cast<double>(duration.count()) / 1000.0);
  return text;
}

std::string flags_text(uint16_t flags) {
  std::string out;
  const std::pair<uint16_t, const char*> kBits[] = {
      {kFlagQr, "qr"}, {kFlagAa, "aa"}, {kFlagTc, "tc"}, {kFlagRd, "rd"},
      {kFlagRa, "ra"}, {kFlagZ, "z"},   {kFlagAd, "ad"}, {kFlagCd, "cd"}};
  for (const auto& [bit, name] : kBits) {
    if ((flags & bit) == 0) continue;
    if (!out.empty()) out += ' ';
    out += name;
  }
  return out;
}

// Why a query got no usable reply, as one line.
std::string failure_reason(int status, const std::string& question, const Options& options) {
  const std::string servers = options.resolver.servers_csv;
  const std::string transport = options.resolver.use_tcp ? "TCP" : "UDP";
  switch (status) {
    case ARES_ETIMEOUT:
    case ARES_ECANCELLED:
      return "timeout: no reply to " + question + " from " + servers + " over " + transport +
             " within " + format_seconds(options.resolver.timeout) + " s";
    case ARES_ECONNREFUSED:
      return "network error: " + question + ": connection refused by " + servers + " (" +
             transport + ")";
    default:
      return "network error: " + question + " via " + servers + ": " + ares_strerror(status);
  }
}

void print_section(std::ostream& out, const char* title, std::span<const uint8_t> message,
                   const std::vector<ResourceRecord>& records) {
  if (records.empty()) return;
  out << "\n;; " << title << " SECTION:\n";
  for (const auto& record : records) out << present_record(message, record) << '\n';
}

void print_full(std::ostream& out, const Reply& reply, std::span<const uint8_t> message,
                const Outcome& outcome, const Options& options) {
  out << ";; ->>HEADER<<- opcode: " << opcode_to_text((reply.flags >> 11) & 0xF)
      << ", status: " << rcode_to_text(reply.rcode) << ", id: " << reply.id << '\n';
  out << ";; flags: " << flags_text(reply.flags) << "; QUERY: " << reply.section_counts[0]
      << ", ANSWER: " << reply.section_counts[1] << ", AUTHORITY: " << reply.section_counts[2]
      << ", ADDITIONAL: " << reply.section_counts[3] << '\n';
  if (reply.edns) {
    out << "\n;; OPT PSEUDOSECTION:\n; EDNS: version: " << int{reply.edns->version}
        << ", flags:" << (reply.edns->dnssec_ok ? " do" : "");
    if (reply.edns->other_flags != 0) out << " MBZ: " << reply.edns->other_flags;
    out << "; udp: " << reply.edns->udp_size << '\n';
    for (const auto& [code, data] : reply.edns->options) {
      out << "; OPTION " << code << ": " << data.size() << " octets\n";
    }
  }
  if (!reply.questions.empty()) {
    out << "\n;; QUESTION SECTION:\n";
    for (const auto& question : reply.questions) {
      out << ';' << question.name << "\t\t" << class_to_text(question.rclass) << '\t'
          << type_to_text(question.type) << '\n';
    }
  }
  print_section(out, "ANSWER", message, reply.answer);
  print_section(out, "AUTHORITY", message, reply.authority);
  print_section(out, "ADDITIONAL", message, reply.additional);
  out << "\n;; Query time: " << format_ms(outcome.latency) << " ms\n";
  out << ";; SERVER: " << options.resolver.servers_csv << " ("
      << (options.resolver.use_tcp ? "TCP" : "UDP") << ")\n";
  out << ";; MSG SIZE  rcvd: " << message.size() << '\n';
}

// The answer records that answer the question: those of the queried type
// (all of them for ANY). CNAMEs met on the way to an A answer are shown but
// are not part of the A answer set.
std::vector<AnswerValue> answer_set(const Reply& reply, std::span<const uint8_t> message,
                                    uint16_t qtype) {
  std::vector<AnswerValue> values;
  for (const auto& record : reply.answer) {
    if (qtype != kTypeAny && record.type != qtype) continue;
    RdataText rdata = present_rdata(message, record);
    values.push_back(AnswerValue{record.type, rdata.text, rdata.joined_text});
  }
  return values;
}

// --- single queries ------------------------------------------------------

int run_single(const Options& options) {
  for (uint16_t type : options.types) {
    auto probe = build_query(options.name, options.rclass, type, true, 0);
    if (!probe) {
      say("usage: " + probe.error());
      return kExitUsage;
    }
  }
  auto opened = Resolver::open(options.resolver);
  if (!opened) {
    say("usage: " + opened.error());
    return kExitUsage;
  }
  Resolver& resolver = **opened;

  std::vector<Outcome> outcomes(options.types.size());
  for (size_t i = 0; i < options.types.size(); ++i) {
    resolver.query(options.name, options.rclass, options.types[i],
                   [&outcomes, i](Outcome&& outcome) { outcomes[i] = std::move(outcome); });
  }
  // c-ares' own timers end each query within the budget; this deadline only
  // guards against a query that c-ares never finishes.
  const auto deadline = Clock::now() + options.resolver.timeout + std::chrono::milliseconds(500);
  while (resolver.in_flight() > 0) {
    auto now = Clock::now();
    if (now >= deadline) {
      resolver.cancel_all();
      break;
    }
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now);
    resolver.run_once(
        std::min(left + std::chrono::milliseconds(1), std::chrono::milliseconds(1000)));
  }

  std::vector<std::string> network_failures;
  std::vector<std::string> expectation_failures;
  std::vector<std::string> diff_lines;
  std::vector<AnswerValue> all_values;
  bool first_output = true;

  for (size_t i = 0; i < options.types.size(); ++i) {
    const Outcome& outcome = outcomes[i];
    const std::string question = options.name + " " + type_to_text(options.types[i]);
    if (outcome.status != ARES_SUCCESS) {
      network_failures.push_back(failure_reason(outcome.status, question, options));
      continue;
    }
    std::span<const uint8_t> message(outcome.reply);
    auto parsed = parse_reply(message);
    if (!parsed) {
      network_failures.push_back("network error: malformed reply to " + question + ": " +
                                 parsed.error());
      continue;
    }
    const Reply& reply = *parsed;
    if (!options.quiet) {
      if (options.short_output) {
        for (const auto& record : reply.answer) {
          std::cout << present_rdata(message, record).text << '\n';
        }
      } else {
        if (!first_output) std::cout << '\n';
        print_full(std::cout, reply, message, outcome, options);
      }
      first_output = false;
    }
    if (options.expect_rcode && reply.rcode != *options.expect_rcode) {
      expectation_failures.push_back(question + " got rcode " + rcode_to_text(reply.rcode) +
                                     ", expected " + rcode_to_text(*options.expect_rcode));
    }
    auto values = answer_set(reply, message, options.types[i]);
    all_values.insert(all_values.end(), values.begin(), values.end());
  }
  std::cout.flush();

  if (!network_failures.empty()) {
    for (const auto& reason : network_failures) say(reason);
    return kExitNetwork;
  }
  if (options.expect) {
    AnswerDiff diff = compare_answer_set(*options.expect, all_values);
    if (!diff.equal()) {
      std::string types;
      for (uint16_t type : options.types) {
        types += ' ';
        types += type_to_text(type);
      }
      expectation_failures.push_back("answer set of " + options.name + types +
                                     " differs from --expect (" +
                                     std::to_string(diff.missing.size()) + " missing, " +
                                     std::to_string(diff.unexpected.size()) + " unexpected)");
      for (const auto& value : diff.missing) diff_lines.push_back("- " + value);
      for (const auto& value : diff.unexpected) diff_lines.push_back("+ " + value);
    }
  }
  if (!expectation_failures.empty()) {
    for (const auto& reason : expectation_failures) say("expectation failed: " + reason);
    for (const auto& line : diff_lines) std::cerr << line << '\n';
    return kExitExpectationFailed;
  }
  return kExitOk;
}

// --- batch ---------------------------------------------------------------

struct BatchItem {
  std::string name;
  uint16_t type = kTypeA;
  uint16_t rclass = kClassIn;
  std::vector<uint8_t> packet;
};

struct BatchResult {
  int status = ARES_ETIMEOUT;
  int rcode = -1;
  std::chrono::nanoseconds latency{0};
  std::string line;  // per-query output, when it is printed
};

Result<std::vector<BatchItem>> read_batch(const Options& options) {
  std::ifstream file;
  std::istream* input = &std::cin;
  const std::string source = options.batch_file == "-" ? "<stdin>" : options.batch_file;
  if (options.batch_file != "-") {
    file.open(options.batch_file);
    if (!file) return make_error("cannot open batch file " + options.batch_file);
    input = &file;
  }
  std::vector<BatchItem> items;
  std::string line;
  size_t line_number = 0;
  while (std::getline(*input, line)) {
    ++line_number;
    if (auto hash = line.find('#'); hash != std::string::npos) line.erase(hash);
    std::istringstream fields(line);
    std::string name, type, rclass, extra;
    if (!(fields >> name)) continue;
    BatchItem item;
    item.name = name;
    item.rclass = options.rclass;
    auto where = [&] { return source + ":" + std::to_string(line_number) + ": "; };
    if (fields >> type) {
      auto parsed = type_from_text(type);
      if (!parsed) return make_error(where() + "unknown type \"" + type + "\"");
      item.type = *parsed;
    }
    if (fields >> rclass) {
      auto parsed = class_from_text(rclass);
      if (!parsed) return make_error(where() + "unknown class \"" + rclass + "\"");
      item.rclass = *parsed;
    }
    if (fields >> extra) return make_error(where() + "unexpected \"" + extra + "\"");
    auto packet = build_query(item.name, item.rclass, item.type, options.resolver.recursion_desired,
                              options.resolver.edns_udp_size);
    if (!packet) return make_error(where() + packet.error());
    item.packet = std::move(packet).value();
    items.push_back(std::move(item));
  }
  if (input->bad()) return make_error("cannot read batch file " + source);
  if (items.empty()) return make_error("batch file " + source + " holds no queries");
  return items;
}

std::chrono::nanoseconds percentile(const std::vector<std::chrono::nanoseconds>& sorted,
                                    double fraction) {
  if (sorted.empty()) return std::chrono::nanoseconds(0);
  // Nearest rank: the smallest value with at least this fraction at or below it.
  auto rank = static_cast<size_t>(std::ceil(fraction * static_cast<double>(sorted.size())));
  return sorted[std::clamp<size_t>(rank, 1, sorted.size()) - 1];
}

int run_batch(const Options& options) {
  auto items = read_batch(options);
  if (!items) {
    say("usage: " + items.error());
    return kExitUsage;
  }
  auto opened = Resolver::open(options.resolver);
  if (!opened) {
    say("usage: " + opened.error());
    return kExitUsage;
  }
  Resolver& resolver = **opened;
  const bool print_each = !options.stats && !options.quiet;

  std::vector<BatchResult> results(items->size());
  size_t next = 0;
  const auto started = Clock::now();
  while (next < items->size() || resolver.in_flight() > 0) {
    while (next < items->size() && resolver.in_flight() < options.concurrency) {
      const size_t index = next++;
      const BatchItem& item = (*items)[index];
      resolver.send(item.packet, [&, index](Outcome&& outcome) {
        BatchResult& result = results[index];
        const BatchItem& asked = (*items)[index];
        result.status = outcome.status;
        result.latency = outcome.latency;
        std::string prefix = asked.name + " " + type_to_text(asked.type) + " ";
        if (outcome.status != ARES_SUCCESS) {
          if (print_each) prefix += std::string("ERROR ") + ares_strerror(outcome.status);
          result.line = prefix;
          return;
        }
        auto parsed = parse_reply(outcome.reply);
        if (!parsed) {
          result.status = ARES_EBADRESP;
          result.line = prefix + "ERROR malformed reply: " + parsed.error();
          return;
        }
        result.rcode = parsed->rcode;
        if (!print_each) return;
        result.line = prefix + rcode_to_text(parsed->rcode);
        for (const auto& value : answer_set(*parsed, outcome.reply, asked.type)) {
          result.line += " " + value.text;
        }
      });
    }
    resolver.run_once(std::chrono::milliseconds(100));
  }
  const auto elapsed = Clock::now() - started;

  std::map<std::string, size_t> errors_by_reason;
  std::map<int, size_t> rcodes;
  std::vector<std::chrono::nanoseconds> latencies;
  size_t rcode_mismatches = 0;
  for (const auto& result : results) {
    if (print_each) std::cout << result.line << '\n';
    if (result.status != ARES_SUCCESS) {
      ++errors_by_reason[result.status == ARES_EBADRESP ? "malformed reply"
                                                        : ares_strerror(result.status)];
      continue;
    }
    ++rcodes[result.rcode];
    latencies.push_back(result.latency);
    if (options.expect_rcode && result.rcode != *options.expect_rcode) ++rcode_mismatches;
  }
  size_t errors = 0;
  for (const auto& [reason, count] : errors_by_reason) errors += count;

  if (options.stats) {
    std::sort(latencies.begin(), latencies.end());
    const double seconds = std::chrono::duration<double>(elapsed).count();
    std::cout << "queries: " << results.size() << '\n';
    std::cout << "answered: " << latencies.size() << '\n';
    std::cout << "errors: " << errors << '\n';
    for (const auto& [reason, count] : errors_by_reason) {
      std::cout << "error " << reason << ": " << count << '\n';
    }
    for (const auto& [rcode, count] : rcodes) {
      std::cout << "rcode " << rcode_to_text(rcode) << ": " << count << '\n';
    }
    std::cout << "latency p50: " << format_ms(percentile(latencies, 0.50)) << " ms\n";
    std::cout << "latency p99: " << format_ms(percentile(latencies, 0.99)) << " ms\n";
    std::cout << "latency max: "
              << format_ms(latencies.empty() ? std::chrono::nanoseconds(0) : latencies.back())
              << " ms\n";
    char rate[64];
    std::snprintf(rate, sizeof rate, "elapsed: %.3f s\nrate: %.0f queries/s\n", seconds,
                  seconds > 0 ? static_cast<double>(results.size()) / seconds : 0.0);
    std::cout << rate;
  }
  std::cout.flush();

  if (errors > 0) {
    std::string detail;
    for (const auto& [reason, count] : errors_by_reason) {
      if (!detail.empty()) detail += ", ";
      detail += reason + ": " + std::to_string(count);
    }
    say("network error: " + std::to_string(errors) + " of " + std::to_string(results.size()) +
        " queries got no usable reply from " + options.resolver.servers_csv + " (" + detail + ")");
    return kExitNetwork;
  }
  if (rcode_mismatches > 0) {
    say("expectation failed: " + std::to_string(rcode_mismatches) + " of " +
        std::to_string(results.size()) + " replies did not have rcode " +
        rcode_to_text(*options.expect_rcode));
    return kExitExpectationFailed;
  }
  return kExitOk;
}

}  // namespace

int run(int argc, char** argv) {
  auto options = parse_options(argc, argv);
  if (!options) {
    say("usage: " + options.error() + " (see raftdns-query --help)");
    return kExitUsage;
  }
  if (options->help) {
    std::cout << usage_text();
    return kExitOk;
  }
  if (options->version) {
    std::cout << "raftdns-query " << RAFTDNS_VERSION << " (c-ares " << ares_version(nullptr)
              << ")\n";
    return kExitOk;
  }
  int status = ares_library_init(ARES_LIB_INIT_ALL);
  if (status != ARES_SUCCESS) {
    say(std::string("network error: c-ares initialisation failed: ") + ares_strerror(status));
    return kExitNetwork;
  }
  int exit_code = options->batch_file.empty() ? run_single(*options) : run_batch(*options);
  ares_library_cleanup();
  return exit_code;
}

}  // namespace raftdns::query_tool
