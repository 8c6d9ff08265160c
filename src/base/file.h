// file.h: whole-file reads with a size cap (untrusted files are never slurped unbounded) and
// crash-safe writes (temp file + fsync + rename), with an explicit mode for secrets.
#pragma once

#include <string>
#include <string_view>

#include "base/bytes.h"
#include "base/status.h"

namespace vhsm {

inline constexpr size_t kDefaultMaxFileBytes = 16u << 20;  // 16 MiB

// NotFound if absent, ResourceExhausted if larger than max_bytes, Unavailable on I/O errors.
Result<Bytes> ReadFileBytes(const std::string& path, size_t max_bytes = kDefaultMaxFileBytes);
Result<std::string> ReadFileText(const std::string& path, size_t max_bytes = kDefaultMaxFileBytes);
// Writes atomically: readers see the old or the new content, never a mix. `mode` e.g. 0600.
Status WriteFileAtomic(const std::string& path, ByteSpan data, unsigned mode = 0644);
bool FileExists(const std::string& path);

}  // namespace vhsm
