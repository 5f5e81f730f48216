// The standard process_* metrics (CPU seconds, memory, open descriptors,
// start time), read from /proc/self at scrape time.
#pragma once

#include "daemon/server/metrics_text.h"

namespace raftdns::server {

// Appends the process_* families. A figure /proc cannot give is left out
// rather than reported as zero.
void write_process_metrics(MetricsText& out);

}  // namespace raftdns::server
