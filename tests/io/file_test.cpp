// Whole-file reads and atomic writes: the destination is replaced completely or not at all.
#include "odeflow/io/file.hpp"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "odeflow/core/error.hpp"
#include "support/expect_error.hpp"
#include "support/file_size_limit.hpp"
#include "support/scratch_dir.hpp"

namespace odeflow::io {
namespace {

using test::expect_error;
using test::FileSizeLimit;
using test::ScratchDir;
using Names = std::set<std::string>;

std::vector<std::byte> bytes_of(const std::string& text) {
  const auto* p = reinterpret_cast<const std::byte*>(text.data());
  return {p, p + text.size()};
}

std::string text_of(const std::vector<std::byte>& bytes) {
  return {reinterpret_cast<const char*>(bytes.data()), bytes.size()};
}

void put(const std::filesystem::path& path, const std::string& text) { std::ofstream(path, std::ios::binary) << text; }

TEST(AtomicWrite, WritesExactlyTheBytesAndLeavesNoTemporaryFile) {
  ScratchDir dir;
  write_file_atomically(dir / "a.bin", bytes_of(std::string("x\0y", 3)));
  EXPECT_EQ(text_of(read_file(dir / "a.bin")), std::string("x\0y", 3));
  EXPECT_EQ(dir.entries(), Names{"a.bin"});
}

TEST(AtomicWrite, ReplacesAnExistingFile) {
  ScratchDir dir;
  put(dir / "a.bin", "old contents");
  write_file_atomically(dir / "a.bin", bytes_of("new"));
  EXPECT_EQ(text_of(read_file(dir / "a.bin")), "new");
  EXPECT_EQ(dir.entries(), Names{"a.bin"});
}

TEST(AtomicWrite, AnEmptyWriteGivesAnEmptyFile) {
  ScratchDir dir;
  write_file_atomically(dir / "empty", {});
  EXPECT_TRUE(read_file(dir / "empty").empty());
}

TEST(AtomicWrite, AWriteCutShortLeavesTheOldFileAndNoTemporaryFile) {
  ScratchDir dir;
  put(dir / "model.bin", "the previous checkpoint");
  {
    const FileSizeLimit limit(100);
    const auto error = expect_error<IoError>(
        [&] { write_file_atomically(dir / "model.bin", std::vector<std::byte>(1000, std::byte{7})); },
        "File too large");
    ASSERT_TRUE(error);
    EXPECT_EQ(error->path(), (dir / "model.bin").string());
  }
  EXPECT_EQ(text_of(read_file(dir / "model.bin")), "the previous checkpoint");
  EXPECT_EQ(dir.entries(), Names{"model.bin"});
}

TEST(AtomicWrite, AFailedRenameLeavesTheDestinationAndNoTemporaryFile) {
  ScratchDir dir;
  std::filesystem::create_directory(dir / "taken");
  put(dir / "taken" / "inside", "kept");
  expect_error<IoError>([&] { write_file_atomically(dir / "taken", bytes_of("data")); }, "cannot rename");
  EXPECT_EQ(dir.entries(), Names{"taken"});
  EXPECT_EQ(text_of(read_file(dir / "taken" / "inside")), "kept");
}

TEST(AtomicWrite, AMissingDirectoryIsAnIoErrorNamingThePath) {
  ScratchDir dir;
  const auto path = dir / "no_such_dir" / "a.bin";
  expect_error<IoError>([&] { write_file_atomically(path, bytes_of("data")); },
                        path.string() + ": cannot create a temporary file");
}

TEST(ReadFile, AMissingFileIsAnIoErrorNamingThePathAndTheReason) {
  ScratchDir dir;
  const auto path = dir / "absent.bin";
  expect_error<IoError>([&] { read_file(path); }, path.string() + ": cannot open for reading: No such file");
}

TEST(ReadFile, ReadsFilesLargerThanOneChunk) {
  ScratchDir dir;
  const std::string big(200'000, 'z');
  put(dir / "big", big);
  EXPECT_EQ(text_of(read_file(dir / "big")), big);
}

}  // namespace
}  // namespace odeflow::io
