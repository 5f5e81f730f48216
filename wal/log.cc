// The WAL: append with group commit, truncation, compaction, the meta log, and recovery at open.
#include "wal/log.h"

#include <algorithm>
#include <chrono>
#include <cinttypes>
#include <cstdio>
#include <iostream>
#include <optional>
#include <variant>

#include "wal/crc32c.h"
#include "wal/format.h"

namespace raftdns::wal {

using namespace format;  // NOLINT: the on-disk constants are used throughout

const char* to_string(ErrorCode code) noexcept {
  switch (code) {
    case ErrorCode::ok:
      return "ok";
    case ErrorCode::compacted:
      return "compacted";
    case ErrorCode::unavailable:
      return "unavailable";
    case ErrorCode::invalid_argument:
      return "invalid argument";
    case ErrorCode::io:
      return "i/o error";
    case ErrorCode::corrupt:
      return "corrupt";
    case ErrorCode::poisoned:
      return "poisoned";
  }
  return "unknown";
}

namespace {

constexpr const char* kMetaName = "meta";
constexpr const char* kTmpSuffix = ".tmp";
constexpr const char* kSegmentSuffix = ".wal";

// Where one live entry sits. Offsets fit 32 bits because segment_size is
// capped below 4 GiB and a record always starts below segment_size.
struct Loc {
  uint32_t offset;
  uint32_t payload_len;
  uint64_t term;
};

struct MetaState {
  uint64_t seq = 0;
  HardState hard;
  uint64_t snapshot_index = 0;
  uint64_t snapshot_term = 0;
  uint64_t chain_start_seq = 1;
};

struct Segment {
  uint64_t seq = 0;
  uint64_t base = 0;
  uint32_t flags = 0;
  std::string name;
  std::unique_ptr<File> file;
  uint64_t end = kFileHeaderSize;  // write position
  std::vector<Loc> locs;           // locs[k] is entry base + k

