#!/usr/bin/env bash
# Builds the raftdns .deb and .rpm and checks them the way CI does (run as root; idempotent; cleans up).
#
# usage: packaging/test-packages.sh [--build-dir DIR] [--no-build] [--dns-port PORT]
#
# Steps: build both packages with CPack; lintian on the .deb (no errors,
# every warning justified in packaging/lintian-notes.md); install the .deb
# with dpkg -i and check the files, the user and the cluster key; run
# raftdnsd --version and --check-config on the shipped config; start the
# daemon as the raftdns user with only CAP_NET_BIND_SERVICE and the shipped
# config, load a zone with dnsadm and query it with dig; check that dpkg -r
# keeps the data and dpkg -P removes it; compare the .rpm payload with the
# .deb payload; rpm -K; mandoc -Tlint on every man page; systemd-analyze
# verify and security on the unit.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
source_dir=$(cd "$here/.." && pwd)
build_dir=$source_dir/build-packages
build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --build-dir) build_dir=$2; shift 2 ;;
    --no-build) build=0; shift ;;
    -h|--help) sed -n '2,20p' "$0"; exit 0 ;;
    *) echo "test-packages: unknown argument $1" >&2; exit 2 ;;
  esac
done

failures=0
checks=0
step() { echo "== $*"; }
pass() { checks=$((checks + 1)); }
fail() { echo "FAIL: $*" >&2; failures=$((failures + 1)); }
die() { echo "FAIL: $*" >&2; exit 1; }
check() {  # check DESCRIPTION -- command...
  local what=$1
  shift 2
  if "$@"; then pass; else fail "$what"; fi
}

[ "$(id -u)" -eq 0 ] || die "must run as root (it installs and removes the package)"
for tool in cmake cpack dpkg dpkg-deb lintian rpm rpmbuild rpm2archive tar mandoc setpriv dig file; do
  command -v "$tool" >/dev/null || die "$tool is not installed"
done

work=$(mktemp -d /tmp/raftdns-packages.XXXXXX)
daemon_pid=""
cleanup() {
  if [ -n "$daemon_pid" ]; then
    kill "$daemon_pid" 2>/dev/null
    wait "$daemon_pid" 2>/dev/null
  fi
  if dpkg-query -W -f='${Status}' raftdns 2>/dev/null | grep -q 'installed\|config-files'; then
    dpkg -P raftdns >/dev/null 2>&1
  fi
  rm -rf "$work"
}
trap cleanup EXIT

# --- 1. build both packages ------------------------------------------------
if [ $build = 1 ]; then
  step "building packages in $build_dir"
  rm -f "$build_dir"/raftdns[_-]*.deb "$build_dir"/raftdns-*.rpm
  cmake -S "$source_dir" -B "$build_dir" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    >"$work/configure.log" 2>&1 || { cat "$work/configure.log" >&2; die "cmake configure failed"; }
  cmake --build "$build_dir" -j2 --target package >"$work/build.log" 2>&1 ||
    { tail -40 "$work/build.log" >&2; die "cmake --build --target package failed"; }
fi
deb=$(ls "$build_dir"/raftdns_*.deb 2>/dev/null | head -1)
rpm_file=$(ls "$build_dir"/raftdns-*.rpm 2>/dev/null | head -1)
[ -f "$deb" ] || die "no .deb in $build_dir"
[ -f "$rpm_file" ] || die "no .rpm in $build_dir"
echo "deb: $deb"
echo "rpm: $rpm_file"

# --- 2. the payload holds every binary (fail loudly, never skip) ----------
step "payload"
dpkg-deb -c "$deb" >"$work/deb.list"
for path in usr/bin/raftdnsd usr/bin/dnsadm usr/bin/raftdns-query \
    usr/share/man/man8/raftdnsd.8.gz usr/share/man/man8/dnsadm.8.gz \
    usr/share/man/man5/raftdns.toml.5.gz usr/share/man/man1/raftdns-query.1.gz \
    etc/raftdns/raftdns.toml usr/lib/systemd/system/raftdnsd.service \
    usr/lib/sysusers.d/raftdns.conf usr/lib/tmpfiles.d/raftdns.conf \
    usr/share/doc/raftdns/copyright usr/share/doc/raftdns/changelog.Debian.gz \
    usr/share/raftdns/monitoring/raftdns-dashboard.json \
    usr/share/raftdns/monitoring/raftdns-alerts.yml usr/share/raftdns/monitoring/README; do
  check "the .deb lacks /$path" -- grep -q " \./$path\$" "$work/deb.list"
done
check "the .deb lacks /var/lib/raftdns" -- grep -q ' \./var/lib/raftdns/$' "$work/deb.list"
missing_binaries=$(for b in raftdnsd dnsadm raftdns-query; do grep -q " \./usr/bin/$b\$" "$work/deb.list" || echo "$b"; done)
[ -z "$missing_binaries" ] || die "binaries missing from the package: $missing_binaries (were their targets built?)"

