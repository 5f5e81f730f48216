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
#include "tests/fuzz/store_fixture.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_command";

// A store holding one zone, so check() has something to compare against.
store::Store& fixture_store() {
  static fuzz::StoreFixture* f = [] {
    auto* made = new fuzz::StoreFixture(kTarget, std::size_t{16} << 20);
    made->must_apply(fuzz::small_zone(kTarget));
    std::atexit([] { delete f; });
    return made;
  }();
  return f->store();
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
