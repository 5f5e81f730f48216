// Zones: master-file import (via libzscanner), export, and the checks a zone must pass.
#include "daemon/zone/zone.h"

#include "daemon/zone/legacy.h"

// libzscanner's headers carry no C++ linkage guards.
extern "C" {
#include <libzscanner/scanner.h>
}

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <unordered_set>

namespace raftdns::zone {
namespace {

using wire::Name;
using wire::Record;
namespace rrtype = wire::rrtype;

// RFC 2181 §8: TTLs are unsigned 31-bit values.
constexpr uint32_t kMaxTtl = 0x7fffffff;

// Where a record came from, for error messages.
struct Location {
  const std::string* file = nullptr;
  uint64_t line = 0;
};

std::string where(const Location* loc) {
  if (!loc || !loc->file) return "";
  return *loc->file + ":" + std::to_string(loc->line) + ": ";
}

// Everything the scanner callbacks collect; the first error wins.
struct ScanState {
  std::string default_file;
  std::deque<std::string> files;  // stable storage for Location::file
  std::vector<Record> records;
  std::vector<Location> locations;
  std::vector<std::string> warnings;
  // Lines of the top file whose records a legacy type was rewritten into.
  std::map<uint64_t, detail::LegacyRecord> retype;
  size_t ttls_clamped = 0;
  std::string first_clamped;  // "file:line: " of the first one
  std::string error;
  bool failed = false;
  // A streamed load: the records go to `stream` in batches as parsed.
  const LoadStream* stream = nullptr;
  size_t streamed = 0;  // records handed on so far

  // Hands the records parsed since the last call to the stream; false when
  // the stream stopped the load.
  bool hand_on() {
    if (!stream || failed || records.size() == streamed) return true;
    const bool go_on = stream->sink(std::span<const Record>(records).subspan(streamed));
    streamed = records.size();
    if (!go_on) {
      failed = true;
      error = default_file + ": stopped";
    }
    return go_on;
  }