# --- 3. lintian ------------------------------------------------------------
step "lintian"
lintian --info --display-info "$deb" >"$work/lintian.out" 2>&1
lintian_status=$?
cat "$work/lintian.out"
if grep -q '^E: ' "$work/lintian.out"; then
  fail "lintian reports errors"
else
  pass
fi
[ $lintian_status -le 1 ] || fail "lintian itself failed (status $lintian_status)"
for tag in $(sed -n 's/^W: raftdns[^:]*: \([a-z0-9-]*\).*/\1/p' "$work/lintian.out" | sort -u); do
  check "lintian warning $tag is not justified in packaging/lintian-notes.md" -- \
    grep -q "$tag" "$here/lintian-notes.md"
done

# --- 4. install with dpkg -i -------------------------------------------------
step "dpkg -i"
if dpkg-query -W -f='${Status}' raftdns 2>/dev/null | grep -q 'installed\|config-files'; then
  dpkg -P raftdns >/dev/null
fi
dpkg -i "$deb" || die "dpkg -i failed"
for b in raftdnsd dnsadm raftdns-query; do
  check "/usr/bin/$b is not executable" -- test -x /usr/bin/$b
  check "/usr/bin/$b is not statically linked" -- sh -c "file -L /usr/bin/$b | grep -q 'statically linked'"
done
check "raftdns user missing" -- getent passwd raftdns
check "raftdns group missing" -- getent group raftdns
check "raftdns user has a login shell" -- sh -c "getent passwd raftdns | grep -q ':/usr/sbin/nologin$\|:/sbin/nologin$\|:/bin/false$'"
check "/var/lib/raftdns is not raftdns:raftdns 750" -- \
  test "$(stat -c '%U:%G %a' /var/lib/raftdns)" = "raftdns:raftdns 750"
check "cluster key missing" -- test -s /etc/raftdns/cluster.key
check "cluster key is not raftdns:raftdns 600" -- \
  test "$(stat -c '%U:%G %a' /etc/raftdns/cluster.key)" = "raftdns:raftdns 600"
check "raftdns.toml is not a conffile" -- \
  sh -c "dpkg-query -W -f='\${Conffiles}' raftdns | grep -q /etc/raftdns/raftdns.toml"
check "the service is not enabled by the install" -- \
  test ! -e /etc/systemd/system/multi-user.target.wants/raftdnsd.service
key_before=$(sha256sum /etc/raftdns/cluster.key | cut -d' ' -f1)
dpkg -i "$deb" >/dev/null || fail "reinstalling the .deb failed"
check "reinstalling replaced the cluster key" -- \
  test "$(sha256sum /etc/raftdns/cluster.key | cut -d' ' -f1)" = "$key_before"
