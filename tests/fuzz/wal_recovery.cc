// Fuzz target: WAL recovery (Log::open) from arbitrary bytes on disk.
//
// The first input byte picks the mode:
//   0: the segment file is the input, whole;
//   1: the segment keeps a valid 64-byte header and the input follows as its records;
//   2: the meta log keeps a valid header and the input follows as its records;
//   3: a real log is written (entries, hard state, maybe a compaction, all described by the
//      input), closed, then damaged at input-chosen places (flipped bits, zeroed ranges,
//      truncation) in any of its files.
// Recovery must either refuse with an error or open. Once open, every entry in
// [first_index, last_index] is readable, nothing was invented (in mode 3 every entry equals
// the one written at its index), an undamaged log comes back whole, and the recovered log
// takes a new entry and opens again with it.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <system_error>
#include <vector>

#include "tests/fuzz/fuzz_support.h"
#include "wal/format.h"
#include "wal/log.h"

namespace {

using namespace raftdns;
using fuzz::broken;
namespace fs = std::filesystem;

constexpr const char* kTarget = "fuzz_wal_recovery";
constexpr std::uint64_t kSegmentSize = 4096;  // the smallest allowed: damage spans segments
constexpr std::uint64_t kMetaSize = 512;      // 8 records: hard-state writes rewrite it

wal::Options options() {
  wal::Options o;
  o.segment_size = kSegmentSize;
  o.meta_size = kMetaSize;
  o.log = [](const std::string&) {};
  return o;
}

std::vector<std::uint8_t> read_file(const fs::path& path) {
  std::vector<std::uint8_t> out;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) broken(kTarget, "cannot read " + path.string());
  std::uint8_t buf[8192];
  for (;;) {
    const ssize_t n = ::read(fd, buf, sizeof buf);
    if (n <= 0) break;
    out.insert(out.end(), buf, buf + n);
  }
  ::close(fd);
  return out;
}

void write_file(const fs::path& path, std::span<const std::uint8_t> bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) broken(kTarget, "cannot write " + path.string());
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n <= 0) broken(kTarget, "short write to " + path.string());
    done += static_cast<std::size_t>(n);
  }
  ::close(fd);
}

// A per-process scratch directory (on tmpfs when there is one) and the files of a fresh log.
struct Scratch {
  fs::path root;
  fs::path work;
  std::string meta_name;
  std::string segment_name;
  std::vector<std::uint8_t> fresh_meta;
  std::vector<std::uint8_t> fresh_segment;

  ~Scratch() {
    std::error_code ec;
    fs::remove_all(root, ec);
  }
};

Scratch& scratch() {
  static Scratch* s = [] {
    auto* made = new Scratch;
    std::error_code ec;
    const fs::path base = fs::is_directory("/dev/shm", ec) && ::access("/dev/shm", W_OK) == 0
                              ? fs::path("/dev/shm")
                              : fs::temp_directory_path();
    std::string tmpl = (base / "raftdns-fuzz-wal-XXXXXX").string();
    if (!::mkdtemp(tmpl.data())) broken(kTarget, "mkdtemp failed");
    made->root = tmpl;
    made->work = made->root / "wal";
    const fs::path fresh = made->root / "fresh";
    {
      auto log = wal::Log::open(fresh.string(), options());
      if (!log) broken(kTarget, "a fresh log does not open: " + log.error());
    }
    for (const auto& entry : fs::directory_iterator(fresh)) {
      const std::string name = entry.path().filename().string();
      if (name == "meta") {
        made->meta_name = name;
        made->fresh_meta = read_file(entry.path());
      } else if (name.ends_with(".wal")) {
        made->segment_name = name;
        made->fresh_segment = read_file(entry.path());
      }
    }
    if (made->meta_name.empty() || made->segment_name.empty() ||
        made->fresh_segment.size() < wal::format::kFileHeaderSize ||
        made->fresh_meta.size() < wal::format::kFileHeaderSize) {
      broken(kTarget, "a fresh log lacks its meta file or its first segment");
    }
    std::atexit([] { delete s; });
    return made;
  }();
  return *s;
}

void clear_work(const Scratch& s) {
  std::error_code ec;
  fs::remove_all(s.work, ec);
  fs::create_directories(s.work, ec);
  if (ec) broken(kTarget, "cannot create " + s.work.string());
}

