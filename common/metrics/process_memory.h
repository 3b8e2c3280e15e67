// This process's memory, as INFO and the eviction estimate read it.
#pragma once

#include <cstddef>

namespace keyloop {

// This process's resident set size, in bytes.
std::size_t residentBytes();
// Bytes malloc has handed out and not got back (INFO's used_memory).
std::size_t heapBytesInUse();

}  // namespace keyloop
