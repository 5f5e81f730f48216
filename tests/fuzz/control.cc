// Fuzz target: the control-socket protocol as the daemon and dnsadm read it.
//
// The first input byte picks what reads the rest:
//   0: decode_request_body (the daemon's side); an accepted request re-encodes to a body that
//      decodes to the same request;
//   1: decode_response_body (dnsadm's side), with the same round trip;
//   2: the FrameReader, fed in input-chosen chunks, with a small size limit; every body it yields
//      is then decoded as a request, as the daemon does.
#include <algorithm>
#include <cstdint>
#include <optional>
#include <span>
#include <string>

#include "daemon/control/protocol.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace raftdns;
using fuzz::broken;

constexpr const char* kTarget = "fuzz_control";

std::span<const std::uint8_t> bytes_of(const std::string& s) {
  return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}

void request_round_trip(std::span<const std::uint8_t> body) {
  auto request = control::decode_request_body(body);
  if (!request) {
    if (request.error().empty()) broken(kTarget, "a request was refused without a reason");
    return;
  }
  const std::string encoded = control::encode_request_body(*request);
  auto again = control::decode_request_body(bytes_of(encoded));
  if (!again) broken(kTarget, "a re-encoded request is refused: " + again.error());
  if (!(*again == *request)) broken(kTarget, "request round trip differs: " + encoded);
}

void response_round_trip(std::span<const std::uint8_t> body) {
  auto response = control::decode_response_body(body);
  if (!response) {
    if (response.error().empty()) broken(kTarget, "a response was refused without a reason");
    return;
  }
  const std::string encoded = control::encode_response_body(*response);
  auto again = control::decode_response_body(bytes_of(encoded));
  if (!again) broken(kTarget, "a re-encoded response is refused: " + again.error());
  if (!(*again == *response)) broken(kTarget, "response round trip differs: " + encoded);
}

void frames(fuzz::InputReader in) {
  constexpr std::size_t kLimit = 4096;
  control::FrameReader reader(kLimit);
  const std::size_t step = std::size_t{in.u8()} + 1;
  const auto stream = in.rest();
  std::size_t total_bodies = 0;
  for (std::size_t at = 0; at < stream.size(); at += step) {
    reader.feed(stream.subspan(at, std::min(step, stream.size() - at)));
    while (auto body = reader.next()) {
      if (body->size() > kLimit) broken(kTarget, "FrameReader yielded an oversized body");
      total_bodies += control::kFrameHeaderSize + body->size();
      if (total_bodies > stream.size()) broken(kTarget, "FrameReader yielded bytes never fed");
      request_round_trip(bytes_of(*body));
    }
    if (reader.oversized() && reader.next()) broken(kTarget, "an oversized stream recovered");
  }
  // Frames built by frame() come back whole.
  const std::string body(reinterpret_cast<const char*>(stream.data()),
                         std::min<std::size_t>(stream.size(), kLimit));
  control::FrameReader clean(kLimit);
  const std::string framed = control::frame(body);
  clean.feed(bytes_of(framed));
  auto back = clean.next();
  if (!back || *back != body) broken(kTarget, "a frame did not come back whole");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  fuzz::InputReader in(std::span(data, size));
  switch (in.u8() % 3) {
    case 0:
      request_round_trip(in.rest());
      break;
    case 1:
      response_round_trip(in.rest());
      break;
    default:
      frames(in);
      break;
  }
  return 0;
}
