// A read-only memory-mapped file. Model weights are read in place from the mapping, never
// copied: GGUF tensors are spans into it, so the mapping must outlive them.
//
//   ASSIGN_OR_RETURN(std::unique_ptr<MappedFile> f, MappedFile::Open(path));
//   absl::Span<const uint8_t> bytes = f->bytes();
#ifndef JETSERVE_ENGINE_UTIL_MAPPED_FILE_H_
#define JETSERVE_ENGINE_UTIL_MAPPED_FILE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/types/span.h"

namespace jetserve {

class MappedFile {
 public:
  // Maps the whole file read-only. An empty file gives an empty span (no mapping).
  static absl::StatusOr<std::unique_ptr<MappedFile>> Open(const std::string& path);

  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  ~MappedFile();

  absl::Span<const uint8_t> bytes() const { return {data_, size_}; }
  const uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  const std::string& path() const { return path_; }

  // Drops the resident pages wholly inside `range` (a span of bytes()) from this process: they
  // stop counting in its memory and are read from the file again if touched. For bytes the
  // caller has copied elsewhere (packed weights). Ranges outside the mapping are ignored.
  void ReleasePages(absl::Span<const uint8_t> range) const;

 private:
  MappedFile(std::string path, const uint8_t* data, size_t size)
      : path_(std::move(path)), data_(data), size_(size) {}

  std::string path_;
  const uint8_t* data_;
  size_t size_;
};

// Writes bytes to path (truncating), reporting errno text on failure.
absl::Status WriteFileBytes(const std::string& path, absl::Span<const uint8_t> bytes);

}  // namespace jetserve

#endif  // JETSERVE_ENGINE_UTIL_MAPPED_FILE_H_
