// Zones: master-file import (via libzscanner), export, and the checks a zone must pass.
#include "daemon/zone/zone.h"

// libzscanner's headers carry no C++ linkage guards.
extern "C" {
#include <libzscanner/scanner.h>
}

#include <algorithm>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <memory>
#include <unordered_map>
#include <unordered_set>

namespace raftdns::zone {
namespace {

using wire::Name;
using wire::Record;
namespace rrtype = wire::rrtype;

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
  std::string error;
  bool failed = false;

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
  st->records.push_back(std::move(rr));
  st->locations.push_back(Location{st->intern_file(s->file.name), s->line_counter});
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

struct OwnerFacts {
  uint32_t cname = 0, dname = 0, ns = 0, other = 0;  // other: not CNAME/RRSIG/NSEC
};

Status validate_with_locations(const Name& origin, const std::vector<Record>& records,
                               const std::vector<Location>* locations) {
  auto loc_of = [&](size_t i) -> const Location* {
    return locations && i < locations->size() ? &(*locations)[i] : nullptr;
  };
  auto fail = [&](size_t i, const std::string& why) -> Status {
    return make_error(where(loc_of(i)) + wire::record_to_text(records[i]) + ": " + why);
  };

  std::unordered_map<Name, OwnerFacts, wire::NameHash> owners;
  owners.reserve(records.size());
  for (const auto& rr : records) {
    auto& f = owners[rr.owner];
    if (rr.type == rrtype::CNAME) {
      ++f.cname;
    } else if (!is_dnssec_meta(rr.type)) {
      ++f.other;
    }
    if (rr.type == rrtype::DNAME) ++f.dname;
    if (rr.type == rrtype::NS) ++f.ns;
  }
  // Names that cut off what lies below them: delegations and DNAMEs.
  bool any_cut = false;
  for (const auto& [name, f] : owners) {
    if ((f.ns && name != origin) || f.dname) any_cut = true;
  }

  size_t soa_count = 0;
  for (size_t i = 0; i < records.size(); ++i) {
    const Record& rr = records[i];
    if (rr.rclass != wire::rrclass::IN) {
      return fail(i, "class " + wire::class_to_text(rr.rclass) + " in an IN zone");
    }
    if (!rr.owner.is_subdomain_of(origin)) {
      return fail(i, "owner is outside the zone " + origin.to_text());
    }
    if (auto st = wire::validate_rdata(rr.type, rr.rdata); !st) return fail(i, st.error());
    if (rr.type == rrtype::OPT || rr.type == rrtype::ANY || rr.type == rrtype::AXFR ||
        rr.type == rrtype::IXFR) {
      return fail(i, "type " + wire::type_to_text(rr.type) + " cannot be zone data");
    }
    if (rr.type == rrtype::SOA) {
      if (rr.owner != origin) return fail(i, "SOA record is not at the apex " + origin.to_text());
      if (++soa_count > 1) return fail(i, "more than one SOA record at the apex");
    }
    const OwnerFacts& f = owners[rr.owner];
    if (rr.type == rrtype::CNAME && f.cname > 1) {
      return fail(i, "more than one CNAME record at " + rr.owner.to_text());
    }
    if (rr.type == rrtype::DNAME && f.dname > 1) {
      return fail(i, "more than one DNAME record at " + rr.owner.to_text());
    }
    if (f.cname && f.other) {
      return fail(i, "CNAME and other data at " + rr.owner.to_text() + " (RFC 1034 section 3.6.2)");
    }
    if (f.ns && rr.owner != origin && !is_glue_type(rr.type) && !is_dnssec_meta(rr.type) &&
        rr.type != rrtype::NS && rr.type != 43 /* DS */) {
      return fail(i, "data other than NS and glue at the delegation point " + rr.owner.to_text());
    }
    if (!any_cut) continue;
    for (size_t up = 1; up <= rr.owner.label_count() - origin.label_count(); ++up) {
      Name ancestor = rr.owner.strip_left(up);
      auto it = owners.find(ancestor);
      if (it == owners.end()) continue;
      if (it->second.dname) {
        return fail(
            i, "owner lies below the DNAME at " + ancestor.to_text() + " (RFC 6672 section 2.3)");
      }
      if (it->second.ns && ancestor != origin && !is_glue_type(rr.type)) {
        return fail(i,
                    "only glue A/AAAA records may lie below the zone cut at " + ancestor.to_text());
      }
    }
  }
  if (soa_count == 0)
    return make_error("zone " + origin.to_text() + " has no SOA record at its apex");
  return {};
}

// Drops exact repeats (same owner, type, class and RDATA), keeping the first.
void drop_duplicates(std::vector<Record>& records, std::vector<Location>& locations) {
  struct Key {
    const Record* rr;
    bool operator==(const Key& o) const {
      return rr->owner == o.rr->owner && rr->type == o.rr->type && rr->rclass == o.rr->rclass &&
             rr->rdata == o.rr->rdata;
    }
  };
  struct KeyHash {
    size_t operator()(const Key& k) const {
      size_t h = k.rr->owner.hash() ^ (size_t{k.rr->type} * 0x9e3779b97f4a7c15ull);
      for (uint8_t b : k.rr->rdata) h = h * 131 + b;
      return h;
    }
  };
  std::unordered_set<Key, KeyHash> seen;
  seen.reserve(records.size());
  std::vector<bool> keep(records.size(), true);
  bool any = false;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!seen.insert(Key{&records[i]}).second) {
      keep[i] = false;
      any = true;
    }
  }
  if (!any) return;
  std::vector<Record> r;
  std::vector<Location> l;
  for (size_t i = 0; i < records.size(); ++i) {
    if (!keep[i]) continue;
    r.push_back(std::move(records[i]));
    l.push_back(locations[i]);
  }
  records = std::move(r);
  locations = std::move(l);
}

Result<ParsedZone> finish_load(const Name& origin, ScanState& st, int parse_rc, zs_scanner_t* s) {
  if (st.failed) return make_error(std::move(st.error));
  if (parse_rc != 0) {
    return make_error(*st.intern_file(s->file.name) + ":" + std::to_string(s->line_counter) + ": " +
                      zs_strerror(s->error.code));
  }
  drop_duplicates(st.records, st.locations);
  if (auto v = validate_with_locations(origin, st.records, &st.locations); !v) {
    return make_error(v.error());
  }
  return ParsedZone{origin, std::move(st.records)};
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
                                  uint32_t default_ttl) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(path + ": cannot open zone file: " + std::strerror(errno));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) return make_error(path + ": cannot read zone file: " + std::strerror(errno));
  text = with_final_newline(text);

  ScanState st;
  st.default_file = path;
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
  return finish_load(origin, st, rc, sc);
}

Result<ParsedZone> load_zone_text(std::string_view text, const Name& origin,
                                  const std::string& source_name, uint32_t default_ttl) {
  std::string input = with_final_newline(text);
  ScanState st;
  st.default_file = source_name;
  auto s = make_scanner(origin, default_ttl, st);
  if (!s) return make_error(s.error());
  if (zs_set_input_string(s->get(), input.data(), input.size()) != 0) {
    return make_error(source_name + ": cannot read zone text: " + zs_strerror((*s)->error.code));
  }
  int rc = zs_parse_all(s->get());
  return finish_load(origin, st, rc, s->get());
}

Status validate_zone(const Name& origin, const std::vector<Record>& records) {
  return validate_with_locations(origin, records, nullptr);
}

Result<Record> parse_record(std::string_view line, const Name* origin, uint32_t default_ttl) {
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
  std::string text(line);
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
  return std::move(rr);
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