  uint64_t next_index() const { return base + locs.size(); }
};

std::string hex16(uint64_t v) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016" PRIx64, v);
  return buf;
}

std::string segment_name(uint64_t seq, uint64_t base) {
  return hex16(seq) + "-" + hex16(base) + kSegmentSuffix;
}

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

std::optional<uint64_t> parse_hex16(const std::string& s, std::size_t at) {
  if (s.size() < at + 16) return std::nullopt;
  uint64_t v = 0;
  for (std::size_t i = at; i < at + 16; ++i) {
    char c = s[i];
    uint64_t d;
    if (c >= '0' && c <= '9') {
      d = static_cast<uint64_t>(c - '0');
    } else if (c >= 'a' && c <= 'f') {
      d = static_cast<uint64_t>(c - 'a' + 10);
    } else {
      return std::nullopt;
    }
    v = (v << 4) | d;
  }
  return v;
}

// "<seq:016x>-<base:016x>.wal"
std::optional<std::pair<uint64_t, uint64_t>> parse_segment_name(const std::string& name) {
  if (name.size() != 16 + 1 + 16 + 4 || name[16] != '-' || !ends_with(name, kSegmentSuffix)) {
    return std::nullopt;
  }
  auto seq = parse_hex16(name, 0);
  auto base = parse_hex16(name, 17);
  if (!seq || !base) return std::nullopt;
  return std::make_pair(*seq, *base);
}

std::string parent_dir(const std::string& dir) {
  auto slash = dir.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return dir.substr(0, slash);
}

void encode_file_header(uint8_t* h, const char* magic, uint32_t flags, uint64_t seq, uint64_t base,
                        uint64_t segment_size) {
  std::memset(h, 0, kFileHeaderSize);
  std::memcpy(h, magic, 8);
  put32(h + 8, kVersion);
  put32(h + 12, flags);
  put64(h + 16, seq);
  put64(h + 24, base);
  put64(h + 32, segment_size);
  put32(h + kFileHeaderCrcAt, crc32c(h, kFileHeaderCrcAt));
}

void encode_meta_record(uint8_t* r, const MetaState& m) {
  std::memset(r, 0, kMetaRecordSize);
  put64(r + 0, m.seq);
  put64(r + 8, m.hard.term);
  put64(r + 16, m.hard.vote);
  put64(r + 24, m.hard.commit);
  put64(r + 32, m.snapshot_index);
  put64(r + 40, m.snapshot_term);
  put64(r + 48, m.chain_start_seq);
  put32(r + kMetaCrcAt, crc32c(r, kMetaCrcAt));
  r[kMetaRecordSize - 1] = kRecordMarker;
}

bool meta_record_valid(const uint8_t* r) {
  return get32(r + kMetaCrcAt) == crc32c(r, kMetaCrcAt) && r[kMetaRecordSize - 1] == kRecordMarker;
}

MetaState decode_meta_record(const uint8_t* r) {
  MetaState m;
  m.seq = get64(r + 0);
  m.hard.term = get64(r + 8);
  m.hard.vote = get64(r + 16);
  m.hard.commit = get64(r + 24);
  m.snapshot_index = get64(r + 32);
  m.snapshot_term = get64(r + 40);
  m.chain_start_seq = get64(r + 48);
  return m;
}

// Appends one framed record to `out`.
void encode_record(std::vector<uint8_t>& out, uint64_t index, uint64_t term, uint32_t lag,
                   std::span<const uint8_t> payload) {
  const auto len = static_cast<uint32_t>(payload.size());
  const uint64_t size = record_size(len);
  const std::size_t at = out.size();
  out.resize(at + size);
  uint8_t* r = out.data() + at;
  put32(r + 0, len);
  put32(r + 4, crc32c(payload));
  put64(r + 8, index);
  put64(r + 16, term);
  r[kRecordLagAt] = static_cast<uint8_t>(lag);
  r[kRecordLagAt + 1] = static_cast<uint8_t>(lag >> 8);
  r[kRecordLagAt + 2] = static_cast<uint8_t>(lag >> 16);
  r[kRecordHeaderSize - 1] = kRecordMarker;
  put32(r + kRecordHeaderCrcAt, record_header_crc(r));
  if (len != 0) std::memcpy(r + kRecordHeaderSize, payload.data(), len);
  std::memset(r + kRecordHeaderSize + len, 0, size - kRecordHeaderSize - len - 1);
  r[size - 1] = kRecordMarker;
}

// A record fully checked against its own checksums (not its index).
struct ParsedRecord {
  uint32_t payload_len = 0;
  uint64_t index = 0;
  uint64_t term = 0;
  uint32_t lag = 0;
  uint64_t size = 0;
};

// Why a record at some offset is not usable.
struct Damage {
  std::string what;
  bool unfinished_write = false;  // looks like a write cut short, not bit rot
};

// True if some 512-byte-sector-aligned piece of [pos, pos+n) is all zeros:
// the footprint of a sector that never reached the disk.
bool has_zero_sector_piece(const uint8_t* file, uint64_t pos, uint64_t n) {
  uint64_t at = pos;
  const uint64_t end = pos + n;
  while (at < end) {
    uint64_t piece_end = std::min(end, (at / kSectorSize + 1) * kSectorSize);
    if (all_zero(file + at, piece_end - at)) return true;
    at = piece_end;
  }
  return false;
}

// Checks the record at `pos` of a file image of `size` bytes. The caller has
// already ruled out an all-zero header.
std::variant<ParsedRecord, Damage> check_record(const uint8_t* file, uint64_t size, uint64_t pos) {
  const uint8_t* h = file + pos;
  if (pos + kRecordHeaderSize > size) {
    return Damage{"record header cut off by end of file", true};
  }
  if (get32(h + kRecordHeaderCrcAt) != record_header_crc(h) ||
      h[kRecordHeaderSize - 1] != kRecordMarker) {
    bool unfinished =
        h[kRecordHeaderSize - 1] == 0 || has_zero_sector_piece(file, pos, kRecordHeaderSize);
    return Damage{"record header checksum mismatch", unfinished};
  }
  ParsedRecord rec;
  rec.payload_len = get32(h + 0);
  rec.index = get64(h + 8);
  rec.term = get64(h + 16);
  rec.lag = h[kRecordLagAt] | (h[kRecordLagAt + 1] << 8) | (h[kRecordLagAt + 2] << 16);
  rec.size = record_size(rec.payload_len);
  if (rec.payload_len > kMaxPayload) {
    return Damage{"record payload length " + std::to_string(rec.payload_len) + " is too large",
                  false};
  }
  if (pos + rec.size > size) {
    return Damage{"record of " + std::to_string(rec.size) + " bytes cut off by end of file", true};
  }
  const uint8_t marker = file[pos + rec.size - 1];
  const bool crc_ok = get32(h + 4) == crc32c(h + kRecordHeaderSize, rec.payload_len);
  if (crc_ok && marker == kRecordMarker) return rec;
  bool unfinished = marker == 0 || has_zero_sector_piece(file, pos, rec.size);
  std::string what = !crc_ok
                         ? "payload checksum mismatch (index " + std::to_string(rec.index) + ")"
                         : "record end marker damaged (index " + std::to_string(rec.index) + ")";
  return Damage{what, unfinished};
}

// Highest index a record claims was already durable when it was written.
uint64_t proven_durable(const ParsedRecord& rec) {
  if (rec.lag == kLagUnknown || rec.lag > rec.index) return 0;
  return rec.index - rec.lag;
}

}  // namespace

struct Log::Impl {
  std::string dir;
  Options opts;
  FileSystem* fs = nullptr;

  std::vector<Segment> segs;  // in seq order, contiguous indexes; never empty once open
  uint64_t next_seq = 1;

  MetaState meta;
  std::unique_ptr<File> meta_file;
  uint64_t meta_end = kFileHeaderSize;

  uint64_t durable_index = 0;  // every entry <= this is on disk
  bool dirty = false;          // the active segment has writes not yet fdatasynced
  uint64_t fsyncs = 0;
  bool poisoned = false;
  std::string poison_reason;
  mutable ErrorCode last_error = ErrorCode::ok;
  std::vector<uint8_t> write_buf;

  // ---- helpers -----------------------------------------------------------

  std::string path(const std::string& name) const { return dir + "/" + name; }

  void log(const std::string& line) const {
    if (opts.log) {
      opts.log(line);
    } else {
      std::cerr << "raftdns wal: " << line << "\n";
    }
  }

  // Every fdatasync after open goes through here, so the metrics see each one.
  Status timed_datasync(File& f) {
    const auto start = std::chrono::steady_clock::now();
    Status s = f.datasync();
    if (opts.metrics) opts.metrics->fsync_seconds.observe(std::chrono::steady_clock::now() - start);
    return s;
  }

  void publish_segments() {
    if (opts.metrics) opts.metrics->segments.store(segs.size(), std::memory_order_relaxed);
  }

