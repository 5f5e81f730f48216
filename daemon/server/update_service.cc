// UpdateService: RFC 2136 UPDATE from a DNS worker, through the log, and back.
#include "daemon/server/update_service.h"

#include <ctime>

#include "daemon/server/log.h"
#include "daemon/server/proposer.h"
#include "daemon/store/read_txn.h"
#include "daemon/store/store.h"
#include "daemon/update/update.h"
#include "daemon/wire/types.h"

namespace raftdns::server {
namespace {

namespace R = wire::rcode;
using Outcome = tsig::RequestCheck::Outcome;

uint64_t wall_seconds() { return static_cast<uint64_t>(std::time(nullptr)); }

}  // namespace

struct UpdateService::Job {
  std::vector<uint8_t> request;  // the RequestCheck's spans point into it
  std::string client;            // for log lines
  tsig::RequestCheck tsig;
  std::optional<wire::Header> header;
  std::optional<wire::Question> zone;
  bool edns = false;
  store::Update command;
  std::shared_ptr<Inbox> worker;
  Reply reply;

  std::string who() const {
    std::string w = "update from " + client;
    if (tsig.key) w += " key " + tsig.key->name.to_text();
    if (zone) w += " for zone " + zone->name.to_text();
    return w;
  }
};

UpdateService::UpdateService(const Config& config, tsig::KeyRing keys,
                             const store::Store& store, std::shared_ptr<Inbox> main, Clock clock)
    : grants_(config.update_grants),
      keys_(std::move(keys)),
      store_(store),
      main_(std::move(main)),
      clock_(clock ? std::move(clock) : Clock(wall_seconds)),
      timeout_(config.update_timeout_ms) {}

// Judged against this node's store, which may lag the log by a little: the
// apply checks again at the update's place in the log.
bool UpdateService::serves_zone(const wire::Name& zone) const {
  auto view = store_.begin_read();
  if (!view) return false;
  store::NameKey key(zone);
  store::ZoneRef z;
  return view->find_zone(key, z) && z.apex_labels == key.labels();
}

void UpdateService::count(uint16_t rcode) {
  switch (rcode) {
    case R::NOERROR:
      counters_.applied.fetch_add(1, std::memory_order_relaxed);
      break;
    case R::YXDOMAIN:
    case R::YXRRSET:
    case R::NXDOMAIN:
    case R::NXRRSET:
      counters_.prerequisite_failed.fetch_add(1, std::memory_order_relaxed);
      break;
    case R::REFUSED:
      counters_.refused.fetch_add(1, std::memory_order_relaxed);
      break;
    case R::NOTAUTH:
      counters_.notauth.fetch_add(1, std::memory_order_relaxed);
      break;
    case R::FORMERR:
    case R::NOTZONE:
      counters_.malformed.fetch_add(1, std::memory_order_relaxed);
      break;
    default:
      counters_.failed.fetch_add(1, std::memory_order_relaxed);
      break;
  }
}

// The response, signed when the request was (RFC 8945 §5.3): with the key
// for a good signature or BADTIME, and with an unsigned TSIG error record
// for BADKEY and BADSIG, whose MAC cannot be trusted.
std::vector<uint8_t> UpdateService::respond(const Job& job, uint16_t rcode) {
  count(rcode);
  std::vector<uint8_t> out(wire::kMinUdpSize + 256);
  const wire::Header header = job.header.value_or(wire::Header{});
  size_t length = update::write_response(out, header, job.zone, job.edns, rcode);
  if (length == 0) return {};
  const uint64_t now = clock_();
  switch (job.tsig.outcome) {
    case Outcome::unsigned_request:
    case Outcome::formerr:
      break;
    case Outcome::ok:
    case Outcome::badtime: {
      uint8_t server_time[6];
      std::span<const uint8_t> other;
      if (job.tsig.outcome == Outcome::badtime) {
        for (int i = 0; i < 6; ++i) server_time[i] = static_cast<uint8_t>(now >> (40 - 8 * i));
        other = server_time;
      }
      tsig::Signer signer(*job.tsig.key, job.tsig.mac);
      length = signer.sign(out, length, now, job.tsig.tsig_error(), other);
      break;
    }
    default:
      length = tsig::append_unsigned_error(out, length, job.tsig.record, now,
                                           job.tsig.tsig_error());
      break;
  }
  out.resize(length);
  return out;
}

void UpdateService::handle(std::span<const uint8_t> message, const sockaddr* client,
                           const std::shared_ptr<Inbox>& worker, Reply reply) {
  auto job = std::make_shared<Job>();
  job->request.assign(message.begin(), message.end());
  job->client = xfr::address_text(client);
  job->worker = worker;
  job->reply = std::move(reply);
  const uint64_t now = clock_();

  auto parsed = update::parse(job->request);
  auto* refusal = std::get_if<update::Refusal>(&parsed);
  if (refusal) {
    if (!refusal->header) return;  // nothing to answer with
    job->header = refusal->header;
    job->zone = refusal->zone;
  } else {
    auto& request = std::get<update::Request>(parsed);
    job->header = request.header;
    job->zone = wire::Question{request.command.zone, wire::rrtype::SOA, wire::rrclass::IN};
    job->edns = request.edns.has_value();
    job->command = std::move(request.command);
  }

  job->tsig = tsig::verify_request(job->request, keys_, now);
  if (job->tsig.outcome == Outcome::formerr) {
    job->reply(respond(*job, R::FORMERR));
    return;
  }
  if (job->tsig.outcome != Outcome::unsigned_request && !job->tsig.signed_ok()) {
    if (refusal_log_.should_log(client, now)) {
      log_warning(job->who() + " refused: NOTAUTH, TSIG " + tsig::outcome_text(job->tsig.outcome) +
                  " (key " + job->tsig.record.key_name.to_text() + ")");
    }
    job->reply(respond(*job, R::NOTAUTH));
    return;
  }
  if (refusal) {
    log_debug(job->who() + ": " + wire::rcode_to_text(refusal->rcode) + ": " + refusal->reason);
    job->reply(respond(*job, refusal->rcode));
    return;
  }

  if (!serves_zone(job->command.zone)) {
    log_debug(job->who() + ": NOTAUTH: this server has no such zone");
    job->reply(respond(*job, R::NOTAUTH));
    return;
  }

  // The grants that speak for this requester: those for the key that signed
  // it, and those for its address.
  std::vector<const update::Grant*> applicable;
  for (const UpdateGrantConfig& g : grants_) {
    const bool by_key = g.key && job->tsig.signed_ok() && job->tsig.key->name == *g.key;
    const bool by_address = g.from && g.from->contains(client);
    if (by_key || by_address) applicable.push_back(&g.grant);
  }
  const update::Verdict verdict = update::check(job->command, applicable);
  if (!verdict.allowed) {
    if (refusal_log_.should_log(client, now)) {
      std::string rules;
      for (const update::Grant* g : applicable) rules += (rules.empty() ? "" : ", ") + g->who;
      log_warning(job->who() + " refused: " + verdict.reason +
                  (rules.empty() ? std::string(" (no update.grant names this client or key)")
                                 : " (grants checked: " + rules + ")"));
    }
    job->reply(respond(*job, R::REFUSED));
    return;
  }
  if (!main_->post([this, job] { propose_on_main(job); })) return;  // shutting down
}

void UpdateService::propose_on_main(std::shared_ptr<Job> job) {
  auto answer = [this, job](uint16_t rcode) {
    auto bytes = respond(*job, rcode);
    job->worker->post([job, bytes = std::move(bytes)]() mutable { job->reply(std::move(bytes)); });
  };
  if (!proposer_) {
    log_warning(job->who() + " failed: the node is still starting");
    answer(R::SERVFAIL);
    return;
  }
  ProposalOptions options;
  options.deadline = std::chrono::steady_clock::now() + timeout_;
  const std::string what = store::describe(job->command);
  proposer_->submit(store::Command{job->command}, options,
                    [job, what, answer](Status status, uint64_t index) {
                      if (status) {
                        log_info(job->who() + ": applied " + what + " at index " +
                                 std::to_string(index));
                        answer(R::NOERROR);
                        return;
                      }
                      const auto rcode = store::update_rcode(status.error());
                      if (rcode) {
                        log_info(job->who() + ": " + status.error());
                      } else {
                        log_warning(job->who() + " failed (SERVFAIL): " + status.error());
                      }
                      answer(rcode.value_or(R::SERVFAIL));
                    });
}

}  // namespace raftdns::server
