# The parts of a test's unbound.conf that every DNSSEC test shares: a
# validating resolver on loopback with only the given trust anchors, no
# cache (each check asks the cluster again), and no way out to the root.
# Sourced by tests/dnssec/serve.sh and tests/dnssec_sign/lib.sh.

# unbound_server_conf DIR PORT ANCHOR_FILE: the server and remote-control
# sections.
unbound_server_conf() {
  local dir=$1 port=$2 anchors=$3
  echo "server:"
  echo "  interface: 127.0.0.1@$port"
  echo "  port: $port"
  echo "  do-ip6: no"
  echo "  chroot: \"\""
  echo "  username: \"\""
  echo "  directory: \"$dir\""
  echo "  pidfile: \"$dir/unbound.pid\""
  echo "  use-syslog: no"
  echo "  logfile: \"$dir/log\""
  echo "  verbosity: 1"
  echo "  do-not-query-localhost: no"
  echo "  root-hints: \"/dev/null\""
  echo "  trust-anchor-file: \"$anchors\""
  echo "  val-log-level: 2"
  echo "  cache-max-ttl: 0"
  echo "  cache-max-negative-ttl: 0"
  echo "  qname-minimisation: no"
  echo "  access-control: 127.0.0.0/8 allow"
  # .test is one of unbound's built-in local zones (RFC 6761): let it through.
  echo "  local-zone: \"test.\" nodefault"
  echo "remote-control:"
  echo "  control-enable: no"
}

# unbound_root_stub PORT: a root stub that leads nowhere (a loopback port
# nothing listens on), so nothing goes beyond loopback.
unbound_root_stub() {
  echo "stub-zone:"
  echo "  name: \".\""
  echo "  stub-addr: 127.0.0.1@$1"
}