  Error fail(ErrorCode code, const std::string& msg) const {
    last_error = code;
    return make_error("wal: " + msg);
  }

  Error corrupt(const std::string& name, uint64_t offset, const std::string& what) const {
    return fail(ErrorCode::corrupt,
                "corrupt: " + path(name) + ": offset " + std::to_string(offset) + ": " + what);
  }

  // Any failed write or sync: the on-disk state is unknown, so stop for good.
  Error poison(Error e) {
    poisoned = true;
    poison_reason = e.message;
    last_error = ErrorCode::poisoned;
    return make_error("wal: " + e.message);
  }

  std::optional<Error> check_usable() const {
    if (!poisoned) return std::nullopt;
    return fail(ErrorCode::poisoned,
                "log is unusable after an earlier failure (" + poison_reason + "); reopen it");
  }

  Status ok() const {
    last_error = ErrorCode::ok;
    return {};
  }

  uint64_t last_index() const {
    const Segment& s = segs.back();
    uint64_t last = s.next_index() - 1;
    return std::max(last, meta.snapshot_index);
  }

  // The segment holding entry i, which must be live.
  const Segment& segment_of(uint64_t i) const {
    auto it = std::upper_bound(segs.begin(), segs.end(), i,
                               [](uint64_t v, const Segment& s) { return v < s.base; });
    return *(it - 1);
  }

  // ---- creating files ------------------------------------------------------

  // write-temp, fsync, rename, fsync-directory: the file appears whole or not at all.
  Result<std::unique_ptr<File>> create_file(const std::string& name, std::span<const uint8_t> head,
                                            uint64_t preallocate, bool counted) {
    const std::string tmp = path(name + kTmpSuffix);
    auto f = fs->open(tmp, OpenMode::create_exclusive);
    if (!f) return std::move(f).take_error();
    if (auto s = (*f)->pwrite(0, head); !s) return std::move(s).take_error();
    if (auto s = (*f)->allocate(std::max<uint64_t>(preallocate, head.size())); !s) {
      return std::move(s).take_error();
    }
    if (auto s = (*f)->sync(); !s) return std::move(s).take_error();
    if (auto s = fs->rename(tmp, path(name)); !s) return std::move(s).take_error();
    if (auto s = fs->sync_dir(dir); !s) return std::move(s).take_error();
    if (counted) fsyncs += 2;
    return std::move(*f);
  }

  Result<Segment> create_segment(uint64_t seq, uint64_t base, uint32_t flags, bool counted) {
    uint8_t head[kFileHeaderSize];
    encode_file_header(head, kSegmentMagic, flags, seq, base, opts.segment_size);
    Segment s;
    s.seq = seq;
    s.base = base;
    s.flags = flags;
    s.name = segment_name(seq, base);
    auto f = create_file(s.name, head, opts.segment_size, counted);
    if (!f) return std::move(f).take_error();
    s.file = std::move(*f);
    next_seq = std::max(next_seq, seq + 1);
    return s;
  }

  // ---- meta log ----------------------------------------------------------

  Status create_meta_file(const MetaState& m, bool counted) {
    std::vector<uint8_t> head(kFileHeaderSize + kMetaRecordSize);
    encode_file_header(head.data(), kMetaMagic, 0, 0, 0, opts.meta_size);
    encode_meta_record(head.data() + kFileHeaderSize, m);
    auto f = create_file(kMetaName, head, opts.meta_size, counted);
    if (!f) return std::move(f).take_error();
    meta_file = std::move(*f);
    meta_end = head.size();
    meta = m;
    return {};
  }

  // Makes `next` the durable meta state (one record + one fdatasync).
  Status write_meta(MetaState next) {
    next.seq = meta.seq + 1;
    if (meta_end + kMetaRecordSize > opts.meta_size) return create_meta_file(next, true);
    uint8_t rec[kMetaRecordSize];
    encode_meta_record(rec, next);
    if (auto s = meta_file->pwrite(meta_end, rec); !s) return s;
    if (auto s = timed_datasync(*meta_file); !s) return s;
    ++fsyncs;
    meta_end += kMetaRecordSize;
    meta = next;
    return {};
  }

