// Fuzz target: the Raft message and membership-change codecs that read peers' bytes.
//
// Whatever decodes must re-encode to bytes that decode to the same value, and the encoding of
// that value must be stable. The decoders reject trailing bytes and bad enums, so an accepted
// input should also be exactly the encoding of what it decoded to (one encoding per value).
#include <cstdint>
#include <span>
#include <string>
#include <vector>

#include "replication/core/types.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_raft_message";

void message(std::span<const std::uint8_t> input) {
  auto decoded = raft::decode_message(input);
  if (!decoded) return;
  const auto encoded = raft::encode_message(*decoded);
  auto again = raft::decode_message(encoded);
  if (!again) broken(kTarget, "a re-encoded message is refused: " + again.error());
  if (!(*again == *decoded))
    broken(kTarget, "message round trip differs: " + raft::describe(*decoded));
  if (raft::encode_message(*again) != encoded) broken(kTarget, "message encoding is not stable");
  if (!std::equal(input.begin(), input.end(), encoded.begin(), encoded.end())) {
    broken(kTarget, "two encodings decode to the same message: " + raft::describe(*decoded));
  }
}

void conf_change(std::span<const std::uint8_t> input) {
  auto decoded = raft::decode_conf_change(input);
  if (!decoded) return;
  const auto encoded = raft::encode_conf_change(*decoded);
  auto again = raft::decode_conf_change(encoded);
  if (!again) broken(kTarget, "a re-encoded conf change is refused: " + again.error());
  if (!(*again == *decoded)) broken(kTarget, "conf change round trip differs");
  if (!std::equal(input.begin(), input.end(), encoded.begin(), encoded.end())) {
    broken(kTarget, "two encodings decode to the same conf change");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> input(data, size);
  message(input);
  conf_change(input);
  return 0;
}
