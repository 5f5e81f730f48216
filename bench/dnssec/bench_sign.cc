// bench_sign: CPU seconds to sign a synthetic zone of N A records (one per
// name) with a KSK and a ZSK, NSEC3 with RFC 9276 parameters; the median of
// several runs. Optionally writes the signed zone (RFC 3597 form) so it can
// be checked with dnssec-verify, and the unsigned zone for another signer.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/dnssec/zone_signer.h"
#include "daemon/wire/rr.h"

namespace {

using namespace raftdns;

double cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

double wall_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

wire::Name must_name(const std::string& text) {
  auto n = wire::Name::from_text(text);
  if (!n) {
    std::fprintf(stderr, "bench_sign: bad name %s\n", text.c_str());
    std::exit(2);
  }
  return *n;
}

std::vector<wire::Record> synthetic_zone(const wire::Name& apex, size_t records) {
  std::vector<wire::Record> zone;
  zone.reserve(records + 2);
  auto ns = must_name("ns1." + apex.to_text());
  std::vector<uint8_t> soa(ns.wire().begin(), ns.wire().end());
  soa.insert(soa.end(), ns.wire().begin(), ns.wire().end());
  for (uint32_t v : {1u, 3600u, 600u, 604800u, 300u}) {
    for (int s = 24; s >= 0; s -= 8) soa.push_back(static_cast<uint8_t>(v >> s));
  }
  zone.push_back({apex, wire::rrtype::SOA, 1, 3600, soa});
  zone.push_back({apex, wire::rrtype::NS, 1, 3600, {ns.wire().begin(), ns.wire().end()}});
  for (size_t i = 0; i < records; ++i) {
    auto owner = must_name("host" + std::to_string(i) + "." + apex.to_text());
    zone.push_back({owner,
                    wire::rrtype::A,
                    1,
                    3600,
                    {10, static_cast<uint8_t>(i >> 16), static_cast<uint8_t>(i >> 8),
                     static_cast<uint8_t>(i)}});
  }
  return zone;
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 100000;
  int runs = 3;
  int algorithm = dnssec::algorithm::kEcdsaP256Sha256;
  const char* write_signed = nullptr;
  const char* write_unsigned = nullptr;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--records" && i + 1 < argc) {
      records = std::strtoull(argv[++i], nullptr, 10);
    } else if (a == "--runs" && i + 1 < argc) {
      runs = std::atoi(argv[++i]);
    } else if (a == "--algorithm" && i + 1 < argc) {
      algorithm = std::atoi(argv[++i]);
    } else if (a == "--write-signed" && i + 1 < argc) {
      write_signed = argv[++i];
    } else if (a == "--write-unsigned" && i + 1 < argc) {
      write_unsigned = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench_sign [--records N] [--runs N] [--algorithm 13|15] "
                   "[--write-signed FILE] [--write-unsigned FILE]\n");
      return 2;
    }
  }
  auto apex = must_name("bench.example.");
  auto zone = synthetic_zone(apex, records);
  if (write_unsigned != nullptr) {
    std::ofstream out(write_unsigned);
    for (const auto& r : zone) out << wire::record_to_text(r) << "\n";
  }
  auto ksk = dnssec::generate_key(static_cast<uint8_t>(algorithm), dnssec::kKskFlags);
  auto zsk = dnssec::generate_key(static_cast<uint8_t>(algorithm), dnssec::kZskFlags);
  if (!ksk || !zsk) {
    std::fprintf(stderr, "bench_sign: %s\n", (!ksk ? ksk.error() : zsk.error()).c_str());
    return 2;
  }
  std::vector<dnssec::ZoneKey> keys = {{*ksk, true, true, false, false},
                                       {*zsk, true, false, true, false}};
  dnssec::SigningPolicy policy;
  policy.inception = static_cast<uint32_t>(time(nullptr)) - 3600;
  policy.expiration = policy.inception + 14 * 86400;
  policy.jitter = 86400;

  std::vector<double> cpu, wall;
  size_t signed_records = 0;
  for (int r = 0; r < runs; ++r) {
    double c0 = cpu_seconds(), w0 = wall_seconds();
    auto out = dnssec::sign_zone(apex, zone, keys, policy);
    cpu.push_back(cpu_seconds() - c0);
    wall.push_back(wall_seconds() - w0);
    if (!out) {
      std::fprintf(stderr, "bench_sign: %s\n", out.error().c_str());
      return 1;
    }
    signed_records = out->size();
    if (r == 0 && write_signed != nullptr) {
      std::ofstream f(write_signed);
      for (const auto& rec : *out) f << wire::record_to_text(rec) << "\n";
    }
  }
  std::sort(cpu.begin(), cpu.end());
  std::sort(wall.begin(), wall.end());
  std::printf(
      "algorithm %d, %zu records in, %zu records out, %d runs: median %.2f CPU s, %.2f wall s\n",
      algorithm, zone.size(), signed_records, runs, cpu[cpu.size() / 2], wall[wall.size() / 2]);
  return 0;
}
