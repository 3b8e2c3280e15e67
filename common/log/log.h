// Log: Redis-style log lines ("pid:M 24 Nov 2026 22:15:03.123 * message")
// at four levels, to stderr or a file. printf-style, one write per line.
#pragma once

#include <cstdarg>
#include <cstdio>
#include <string>

#include "common/result/result.h"

namespace keyloop {

enum class LogLevel { Debug, Verbose, Notice, Warning };

class Log {
 public:
  Log() = default;
  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // level: "debug" | "verbose" | "notice" | "warning"; file: "" = stderr.
  Status configure(const std::string& level, const std::string& file);
  void setRole(char role) { role_ = role; }

  void debug(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void verbose(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void notice(const char* fmt, ...) __attribute__((format(printf, 2, 3)));
  void warning(const char* fmt, ...) __attribute__((format(printf, 2, 3)));

 private:
  void write(LogLevel level, const char* fmt, va_list args);

  LogLevel level_ = LogLevel::Notice;
  std::FILE* file_ = stderr;
  char role_ = 'M';
};

}  // namespace keyloop
