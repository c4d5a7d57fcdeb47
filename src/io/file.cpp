#include "odeflow/io/file.hpp"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <string>

#include "odeflow/core/error.hpp"

namespace odeflow::io {

namespace {

[[noreturn]] void fail(const std::filesystem::path& path, std::string_view step, int error) {
  throw IoError(fmt::format("{}: {}: {}", path.string(), step, std::strerror(error)), path.string());
}

// Closes the descriptor and removes the temporary file unless committed.
class TemporaryFile {
 public:
  TemporaryFile(int fd, std::filesystem::path path) : fd_(fd), path_(std::move(path)) {}
  TemporaryFile(const TemporaryFile&) = delete;
  TemporaryFile& operator=(const TemporaryFile&) = delete;
  ~TemporaryFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!committed_) ::unlink(path_.c_str());
  }
  int fd() const { return fd_; }
  const std::filesystem::path& path() const { return path_; }
  // close() may report a deferred write error, so it is checked, once.
  int close() {
    const int rc = ::close(fd_);
    fd_ = -1;
    return rc;
  }
  void commit() { committed_ = true; }

 private:
  int fd_;
  std::filesystem::path path_;
  bool committed_ = false;
};

TemporaryFile create_temporary(const std::filesystem::path& path) {
  static std::atomic<unsigned> counter{0};
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  for (int attempt = 0;; ++attempt) {
    const auto name = fmt::format(".{}.tmp.{}.{}", path.filename().string(), ::getpid(), counter++);
    const std::filesystem::path tmp = dir / name;
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd >= 0) return {fd, tmp};
    // EEXIST: a stale file of a crashed writer with a recycled pid; try the next name.
    if (errno != EEXIST || attempt == 100) fail(path, "cannot create a temporary file beside it", errno);
  }
}

void write_all(const TemporaryFile& tmp, const std::filesystem::path& path, std::span<const std::byte> bytes) {
  while (!bytes.empty()) {
    const ssize_t n = ::write(tmp.fd(), bytes.data(), bytes.size());
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) fail(path, fmt::format("writing {}", tmp.path().string()), n < 0 ? errno : EIO);
    bytes = bytes.subspan(static_cast<std::size_t>(n));
  }
}

}  // namespace

std::vector<std::byte> read_file(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) fail(path, "cannot open for reading", errno);
  std::vector<std::byte> bytes;
  std::byte chunk[1 << 16];
  for (;;) {
    const ssize_t n = ::read(fd, chunk, sizeof chunk);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      const int error = errno;
      ::close(fd);
      fail(path, "cannot read", error);
    }
    if (n == 0) break;
    bytes.insert(bytes.end(), chunk, chunk + n);
  }
  ::close(fd);
  return bytes;
}

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes) {
  TemporaryFile tmp = create_temporary(path);
  write_all(tmp, path, bytes);
  if (::fsync(tmp.fd()) != 0) fail(path, fmt::format("fsync of {}", tmp.path().string()), errno);
  if (tmp.close() != 0) fail(path, fmt::format("closing {}", tmp.path().string()), errno);
  if (::rename(tmp.path().c_str(), path.c_str()) != 0)
    fail(path, fmt::format("cannot rename {} over it", tmp.path().string()), errno);
  tmp.commit();
  // Makes the rename itself durable; failure here cannot undo it, so it is ignored.
  const std::filesystem::path dir = path.has_parent_path() ? path.parent_path() : ".";
  const int dir_fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir_fd >= 0) {
    ::fsync(dir_fd);
    ::close(dir_fd);
  }
}

}  // namespace odeflow::io