  Status read_meta() {
    const std::string name = kMetaName;
    auto f = fs->open(path(name), OpenMode::read_write);
    if (!f) return fail(ErrorCode::io, f.error());
    meta_file = std::move(*f);
    auto size = meta_file->size();
    if (!size) return fail(ErrorCode::io, size.error());
    std::vector<uint8_t> buf(*size);
    auto n = meta_file->pread(0, buf);
    if (!n) return fail(ErrorCode::io, n.error());
    buf.resize(*n);
    if (buf.size() < kFileHeaderSize + kMetaRecordSize) {
      return corrupt(name, 0, "meta file is only " + std::to_string(buf.size()) + " bytes");
    }
    if (std::memcmp(buf.data(), kMetaMagic, 8) != 0) return corrupt(name, 0, "bad magic");
    if (get32(buf.data() + kFileHeaderCrcAt) != crc32c(buf.data(), kFileHeaderCrcAt)) {
      return corrupt(name, 0, "file header checksum mismatch");
    }
    if (get32(buf.data() + 8) != kVersion) {
      return corrupt(name, 8,
                     "unsupported format version " + std::to_string(get32(buf.data() + 8)));
    }
    std::optional<MetaState> last;
    uint64_t pos = kFileHeaderSize;
    std::optional<std::pair<uint64_t, std::string>> damage;  // first bad record
    for (; pos + kMetaRecordSize <= buf.size(); pos += kMetaRecordSize) {
      const uint8_t* r = buf.data() + pos;
      if (all_zero(r, kMetaRecordSize)) break;
      if (!meta_record_valid(r)) {
        if (r[kMetaRecordSize - 1] != 0) {
          return corrupt(name, pos,
                         "meta record checksum mismatch (the record is complete, so "
                         "this is damage, not a torn write)");
        }
        damage = std::make_pair(pos, std::string("torn meta record"));
        break;
      }
      MetaState m = decode_meta_record(r);
      if (last && m.seq != last->seq + 1) {
        return corrupt(name, pos,
                       "meta record seq " + std::to_string(m.seq) + " does not follow " +
                           std::to_string(last->seq));
      }
      last = m;
    }
    if (!last) return corrupt(name, kFileHeaderSize, "meta file holds no valid record");
    // Nothing valid may follow the end: every meta record is synced before the
    // next is written, so a good record after a hole means the hole was damage.
    const uint64_t stop = pos;
    bool junk = false;
    for (uint64_t at = stop + (damage ? kMetaRecordSize : 0); at + kMetaRecordSize <= buf.size();
         at += kMetaRecordSize) {
      const uint8_t* r = buf.data() + at;
      if (all_zero(r, kMetaRecordSize)) continue;
      if (meta_record_valid(r)) {
        return corrupt(name, stop,
                       (damage ? damage->second : std::string("empty meta record")) +
                           " followed by a valid record at offset " + std::to_string(at));
      }
      junk = true;
    }
    if (damage || junk || buf.size() % kMetaRecordSize != 0) {
      log("cut " + path(name) + " at offset " + std::to_string(stop) + ": " +
          (damage ? damage->second : std::string("stray bytes after the last record")));
      if (auto s = cut_file(*meta_file, stop, opts.meta_size); !s) return s;
    }
    meta = *last;
    meta_end = stop;
    return {};
  }

  // ftruncate + fdatasync, then grow back to the preallocated size so the
  // area after `at` is zeros.
  Status cut_file(File& f, uint64_t at, uint64_t prealloc) {
    if (auto s = f.truncate(at); !s) return fail(ErrorCode::io, s.error());
    if (auto s = f.datasync(); !s) return fail(ErrorCode::io, s.error());
    if (auto s = f.allocate(std::max(at, prealloc)); !s) return fail(ErrorCode::io, s.error());
    return {};
  }

  // ---- recovery ------------------------------------------------------------

  Status recover() {
    auto made = fs->make_dir(dir);
    if (!made) return fail(ErrorCode::io, made.error());
    if (*made) {
      if (auto s = fs->sync_dir(parent_dir(dir)); !s) return fail(ErrorCode::io, s.error());
    }
    auto names = fs->list(dir);
    if (!names) return fail(ErrorCode::io, names.error());

    bool dir_changed = false;
    bool have_meta = false;
    std::vector<std::pair<uint64_t, std::string>> found;  // (seq, name)
    for (const std::string& name : *names) {
      if (ends_with(name, kTmpSuffix)) {
        log("deleting unfinished file " + path(name));
        if (auto s = fs->unlink(path(name)); !s) return fail(ErrorCode::io, s.error());
        dir_changed = true;
      } else if (name == kMetaName) {
        have_meta = true;
      } else if (auto parsed = parse_segment_name(name)) {
        found.emplace_back(parsed->first, name);
      } else {
        log("ignoring unknown file " + path(name));
      }
    }
    std::sort(found.begin(), found.end());

    if (have_meta) {
      if (auto s = read_meta(); !s) return s;
    } else if (found.empty()) {
      MetaState fresh;
      fresh.seq = 1;
      if (auto s = create_meta_file(fresh, false); !s) return fail(ErrorCode::io, s.error());
    } else {
      return corrupt(
          kMetaName, 0,
          "meta file is missing but " + std::to_string(found.size()) + " segment files exist");
    }

    // Leftovers of a reset_to_snapshot that committed (older chain) ...
    std::vector<std::pair<uint64_t, std::string>> chain;
    for (auto& [seq, name] : found) {
      next_seq = std::max(next_seq, seq + 1);
      if (seq < meta.chain_start_seq) {
        log("deleting segment " + path(name) + " replaced by a snapshot");
        if (auto s = fs->unlink(path(name)); !s) return fail(ErrorCode::io, s.error());
        dir_changed = true;
      } else {
        chain.emplace_back(seq, name);
      }
    }

    for (auto& [seq, name] : chain) {
      auto seg = open_segment(seq, name);
      if (!seg) return std::move(seg).take_error();
      segs.push_back(std::move(*seg));
    }
    // ... and of one that never committed.
    if (!segs.empty() && (segs.back().flags & kFlagChainStart) &&
        segs.back().seq > meta.chain_start_seq) {
      log("deleting segment " + path(segs.back().name) + " of an unfinished snapshot reset");
      if (auto s = fs->unlink(path(segs.back().name)); !s) return fail(ErrorCode::io, s.error());
      segs.pop_back();
      dir_changed = true;
    }
    // Leftovers of an interrupted compact_prefix.
    while (segs.size() > 1 && segs[1].base <= meta.snapshot_index + 1) {
      log("deleting segment " + path(segs.front().name) + " below the snapshot");
      if (auto s = fs->unlink(path(segs.front().name)); !s) return fail(ErrorCode::io, s.error());
      segs.erase(segs.begin());
      dir_changed = true;
    }
    if (dir_changed) {
      if (auto s = fs->sync_dir(dir); !s) return fail(ErrorCode::io, s.error());
    }

    if (segs.empty()) {
      if (meta.seq != 1 || meta.snapshot_index != 0) {
        return corrupt(kMetaName, 0,
                       "no segment files, but the meta log says the log starts after index " +
                           std::to_string(meta.snapshot_index));
      }
      auto seg = create_segment(meta.chain_start_seq, 1, kFlagChainStart, false);
      if (!seg) return fail(ErrorCode::io, seg.error());
      segs.push_back(std::move(*seg));
    }
    if (segs.front().base > meta.snapshot_index + 1) {
      return corrupt(segs.front().name, 0,
                     "log starts at index " + std::to_string(segs.front().base) +
                         " but the snapshot is at " + std::to_string(meta.snapshot_index) +
                         "; the entries between are missing");
    }

    for (std::size_t i = 0; i < segs.size(); ++i) {
      if (auto s = scan_segment(segs[i], i + 1 == segs.size()); !s) return s;
      if (i + 1 < segs.size() && segs[i + 1].base != segs[i].next_index()) {
        return corrupt(segs[i + 1].name, 0,
                       "segment starts at index " + std::to_string(segs[i + 1].base) +
                           " but the previous segment " + segs[i].name + " ends at index " +
                           std::to_string(segs[i].next_index() - 1));
      }
    }
    if (segs.back().next_index() - 1 < meta.snapshot_index) {
      return corrupt(segs.back().name, segs.back().end,
                     "log ends at index " + std::to_string(segs.back().next_index() - 1) +
                         " below the snapshot index " + std::to_string(meta.snapshot_index));
    }

    // What we read may have come from the page cache of a killed process:
    // make it durable before anyone acts on it.
    if (auto s = segs.back().file->datasync(); !s) return fail(ErrorCode::io, s.error());
    if (auto s = meta_file->datasync(); !s) return fail(ErrorCode::io, s.error());
    durable_index = last_index();
    return ok();
  }