  const std::string* intern_file(const char* name) {
    std::string_view n = name ? std::string_view(name) : std::string_view(default_file);
    for (const auto& f : files) {
      if (f == n) return &f;
    }
    files.emplace_back(n);
    return &files.back();
  }
};

void on_record(zs_scanner_t* s) {
  auto* st = static_cast<ScanState*>(s->process.data);
  if (st->failed) {
    s->state = ZS_STATE_STOP;
    return;
  }
  auto owner = Name::from_wire({s->r_owner, s->r_owner_length});
  if (!owner) {
    st->failed = true;
    st->error = *st->intern_file(s->file.name) + ":" + std::to_string(s->line_counter) + ": " +
                owner.error();
    s->state = ZS_STATE_STOP;
    return;
  }
  Record rr;
  rr.owner = *owner;
  rr.type = s->r_type;
  rr.rclass = s->r_class;
  rr.ttl = s->r_ttl;
  rr.rdata.assign(s->r_data, s->r_data + s->r_data_length);
  Location loc{st->intern_file(s->file.name), s->line_counter};
  if (!st->retype.empty() && *loc.file == st->default_file) {
    if (auto it = st->retype.find(s->line_counter); it != st->retype.end()) {
      const detail::LegacyRecord& legacy = it->second;
      size_t strings = 0;
      for (size_t at = 0; at < rr.rdata.size(); at += 1 + rr.rdata[at]) ++strings;
      if (legacy.max_strings && (strings < legacy.min_strings || strings > legacy.max_strings)) {
        st->failed = true;
        st->error =
            where(&loc) + wire::type_to_text(legacy.type) + " takes " +
            std::to_string(legacy.min_strings) +
            (legacy.max_strings != legacy.min_strings ? " to " + std::to_string(legacy.max_strings)
                                                      : std::string()) +
            " character-strings, not " + std::to_string(strings);
        s->state = ZS_STATE_STOP;
        return;
      }
      rr.type = legacy.type;
    }
  }
  if (rr.ttl > kMaxTtl) {
    // RFC 2181 §8: a TTL is a 31-bit value. Clamped, as NSD does.
    if (st->ttls_clamped++ == 0) st->first_clamped = where(&loc);
    rr.ttl = kMaxTtl;
  }
  st->records.push_back(std::move(rr));
  st->locations.push_back(loc);
  if (st->stream && st->records.size() - st->streamed >= st->stream->batch && !st->hand_on()) {
    s->state = ZS_STATE_STOP;
  }
}

void on_error(zs_scanner_t* s) {
  auto* st = static_cast<ScanState*>(s->process.data);
  if (!st->failed) {
    st->failed = true;
    st->error = *st->intern_file(s->file.name) + ":" + std::to_string(s->line_counter) + ": " +
                zs_strerror(s->error.code);
  }
  s->state = ZS_STATE_STOP;
}

struct ScannerDeleter {
  void operator()(zs_scanner_t* s) const {
    zs_deinit(s);
    delete s;
  }
};
using ScannerPtr = std::unique_ptr<zs_scanner_t, ScannerDeleter>;

// The scanner context is large (hundreds of KB), so it lives on the heap.
Result<ScannerPtr> make_scanner(const Name& origin, uint32_t default_ttl, ScanState& st) {
  auto* raw = new zs_scanner_t();
  std::string origin_text = origin.to_text();
  if (zs_init(raw, origin_text.c_str(), wire::rrclass::IN, default_ttl) != 0) {
    std::string why = zs_strerror(raw->error.code);
    zs_deinit(raw);
    delete raw;
    return make_error("cannot start the zone scanner for " + origin_text + ": " + why);
  }
  ScannerPtr s(raw);
  if (zs_set_processing(s.get(), on_record, on_error, &st) != 0) {
    return make_error(std::string("cannot set up the zone scanner: ") + zs_strerror(s->error.code));
  }
  return s;
}

bool is_glue_type(uint16_t t) { return t == rrtype::A || t == rrtype::AAAA; }
bool is_dnssec_meta(uint16_t t) { return t == 46 /* RRSIG */ || t == 47 /* NSEC */; }
// What a delegation point itself may hold in the parent zone (RFC 1034
// §4.2.1, RFC 4035 §2.4): the cut's NS, its DS, glue and DNSSEC metadata.
bool parent_side_at_cut(uint16_t t) {
  return t == rrtype::NS || t == 43 /* DS */ || is_glue_type(t) || is_dnssec_meta(t);
}

struct OwnerFacts {
  uint32_t cname = 0, dname = 0, ns = 0, other = 0;  // other: not CNAME/RRSIG/NSEC
};

}  // namespace

std::optional<Occlusion> occlusion_of(const Name& origin, const Name& owner, uint16_t type,
                                      const std::function<bool(const Name&, uint16_t)>& has) {
  if (!owner.is_subdomain_of(origin)) return std::nullopt;
  const size_t below = owner.label_count() - origin.label_count();
  // From the apex down, the first cut or DNAME above the owner decides:
  // everything under it belongs elsewhere (RFC 1034 §4.3.2 step 3b,
  // RFC 6672 §2.3). The apex's own NS is no cut.
  for (size_t up = below; up >= 1; --up) {
    Name ancestor = owner.strip_left(up);
    if (has(ancestor, rrtype::DNAME)) return Occlusion{ancestor, rrtype::DNAME};
    if (ancestor != origin && has(ancestor, rrtype::NS)) {
      if (is_glue_type(type)) return std::nullopt;  // glue
      return Occlusion{ancestor, rrtype::NS};
    }
  }
  if (below > 0 && !parent_side_at_cut(type) && has(owner, rrtype::NS)) {
    return Occlusion{owner, rrtype::NS};
  }
  return std::nullopt;
}

std::string occlusion_warning(const Name& origin, const std::vector<const Record*>& occluded) {
  constexpr size_t kShown = 5;
  std::string out = "zone " + origin.to_text() + ": " + std::to_string(occluded.size()) +
                    (occluded.size() == 1 ? " record lies" : " records lie") +
                    " below a zone cut or DNAME (occluded: kept and exported, never served):";
  std::vector<Name> shown;
  for (const Record* rr : occluded) {
    if (std::find(shown.begin(), shown.end(), rr->owner) != shown.end()) continue;
    if (shown.size() == kShown) {
      out += ", ...";
      break;
    }
    out += shown.empty() ? " " : ", ";
    out += rr->owner.to_text();
    shown.push_back(rr->owner);
  }
  return out;
}

namespace {

// The records' positions sorted so that each owner's records, each RRset and
// each exact repeat are adjacent: by owner (its hash first, so most
// comparisons are of one integer), type, class, RDATA, then file position.
// One sort serves duplicate removal, the RRset TTL rule and the per-owner
// checks; node-based hash maps keyed by whole names cost several times more
// for a big zone (a cache miss per record per map, and ~300 bytes a node).
struct Grouping {
  std::vector<uint32_t> order;  // record positions, grouped
  std::vector<uint64_t> hash;   // hash[k]: the owner hash of records[order[k]]

