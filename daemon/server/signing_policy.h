// The checks a zone's signing policy (store::SigningParams) must pass
// before signing starts, shared by the [dnssec] config defaults and
// `dnsadm zone sign`'s overrides, so both refuse the same values.
#pragma once

#include <string>

#include "common/result.h"
#include "daemon/control/protocol.h"
#include "daemon/store/command.h"

namespace raftdns::server {

// How a message names each value: by its config key ("dnssec.
// signature_validity") or by its dnsadm option ("--validity").
enum class SigningNames { config, dnsadm };

// Refuses a policy the signer or a validator could not live with: an
// algorithm other than 13 or 15; a validity not longer than refresh plus
// jitter (a signature would expire before its renewal); a jitter not below
// refresh; a zero validity, refresh or DNSKEY TTL; a publish_wait shorter
// than the DNSKEY TTL (caches would not yet hold a new key when it signs);
// a key lifetime not longer than publish_wait. The one-line message names
// the value and what it was.
Status check_signing_params(const store::SigningParams& params, SigningNames names);

// `defaults` with a zone_sign request's algorithm, opt-out and overrides.
store::SigningParams apply_overrides(store::SigningParams defaults,
                                     const control::Request& request);

}  // namespace raftdns::server
