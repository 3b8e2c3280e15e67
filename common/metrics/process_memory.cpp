#include "common/metrics/process_memory.h"

#if defined(__SANITIZE_ADDRESS__)
// From the sanitizer runtime (sanitizer/allocator_interface.h, not installed with GCC here).
extern "C" std::size_t __sanitizer_get_current_allocated_bytes();
#endif

#include <malloc.h>
#include <unistd.h>

#include <cstdio>

namespace keyloop {

std::size_t residentBytes() {
  long pages = 0, resident = 0;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
    std::fclose(f);
  }
  return static_cast<std::size_t>(resident) * static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
}

std::size_t heapBytesInUse() {
#if defined(__SANITIZE_ADDRESS__)
  // The test build's allocator is ASan's, which mallinfo2 knows nothing of.
  return __sanitizer_get_current_allocated_bytes();
#else
  const struct mallinfo2 heap = ::mallinfo2();
  return heap.uordblks + heap.hblkhd;
#endif
}

}  // namespace keyloop
