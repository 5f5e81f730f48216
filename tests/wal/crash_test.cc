// Crash tests: a scripted workload crashed at every write and sync point, torn at every byte.
#include <gtest/gtest.h>

#include <cstring>
#include <functional>

#include "tests/lib/sweep.h"
#include "tests/wal/fault_fs.h"
#include "tests/wal/harness.h"
#include "wal/crc32c.h"
#include "wal/format.h"
#include "wal/log.h"

namespace raftdns::wal::testing {
namespace {

const std::string kDir = "/data/wal";

Options small_options(FileSystem* fs, std::vector<std::string>* log_lines = nullptr) {
  Options o;
  o.segment_size = 4096;
  o.meta_size = 256;  // three records: the rewrite path runs several times
  o.fs = fs;
  o.log = [log_lines](const std::string& line) {
    if (log_lines) log_lines->push_back(line);
  };
  return o;
}

// The scripted workload: every kind of call, segment roll-overs, meta
// rewrites, truncation across a segment boundary, compaction that deletes
// segments, and a snapshot reset. Returns false at the first failed call.
bool run_script(Harness& h) {
  auto& log = *h.log();
  auto next = [&] { return log.last_index() + 1; };
  return h.set_hard_state({1, 1, 0}) &&                        //
         h.append(1, 5, 1, 40) && h.sync() &&                  // small batch
         h.append(6, 3, 1, 0) && h.append(9, 4, 1, 150) &&     // two appends, one sync
         h.sync() &&                                           //
         h.set_hard_state({2, 2, 5}) &&                        //
         h.append(13, 40, 2, 90) && h.sync() &&                // rolls into a second segment
         h.truncate_suffix(20) &&                              // drops it and cuts the first
         h.append(20, 5, 3, 60) && h.sync() &&                 //
         h.compact_prefix(10, 1) &&                            //
         h.append(25, 6, 3, 30) &&                             // unsynced ...
         h.set_hard_state({3, 3, 22}) && h.sync() &&           // ... until here
         h.append(31, 30, 3, 110) && h.sync() &&               // another roll-over
         h.compact_prefix(45, 3) &&                            // deletes whole segments
         h.reset_to_snapshot(100, 4) &&                        //
         h.append(101, 3, 4, 20) && h.sync() &&                //
         h.append(104, 2, 4, 20) && h.truncate_suffix(105) &&  // unsynced, then cut
         h.append(next(), 1, 5, 20) && h.sync() &&             //
         h.set_hard_state({5, 0, 103}) &&                      //
         h.append(106, 2, 5, 20);                              // left unsynced
}

struct ScriptRun {
  bool completed = false;
  bool opened = false;
  uint64_t points = 0;
  std::unique_ptr<Harness> harness;
  std::unique_ptr<Log> log;
};

ScriptRun run_script_on(FaultFs& fs) {
  ScriptRun run;
  auto log = Log::open(kDir, small_options(&fs));
  if (log) {
    run.opened = true;
    run.log = std::move(*log);
    run.harness = std::make_unique<Harness>(run.log.get());
    run.completed = run_script(*run.harness);
  }
  run.points = fs.points();
  return run;
}

Result<ModelState> recover(const Image& image, std::vector<std::string>* lines = nullptr) {
  FaultFs fs(image);
  auto log = Log::open(kDir, small_options(&fs, lines));
  if (!log) return std::move(log).take_error();
  return read_back(**log);
}

// Checks one crash image against what the script had acknowledged.
void expect_recovers(const Image& image, const ScriptRun& run, const std::string& where) {
  auto r = recover(image);
  ASSERT_TRUE(r.ok()) << where << ": " << r.error();
  if (!run.opened) {
    // Crashed while creating the log: it must come up empty.
    EXPECT_TRUE(r->log.empty() && r->snap_index == 0 && r->hs == HardState{}) << where;
    return;
  }
  std::string why = run.harness->check_recovered(*r, !run.completed);
  EXPECT_TRUE(why.empty()) << where << ": " << why;
}

TEST(WalCrash, ScriptCompletesWithoutFaults) {
  FaultFs fs;
  auto run = run_script_on(fs);
  ASSERT_TRUE(run.completed);
  EXPECT_EQ(run.log->last_index(), 107u);
  EXPECT_EQ(run.log->snapshot_index(), 100u);
  EXPECT_EQ(run.log->hard_state(), (HardState{5, 0, 103}));
  auto r = recover(fs.current_image());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(run.harness->check_recovered(*r, false), "");
  EXPECT_EQ(r->log, run.harness->current().log);  // a clean reopen loses nothing
}

// Every mutating call of the script is a crash point; a crashing pwrite is
// torn at every byte offset. Both extremes of what the kernel had flushed
// are tried: nothing unsynced, and everything but the torn write.
TEST(WalCrash, AcknowledgedStateSurvivesACrashAtEveryPointAndTear) {
  const uint64_t stride = raftdns::testing::sweep_stride();
  uint64_t total_points;
  {
    FaultFs fs;
    total_points = run_script_on(fs).points;
  }
  ASSERT_GT(total_points, 100u);
  uint64_t images = 0;
  for (uint64_t point = 0; point < total_points; ++point) {
    std::optional<uint64_t> write_size;
    {
      FaultFs probe;
      probe.arm_crash(point, 0);
      run_script_on(probe);
      write_size = probe.write_size_at(point);
    }
    const uint64_t tears = write_size ? *write_size : 0;
    // Every byte, or in a sanitizer run every stride-th byte and always the
    // whole write (tests/lib/sweep.h).
    for (uint64_t tear = 0; tear <= tears;
         tear = (tear < tears && tear + stride > tears) ? tears : tear + stride) {
      FaultFs fs;
      fs.arm_crash(point, tear);
      auto run = run_script_on(fs);
      ASSERT_TRUE(fs.crashed());
      for (auto mode : {CrashMode::lose_unsynced, CrashMode::keep_unsynced}) {
        expect_recovers(fs.crash_image(mode), run,
                        "point " + std::to_string(point) + " tear " + std::to_string(tear) +
                            (mode == CrashMode::lose_unsynced ? " lose" : " keep"));
        ++images;
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  EXPECT_GT(images, 1000u / stride);
}

// A disk that reorders writes may keep any subset of the unsynced sectors.
// Recovery must neither lose acknowledged state nor mistake such a crash for
// corruption.
TEST(WalCrash, AcknowledgedStateSurvivesReorderedSectorsAtEveryPoint) {
  uint64_t total_points;
  {
    FaultFs fs;
    total_points = run_script_on(fs).points;
  }
  uint64_t images = 0;
  for (uint64_t point = 0; point < total_points; ++point) {
    FaultFs probe;
    probe.arm_crash(point, 0);
    run_script_on(probe);
    const uint64_t size = probe.write_size_at(point).value_or(0);
    for (uint64_t tear : {uint64_t{0}, size / 3, size * 2 / 3, size}) {
      FaultFs fs;
      fs.arm_crash(point, tear);
      auto run = run_script_on(fs);
      for (uint64_t seed = 1; seed <= 24; ++seed) {
        expect_recovers(fs.crash_image(CrashMode::mixed_sectors, seed), run,
                        "point " + std::to_string(point) + " tear " + std::to_string(tear) +
                            " seed " + std::to_string(seed));
        ++images;
        if (::testing::Test::HasFailure()) return;
      }
    }
  }
  EXPECT_GT(images, 1000u);
}

// Recovery itself writes (cuts a torn tail, deletes leftovers, creates the
// first files). A crash at any of those points must be recovered to the very
// same state as an uninterrupted recovery.
TEST(WalCrash, RecoveryIsIdempotentUnderCrashes) {
  uint64_t total_points;
  {
    FaultFs fs;
    total_points = run_script_on(fs).points;
  }
  uint64_t checked = 0;
  for (uint64_t point = 0; point < total_points; ++point) {
    FaultFs probe;
    probe.arm_crash(point, 0);
    run_script_on(probe);
    const uint64_t size = probe.write_size_at(point).value_or(0);
    for (uint64_t tear : {size / 2, size == 0 ? 0 : size - 1}) {
      FaultFs fs;
      fs.arm_crash(point, tear);
      run_script_on(fs);
      for (auto mode : {CrashMode::lose_unsynced, CrashMode::keep_unsynced}) {
        const Image image = fs.crash_image(mode);
        auto reference = recover(image);
        ASSERT_TRUE(reference.ok()) << reference.error();
        uint64_t recovery_points;
        {
          FaultFs counting(image);
          ASSERT_TRUE(Log::open(kDir, small_options(&counting)).ok());
          recovery_points = counting.points();
        }
        for (uint64_t rp = 0; rp < recovery_points; ++rp) {
          FaultFs crashing(image);
          crashing.arm_crash(rp, 3);
          ASSERT_FALSE(Log::open(kDir, small_options(&crashing)).ok());
          for (auto mode2 : {CrashMode::lose_unsynced, CrashMode::keep_unsynced}) {
            auto again = recover(crashing.crash_image(mode2));
            ASSERT_TRUE(again.ok())
                << "point " << point << " recovery point " << rp << ": " << again.error();
            EXPECT_EQ(again->log, reference->log) << "point " << point << " rp " << rp;
            EXPECT_EQ(again->hs, reference->hs);
            EXPECT_EQ(again->snap_index, reference->snap_index);
            ++checked;
          }
        }
      }
    }
  }
  EXPECT_GT(checked, 50u);
}

// ---- damage that is not a crash ------------------------------------------------

struct RecordSpan {
  std::string path;
  uint64_t offset;
  uint64_t size;
  uint32_t payload_len;
};

std::vector<RecordSpan> records_of(const Image& image) {
  std::vector<RecordSpan> out;
  for (const auto& [path, bytes] : image) {
    if (path.size() < 4 || path.compare(path.size() - 4, 4, ".wal") != 0) continue;
    uint64_t pos = format::kFileHeaderSize;
    while (pos + format::kRecordHeaderSize <= bytes.size() &&
           !format::all_zero(bytes.data() + pos, format::kRecordHeaderSize)) {
      uint32_t len = format::get32(bytes.data() + pos);
      out.push_back({path, pos, format::record_size(len), len});
      pos += format::record_size(len);
    }
  }
  return out;
}

// A cleanly written log: three synced batches over two segments.
Image clean_image() {
  FaultFs fs;
  auto log = Log::open(kDir, small_options(&fs));
  EXPECT_TRUE(log.ok());
  Harness h(log->get());
  EXPECT_TRUE(h.append(1, 10, 1, 100) && h.sync() && h.append(11, 10, 1, 100) && h.sync() &&
              h.set_hard_state({1, 1, 12}) && h.append(21, 15, 2, 100) && h.sync() &&
              h.append(36, 5, 2, 100) && h.sync() && h.append(41, 5, 2, 100) && h.sync());
  return fs.crash_image(CrashMode::lose_unsynced);
}

std::string file_name(const std::string& path) { return path.substr(path.find_last_of('/') + 1); }

TEST(WalCorruption, FlippedBitInAnyRecordIsReportedWithFileAndOffsetNotTruncated) {
  const Image image = clean_image();
  auto reference = recover(image);
  ASSERT_TRUE(reference.ok());
  const auto records = records_of(image);
  ASSERT_EQ(records.size(), 45u);
  uint64_t flips = 0;
  for (const auto& rec : records) {
    for (uint64_t k = 0; k < rec.size; ++k) {
      const bool padding = k >= format::kRecordHeaderSize + rec.payload_len && k + 1 < rec.size;
      if (padding) continue;  // not covered by a checksum; carries no data
      Image damaged = image;
      damaged[rec.path][rec.offset + k] ^= static_cast<uint8_t>(1u << (k % 8));
      auto r = recover(damaged);
      ASSERT_FALSE(r.ok()) << "flip at " << rec.path << ":" << rec.offset + k
                           << " was not detected";
      EXPECT_NE(r.error().find(file_name(rec.path)), std::string::npos) << r.error();
      EXPECT_NE(r.error().find("offset " + std::to_string(rec.offset)), std::string::npos)
          << r.error();
      EXPECT_NE(r.error().find("corrupt"), std::string::npos) << r.error();
      ++flips;
      if (::testing::Test::HasFailure()) return;
    }
  }
  EXPECT_GT(flips, 3000u);
}

TEST(WalCorruption, FlippedBitOutsideRecordsNeverLosesEntries) {
  const Image image = clean_image();
  auto reference = recover(image);
  ASSERT_TRUE(reference.ok());
  for (const auto& [path, bytes] : image) {
    for (uint64_t at = 0; at < bytes.size(); at += 97) {
      Image damaged = image;
      damaged[path][at] ^= 0x10;
      auto r = recover(damaged);
      if (r.ok()) {
        EXPECT_EQ(r->log, reference->log) << path << ":" << at;
        EXPECT_EQ(r->hs, reference->hs) << path << ":" << at;
      } else {
        EXPECT_NE(r.error().find(file_name(path)), std::string::npos) << r.error();
        EXPECT_NE(r.error().find("offset"), std::string::npos) << r.error();
      }
    }
  }
}

TEST(WalCorruption, FlippedBitInHardStateIsReportedNotRolledBack) {
  const Image image = clean_image();
  const std::string meta = kDir + "/meta";
  // The meta log's records start after its 64-byte header; the last one holds
  // the newest hard state.
  const auto& bytes = image.at(meta);
  uint64_t last = 0;
  for (uint64_t at = 64; at + 64 <= bytes.size(); at += 64) {
    if (!format::all_zero(bytes.data() + at, 64)) last = at;
  }
  ASSERT_GT(last, 0u);
  Image damaged = image;
  damaged[meta][last + 9] ^= 0x04;  // inside the term field
  auto r = recover(damaged);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("meta"), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("offset " + std::to_string(last)), std::string::npos) << r.error();
}

TEST(WalCorruption, ZeroedRecordFollowedByLaterSyncedBatchIsCorruption) {
  // Entry 32 sits in the last segment and was synced with its batch; the
  // records of the next batches carry proof of that, so a hole where it was
  // cannot be a torn write.
  const Image image = clean_image();
  const auto records = records_of(image);
  const auto& victim = records[31];
  ASSERT_EQ(victim.path, records.back().path);
  Image damaged = image;
  auto& bytes = damaged[victim.path];
  std::fill_n(bytes.begin() + static_cast<std::ptrdiff_t>(victim.offset), victim.size, 0);
  auto r = recover(damaged);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find("offset " + std::to_string(victim.offset)), std::string::npos)
      << r.error();
  EXPECT_NE(r.error().find("had already been synced"), std::string::npos) << r.error();
}

TEST(WalCorruption, ZeroedRecordInSealedSegmentIsCorruption) {
  const Image image = clean_image();
  const auto records = records_of(image);
  const auto& victim = records[4];
  ASSERT_NE(victim.path, records.back().path);
  Image damaged = image;
  auto& bytes = damaged[victim.path];
  std::fill_n(bytes.begin() + static_cast<std::ptrdiff_t>(victim.offset), victim.size, 0);
  auto r = recover(damaged);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(file_name(victim.path)), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("offset " + std::to_string(victim.offset)), std::string::npos)
      << r.error();
}

TEST(WalCorruption, IndexGapIsReportedWithExpectedAndFoundIndex) {
  const Image image = clean_image();
  const auto records = records_of(image);
  Image damaged = image;
  // Rewrite record 3's index to 9 with valid checksums: only the sequence is wrong.
  uint8_t* r = damaged[records[2].path].data() + records[2].offset;
  format::put64(r + 8, 9);
  format::put32(r + format::kRecordHeaderCrcAt, format::record_header_crc(r));
  auto rec = recover(damaged);
  ASSERT_FALSE(rec.ok());
  EXPECT_NE(rec.error().find("expected index 3 but found 9"), std::string::npos) << rec.error();
  EXPECT_NE(rec.error().find("offset " + std::to_string(records[2].offset)), std::string::npos);
}

TEST(WalCorruption, MissingMiddleSegmentIsAGap) {
  FaultFs fs;
  {
    auto log = Log::open(kDir, small_options(&fs));
    ASSERT_TRUE(log.ok());
    Harness h(log->get());
    ASSERT_TRUE(h.append(1, 100, 1, 100) && h.sync());
  }
  Image image = fs.current_image();
  std::vector<std::string> segments;
  for (const auto& [path, bytes] : image) {
    if (path.ends_with(".wal")) segments.push_back(path);
  }
  ASSERT_GE(segments.size(), 3u);
  image.erase(segments[1]);
  auto r = recover(image);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.error().find(file_name(segments[2])), std::string::npos) << r.error();
  EXPECT_NE(r.error().find("previous segment"), std::string::npos) << r.error();
}

TEST(WalCorruption, TornTailIsCutAndLoggedWithFileAndOffset) {
  FaultFs fs;
  {
    auto log = Log::open(kDir, small_options(&fs));
    ASSERT_TRUE(log.ok());
    Harness h(log->get());
    ASSERT_TRUE(h.append(1, 5, 1, 100) && h.sync());
  }
  const uint64_t point = fs.points();
  FaultFs crashing(fs.current_image());
  crashing.arm_crash(2, 70);  // open does 2 datasyncs, then the append's pwrite tears at byte 70
  {
    auto log = Log::open(kDir, small_options(&crashing));
    ASSERT_TRUE(log.ok());
    std::vector<Entry> more{make_entry(6, 1, 100), make_entry(7, 1, 100)};
    EXPECT_FALSE((*log)->append(more).ok());
  }
  (void)point;
  std::vector<std::string> lines;
  auto r = recover(crashing.crash_image(CrashMode::lose_unsynced), &lines);
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->last(), 5u);
  ASSERT_EQ(lines.size(), 1u);
  const auto records = records_of(fs.current_image());
  const uint64_t tail = records.back().offset + records.back().size;
  EXPECT_NE(lines[0].find(file_name(records.back().path)), std::string::npos) << lines[0];
  EXPECT_NE(lines[0].find("offset " + std::to_string(tail)), std::string::npos) << lines[0];
}

