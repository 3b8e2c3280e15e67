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

// The same into a buffer sized beforehand; returns the end of what it wrote.
template <typename T>
char* putAt(char* out, T value) {
  std::memcpy(out, &value, sizeof value);
  return out + sizeof value;
}
inline char* putAt(char* out, std::string_view bytes) {
  std::memcpy(out, bytes.data(), bytes.size());
  return out + bytes.size();
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
