// Signing policy checks (see signing_policy.h).
#include "daemon/server/signing_policy.h"

#include <cstdint>

#include "common/duration.h"

namespace raftdns::server {
namespace {

struct Value {
  const char* config_key;
  const char* option;
};
constexpr Value kAlgorithm{"dnssec.algorithm", "--algorithm"};
constexpr Value kValidity{"dnssec.signature_validity", "--validity"};
constexpr Value kRefresh{"dnssec.signature_refresh", "--refresh"};
constexpr Value kJitter{"dnssec.signature_jitter", "--jitter"};
constexpr Value kDnskeyTtl{"dnssec.dnskey_ttl", "--dnskey-ttl"};
constexpr Value kPublishWait{"dnssec.publish_wait", "--publish-wait"};
constexpr Value kZskLifetime{"dnssec.zsk_lifetime", "--zsk-lifetime"};
constexpr Value kKskLifetime{"dnssec.ksk_lifetime", "--ksk-lifetime"};

// RRSIG times compare in serial number arithmetic (RFC 4034 §3.1.5): a
// validity of 2^31 seconds or more cannot be told from an expired one. A
// TTL is at most 2^31 - 1 (RFC 2181 §8).
constexpr uint32_t kMaxSeconds = 0x7fffffff;

}  // namespace

Status check_signing_params(const store::SigningParams& p, SigningNames names) {
  auto name = [names](const Value& v) {
    return std::string(names == SigningNames::config ? v.config_key : v.option);
  };
  auto shown = [&](const Value& v, uint32_t seconds) {
    return name(v) + " (" + format_duration(seconds) + ")";
  };
  if (p.algorithm != 13 && p.algorithm != 15) {
    return make_error(name(kAlgorithm) + " " + std::to_string(p.algorithm) +
                      " is not supported: use 13 (ECDSA P-256) or 15 (Ed25519)");
  }
  for (auto [value, seconds] :
       {std::pair{kValidity, p.validity}, {kRefresh, p.refresh}, {kDnskeyTtl, p.dnskey_ttl}}) {
    if (seconds == 0) return make_error(name(value) + " must be more than 0");
    if (seconds > kMaxSeconds) {
      return make_error(shown(value, seconds) + " is above the most, " +
                        format_duration(kMaxSeconds));
    }
  }
  if (p.jitter >= p.refresh) {
    return make_error(shown(kJitter, p.jitter) + " must be shorter than " +
                      shown(kRefresh, p.refresh));
  }
  if (uint64_t{p.refresh} + p.jitter >= p.validity) {
    return make_error(shown(kValidity, p.validity) + " must be longer than " +
                      shown(kRefresh, p.refresh) + " plus " + shown(kJitter, p.jitter) +
                      ", or signatures expire before they are renewed");
  }
  if (p.publish_wait < p.dnskey_ttl) {
    return make_error(shown(kPublishWait, p.publish_wait) + " must be at least " +
                      shown(kDnskeyTtl, p.dnskey_ttl) +
                      ", or caches may not hold a new key when it starts to sign");
  }
  for (auto [value, seconds] :
       {std::pair{kZskLifetime, p.zsk_lifetime}, {kKskLifetime, p.ksk_lifetime}}) {
    if (seconds != 0 && seconds <= p.publish_wait) {
      return make_error(shown(value, seconds) +
                        " must be 0 (no automatic rollover) or longer than " +
                        shown(kPublishWait, p.publish_wait));
    }
  }
  return {};
}

store::SigningParams apply_overrides(store::SigningParams p, const control::Request& request) {
  if (request.algorithm != 0) p.algorithm = request.algorithm;
  p.nsec3_optout = request.nsec3_optout;
  const control::SigningOverrides& o = request.signing;
  if (o.validity) p.validity = *o.validity;
  if (o.refresh) p.refresh = *o.refresh;
  if (o.jitter) p.jitter = *o.jitter;
  if (o.dnskey_ttl) p.dnskey_ttl = *o.dnskey_ttl;
  if (o.publish_wait) p.publish_wait = *o.publish_wait;
  if (o.retire_wait) p.retire_wait = *o.retire_wait;
  if (o.ds_wait) p.ds_wait = *o.ds_wait;
  if (o.zsk_lifetime) p.zsk_lifetime = *o.zsk_lifetime;
  if (o.ksk_lifetime) p.ksk_lifetime = *o.ksk_lifetime;
  return p;
}

}  // namespace raftdns::server