// What a log held when it was closed, to compare recovery against.
struct Written {
  std::map<std::uint64_t, wal::Entry> entries;
  wal::HardState hard_state;
  std::uint64_t first = 1;
  std::uint64_t last = 0;
};

// The checks every successful recovery must pass; returns the last index.
std::uint64_t check_open_log(wal::Log& log, const Written* written, bool damaged) {
  const std::uint64_t first = log.first_index();
  const std::uint64_t last = log.last_index();
  if (first != log.snapshot_index() + 1) broken(kTarget, "first_index is not snapshot_index + 1");
  if (last + 1 < first) broken(kTarget, "last_index below snapshot_index");
  if (last + 1 - first > (std::uint64_t{1} << 20)) {
    // The input could only describe this many entries by claiming them, not holding them.
    broken(kTarget, "recovery reports " + std::to_string(last + 1 - first) + " entries");
  }
  for (std::uint64_t i = first; i <= last; ++i) {
    auto got = log.entries(i, i + 1, 1);
    if (!got) broken(kTarget, "entry " + std::to_string(i) + " is unreadable: " + got.error());
    if (got->size() != 1 || (*got)[0].index != i) {
      broken(kTarget, "entries(" + std::to_string(i) + ") returned the wrong entry");
    }
    auto term = log.term(i);
    if (!term || *term != (*got)[0].term) broken(kTarget, "term() disagrees with entries()");
    if (written) {
      const auto it = written->entries.find(i);
      if (it == written->entries.end() || !(it->second == (*got)[0])) {
        broken(kTarget, "recovery invented or altered entry " + std::to_string(i));
      }
    }
  }
  if (written && !damaged) {
    if (first != written->first || last != written->last) {
      broken(kTarget, "an undamaged log came back as [" + std::to_string(first) + ", " +
                          std::to_string(last) + "], written [" + std::to_string(written->first) +
                          ", " + std::to_string(written->last) + "]");
    }
    if (!(log.hard_state() == written->hard_state)) broken(kTarget, "hard state changed");
  }
  if (written && log.hard_state().term > written->hard_state.term) {
    broken(kTarget, "recovery invented a newer term");
  }
  return last;
}

// Opens the work directory. After a successful recovery the log must take a new entry, and
// open again holding it.
void recover(const Scratch& s, const Written* written, bool damaged) {
  std::uint64_t last = 0;
  {
    auto log = wal::Log::open(s.work.string(), options());
    if (!log) {
      if (written && !damaged) broken(kTarget, "an undamaged log does not open: " + log.error());
      if (log.error().empty()) broken(kTarget, "recovery failed without a reason");
      return;
    }
    last = check_open_log(**log, written, damaged);
    const wal::Entry next{last + 1, (*log)->snapshot_term() + 1, {0xAB, 0xCD}};
    if (auto st = (*log)->append(std::span(&next, 1)); !st) {
      broken(kTarget, "a recovered log refuses an append: " + st.error());
    }
    if (auto st = (*log)->sync(); !st)
      broken(kTarget, "a recovered log cannot sync: " + st.error());
  }
  auto again = wal::Log::open(s.work.string(), options());
  if (!again) broken(kTarget, "a recovered log does not open again: " + again.error());
  if ((*again)->last_index() != last + 1)
    broken(kTarget, "the entry appended after recovery is lost");
  auto got = (*again)->entries(last + 1, last + 2, 1);
  if (!got || got->size() != 1 || (*got)[0].payload != std::vector<std::uint8_t>{0xAB, 0xCD}) {
    broken(kTarget, "the entry appended after recovery reads back wrong");
  }
}

void raw_segment(const Scratch& s, std::span<const std::uint8_t> bytes, bool keep_header) {
  clear_work(s);
  write_file(s.work / s.meta_name, s.fresh_meta);
  std::vector<std::uint8_t> segment;
  if (keep_header) {
    segment.assign(s.fresh_segment.begin(), s.fresh_segment.begin() + wal::format::kFileHeaderSize);
  }
  segment.insert(segment.end(), bytes.begin(), bytes.end());
  if (keep_header && segment.size() < kSegmentSize) segment.resize(kSegmentSize, 0);
  write_file(s.work / s.segment_name, segment);
  recover(s, nullptr, true);
}

