// process_* metrics from /proc/self (the names and meanings Prometheus's
// client libraries use, so existing dashboards work unchanged).
#include "daemon/server/metrics_process.h"

#include <dirent.h>
#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace raftdns::server {
namespace {

std::string read_file(const char* path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Fields of /proc/self/stat after the command name (which may hold spaces
// and parentheses, so parsing starts after the last ')'). Field 3 (state)
// is element 0.
std::vector<std::string> stat_fields() {
  const std::string stat = read_file("/proc/self/stat");
  const size_t close = stat.rfind(')');
  std::vector<std::string> fields;
  if (close == std::string::npos) return fields;
  std::istringstream in(stat.substr(close + 1));
  for (std::string f; in >> f;) fields.push_back(f);
  return fields;
}

// Seconds since the epoch at which the machine booted (/proc/stat btime).
double boot_time() {
  std::istringstream in(read_file("/proc/stat"));
  for (std::string line; std::getline(in, line);) {
    if (line.rfind("btime ", 0) == 0) return std::strtod(line.c_str() + 6, nullptr);
  }
  return -1;
}

int count_open_fds() {
  DIR* dir = ::opendir("/proc/self/fd");
  if (!dir) return -1;
  int count = 0;
  while (const dirent* e = ::readdir(dir)) {
    if (e->d_name[0] != '.') ++count;
  }
  ::closedir(dir);
  return count - 1;  // the descriptor opendir itself holds
}

}  // namespace

void write_process_metrics(MetricsText& out) {
  const long ticks = ::sysconf(_SC_CLK_TCK);
  const long page = ::sysconf(_SC_PAGESIZE);
  const std::vector<std::string> f = stat_fields();
  // utime (14), stime (15), starttime (22), vsize (23), rss (24) in proc(5)
  // numbering; element i here is field i + 3.
  if (f.size() > 21 && ticks > 0) {
    const double cpu = (std::strtod(f[11].c_str(), nullptr) + std::strtod(f[12].c_str(), nullptr)) /
                       static_cast<double>(ticks);
    out.family("process_cpu_seconds_total", MetricsText::Type::counter,
               "Total user and system CPU time spent in seconds.");
    out.sample("process_cpu_seconds_total", {}, cpu);
    const double boot = boot_time();
    if (boot >= 0) {
      out.gauge("process_start_time_seconds",
                "Start time of the process since unix epoch in seconds.",
                boot + std::strtod(f[19].c_str(), nullptr) / static_cast<double>(ticks));
    }
    out.gauge("process_virtual_memory_bytes", "Virtual memory size in bytes.",
              std::strtod(f[20].c_str(), nullptr));
    if (page > 0) {
      out.gauge("process_resident_memory_bytes", "Resident memory size in bytes.",
                std::strtod(f[21].c_str(), nullptr) * static_cast<double>(page));
    }
  }
  if (int fds = count_open_fds(); fds >= 0) {
    out.gauge("process_open_fds", "Number of open file descriptors.", fds);
  }
  if (rlimit limit{}; ::getrlimit(RLIMIT_NOFILE, &limit) == 0) {
    out.gauge("process_max_fds", "Maximum number of open file descriptors.",
              static_cast<double>(limit.rlim_cur));
  }
}

}  // namespace raftdns::server