  Result<Segment> open_segment(uint64_t seq, const std::string& name) {
    Segment s;
    s.seq = seq;
    s.name = name;
    auto f = fs->open(path(name), OpenMode::read_write);
    if (!f) return fail(ErrorCode::io, f.error());
    s.file = std::move(*f);
    uint8_t h[kFileHeaderSize];
    auto n = s.file->pread(0, h);
    if (!n) return fail(ErrorCode::io, n.error());
    if (*n < kFileHeaderSize) {
      return corrupt(name, 0, "segment header cut off (" + std::to_string(*n) + " bytes)");
    }
    if (std::memcmp(h, kSegmentMagic, 8) != 0) return corrupt(name, 0, "bad magic");
    if (get32(h + kFileHeaderCrcAt) != crc32c(h, kFileHeaderCrcAt)) {
      return corrupt(name, 0, "segment header checksum mismatch");
    }
    if (get32(h + 8) != kVersion) {
      return corrupt(name, 8, "unsupported format version " + std::to_string(get32(h + 8)));
    }
    s.flags = get32(h + 12);
    s.base = get64(h + 24);
    auto parsed = parse_segment_name(name);
    if (get64(h + 16) != seq || s.base != parsed->second) {
      return corrupt(name, 0,
                     "header says seq " + std::to_string(get64(h + 16)) + " base " +
                         std::to_string(s.base) + ", which does not match the file name");
    }
    return s;
  }

  // Builds the index of one segment. Only the last segment may end in a torn
  // write; see the essay in log.h for how damage is classified.
  Status scan_segment(Segment& seg, bool is_last) {
    auto size = seg.file->size();
    if (!size) return fail(ErrorCode::io, size.error());
    std::vector<uint8_t> buf(*size);
    auto n = seg.file->pread(0, buf);
    if (!n) return fail(ErrorCode::io, n.error());
    buf.resize(*n);
    const uint8_t* file = buf.data();
    const uint64_t fsize = buf.size();

    uint64_t pos = kFileHeaderSize;
    uint64_t expected = seg.base;
    std::optional<Damage> damage;
    while (pos < fsize) {
      if (all_zero(file + pos, std::min(kRecordHeaderSize, fsize - pos))) break;
      auto checked = check_record(file, fsize, pos);
      if (auto* d = std::get_if<Damage>(&checked)) {
        damage = std::move(*d);
        break;
      }
      const auto& rec = std::get<ParsedRecord>(checked);
      if (rec.index != expected) {
        return corrupt(seg.name, pos,
                       "expected index " + std::to_string(expected) + " but found " +
                           std::to_string(rec.index));
      }
      if (pos > UINT32_MAX) return corrupt(seg.name, pos, "record offset beyond 4 GiB");
      seg.locs.push_back(Loc{static_cast<uint32_t>(pos), rec.payload_len, rec.term});
      pos += rec.size;
      ++expected;
    }
    seg.end = pos;

    if (!is_last) {
      // A sealed segment was fdatasynced before its successor existed, so no
      // crash can have damaged it, and nothing but zeros follows its records.
      if (damage) return corrupt(seg.name, pos, damage->what + " in a sealed segment");
      for (uint64_t at = pos; at < fsize; at += 8) {
        if (!all_zero(file + at, std::min<uint64_t>(8, fsize - at))) {
          return corrupt(seg.name, pos,
                         "records of a sealed segment end here but non-zero bytes follow at "
                         "offset " +
                             std::to_string(at));
        }
      }
      return {};
    }

    // Look past the stop point for records that prove it was already synced,
    // and for any non-zero byte at all, to the very end of the file: a stray
    // byte left in the tail, even in the last few bytes where no record header
    // fits, would otherwise sit after the next record appended here and read
    // as damage at the next open.
    uint64_t proof = 0;
    uint64_t proof_at = 0;
    bool stray = false;
    for (uint64_t at = pos; at < fsize; at += 8) {
      if (all_zero(file + at, std::min<uint64_t>(8, fsize - at))) continue;
      stray = true;
      if (at == pos || at + kRecordHeaderSize > fsize) continue;
      auto checked = check_record(file, fsize, at);
      if (auto* rec = std::get_if<ParsedRecord>(&checked)) {
        if (proven_durable(*rec) > proof) {
          proof = proven_durable(*rec);
          proof_at = at;
        }
      }
    }
    const std::string what = damage ? damage->what : std::string("missing record");
    if (proof >= expected) {
      return corrupt(seg.name, pos,
                     what + ", but the record at offset " + std::to_string(proof_at) +
                         " shows index " + std::to_string(expected) + " had already been synced");
    }
    if (damage && !damage->unfinished_write) {
      return corrupt(seg.name, pos,
                     what + " (the record is complete, so this is damage, not a torn write)");
    }
    if (damage || stray) {
      log("cut torn tail of " + path(seg.name) + " at offset " + std::to_string(pos) + " (" + what +
          "); entries up to index " + std::to_string(expected - 1) + " kept");
      if (auto s = cut_file(*seg.file, pos, opts.segment_size); !s) return s;
    }
    return {};
  }