TEST(WalCorruption, StrayByteInTheLastBytesOfTheTailIsCutBeforeTheNextAppend) {
  // A non-zero byte in the last word of the active segment, where no record
  // header fits, is past the records: recovery cuts it like any torn tail, so
  // the segment filled up to it and sealed later does not read as damaged.
  FaultFs fs;
  {
    auto log = Log::open(kDir, small_options(&fs));
    ASSERT_TRUE(log.ok());
    Harness h(log->get());
    ASSERT_TRUE(h.append(1, 3, 1, 1) && h.sync());
  }
  Image image = fs.current_image();
  std::string segment;
  for (const auto& [path, bytes] : image) {
    if (path.ends_with(".wal")) segment = path;
  }
  ASSERT_FALSE(segment.empty());
  ASSERT_EQ(image[segment].size(), 4096u);
  image[segment][4095] = 0x5A;

  FaultFs reopened(image);
  std::vector<std::string> lines;
  {
    Options o = small_options(&reopened, &lines);
    auto log = Log::open(kDir, o);
    ASSERT_TRUE(log.ok()) << log.error();
    EXPECT_EQ((*log)->last_index(), 3u);
    // One-byte payloads make 40-byte records: the segment fills to offset
    // 4064, whose header window holds the stray byte, then rolls.
    std::vector<Entry> more;
    for (uint64_t i = 4; i <= 120; ++i) more.push_back(make_entry(i, 1, 1));
    ASSERT_TRUE((*log)->append(more).ok());
    ASSERT_TRUE((*log)->sync().ok());
  }
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("cut torn tail of " + segment), std::string::npos)
      << lines[0];
  auto r = recover(reopened.current_image());
  ASSERT_TRUE(r.ok()) << r.error();
  EXPECT_EQ(r->last(), 120u);
}

}  // namespace
}  // namespace raftdns::wal::testing
