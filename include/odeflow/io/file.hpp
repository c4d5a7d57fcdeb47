// Whole-file reads and atomic whole-file writes (POSIX).
//
// write_file_atomically(path, bytes) either replaces `path` with exactly
// `bytes` or leaves it as it was: the bytes go to a new temporary file in the
// same directory (".<name>.tmp.<pid>.<n>", created exclusively), which is
// fsync'ed, closed and then renamed over `path`; the directory is fsync'ed
// afterwards (best effort: the replacement has already happened). On any
// failure the temporary file is removed and IoError names `path`, the step
// that failed and the system's reason. The new file gets mode 0666 minus the
// umask, like any newly created file; a symlink at `path` is replaced, not
// followed.
#pragma once

#include <cstddef>
#include <filesystem>
#include <span>
#include <vector>

namespace odeflow::io {

// Throws IoError naming `path` if it cannot be opened or read.
std::vector<std::byte> read_file(const std::filesystem::path& path);

void write_file_atomically(const std::filesystem::path& path, std::span<const std::byte> bytes);

}  // namespace odeflow::io