  // ---- mutations -----------------------------------------------------------

  // The active segment is full: make it durable, then start the next one.
  Status roll_segment(uint64_t next_base) {
    Segment& active = segs.back();
    if (dirty) {
      if (auto s = timed_datasync(*active.file); !s) return s;
      ++fsyncs;
      dirty = false;
    }
    durable_index = std::max(durable_index, active.next_index() - 1);
    auto seg = create_segment(next_seq, next_base, 0, true);
    if (!seg) return std::move(seg).take_error();
    segs.push_back(std::move(*seg));
    return {};
  }

  Status flush_buffer(std::vector<Loc>& pending) {
    Segment& active = segs.back();
    if (write_buf.empty()) return {};
    if (auto s = active.file->pwrite(active.end, write_buf); !s) return s;
    active.end += write_buf.size();
    if (opts.metrics) opts.metrics->bytes_written.fetch_add(write_buf.size(), std::memory_order_relaxed);
    active.locs.insert(active.locs.end(), pending.begin(), pending.end());
    pending.clear();
    write_buf.clear();
    dirty = true;
    return {};
  }

  Status append(std::span<const Entry> entries) {
    if (auto e = check_usable()) return *e;
    if (entries.empty()) return ok();
    uint64_t want = last_index() + 1;
    for (const Entry& e : entries) {
      if (e.index != want) {
        return fail(ErrorCode::invalid_argument, "append: entry index " + std::to_string(e.index) +
                                                     " where " + std::to_string(want) +
                                                     " was expected");
      }
      if (e.payload.size() > kMaxPayload) {
        return fail(ErrorCode::invalid_argument,
                    "append: entry " + std::to_string(e.index) + " payload of " +
                        std::to_string(e.payload.size()) + " bytes exceeds the limit");
      }
      ++want;
    }
    std::vector<Loc> pending;
    pending.reserve(entries.size());
    write_buf.clear();
    for (const Entry& e : entries) {
      const uint64_t size = record_size(e.payload.size());
      Segment* active = &segs.back();
      const bool has_records = !active->locs.empty() || !pending.empty();
      if (has_records && active->end + write_buf.size() + size > opts.segment_size) {
        if (auto s = flush_buffer(pending); !s) return poison(std::move(s).take_error());
        if (auto s = roll_segment(e.index); !s) return poison(std::move(s).take_error());
        active = &segs.back();
      }
      const uint64_t offset = active->end + write_buf.size();
      const uint64_t lag64 = e.index - durable_index;
      const uint32_t lag = lag64 >= kLagUnknown ? kLagUnknown : static_cast<uint32_t>(lag64);
      encode_record(write_buf, e.index, e.term, lag, e.payload);
      pending.push_back(
          Loc{static_cast<uint32_t>(offset), static_cast<uint32_t>(e.payload.size()), e.term});
    }
    if (auto s = flush_buffer(pending); !s) return poison(std::move(s).take_error());
    return ok();
  }

  Status sync() {
    if (auto e = check_usable()) return *e;
    if (dirty) {
      if (auto s = timed_datasync(*segs.back().file); !s) return poison(std::move(s).take_error());
      ++fsyncs;
      dirty = false;
    }
    durable_index = last_index();
    return ok();
  }