  // Whether the k-th and (k-1)-th records of the order share their owner
  // (and, with `type`, their RRset). Unequal hashes settle most cases
  // without touching the records.
  bool same_owner(const std::vector<Record>& records, size_t k) const {
    return hash[k] == hash[k - 1] && records[order[k]].owner == records[order[k - 1]].owner;
  }
  bool same_rrset(const std::vector<Record>& records, size_t k) const {
    return hash[k] == hash[k - 1] && records[order[k]].type == records[order[k - 1]].type &&
           records[order[k]].owner == records[order[k - 1]].owner;
  }
};

Grouping grouped_order(const std::vector<Record>& records) {
  std::vector<std::pair<uint64_t, uint32_t>> keyed(records.size());
  for (size_t i = 0; i < records.size(); ++i) {
    keyed[i] = {records[i].owner.hash(), static_cast<uint32_t>(i)};
  }
  std::sort(keyed.begin(), keyed.end(), [&](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    const Record& x = records[a.second];
    const Record& y = records[b.second];
    if (int c = x.owner.compare(y.owner); c != 0) return c < 0;
    if (x.type != y.type) return x.type < y.type;
    if (x.rclass != y.rclass) return x.rclass < y.rclass;
    if (x.rdata != y.rdata) return x.rdata < y.rdata;
    return a.second < b.second;
  });
  Grouping g;
  g.order.resize(keyed.size());
  g.hash.resize(keyed.size());
  for (size_t k = 0; k < keyed.size(); ++k) {
    g.hash[k] = keyed[k].first;
    g.order[k] = keyed[k].second;
  }
  return g;
}

Status validate_with_locations(const Name& origin, const std::vector<Record>& records,
                               const std::vector<Location>* locations,
                               std::vector<std::string>* warnings,
                               const Grouping* given = nullptr) {
  auto loc_of = [&](size_t i) -> const Location* {
    return locations && i < locations->size() ? &(*locations)[i] : nullptr;
  };
  auto fail = [&](size_t i, const std::string& why) -> Status {
    return make_error(where(loc_of(i)) + wire::record_to_text(records[i]) + ": " + why);
  };

  Grouping own;
  if (!given) own = grouped_order(records);
  const Grouping& g = given ? *given : own;
  const std::vector<uint32_t>& order = g.order;

  // The facts of each owner, and which owner each record has.
  std::vector<OwnerFacts> facts;
  std::vector<uint32_t> owner_of(records.size());
  // Names that cut off what lies below them: delegations and DNAMEs.
  std::unordered_set<Name, wire::NameHash> ns_owners;
  std::unordered_set<Name, wire::NameHash> dname_owners;
  for (size_t k = 0; k < order.size(); ++k) {
    const Record& rr = records[order[k]];
    if (k == 0 || !g.same_owner(records, k)) facts.emplace_back();
    OwnerFacts& f = facts.back();
    owner_of[order[k]] = static_cast<uint32_t>(facts.size() - 1);
    if (rr.type == rrtype::CNAME) {
      ++f.cname;
    } else if (!is_dnssec_meta(rr.type)) {
      ++f.other;
    }
    if (rr.type == rrtype::DNAME && f.dname++ == 0) dname_owners.insert(rr.owner);
    if (rr.type == rrtype::NS && f.ns++ == 0) ns_owners.insert(rr.owner);
  }
  const bool any_cut = !dname_owners.empty() || ns_owners.size() > ns_owners.count(origin);
  auto has = [&](const Name& n, uint16_t type) {
    return type == rrtype::NS ? ns_owners.count(n) > 0 : dname_owners.count(n) > 0;
  };

  size_t soa_count = 0;
  std::vector<const Record*> occluded;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& rr = records[i];
    if (rr.rclass != wire::rrclass::IN) {
      return fail(i, "class " + wire::class_to_text(rr.rclass) + " in an IN zone");
    }
    if (!rr.owner.is_subdomain_of(origin)) {
      return fail(i, "owner is outside the zone " + origin.to_text());
    }
    if (auto st = wire::validate_rdata(rr.type, rr.rdata); !st) return fail(i, st.error());
    if (!wire::is_storable_type(rr.type)) {
      return fail(i, "type " + wire::type_to_text(rr.type) + " cannot be zone data");
    }
    if (rr.type == rrtype::SOA) {
      if (rr.owner != origin) return fail(i, "SOA record is not at the apex " + origin.to_text());
      if (++soa_count > 1) return fail(i, "more than one SOA record at the apex");
    }
    const OwnerFacts& f = facts[owner_of[i]];
    if (rr.type == rrtype::CNAME && f.cname > 1) {
      return fail(i, "more than one CNAME record at " + rr.owner.to_text());
    }
    if (rr.type == rrtype::DNAME && f.dname > 1) {
      return fail(i, "more than one DNAME record at " + rr.owner.to_text());
    }
    if (f.cname && f.other) {
      return fail(i, "CNAME and other data at " + rr.owner.to_text() + " (RFC 1034 section 3.6.2)");
    }
    if (any_cut && occlusion_of(origin, rr.owner, rr.type, has)) occluded.push_back(&rr);
  }
  if (soa_count == 0)
    return make_error("zone " + origin.to_text() + " has no SOA record at its apex");
  if (warnings && !occluded.empty()) warnings->push_back(occlusion_warning(origin, occluded));
  return {};
}

// Drops exact repeats (same owner, type, class and RDATA), keeping the first,
// and keeps the grouping true for what is left.
void drop_duplicates(std::vector<Record>& records, std::vector<Location>& locations,
                     Grouping& g) {
  std::vector<bool> keep(records.size(), true);
  bool any = false;
  for (size_t k = 1; k < g.order.size(); ++k) {
    if (!g.same_rrset(records, k)) continue;
    const Record& x = records[g.order[k - 1]];
    const Record& y = records[g.order[k]];
    if (x.rclass == y.rclass && x.rdata == y.rdata) {
      keep[g.order[k]] = false;  // the later one: position breaks ties
      any = true;
    }
  }
  if (!any) return;
  std::vector<uint32_t> renumbered(records.size());
  std::vector<Record> r;
  std::vector<Location> l;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!keep[i]) continue;
    renumbered[i] = static_cast<uint32_t>(r.size());
    r.push_back(std::move(records[i]));
    l.push_back(locations[i]);
  }
  Grouping kept;
  kept.order.reserve(r.size());
  kept.hash.reserve(r.size());
  for (size_t k = 0; k < g.order.size(); ++k) {
    if (!keep[g.order[k]]) continue;
    kept.order.push_back(renumbered[g.order[k]]);
    kept.hash.push_back(g.hash[k]);
  }
  records = std::move(r);
  locations = std::move(l);
  g = std::move(kept);
}

