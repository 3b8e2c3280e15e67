// MappedFile: a read-only mapping of a whole file (the snapshot, the
// append-only log's files at start), unmapped when it goes.
#pragma once

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>

#include "common/loop/unique_fd.h"
#include "common/result/result.h"

namespace keyloop {

class MappedFile {
 public:
  // The mapping (empty if the file does not exist), or why the file cannot
  // be read.
  static Result<MappedFile> open(const std::string& path) {
    MappedFile file;
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno != ENOENT) return fail(path + ": " + std::strerror(errno));
      return file;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) return fail(path + ": " + std::strerror(errno));
    file.exists_ = true;
    file.size_ = static_cast<std::size_t>(st.st_size);
    if (file.size_ == 0) return file;
    void* p = ::mmap(nullptr, file.size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) return fail(path + ": mmap: " + std::strerror(errno));
    file.data_ = p;
    ::madvise(p, file.size_, MADV_SEQUENTIAL);
    return file;
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  MappedFile(MappedFile&& other) noexcept
      : exists_(other.exists_), data_(std::exchange(other.data_, nullptr)), size_(other.size_) {}
  MappedFile& operator=(MappedFile&&) = delete;
  bool exists() const { return exists_; }
  std::string_view bytes() const { return {static_cast<const char*>(data_), data_ ? size_ : 0}; }

 private:
  MappedFile() = default;
  bool exists_ = false;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};


}  // namespace keyloop
