# raftdns %post: the service user, the state directory and the cluster key.
if ! getent passwd raftdns >/dev/null; then
    if command -v systemd-sysusers >/dev/null 2>&1; then
        systemd-sysusers /usr/lib/sysusers.d/raftdns.conf
    else
        useradd --system --user-group --home-dir /var/lib/raftdns --no-create-home \
            --shell /sbin/nologin --comment "raftdns DNS server" raftdns
    fi
fi
mkdir -p /var/lib/raftdns
chown raftdns:raftdns /var/lib/raftdns
chmod 0750 /var/lib/raftdns
key=/etc/raftdns/cluster.key
if [ ! -e "$key" ]; then
    (umask 077 && raftdnsd --init-key "$key" >/dev/null)
    chown raftdns:raftdns "$key"
    chmod 0600 "$key"
fi
if [ -d /run/systemd/system ]; then
    systemctl daemon-reload >/dev/null 2>&1 || :
    # $1 is 2 or more on an upgrade: run the new binary.
    if [ "$1" -ge 2 ]; then
        systemctl try-restart raftdnsd.service >/dev/null 2>&1 || :
    fi
fi
exit 0
