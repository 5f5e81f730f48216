// bench_sign: CPU seconds to sign a synthetic zone of N A records (one per
// name) with a KSK and a ZSK, NSEC3 with RFC 9276 parameters; the median of
// several runs. Optionally writes the signed zone (RFC 3597 form) so it can
// be checked with dnssec-verify, and the unsigned zone for another signer.
//
// With --store DIR it times the online path instead: the zone is put in a
// fresh store (not timed), then the apply of `zone sign` (what every node
// of a cluster runs) and of a one-record change to the signed zone.
#include <time.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "daemon/dnssec/zone_check.h"
#include "daemon/dnssec/zone_signer.h"
#include "daemon/store/store.h"
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

Status apply_one(store::Store& s, const store::Command& c, uint64_t index) {
  auto bytes = store::encode_command(c);
  store::ApplyItem item{index, 1, bytes};
  std::vector<Status> outcomes;
  if (auto st = s.apply(std::span(&item, 1), &outcomes); !st) return st;
  return outcomes.empty() ? Status(make_error("no outcome")) : std::move(outcomes[0]);
}

int bench_store(const std::string& dir, const wire::Name& apex,
                const std::vector<wire::Record>& zone, int algorithm, int runs) {
  std::vector<double> sign_cpu, sign_wall, change_wall;
  for (int r = 0; r < runs; ++r) {
    auto opened = store::Store::open(dir + "/run" + std::to_string(r));
    if (!opened) {
      std::fprintf(stderr, "bench_sign: %s\n", opened.error().c_str());
      return 1;
    }
    auto& s = **opened;
    uint64_t index = 0;
    if (auto st = apply_one(s, store::PutZone{apex, zone}, ++index); !st) {
      std::fprintf(stderr, "bench_sign: put zone: %s\n", st.error().c_str());
      return 1;
    }
    store::ZoneSigning sign;
    sign.action = store::ZoneSigning::Action::sign;
    sign.zone = apex;
    sign.now = static_cast<uint32_t>(time(nullptr));
    sign.params.algorithm = static_cast<uint8_t>(algorithm);
    for (uint16_t flags : {dnssec::kKskFlags, dnssec::kZskFlags}) {
      auto k = store::make_new_key(static_cast<uint8_t>(algorithm), flags);
      if (!k) return 1;
      sign.keys.push_back(*k);
    }
    double c0 = cpu_seconds(), w0 = wall_seconds();
    if (auto st = apply_one(s, sign, ++index); !st) {
      std::fprintf(stderr, "bench_sign: sign: %s\n", st.error().c_str());
      return 1;
    }
    sign_cpu.push_back(cpu_seconds() - c0);
    sign_wall.push_back(wall_seconds() - w0);
    auto name = must_name("added." + apex.to_text());
    w0 = wall_seconds();
    if (auto st = apply_one(s, store::AddRecords{{{name, wire::rrtype::A, 1, 300, {10, 9, 9, 9}}}},
                            ++index);
        !st) {
      std::fprintf(stderr, "bench_sign: change: %s\n", st.error().c_str());
      return 1;
    }
    change_wall.push_back(wall_seconds() - w0);
    if (r == 0) {
      auto records = s.zone_records(apex);
      auto check = records ? dnssec::check_signed_zone(apex, *records, sign.now)
                           : Status(make_error(records.error()));
      if (!check) {
        std::fprintf(stderr, "bench_sign: the signed zone does not verify: %s\n",
                     check.error().c_str());
        return 1;
      }
    }
    opened->reset();
    std::error_code ec;
    std::filesystem::remove_all(dir + "/run" + std::to_string(r), ec);
  }
  std::sort(sign_cpu.begin(), sign_cpu.end());
  std::sort(sign_wall.begin(), sign_wall.end());
  std::sort(change_wall.begin(), change_wall.end());
  std::printf(
      "store apply, algorithm %d, %zu records, %d runs: zone sign median %.2f CPU s, %.2f wall s; "
      "one-record change to the signed zone median %.1f ms\n",
      algorithm, zone.size(), runs, sign_cpu[sign_cpu.size() / 2],
      sign_wall[sign_wall.size() / 2], change_wall[change_wall.size() / 2] * 1000);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  size_t records = 100000;
  int runs = 3;
  int algorithm = dnssec::algorithm::kEcdsaP256Sha256;
  const char* write_signed = nullptr;
  const char* write_unsigned = nullptr;
  const char* store_dir = nullptr;
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
    } else if (a == "--store" && i + 1 < argc) {
      store_dir = argv[++i];
    } else {
      std::fprintf(stderr,
                   "usage: bench_sign [--records N] [--runs N] [--algorithm 13|15] "
                   "[--write-signed FILE] [--write-unsigned FILE] [--store DIR]\n");
      return 2;
    }
  }
  auto apex = must_name("bench.example.");
  auto zone = synthetic_zone(apex, records);
  if (write_unsigned != nullptr) {
    std::ofstream out(write_unsigned);
    for (const auto& r : zone) out << wire::record_to_text(r) << "\n";
  }
  if (store_dir != nullptr) return bench_store(store_dir, apex, zone, algorithm, runs);
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