void raw_meta(const Scratch& s, std::span<const std::uint8_t> bytes) {
  clear_work(s);
  std::vector<std::uint8_t> meta(s.fresh_meta.begin(),
                                 s.fresh_meta.begin() + wal::format::kFileHeaderSize);
  meta.insert(meta.end(), bytes.begin(), bytes.end());
  if (meta.size() < kMetaSize) meta.resize(kMetaSize, 0);
  write_file(s.work / s.meta_name, meta);
  write_file(s.work / s.segment_name, s.fresh_segment);
  recover(s, nullptr, true);
}

void written_then_damaged(const Scratch& s, fuzz::InputReader in) {
  clear_work(s);
  Written w;
  {
    auto opened = wal::Log::open(s.work.string(), options());
    if (!opened) broken(kTarget, "a fresh log does not open: " + opened.error());
    wal::Log& log = **opened;
    const std::size_t count = in.u8() % 40;
    std::uint64_t term = 1;
    std::vector<wal::Entry> batch;
    for (std::size_t k = 0; k < count; ++k) {
      const std::uint8_t shape = in.u8();
      term += shape & 1;
      wal::Entry e{w.last + 1, term, std::vector<std::uint8_t>(in.u8())};
      for (std::size_t j = 0; j < e.payload.size(); ++j) {
        e.payload[j] = static_cast<std::uint8_t>(e.index * 31 + j);
      }
      w.entries[e.index] = e;
      w.last = e.index;
      batch.push_back(std::move(e));
      if (shape & 2) {  // end of a batch: one append, and a sync for some
        if (auto st = log.append(batch); !st) broken(kTarget, "append failed: " + st.error());
        batch.clear();
        if ((shape & 4) && !log.sync()) broken(kTarget, "sync failed");
      }
      if (shape & 8) {
        w.hard_state = {term, std::uint64_t{shape} >> 4, w.last - batch.size()};
        if (!batch.empty()) {
          if (auto st = log.append(batch); !st) broken(kTarget, "append failed: " + st.error());
          batch.clear();
          w.hard_state.commit = w.last;
        }
        if (!log.sync()) broken(kTarget, "sync failed");
        if (auto st = log.set_hard_state(w.hard_state); !st) {
          broken(kTarget, "set_hard_state failed: " + st.error());
        }
      }
    }
    if (!batch.empty() && !log.append(batch)) broken(kTarget, "append failed");
    if (!log.sync()) broken(kTarget, "sync failed");
    const std::uint8_t compact = in.u8();
    if (w.last > 0 && (compact & 0x80)) {
      const std::uint64_t upto = 1 + compact % w.last;
      if (auto st = log.compact_prefix(upto, w.entries[upto].term); !st) {
        broken(kTarget, "compact_prefix failed: " + st.error());
      }
      // The compacted entries stay in `w.entries`: damage to the meta log may roll the
      // compaction back, and the entries still on disk are then served again, unchanged.
      w.first = log.first_index();
    }
    w.hard_state = log.hard_state();
  }

  std::vector<fs::path> files;
  for (const auto& entry : fs::directory_iterator(s.work)) files.push_back(entry.path());
  std::sort(files.begin(), files.end());
  bool damaged = false;
  const std::size_t edits = in.u8() % 5;
  for (std::size_t k = 0; k < edits && !files.empty(); ++k) {
    const fs::path& file = files[in.u8() % files.size()];
    std::vector<std::uint8_t> bytes = read_file(file);
    const std::uint8_t op = in.u8() % 3;
    const std::size_t at = bytes.empty() ? 0 : in.u16() % bytes.size();
    if (op == 0 && !bytes.empty()) {
      const std::uint8_t flip = in.u8();
      bytes[at] ^= flip;
      damaged |= flip != 0;
    } else if (op == 1) {
      const std::size_t n = std::min<std::size_t>(in.u16() % 1024, bytes.size() - at);
      for (std::size_t j = 0; j < n; ++j) {
        damaged |= bytes[at + j] != 0;
        bytes[at + j] = 0;
      }
    } else if (at < bytes.size()) {
      bytes.resize(at);
      damaged = true;
    }
    write_file(file, bytes);
  }
  recover(s, &w, damaged);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size > 3 * kSegmentSize) return 0;
  const Scratch& s = scratch();
  fuzz::InputReader in(std::span(data, size));
  switch (in.u8() % 4) {
    case 0:
      raw_segment(s, in.rest(), false);
      break;
    case 1:
      raw_segment(s, in.rest(), true);
      break;
    case 2:
      raw_meta(s, in.rest());
      break;
    default:
      written_then_damaged(s, in);
      break;
  }
  return 0;
}
