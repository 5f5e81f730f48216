// Unit tests for cluster key files: creation with mode 0600 and refusal of unsafe files.
#include "replication/key.h"

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <string>

namespace raftdns::replication {
namespace {

class KeyFileTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string pattern = ::testing::TempDir() + "raftdns-key-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern.data()), nullptr);
    directory_ = pattern;
  }
  void TearDown() override {
    for (const char* name : {"cluster.key", "other.key", "bad.key"}) {
      ::unlink((directory_ + "/" + name).c_str());
    }
    ::rmdir(directory_.c_str());
  }
  std::string path(const char* name) const { return directory_ + "/" + name; }

  void write_file(const std::string& file, const std::string& content, mode_t mode) {
    std::ofstream(file) << content;
    ASSERT_EQ(::chmod(file.c_str(), mode), 0);
  }

  std::string directory_;
};

TEST_F(KeyFileTest, InitWritesSixtyFourHexDigitsWithMode0600) {
  const std::string file = path("cluster.key");
  ASSERT_TRUE(init_key_file(file).ok());
  struct stat info {};
  ASSERT_EQ(::stat(file.c_str(), &info), 0);
  EXPECT_EQ(info.st_mode & 07777, 0600u);
  std::string content;
  std::getline(std::ifstream(file), content);
  EXPECT_EQ(content.size(), 64u);
  EXPECT_EQ(content.find_first_not_of("0123456789abcdef"), std::string::npos);
}

TEST_F(KeyFileTest, InitRefusesToOverwriteAndNamesTheFile) {
  const std::string file = path("cluster.key");
  ASSERT_TRUE(init_key_file(file).ok());
  const auto first = load_key_file(file);
  ASSERT_TRUE(first.ok()) << first.error();
  const Status again = init_key_file(file);
  ASSERT_FALSE(again.ok());
  EXPECT_NE(again.error().find(file), std::string::npos) << again.error();
  const auto unchanged = load_key_file(file);
  ASSERT_TRUE(unchanged.ok());
  EXPECT_EQ(*first, *unchanged);
}

TEST_F(KeyFileTest, LoadReturnsTheKeyThatInitWrote) {
  ASSERT_TRUE(init_key_file(path("cluster.key")).ok());
  ASSERT_TRUE(init_key_file(path("other.key")).ok());
  const auto a = load_key_file(path("cluster.key"));
  const auto b = load_key_file(path("other.key"));
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_NE(*a, *b) << "two fresh keys must differ";
  const auto a_again = load_key_file(path("cluster.key"));
  ASSERT_TRUE(a_again.ok());
  EXPECT_EQ(*a, *a_again);
}

TEST_F(KeyFileTest, LoadRefusesAWorldReadableFileAndNamesIt) {
  const std::string file = path("bad.key");
  write_file(file, std::string(64, 'a') + "\n", 0644);
  const auto loaded = load_key_file(file);
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find(file), std::string::npos) << loaded.error();
  EXPECT_NE(loaded.error().find("0644"), std::string::npos) << loaded.error();
}

TEST_F(KeyFileTest, LoadRefusesAGroupReadableFile) {
  const std::string file = path("bad.key");
  write_file(file, std::string(64, 'a') + "\n", 0640);
  EXPECT_FALSE(load_key_file(file).ok());
}

TEST_F(KeyFileTest, LoadRefusesContentThatIsNotAKey) {
  const std::string file = path("bad.key");
  for (const std::string& content :
       {std::string(63, 'a'), std::string(65, 'a'), std::string(63, 'a') + "g", std::string()}) {
    ::unlink(file.c_str());
    write_file(file, content, 0600);
    const auto loaded = load_key_file(file);
    ASSERT_FALSE(loaded.ok()) << "content: " << content;
    EXPECT_NE(loaded.error().find(file), std::string::npos) << loaded.error();
  }
}

TEST_F(KeyFileTest, LoadAcceptsSurroundingWhitespace) {
  const std::string file = path("bad.key");
  write_file(file, "  " + std::string(64, 'F') + "\r\n\n", 0600);
  const auto loaded = load_key_file(file);
  ASSERT_TRUE(loaded.ok()) << loaded.error();
  for (const auto byte : loaded->bytes) EXPECT_EQ(byte, 0xFF);
}

TEST_F(KeyFileTest, LoadOfAMissingFileNamesIt) {
  const auto loaded = load_key_file(path("cluster.key"));
  ASSERT_FALSE(loaded.ok());
  EXPECT_NE(loaded.error().find(path("cluster.key")), std::string::npos);
}

}  // namespace
}  // namespace raftdns::replication
