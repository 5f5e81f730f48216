# raftdns %postun: RPM has no purge, so an erase keeps /var/lib/raftdns and
# the cluster key, like a Debian remove; delete them by hand to start afresh.
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
fi
exit 0
