# raftdns %preun: stop the service when the package is erased (not upgraded).
if [ "$1" -eq 0 ] && [ -d /run/systemd/system ]; then
    systemctl --no-reload disable --now raftdnsd.service >/dev/null 2>&1 || :
fi
exit 0
