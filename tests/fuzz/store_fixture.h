// A store in a temporary directory for the fuzz targets that need one,
// removed when the process exits, and the small zone several of them load.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/store/command.h"
#include "daemon/store/store.h"
#include "daemon/wire/name.h"
#include "tests/fuzz/fuzz_support.h"

namespace raftdns::fuzz {

class StoreFixture {
 public:
  // Opens an empty store for `target` (named in failures).
  StoreFixture(const char* target, std::size_t map_size) : target_(target) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "raftdns-fuzz-XXXXXX");
    if (!::mkdtemp(tmpl.data())) broken(target_, "mkdtemp failed");
    dir_ = tmpl;
    store::StoreOptions opts;
    opts.map_size = map_size;
    auto opened = store::Store::open((dir_ / "store").string(), opts);
    if (!opened) broken(target_, "store: " + opened.error());
    store_ = std::move(*opened);
  }
  ~StoreFixture() {
    store_.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  StoreFixture(const StoreFixture&) = delete;
  StoreFixture& operator=(const StoreFixture&) = delete;

  store::Store& store() { return *store_; }

  // Applies `command` at the next index; returns its outcome. A failure of
  // the store itself (not a refusal) is a broken promise.
  Status apply(const store::Command& command) {
    const auto bytes = store::encode_command(command);
    const store::ApplyItem item{++index_, 1, bytes};
    std::vector<Status> outcomes;
    if (auto st = store_->apply(std::span(&item, 1), &outcomes); !st) {
      broken(target_, "the store failed: " + st.error());
    }
    if (outcomes.size() != 1) broken(target_, "one command, one outcome");
    return std::move(outcomes[0]);
  }
  // Applies a fixture command that must be accepted.
  void must_apply(const store::Command& command) {
    if (Status s = apply(command); !s) broken(target_, "fixture refused: " + s.error());
  }

 private:
  const char* target_;
  std::filesystem::path dir_;
  std::unique_ptr<store::Store> store_;
  std::uint64_t index_ = 0;
};

// example.com. with its SOA (serial 1), NS ns.example.com. and that name's A.
inline store::PutZone small_zone(const char* target) {
  auto apex = wire::Name::from_text("example.com.");
  auto ns = wire::Name::from_text("ns.example.com.");
  auto mbox = wire::Name::from_text("hostmaster.example.com.");
  if (!apex || !ns || !mbox) broken(target, "fixture names");
  std::vector<std::uint8_t> soa(ns->wire().begin(), ns->wire().end());
  soa.insert(soa.end(), mbox->wire().begin(), mbox->wire().end());
  for (const std::uint32_t v : {1u, 3600u, 900u, 604800u, 300u}) {
    for (int shift = 24; shift >= 0; shift -= 8) soa.push_back(static_cast<std::uint8_t>(v >> shift));
  }
  std::vector<std::uint8_t> ns_rdata(ns->wire().begin(), ns->wire().end());
  return store::PutZone{*apex,
                        {{*apex, wire::rrtype::SOA, wire::rrclass::IN, 300, soa},
                         {*apex, wire::rrtype::NS, wire::rrclass::IN, 300, ns_rdata},
                         {*ns, wire::rrtype::A, wire::rrclass::IN, 300, {192, 0, 2, 1}}}};
}

}  // namespace raftdns::fuzz