for page in raftdnsd.8 dnsadm.8 raftdns.toml.5 raftdns-query.1; do
  section=${page##*.}
  check "man page $page is not installed" -- test -f /usr/share/man/man$section/$page.gz
done

# --- 5. the daemon: version, config check, serving as the service user ----
step "raftdnsd --version / --check-config"
version_out=$(/usr/bin/raftdnsd --version 2>&1)
echo "$version_out"
if [[ $version_out =~ ^raftdnsd\ [0-9] ]]; then pass; else fail "raftdnsd --version printed '$version_out'"; fi
check "raftdnsd --check-config on the shipped config" -- \
  /usr/bin/raftdnsd --check-config --config /etc/raftdns/raftdns.toml
check "raftdns-query --version" -- /usr/bin/raftdns-query --version

if command -v systemd-analyze >/dev/null; then
  step "systemd-analyze"
  man_flag=--man=no
  command -v man >/dev/null && man_flag=--man=yes
  check "systemd-analyze verify raftdnsd.service" -- \
    systemd-analyze verify $man_flag /usr/lib/systemd/system/raftdnsd.service
  if systemd-analyze security --offline=yes /usr/lib/systemd/system/raftdnsd.service \
      >"$work/security.out" 2>&1; then
    echo "systemd-analyze security: $(grep -i 'overall exposure' "$work/security.out")"
  else
    echo "systemd-analyze security could not run: $(tail -1 "$work/security.out")"
  fi
fi

step "serving as raftdns with only CAP_NET_BIND_SERVICE"
# What systemd's RuntimeDirectory=raftdns would create.
install -d -o raftdns -g raftdns -m 0750 /run/raftdns
setpriv --reuid=raftdns --regid=raftdns --init-groups \
  --inh-caps=-all,+net_bind_service --ambient-caps=-all,+net_bind_service \
  --bounding-set=-all,+net_bind_service --no-new-privs \
  /usr/bin/raftdnsd --config /etc/raftdns/raftdns.toml >"$work/daemon.log" 2>&1 &
daemon_pid=$!
for _ in $(seq 100); do [ -S /run/raftdns/control.sock ] && break; sleep 0.1; done
if [ -S /run/raftdns/control.sock ]; then pass; else
  fail "raftdnsd did not create /run/raftdns/control.sock"
  cat "$work/daemon.log" >&2
fi
check "the daemon runs as raftdns" -- test "$(ps -o user= -p "$daemon_pid")" = raftdns
cat >"$work/example.com.zone" <<'ZONE'
$ORIGIN example.com.
$TTL 300
@    IN SOA ns1.example.com. hostmaster.example.com. 1 3600 900 604800 60
@    IN NS  ns1.example.com.
ns1  IN A   192.0.2.1
www  IN A   192.0.2.10
ZONE
check "dnsadm zone add" -- dnsadm zone add example.com --file "$work/example.com.zone"
answer=$(dig @127.0.0.1 -p 53 +short +time=2 +tries=1 www.example.com A 2>&1)
check "dig answers www.example.com A from the installed daemon (got '$answer')" -- test "$answer" = 192.0.2.10
check "raftdns-query agrees" -- raftdns-query @127.0.0.1 -p 53 -q www.example.com A --expect 192.0.2.10
check "dnsadm status" -- sh -c "dnsadm status | grep -q '^zones: *1'"
kill -TERM "$daemon_pid"
wait "$daemon_pid"
daemon_status=$?
daemon_pid=""
check "raftdnsd exits 0 on SIGTERM (got $daemon_status)" -- test "$daemon_status" -eq 0
sed 's/^/    daemon: /' "$work/daemon.log"

# --- 6. dpkg -r keeps the data, dpkg -P removes it --------------------------
step "dpkg -r / dpkg -P"
dpkg -r raftdns >/dev/null || fail "dpkg -r failed"
check "dpkg -r removed the binaries" -- test ! -e /usr/bin/raftdnsd
check "dpkg -r kept /var/lib/raftdns/store" -- test -d /var/lib/raftdns/store
check "dpkg -r kept the cluster key" -- test -f /etc/raftdns/cluster.key
check "dpkg -r kept the config" -- test -f /etc/raftdns/raftdns.toml
dpkg -P raftdns >/dev/null || fail "dpkg -P failed"
check "dpkg -P removed /var/lib/raftdns" -- test ! -e /var/lib/raftdns
check "dpkg -P removed /etc/raftdns" -- test ! -e /etc/raftdns

# --- 7. the .rpm carries the same payload, and its digests check ----------
step "rpm"
check "rpm -K" -- rpm -K "$rpm_file"
rpm -qlp "$rpm_file" | sort >"$work/rpm.paths"
# The .deb lists every directory on the way (/usr, /usr/bin, ...); the .rpm
# owns only its own. Compare files, then the directories the .rpm owns.
mkdir -p "$work/deb-root" "$work/rpm-root"
dpkg-deb -x "$deb" "$work/deb-root"
rpm2archive - <"$rpm_file" | tar -xzf - -C "$work/rpm-root"
(cd "$work/deb-root" && find . -type f -o -type l | sed 's/^\.//' | sort) >"$work/deb.files"
(cd "$work/rpm-root" && find . -type f -o -type l | sed 's/^\.//' | sort) >"$work/rpm.files"
if diff -u "$work/deb.files" "$work/rpm.files"; then pass; else fail "the .rpm and .deb hold different files"; fi
# Same bytes too, except the Debian-only lintian override file.
if diff -r "$work/deb-root" "$work/rpm-root" >"$work/payload.diff"; then pass; else
  fail "file contents differ between the .deb and the .rpm"; cat "$work/payload.diff" >&2
fi
check "rpm -qlp lists /var/lib/raftdns" -- grep -qx /var/lib/raftdns "$work/rpm.paths"
check "rpm -qlp lists every .deb file" -- sh -c "comm -23 '$work/deb.files' '$work/rpm.paths' | wc -l | grep -qx 0"
rpm -qp --configfiles "$rpm_file" | grep -qx /etc/raftdns/raftdns.toml && pass ||
  fail "raftdns.toml is not a %config file in the .rpm"

# --- 8. man pages ---------------------------------------------------------
step "mandoc -Tlint"
for page in "$source_dir"/man/*.[158] "$work"/deb-root/usr/share/man/man*/*.gz; do
  out=$(mandoc -Tlint -W style "$page" 2>&1)
  if [ -z "$out" ]; then pass; else fail "mandoc -Tlint $page: $out"; fi
done

echo "$checks checks passed, $failures failed"
[ $failures -eq 0 ]
