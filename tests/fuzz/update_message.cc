// Fuzz target: an RFC 2136 UPDATE message from the network, read, checked
// against a grant and applied to a store.
//
// Promises kept for every input: a message with a readable header always
// gets an answer with its ID; an update the store refuses carries the rcode
// the client gets and leaves the zone data exactly as it was; an applied one
// leaves a store whose zone still exports with its SOA.
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "daemon/store/command.h"
#include "daemon/store/store.h"
#include "daemon/update/update.h"
#include "daemon/wire/message.h"
#include "daemon/wire/types.h"
#include "tests/fuzz/fuzz_support.h"
#include "tests/fuzz/store_fixture.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_update_message";

// A store holding example.com., started afresh now and then so that the
// additions of many inputs never fill its map.
struct Fixture {
  fuzz::StoreFixture stores{kTarget, std::size_t{64} << 20};
  std::uint64_t inputs = 0;
  void reset_zone() { stores.must_apply(fuzz::small_zone(kTarget)); }
};

Fixture& fixture() {
  static Fixture* f = [] {
    auto* made = new Fixture;
    made->reset_zone();
    std::atexit([] { delete f; });
    return made;
  }();
  return *f;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  Fixture& f = fixture();
  // Start the zone afresh now and then, so that additions never fill the map.
  if (++f.inputs % 256 == 0) f.reset_zone();
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

  const std::string before = f.stores.store().digest();
  const Status outcome = f.stores.apply(request.command);
  if (!outcome) {
    if (!store::update_rcode(outcome.error())) {
      broken(kTarget, "a refused update has no rcode: " + outcome.error());
    }
    if (f.stores.store().digest() != before) broken(kTarget, "a refused update changed the zone");
  }
  auto soa = f.stores.store().get(*wire::Name::from_text("example.com."), wire::rrtype::SOA);
  if (soa.size() != 1) broken(kTarget, "the zone lost its SOA");
  return 0;
}