  Status truncate_suffix(uint64_t from) {
    if (auto e = check_usable()) return *e;
    if (from <= meta.snapshot_index) {
      return fail(ErrorCode::compacted, "truncate_suffix: index " + std::to_string(from) +
                                            " is at or below the snapshot index " +
                                            std::to_string(meta.snapshot_index));
    }
    if (from > last_index() + 1) {
      return fail(ErrorCode::unavailable, "truncate_suffix: index " + std::to_string(from) +
                                              " is past the last index " +
                                              std::to_string(last_index()));
    }
    // Newest first, so that a crash midway leaves a contiguous log.
    bool removed = false;
    while (segs.size() > 1 && segs.back().base >= from) {
      if (auto s = fs->unlink(path(segs.back().name)); !s) return poison(std::move(s).take_error());
      segs.pop_back();
      removed = true;
    }
    if (removed) {
      if (auto s = fs->sync_dir(dir); !s) return poison(std::move(s).take_error());
      ++fsyncs;
    }
    Segment& last = segs.back();
    if (from < last.next_index()) {
      const uint64_t keep = from - last.base;
      const uint64_t cut = keep < last.locs.size() ? last.locs[keep].offset : last.end;
      if (auto s = last.file->truncate(cut); !s) return poison(std::move(s).take_error());
      last.locs.resize(keep);
      last.end = cut;
      dirty = true;
    }
    if (dirty || removed) {
      if (auto s = timed_datasync(*last.file); !s) return poison(std::move(s).take_error());
      ++fsyncs;
      dirty = false;
    }
    // The size change of this allocate rides on the next fdatasync; until
    // then the file simply ends at the cut, which reads as the end of the log.
    if (last.end < opts.segment_size) {
      if (auto s = last.file->allocate(opts.segment_size); !s) {
        return poison(std::move(s).take_error());
      }
    }
    durable_index = last_index();
    return ok();
  }

  Status compact_prefix(uint64_t upto, uint64_t term_at_upto) {
    if (auto e = check_usable()) return *e;
    if (upto <= meta.snapshot_index) return ok();
    if (upto > last_index()) {
      return fail(ErrorCode::unavailable, "compact_prefix: index " + std::to_string(upto) +
                                              " is past the last index " +
                                              std::to_string(last_index()));
    }
    const uint64_t have = segment_of(upto).locs[upto - segment_of(upto).base].term;
    if (have != term_at_upto) {
      return fail(ErrorCode::invalid_argument, "compact_prefix: entry " + std::to_string(upto) +
                                                   " has term " + std::to_string(have) + ", not " +
                                                   std::to_string(term_at_upto));
    }
    // The snapshot must never point past what is durable in the log.
    if (auto s = sync(); !s) return s;
    MetaState next = meta;
    next.snapshot_index = upto;
    next.snapshot_term = term_at_upto;
    if (auto s = write_meta(next); !s) return poison(std::move(s).take_error());
    bool removed = false;
    while (segs.size() > 1 && segs[1].base <= upto + 1) {
      if (auto s = fs->unlink(path(segs.front().name)); !s) {
        return poison(std::move(s).take_error());
      }
      segs.erase(segs.begin());
      removed = true;
    }
    if (removed) {
      if (auto s = fs->sync_dir(dir); !s) return poison(std::move(s).take_error());
      ++fsyncs;
    }
    return ok();
  }

  Status reset_to_snapshot(uint64_t index, uint64_t term) {
    if (auto e = check_usable()) return *e;
    if (index < meta.snapshot_index) {
      return fail(ErrorCode::invalid_argument, "reset_to_snapshot: index " + std::to_string(index) +
                                                   " is older than the current snapshot " +
                                                   std::to_string(meta.snapshot_index));
    }
    auto seg = create_segment(next_seq, index + 1, kFlagChainStart, true);
    if (!seg) return poison(std::move(seg).take_error());
    MetaState next = meta;
    next.snapshot_index = index;
    next.snapshot_term = term;
    next.chain_start_seq = seg->seq;
    if (auto s = write_meta(next); !s) return poison(std::move(s).take_error());
    for (const Segment& old : segs) {
      if (auto s = fs->unlink(path(old.name)); !s) return poison(std::move(s).take_error());
    }
    segs.clear();
    segs.push_back(std::move(*seg));
    if (auto s = fs->sync_dir(dir); !s) return poison(std::move(s).take_error());
    ++fsyncs;
    dirty = false;
    durable_index = index;
    return ok();
  }

  Status set_hard_state(const HardState& hs) {
    if (auto e = check_usable()) return *e;
    if (hs == meta.hard) return ok();  // already durable; drivers call this every iteration
    MetaState next = meta;
    next.hard = hs;
    if (auto s = write_meta(next); !s) return poison(std::move(s).take_error());
    return ok();
  }

  // ---- reads -------------------------------------------------------------

