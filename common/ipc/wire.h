// Fixed-size values in records that never leave the machine (channel and
// control records): native byte order, no alignment assumed.
#pragma once

#include <cstring>
#include <string>
#include <string_view>

namespace keyloop::ipc {

template <typename T>
void put(std::string& out, T value) {
  out.append(reinterpret_cast<const char*>(&value), sizeof value);
}

// Reads one value off the front of `in`; false if it is too short.
template <typename T>
bool take(std::string_view& in, T& value) {
  if (in.size() < sizeof value) return false;
  std::memcpy(&value, in.data(), sizeof value);
  in.remove_prefix(sizeof value);
  return true;
}

}  // namespace keyloop::ipc
