#!/bin/bash
# The control socket admits the service group only: a member runs dnsadm, a
# user outside the group is refused with a message naming the socket and the
# reason, and the daemon carries on. Creates (and removes) a group and two
# system users, so it must run as root; it fails, never skips, otherwise.
source "$(dirname "$0")/../integration/lib.sh"
[[ $(id -u) -eq 0 ]] || fail "must run as root to create test users (CI runs as root)"
command -v useradd >/dev/null && command -v setpriv >/dev/null ||
  fail "needs useradd and setpriv (util-linux)"
setup "$@" 15904

GROUP=rdlim$$
MEMBER=rdlim-in$$
OUTSIDER=rdlim-out$$
remove_users() {
  userdel "$MEMBER" 2>/dev/null || true
  userdel "$OUTSIDER" 2>/dev/null || true
  groupdel "$GROUP" 2>/dev/null || true
}
trap 'rc=$?; remove_users; (exit $rc); cleanup' EXIT
groupadd --system "$GROUP"
useradd --system --no-create-home --shell /usr/sbin/nologin -G "$GROUP" "$MEMBER"
useradd --system --no-create-home --shell /usr/sbin/nologin "$OUTSIDER"

write_config
sed -i "s|^socket = .*|&\ngroup = \"$GROUP\"|" "$CONFIG"
# The socket's own mode decides, not its directory's.
chmod 0755 "$WORK"
install -m 0755 "$DNSADM" "$WORK/dnsadm"
start_daemon
expect_eq "socket mode and group" "660 $GROUP" "$(stat -c '%a %G' "$SOCK")"

as() {
  local user=$1
  shift
  setpriv --reuid="$user" --regid="$(id -g "$user")" --init-groups "$WORK/dnsadm" --socket "$SOCK" --timeout 2 "$@"
}
as "$MEMBER" status > "$WORK/member.out" 2>&1 || fail "group member refused: $(cat "$WORK/member.out")"
rc=0
as "$OUTSIDER" status > "$WORK/outsider.out" 2>&1 || rc=$?
(( rc != 0 )) || fail "a user outside $GROUP ran dnsadm status"
message=$(cat "$WORK/outsider.out")
echo "outsider sees: $message"
[[ "$message" == *"$SOCK"* && "${message,,}" == *"permission denied"* ]] ||
  fail "the refusal does not name the socket and the reason: $message"
as "$OUTSIDER" zone list > /dev/null 2>&1 && fail "a user outside $GROUP listed zones"

# The daemon is unharmed: the member and root still get through.
as "$MEMBER" status > /dev/null || fail "member refused after the outsider's attempts"
adm status > /dev/null || fail "root refused after the outsider's attempts"
kill -0 "$DAEMON_PID" || fail "daemon died"
stop_daemon
echo PASS
