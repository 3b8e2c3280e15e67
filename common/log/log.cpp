#include "common/log/log.h"

#include <sys/time.h>
#include <unistd.h>

#include <ctime>

namespace keyloop {

Log::~Log() {
  if (file_ != stderr) std::fclose(file_);
}

Status Log::configure(const std::string& level, const std::string& file) {
  if (level == "debug") level_ = LogLevel::Debug;
  else if (level == "verbose") level_ = LogLevel::Verbose;
  else if (level == "notice") level_ = LogLevel::Notice;
  else if (level == "warning") level_ = LogLevel::Warning;
  else return fail("unknown log level '" + level + "'");
  if (!file.empty()) {
    std::FILE* f = std::fopen(file.c_str(), "a");
    if (f == nullptr) return fail("can't open the log file " + file);
    if (file_ != stderr) std::fclose(file_);
    file_ = f;
  }
  return {};
}

void Log::write(LogLevel level, const char* fmt, va_list args) {
  if (level < level_) return;
  static constexpr char kMarks[] = {'.', '-', '*', '#'};
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  tm local{};
  ::localtime_r(&tv.tv_sec, &local);
  char stamp[64];
  std::size_t n = std::strftime(stamp, sizeof stamp, "%d %b %Y %H:%M:%S", &local);
  std::snprintf(stamp + n, sizeof stamp - n, ".%03d", static_cast<int>(tv.tv_usec / 1000));
  char message[1024];
  std::vsnprintf(message, sizeof message, fmt, args);
  std::fprintf(file_, "%d:%c %s %c %s\n", static_cast<int>(::getpid()), role_, stamp,
               kMarks[static_cast<int>(level)], message);
  std::fflush(file_);
}

#define KEYLOOP_LOG_AT(name, level)        \
  void Log::name(const char* fmt, ...) {   \
    va_list args;                          \
    va_start(args, fmt);                   \
    write(level, fmt, args);               \
    va_end(args);                          \
  }
KEYLOOP_LOG_AT(debug, LogLevel::Debug)
KEYLOOP_LOG_AT(verbose, LogLevel::Verbose)
KEYLOOP_LOG_AT(notice, LogLevel::Notice)
KEYLOOP_LOG_AT(warning, LogLevel::Warning)
#undef KEYLOOP_LOG_AT

}  // namespace keyloop
