// Fuzz target: the store Command codec, which reads every committed Raft entry.
//
// A command that decodes re-encodes to bytes that decode again to the same encoding, and
// checking it against a store (the proposer's pre-flight) never does harm.
#include <cstdint>
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

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_command";

// A store holding one zone, so check() has something to compare against.
struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  ~Fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

store::Store& fixture_store() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    std::string tmpl = (std::filesystem::temp_directory_path() / "raftdns-fuzz-command-XXXXXX");
    if (!::mkdtemp(tmpl.data())) broken(kTarget, "mkdtemp failed");
    made->dir = tmpl;
    store::StoreOptions opts;
    opts.map_size = std::size_t{16} << 20;
    auto opened = store::Store::open((made->dir / "store").string(), opts);
    if (!opened) broken(kTarget, "store: " + opened.error());
    made->store = std::move(*opened);
    auto apex = wire::Name::from_text("example.com.");
    auto ns = wire::Name::from_text("ns.example.com.");
    auto mbox = wire::Name::from_text("hostmaster.example.com.");
    if (!apex || !ns || !mbox) broken(kTarget, "fixture names");
    std::vector<std::uint8_t> soa(ns->wire().begin(), ns->wire().end());
    soa.insert(soa.end(), mbox->wire().begin(), mbox->wire().end());
    for (const std::uint32_t v : {1u, 3600u, 900u, 604800u, 300u}) {
      for (int shift = 24; shift >= 0; shift -= 8)
        soa.push_back(static_cast<std::uint8_t>(v >> shift));
    }
    std::vector<std::uint8_t> ns_rdata(ns->wire().begin(), ns->wire().end());
    store::PutZone zone{*apex,
                        {{*apex, wire::rrtype::SOA, wire::rrclass::IN, 300, soa},
                         {*apex, wire::rrtype::NS, wire::rrclass::IN, 300, ns_rdata},
                         {*ns, wire::rrtype::A, wire::rrclass::IN, 300, {192, 0, 2, 1}}}};
    const auto bytes = store::encode_command(zone);
    const store::ApplyItem item{1, 1, bytes};
    std::vector<Status> outcomes;
    if (auto st = made->store->apply(std::span(&item, 1), &outcomes); !st)
      broken(kTarget, st.error());
    if (outcomes.size() != 1 || !outcomes[0]) broken(kTarget, "fixture zone refused");
    std::atexit([] { delete f; });
    return made;
  }();
  return *f->store;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  store::Store& s = fixture_store();
  auto decoded = store::decode_command(std::span(data, size));
  if (!decoded) {
    if (decoded.error().empty()) broken(kTarget, "a command was refused without a reason");
    return 0;
  }
  const auto encoded = store::encode_command(*decoded);
  auto again = store::decode_command(encoded);
  if (!again) broken(kTarget, "a re-encoded command is refused: " + again.error());
  if (store::encode_command(*again) != encoded) {
    broken(kTarget, "command round trip differs: " + store::describe(*decoded));
  }
  (void)store::describe(*decoded);
  (void)s.check(*decoded);
  return 0;
}