// RFC 2181 §5.2: the records of an RRset share one TTL. A file that gives
// them different TTLs gets the lowest for all of them, with one warning.
void unify_rrset_ttls(const Name& origin, std::vector<Record>& records,
                      const std::vector<Location>& locations, const Grouping& g,
                      std::vector<std::string>& warnings) {
  const std::vector<uint32_t>& order = g.order;
  size_t changed = 0;
  size_t first = records.size();  // position of the first record changed
  for (size_t begin = 0, end = 0; begin < order.size(); begin = end) {
    uint32_t lowest = records[order[begin]].ttl;
    for (end = begin + 1; end < order.size() && g.same_rrset(records, end); ++end) {
      lowest = std::min(lowest, records[order[end]].ttl);
    }
    for (size_t k = begin; k < end; ++k) {
      Record& rr = records[order[k]];
      if (rr.ttl == lowest) continue;
      ++changed;
      first = std::min<size_t>(first, order[k]);
      rr.ttl = lowest;
    }
  }
  if (changed) {
    const Record& rr = records[first];
    warnings.push_back(
        "zone " + origin.to_text() + ": " + std::to_string(changed) +
        (changed == 1 ? " record's TTL was" : " records' TTLs were") +
        " lowered to the lowest TTL of their RRset (RFC 2181 section 5.2); first: " +
        where(first < locations.size() ? &locations[first] : nullptr) + rr.owner.to_text() + " " +
        wire::type_to_text(rr.type));
  }
}

