// The sd_notify protocol without libsystemd: one datagram to $NOTIFY_SOCKET.
#pragma once

#include <string_view>

namespace raftdns::server {

// Sends `state` (e.g. "READY=1\nSTATUS=serving") to the socket named by
// $NOTIFY_SOCKET, a filesystem path or an abstract socket written "@name".
// Returns false when the variable is unset or the send failed; callers
// carry on either way, since a daemon run by hand has no supervisor.
bool sd_notify_send(std::string_view state);

}  // namespace raftdns::server
