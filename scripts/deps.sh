#!/usr/bin/env bash
# Installs the Debian 12 packages raftdns needs to build, test and benchmark.
# Installs only what is missing unless RAFTDNS_DEPS_FORCE=1 (CI sets it).
set -euo pipefail

packages=(
  # build
  build-essential cmake pkg-config file
  # libraries named by the design (static archives come with the -dev packages)
  libevent-dev liblmdb-dev libc-ares-dev libcli11-dev libgtest-dev libgmock-dev
  libknot-dev libtomlplusplus-dev libsodium-dev nlohmann-json3-dev
  # libcrypto (static): ECDSA P-256 and SHA-1 (NSEC3) for DNSSEC signing
  libssl-dev
  # test peers and clients
  bind9-dnsutils knot-dnsutils nsd knot dnsperf iproute2 procps
  # monitoring: a real Prometheus server and promtool for the metrics tests
  prometheus curl
  # secondaries for the transfer tests (named), a skewed clock for TSIG BADTIME
  bind9 faketime
  # DNSSEC: zone signers and verifiers (bind9-utils, ldnsutils), validators
  # (delv is in bind9-dnsutils; a validating unbound)
  bind9-utils ldnsutils unbound
  # dynamic update clients (nsupdate is in bind9-dnsutils, knsupdate in knot-dnsutils)
  python3-dnspython
  # a whole ACME DNS-01 issuance through UPDATE: the ACME test server and certbot
  pebble certbot python3-certbot-dns-rfc2136 openssl
  # the generated differential test (tests/differential/generate.py, compare.py)
  python3-minimal
  # packaging checks
  rpm lintian mandoc fakeroot dpkg-dev jq nftables
  # fuzzing and sanitizers
  clang libclang-rt-14-dev
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ "${RAFTDNS_DEPS_FORCE:-0}" = 1 ] || [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "deps: missing packages: ${missing[*]}; run as root (or with sudo)" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  apt-get install -y --no-install-recommends "${packages[@]}"
fi