Result<ParsedZone> finish_load(const Name& origin, ScanState& st, int parse_rc, zs_scanner_t* s) {
  if (st.failed) return make_error(std::move(st.error));
  if (parse_rc != 0) {
    return make_error(*st.intern_file(s->file.name) + ":" + std::to_string(s->line_counter) + ": " +
                      zs_strerror(s->error.code));
  }
  Grouping order = grouped_order(st.records);
  // The TTL each RRset gets when its records are merged in file order, the
  // last one's holding (the store's rule, which a streamed load meets).
  std::vector<uint32_t> merged_ttl;
  for (size_t begin = 0, end = 0; begin < order.order.size(); begin = end) {
    uint32_t last = order.order[begin];
    for (end = begin + 1; end < order.order.size() && order.same_rrset(st.records, end); ++end) {
      last = std::max(last, order.order[end]);
    }
    merged_ttl.push_back(st.records[last].ttl);
  }
  drop_duplicates(st.records, st.locations, order);
  std::vector<std::string> warnings = std::move(st.warnings);
  if (st.ttls_clamped) {
    warnings.push_back("zone " + origin.to_text() + ": " + std::to_string(st.ttls_clamped) +
                       (st.ttls_clamped == 1 ? " TTL was" : " TTLs were") +
                       " above 2147483647 and clamped to it (RFC 2181 section 8); first at " +
                       st.first_clamped.substr(0, st.first_clamped.size() - 2));
  }
  unify_rrset_ttls(origin, st.records, st.locations, order, warnings);
  if (auto v = validate_with_locations(origin, st.records, &st.locations, &warnings, &order); !v) {
    return make_error(v.error());
  }
  // RRsets whose TTL differs from the merged one (duplicates dropped, TTLs
  // lowered): the group order is the same as before drop_duplicates, which
  // never drops a whole RRset.
  std::vector<uint32_t> restated;
  size_t group = 0;
  for (size_t begin = 0, end = 0; begin < order.order.size(); begin = end, ++group) {
    for (end = begin + 1; end < order.order.size() && order.same_rrset(st.records, end); ++end) {
    }
    if (st.records[order.order[begin]].ttl == merged_ttl[group]) continue;
    for (size_t k = begin; k < end; ++k) restated.push_back(order.order[k]);
  }
  std::sort(restated.begin(), restated.end());
  return ParsedZone{origin, std::move(st.records), std::move(warnings), std::move(restated)};
}

}  // namespace

// libzscanner silently skips a directive on a final line that lacks its
// newline (a last "$INCLUDE x" would vanish), so input is always given a
// terminating newline before scanning.
std::string with_final_newline(std::string_view text) {
  std::string out;
  out.reserve(text.size() + 1);
  out.append(text);
  if (out.empty() || out.back() != '\n') out.push_back('\n');
  return out;
}

Result<ParsedZone> load_zone_file(const std::string& path, const Name& origin,
                                  uint32_t default_ttl, const LoadStream* stream) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open zone file: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(path + ": cannot read zone file: " + std::strerror(errno));
  ScanState st;
  st.default_file = path;
  st.stream = stream;
  auto rewritten = detail::rewrite_legacy_types(text, path, st.retype);
  if (!rewritten) return make_error(rewritten.error());
  text = with_final_newline(*rewritten);

  auto s = make_scanner(origin, default_ttl, st);
  if (!s) return make_error(s.error());
  zs_scanner_t* sc = s->get();
  if (zs_set_input_string(sc, text.data(), text.size()) != 0) {
    return make_error(path + ": cannot read zone file: " + zs_strerror(sc->error.code));
  }
  // Name the input and anchor relative $INCLUDEs at the file's directory, as
  // zs_set_input_file() would; zs_deinit() frees both strings.
  std::error_code ec;
  auto dir = std::filesystem::absolute(path, ec).parent_path().string();
  sc->file.name = strdup(path.c_str());
  free(sc->path);
  sc->path = strdup(dir.c_str());
  if (!sc->file.name || !sc->path) return make_error(path + ": out of memory");
  int rc = zs_parse_all(sc);
  if (rc == 0) st.hand_on();
  return finish_load(origin, st, rc, sc);
}

