// Fuzz target: an RFC 2136 UPDATE message from the network, read, checked
// against a grant and applied to a store.
//
// Promises kept for every input: a message with a readable header always
// gets an answer with its ID; an update the store refuses carries the rcode
// the client gets and leaves the zone data exactly as it was; an applied one
// leaves a store whose zone still exports with its SOA.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "daemon/store/command.h"
#include "daemon/store/store.h"
#include "daemon/update/update.h"
#include "daemon/wire/message.h"
#include "daemon/wire/types.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_update_message";

struct Fixture {
  std::filesystem::path dir;
  std::unique_ptr<store::Store> store;
  std::vector<std::uint8_t> zone;  // the encoded PutZone that (re)creates the fixture zone
  uint64_t index = 1;
  uint64_t inputs = 0;

  void put_zone() {
    const store::ApplyItem item{index++, 1, zone};
    std::vector<Status> outcomes;
    if (auto st = store->apply(std::span(&item, 1), &outcomes); !st) broken(kTarget, st.error());
    if (outcomes.size() != 1 || !outcomes[0]) broken(kTarget, "fixture zone refused");
  }
  ~Fixture() {
    store.reset();
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    std::string tmpl = (std::filesystem::temp_directory_path() / "raftdns-fuzz-update-XXXXXX");
    if (!::mkdtemp(tmpl.data())) broken(kTarget, "mkdtemp failed");
    made->dir = tmpl;
    store::StoreOptions opts;
    opts.map_size = std::size_t{64} << 20;
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
    made->zone = store::encode_command(zone);
    made->put_zone();
    std::atexit([] { delete f; });
    return made;
  }();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  // Start the zone afresh now and then, so that additions never fill the map.
  if (++f.inputs % 256 == 0) f.put_zone();
  const std::span<const std::uint8_t> message(data, size);
  auto parsed = update::parse(message);
  std::vector<std::uint8_t> out(512);
  if (auto* refusal = std::get_if<update::Refusal>(&parsed)) {
    if (refusal->header.has_value() != (size >= wire::kHeaderSize)) {
      broken(kTarget, "a message with a header must be answered, and only such a one");
    }
    if (refusal->header &&
        update::write_response(out, *refusal->header, refusal->zone, false, refusal->rcode) == 0) {
      broken(kTarget, "no room for a refusal: " + refusal->reason);
    }
    return 0;
  }
  auto& request = std::get<update::Request>(parsed);
  const wire::Question zone{request.command.zone, wire::rrtype::SOA, wire::rrclass::IN};
  if (update::write_response(out, request.header, zone, true, wire::rcode::NOERROR) == 0) {
    broken(kTarget, "no room for the response to an update");
  }
  const update::Grant everything{request.command.zone, {}, {}, "fuzz"};
  (void)update::check(request.command, {&everything});

  const std::string before = f.store->digest();
  const auto bytes = store::encode_command(request.command);
  const store::ApplyItem item{f.index++, 1, bytes};
  std::vector<Status> outcomes;
  if (auto st = f.store->apply(std::span(&item, 1), &outcomes); !st) {
    broken(kTarget, "the store failed: " + st.error());
  }
  if (outcomes.size() != 1) broken(kTarget, "one command, one outcome");
  if (!outcomes[0]) {
    if (!store::update_rcode(outcomes[0].error())) {
      broken(kTarget, "a refused update has no rcode: " + outcomes[0].error());
    }
    if (f.store->digest() != before) broken(kTarget, "a refused update changed the zone");
  }
  auto soa = f.store->get(*wire::Name::from_text("example.com."), wire::rrtype::SOA);
  if (soa.size() != 1) broken(kTarget, "the zone lost its SOA");
  return 0;
}
