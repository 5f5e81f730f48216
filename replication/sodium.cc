// One-time libsodium initialisation shared by the key, frame and transport code.
#include "replication/sodium.h"

#include <sodium.h>

#include <cstdio>
#include <cstdlib>

namespace raftdns::replication {

void ensure_sodium_initialized() {
  static const bool initialized = [] {
    if (sodium_init() < 0) {
      std::fprintf(stderr, "raftdns: libsodium failed to initialise\n");
      std::abort();
    }
    return true;
  }();
  (void)initialized;
}

}  // namespace raftdns::replication