Result<ParsedZone> load_zone_text(std::string_view text, const Name& origin,
                                  const std::string& source_name, uint32_t default_ttl) {
  ScanState st;
  st.default_file = source_name;
  auto rewritten = detail::rewrite_legacy_types(text, source_name, st.retype);
  if (!rewritten) return make_error(rewritten.error());
  std::string input = with_final_newline(*rewritten);
  auto s = make_scanner(origin, default_ttl, st);
  if (!s) return make_error(s.error());
  if (zs_set_input_string(s->get(), input.data(), input.size()) != 0) {
    return make_error(source_name + ": cannot read zone text: " + zs_strerror((*s)->error.code));
  }
  int rc = zs_parse_all(s->get());
  return finish_load(origin, st, rc, s->get());
}

Status validate_zone(const Name& origin, const std::vector<Record>& records,
                     std::vector<std::string>* warnings) {
  return validate_with_locations(origin, records, nullptr, warnings);
}

Result<Record> parse_record(std::string_view line, const Name* origin, uint32_t default_ttl,
                            std::vector<std::string>* warnings) {
  auto bad = [&](const std::string& why) -> Error {
    return make_error("bad record '" + std::string(line) + "': " + why);
  };
  size_t first = line.find_first_not_of(" \t");
  if (first == std::string_view::npos) return bad("empty");
  if (line[first] == '$') return bad("directives are not allowed here");
  if (first != 0) return bad("the owner name is missing");
  if (line.find_first_of("\r\n") != std::string_view::npos) return bad("more than one line");

  ScanState st;
  st.default_file = "<record>";
  Name root;
  auto s = make_scanner(origin ? *origin : root, default_ttl, st);
  if (!s) return bad(s.error());
  auto rewritten = detail::rewrite_legacy_types(line, st.default_file, st.retype);
  if (!rewritten) {
    std::string why = rewritten.error();
    if (auto colon = why.find(": "); colon != std::string::npos) why = why.substr(colon + 2);
    return bad(why);
  }
  std::string text = std::move(*rewritten);
  text.push_back('\n');
  if (zs_set_input_string(s->get(), text.data(), text.size()) != 0) {
    return bad(zs_strerror((*s)->error.code));
  }
  int rc = zs_parse_all(s->get());
  if (st.failed) {
    // Drop the "<record>:1: " location: the message quotes the line itself.
    std::string why = st.error;
    if (auto colon = why.find(": "); colon != std::string::npos) why = why.substr(colon + 2);
    return bad(why);
  }
  if (rc != 0) return bad(zs_strerror((*s)->error.code));
  if (st.records.size() != 1) return bad("expected exactly one record");
  Record& rr = st.records.front();
  if (auto v = wire::validate_rdata(rr.type, rr.rdata); !v) return bad(v.error());
  if (st.ttls_clamped && warnings) {
    warnings->push_back(wire::record_to_text(rr) +
                        ": the TTL was above 2147483647 and is clamped to it (RFC 2181 section 8)");
  }
  return std::move(rr);
}

