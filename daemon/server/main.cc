// raftdnsd: the raftdns daemon (argument parsing only; see daemon.h).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <exception>
#include <string>

#include "daemon/server/config.h"
#include "daemon/server/control_service.h"
#include "daemon/server/daemon.h"
#include "daemon/server/log.h"
#include "daemon/server/restore.h"
#include "daemon/tsig/tsig.h"
#include "replication/key.h"

namespace {

// A new TSIG key as a BIND key block (which nsupdate -k and named read),
// followed by the same key for raftdns.toml, Knot and NSD as comments.
int print_tsig_key(const std::string& name_text, const std::string& algorithm_text) {
  namespace tsig = raftdns::tsig;
  auto algorithm = tsig::algorithm_from_text(algorithm_text);
  if (!algorithm) {
    std::fprintf(stderr, "raftdnsd: --algorithm %s: use hmac-sha256 or hmac-sha512\n",
                 algorithm_text.c_str());
    return 2;
  }
  auto name = raftdns::wire::Name::from_text(name_text);
  if (!name || name->is_root()) {
    std::fprintf(stderr, "raftdnsd: --tsig-keygen %s: not a key name (a domain name)\n",
                 name_text.c_str());
    return 2;
  }
  const std::string n = name->lowercased().to_text();
  const std::string a(tsig::algorithm_text(*algorithm));
  const std::string secret = tsig::random_secret(*algorithm);
  std::printf(
      "key \"%s\" {\n\talgorithm %s;\n\tsecret \"%s\";\n};\n"
      "# raftdns.toml:\n#   [[tsig]]\n#   name = \"%s\"\n#   algorithm = \"%s\"\n#   secret = \"%s\"\n"
      "# knot.conf:\n#   key:\n#     - id: %s\n#       algorithm: %s\n#       secret: %s\n"
      "# nsd.conf:\n#   key:\n#     name: \"%s\"\n#     algorithm: %s\n#     secret: \"%s\"\n",
      n.c_str(), a.c_str(), secret.c_str(), n.c_str(), a.c_str(), secret.c_str(), n.c_str(),
      a.c_str(), secret.c_str(), n.c_str(), a.c_str(), secret.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  using namespace raftdns::server;
  CLI::App app{"raftdnsd: clustered authoritative DNS server", "raftdnsd"};
  std::string config_path = "/etc/raftdns/raftdns.toml";
  bool check_only = false;
  bool show_version = false;
  std::string init_key;
  std::string tsig_keygen;
  std::string tsig_algorithm = "hmac-sha256";
  app.add_option("-c,--config", config_path, "configuration file (TOML)")->capture_default_str();
  app.add_flag("--check-config", check_only, "check the configuration file and exit");
  bool force_new_cluster = false;
  std::string restore_file;
  app.add_option("--restore", restore_file,
                 "make the config's (empty) data_dir from a backup written by dnsadm backup, "
                 "with the membership from the config, and exit");
  app.add_flag("--force-new-cluster", force_new_cluster,
               "disaster recovery: restart this node as a one-voter cluster from its own data, "
               "keeping everything in its log; add members back with dnsadm member add");
  app.add_flag("-V,--version", show_version, "print the version and exit");
  app.add_option("--init-key", init_key,
                 "write a new random cluster key to FILE (mode 0600; never overwrites) and exit");
  auto* keygen = app.add_option("--tsig-keygen", tsig_keygen,
                                 "print a new TSIG key NAME for raftdns.toml, BIND, Knot and NSD, "
                                 "and exit");
  app.add_option("--algorithm", tsig_algorithm, "TSIG algorithm: hmac-sha256 or hmac-sha512")
      ->needs(keygen)
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One exit code for every usage error, as dnsadm does.
    (void)app.exit(e);
    return 2;
  }

  if (show_version) {
    std::printf("raftdnsd %s\n", RAFTDNS_VERSION);
    return 0;
  }
  if (!tsig_keygen.empty()) return print_tsig_key(tsig_keygen, tsig_algorithm);
  if (!init_key.empty()) {
    if (auto s = raftdns::replication::init_key_file(init_key); !s) {
      std::fprintf(stderr, "raftdnsd: %s\n", s.error().c_str());
      return 1;
    }
    std::printf("wrote a new cluster key to %s\n", init_key.c_str());
    return 0;
  }
  auto config = load_config(config_path);
  if (config.ok() && !config->control_group.empty()) {
    if (auto gid = resolve_group(config->control_group); !gid) {
      config = raftdns::make_error(config_path + ": control.group: " + gid.error());
    }
  }
  if (check_only) {
    if (!config) {
      std::fprintf(stderr, "%s\n", config.error().c_str());
      return 1;
    }
    std::printf("config OK\n");
    return 0;
  }
  if (!config) {
    log_error(config.error());
    return 1;
  }
  if (!restore_file.empty()) {
    auto restored = restore_backup(*config, restore_file);
    if (!restored) {
      std::fprintf(stderr, "raftdnsd: %s\n", restored.error().c_str());
      return 1;
    }
    std::printf("%s\n", restored->c_str());
    return 0;
  }
  config->force_new_cluster = force_new_cluster;
  int status = 0;
  try {
    Daemon daemon(std::move(*config));
    if (auto started = daemon.start(); !started) {
      log_error(started.error());
      return 1;
    }
    daemon.run();
    status = daemon.exit_status();
  } catch (const std::exception& e) {
    log_error(std::string("fatal: ") + e.what());
    return 1;
  }
  log_info(status == Daemon::kExitRemoved ? "stopped: removed from the cluster"
           : status != 0                  ? "stopped on a fatal error"
                                          : "stopped");
  return status;
}
