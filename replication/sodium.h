// One-time libsodium initialisation shared by the key, frame and transport code.
#pragma once

namespace raftdns::replication {

// Calls sodium_init() exactly once per process (thread-safe); aborts if libsodium cannot start,
// because nothing in the peer protocol is safe without its random generator.
void ensure_sodium_initialized();

}  // namespace raftdns::replication