namespace {

// Reads one master-file word that starts with '"': quoted strings separated
// by blanks, each unescaped into its own value.
Status unquote_strings(std::string_view word, std::vector<std::string>& values) {
  size_t i = 0;
  while (i < word.size()) {
    if (word[i] == ' ' || word[i] == '\t') {
      ++i;
      continue;
    }
    if (word[i] != '"') {
      return make_error("text after a closing quote in " + std::string(word) +
                        "; quote the whole value, or give it without quotes");
    }
    std::string value;
    bool closed = false;
    for (++i; i < word.size(); ++i) {
      char c = word[i];
      if (c == '"') {
        closed = true;
        ++i;
        break;
      }
      if (c != '\\') {
        value.push_back(c);
        continue;
      }
      if (++i == word.size()) break;
      if (word[i] >= '0' && word[i] <= '9') {
        if (i + 2 >= word.size() || !std::isdigit(static_cast<unsigned char>(word[i + 1])) ||
            !std::isdigit(static_cast<unsigned char>(word[i + 2]))) {
          return make_error("bad \\DDD escape in " + std::string(word));
        }
        int v = (word[i] - '0') * 100 + (word[i + 1] - '0') * 10 + (word[i + 2] - '0');
        if (v > 255) return make_error("bad \\DDD escape in " + std::string(word));
        value.push_back(static_cast<char>(v));
        i += 2;
      } else {
        value.push_back(word[i]);
      }
    }
    if (!closed) return make_error("unterminated quoted string in " + std::string(word));
    values.push_back(std::move(value));
  }
  return {};
}

}  // namespace

Result<std::vector<std::string>> split_words(std::string_view text) {
  std::vector<std::string> words;
  std::string word;
  bool in_word = false, quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (!quoted && (c == ' ' || c == '\t')) {
      if (in_word) words.push_back(std::move(word));
      word.clear();
      in_word = false;
      continue;
    }
    in_word = true;
    word.push_back(c);
    if (c == '\\' && i + 1 < text.size()) {
      word.push_back(text[++i]);
    } else if (c == '"') {
      quoted = !quoted;
    }
  }
  if (quoted) return make_error("unterminated quoted string in " + std::string(text));
  if (in_word) words.push_back(std::move(word));
  return words;
}

Result<std::string> rdata_text_from_words(uint16_t type, const std::vector<std::string>& words) {
  if (type != rrtype::TXT && type != 99 /* SPF */) {
    std::string out;
    for (const std::string& w : words) {
      bool quoted = false;
      for (size_t i = 0; i < w.size(); ++i) {
        if (w[i] == '\\') {
          ++i;
        } else if (w[i] == '"') {
          quoted = !quoted;
        } else if (w[i] == ';' && !quoted) {
          return make_error("';' outside quotes in \"" + w +
                            "\" would start a comment and cut the value; quote it");
        }
      }
      if (!out.empty()) out.push_back(' ');
      out += w;
    }
    return out;
  }
  std::vector<std::string> values;
  for (const std::string& w : words) {
    if (!w.empty() && w.front() == '"') {
      if (auto st = unquote_strings(w, values); !st) return make_error(st.error());
    } else {
      values.push_back(w);
    }
  }
  if (values.empty()) return make_error("a TXT record needs a value");
  std::vector<uint8_t> rdata;
  for (const std::string& v : values) {
    size_t at = 0;
    do {
      size_t n = std::min<size_t>(255, v.size() - at);
      rdata.push_back(static_cast<uint8_t>(n));
      rdata.insert(rdata.end(), v.begin() + static_cast<std::ptrdiff_t>(at),
                   v.begin() + static_cast<std::ptrdiff_t>(at + n));
      at += n;
    } while (at < v.size());
  }
  if (rdata.size() > 65535) return make_error("the TXT value is longer than 65535 octets");
  return wire::rdata_to_text(rrtype::TXT, rdata);
}

std::string export_zone(const Name& origin, const std::vector<Record>& records) {
  std::vector<const Record*> order;
  order.reserve(records.size());
  for (const auto& rr : records) order.push_back(&rr);
  std::stable_sort(order.begin(), order.end(), [&](const Record* a, const Record* b) {
    bool a_soa = a->type == rrtype::SOA && a->owner == origin;
    bool b_soa = b->type == rrtype::SOA && b->owner == origin;
    if (a_soa != b_soa) return a_soa;
    int c = a->owner.compare(b->owner);
    if (c != 0) return c < 0;
    return a->type < b->type;
  });

  std::string out = "$ORIGIN " + origin.to_text() + "\n";
  for (const Record* rr : order) {
    out += wire::record_to_text(*rr);
    out.push_back('\n');
  }
  return out;
}

}  // namespace raftdns::zone
