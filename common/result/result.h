// Result<T>: what a call that can fail returns: its value, or why it
// failed (a sentence for a log line or a client's error reply). Status is
// a Result with no value. It is the one error shape: a call that can fail
// returns one of these, never a bare string, an optional string or a bool
// with an out-parameter.
//
//   Result<Manifest> parseManifest(std::string_view text);
//   if (!parsed) return fail("Bad manifest: " + parsed.error());
//   Status writeFile(...);   // `return {};` when it worked
#pragma once

#include <string>
#include <utility>
#include <variant>

namespace keyloop {

// Why something failed; made by fail().
struct Failure {
  std::string reason;
};
inline Failure fail(std::string reason) { return Failure{std::move(reason)}; }

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : state_(std::in_place_index<0>, std::move(value)) {}
  Result(Failure failure) : state_(std::in_place_index<1>, std::move(failure)) {}

  bool ok() const { return state_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(state_); }
  const T& value() const& { return std::get<0>(state_); }
  T&& value() && { return std::get<0>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  // Only when !ok().
  const std::string& error() const { return std::get<1>(state_).reason; }

 private:
  std::variant<T, Failure> state_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Failure failure) : reason_(std::move(failure.reason)), failed_(true) {}

  bool ok() const { return !failed_; }
  explicit operator bool() const { return ok(); }
  // Only when !ok().
  const std::string& error() const { return reason_; }

 private:
  std::string reason_;
  bool failed_ = false;
};

using Status = Result<void>;

}  // namespace keyloop