  Result<std::vector<Entry>> entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
    if (auto e = check_usable()) return *e;
    if (lo > hi) {
      return fail(ErrorCode::invalid_argument,
                  "entries: lo " + std::to_string(lo) + " > hi " + std::to_string(hi));
    }
    if (lo <= meta.snapshot_index) {
      return fail(ErrorCode::compacted, "compacted: entry " + std::to_string(lo) +
                                            " is at or below the snapshot index " +
                                            std::to_string(meta.snapshot_index));
    }
    if (hi > last_index() + 1) {
      return fail(ErrorCode::unavailable, "unavailable: entries up to " + std::to_string(hi - 1) +
                                              " requested, last is " +
                                              std::to_string(last_index()));
    }
    std::vector<Entry> out;
    uint64_t bytes = 0;
    std::vector<uint8_t> buf;
    uint64_t i = lo;
    bool budget_spent = false;
    while (i < hi && !budget_spent) {
      const Segment& seg = segment_of(i);
      const uint64_t run_end = std::min(hi, seg.next_index());
      uint64_t j = i;
      while (j < run_end) {
        const uint64_t len = seg.locs[j - seg.base].payload_len;
        if (!out.empty() || j > i) {
          if (bytes + len > max_bytes) {
            budget_spent = true;
            break;
          }
        }
        bytes += len;
        ++j;
      }
      if (j == i) break;  // the budget ran out at a segment boundary
      const Loc& first = seg.locs[i - seg.base];
      const Loc& last = seg.locs[j - 1 - seg.base];
      const uint64_t span_end = last.offset + record_size(last.payload_len);
      buf.resize(span_end - first.offset);
      auto n = seg.file->pread(first.offset, buf);
      if (!n) return fail(ErrorCode::io, n.error());
      if (*n != buf.size()) {
        return corrupt(seg.name, first.offset + *n, "segment shorter than its index says");
      }
      for (uint64_t k = i; k < j; ++k) {
        const Loc& loc = seg.locs[k - seg.base];
        const uint8_t* r = buf.data() + (loc.offset - first.offset);
        const uint8_t* payload = r + kRecordHeaderSize;
        if (get32(r + kRecordHeaderCrcAt) != record_header_crc(r) || get64(r + 8) != k ||
            get32(r) != loc.payload_len || get32(r + 4) != crc32c(payload, loc.payload_len)) {
          return corrupt(seg.name, loc.offset,
                         "record for index " + std::to_string(k) + " changed on disk since open");
        }
        out.push_back(Entry{k, loc.term, std::vector<uint8_t>(payload, payload + loc.payload_len)});
      }
      i = j;
    }
    last_error = ErrorCode::ok;
    return out;
  }

  Result<uint64_t> term(uint64_t i) const {
    if (auto e = check_usable()) return *e;
    if (i == meta.snapshot_index) {
      last_error = ErrorCode::ok;
      return meta.snapshot_term;
    }
    if (i < meta.snapshot_index) {
      return fail(ErrorCode::compacted, "compacted: entry " + std::to_string(i) +
                                            " is below the snapshot index " +
                                            std::to_string(meta.snapshot_index));
    }
    if (i > last_index()) {
      return fail(ErrorCode::unavailable, "unavailable: entry " + std::to_string(i) +
                                              " is past the last index " +
                                              std::to_string(last_index()));
    }
    const Segment& seg = segment_of(i);
    last_error = ErrorCode::ok;
    return seg.locs[i - seg.base].term;
  }
};

// ---- Log ---------------------------------------------------------------------

Log::Log(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Log::~Log() = default;

Result<std::unique_ptr<Log>> Log::open(const std::string& dir, Options opts) {
  if (opts.segment_size < 4096 || opts.segment_size >= (1ull << 32)) {
    return make_error("wal: segment_size must be between 4 KiB and 4 GiB, got " +
                      std::to_string(opts.segment_size));
  }
  if (opts.meta_size < 4 * kMetaRecordSize || opts.meta_size % kMetaRecordSize != 0) {
    return make_error("wal: meta_size must be a multiple of 64 bytes, at least 256");
  }
  auto impl = std::make_unique<Impl>();
  impl->dir = dir.size() > 1 && dir.back() == '/' ? dir.substr(0, dir.size() - 1) : dir;
  impl->fs = opts.fs ? opts.fs : &posix_file_system();
  impl->opts = std::move(opts);
  if (auto s = impl->recover(); !s) return std::move(s).take_error();
  impl->publish_segments();
  return std::unique_ptr<Log>(new Log(std::move(impl)));
}

// The calls that add or delete segments publish the new count.
Status Log::append(std::span<const Entry> entries) {
  Status s = impl_->append(entries);
  impl_->publish_segments();
  return s;
}
Status Log::sync() { return impl_->sync(); }
Status Log::truncate_suffix(uint64_t from) {
  Status s = impl_->truncate_suffix(from);
  impl_->publish_segments();
  return s;
}
Status Log::compact_prefix(uint64_t upto, uint64_t term_at_upto) {
  Status s = impl_->compact_prefix(upto, term_at_upto);
  impl_->publish_segments();
  return s;
}
Status Log::reset_to_snapshot(uint64_t index, uint64_t term) {
  Status s = impl_->reset_to_snapshot(index, term);
  impl_->publish_segments();
  return s;
}
Result<std::vector<Entry>> Log::entries(uint64_t lo, uint64_t hi, uint64_t max_bytes) const {
  return impl_->entries(lo, hi, max_bytes);
}
Result<uint64_t> Log::term(uint64_t i) const { return impl_->term(i); }
uint64_t Log::first_index() const noexcept { return impl_->meta.snapshot_index + 1; }
uint64_t Log::last_index() const noexcept { return impl_->last_index(); }
uint64_t Log::snapshot_index() const noexcept { return impl_->meta.snapshot_index; }
uint64_t Log::snapshot_term() const noexcept { return impl_->meta.snapshot_term; }
Status Log::set_hard_state(const HardState& hs) { return impl_->set_hard_state(hs); }
HardState Log::hard_state() const noexcept { return impl_->meta.hard; }
uint64_t Log::size_bytes() const noexcept {
  uint64_t total = 0;
  for (const Segment& s : impl_->segs) total += s.end;
  return total;
}
uint64_t Log::fsync_count() const noexcept { return impl_->fsyncs; }
ErrorCode Log::last_error() const noexcept { return impl_->last_error; }
bool Log::poisoned() const noexcept { return impl_->poisoned; }

}  // namespace raftdns::wal
