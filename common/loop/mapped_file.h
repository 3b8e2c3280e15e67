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

#include "common/loop/unique_fd.h"

namespace keyloop {

class MappedFile {
 public:
  // Empty if the file does not exist; `error` says why it cannot be read.
  MappedFile(const std::string& path, std::string& error) {
    UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd) {
      if (errno != ENOENT) error = path + ": " + std::strerror(errno);
      return;
    }
    struct stat st {};
    if (::fstat(fd.get(), &st) != 0) {
      error = path + ": " + std::strerror(errno);
      return;
    }
    exists_ = true;
    size_ = static_cast<std::size_t>(st.st_size);
    if (size_ == 0) return;
    void* p = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd.get(), 0);
    if (p == MAP_FAILED) {
      error = path + ": mmap: " + std::strerror(errno);
      return;
    }
    data_ = p;
    ::madvise(p, size_, MADV_SEQUENTIAL);
  }
  ~MappedFile() {
    if (data_ != nullptr) ::munmap(data_, size_);
  }
  MappedFile(const MappedFile&) = delete;
  MappedFile& operator=(const MappedFile&) = delete;
  bool exists() const { return exists_; }
  std::string_view bytes() const { return {static_cast<const char*>(data_), data_ ? size_ : 0}; }

 private:
  bool exists_ = false;
  void* data_ = nullptr;
  std::size_t size_ = 0;
};


}  // namespace keyloop
