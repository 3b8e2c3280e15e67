#include "common/resp/reply.h"

#include <cmath>
#include <cstdio>

#include <charconv>

namespace keyloop::resp {

namespace {
void appendNumber(std::string& out, long long value) {
  char digits[24];
  auto [end, ec] = std::to_chars(digits, digits + sizeof digits, value);
  out.append(digits, end);
}
}  // namespace

void Reply::header(char type, std::size_t n) {
  out_ += type;
  appendNumber(out_, static_cast<long long>(n));
  out_ += "\r\n";
}

void Reply::simple(std::string_view text) {
  out_ += '+';
  out_ += text;
  out_ += "\r\n";
}

void Reply::error(std::string_view line) {
  errorAt_ = out_.size();
  out_ += '-';
  // An error line may never contain a newline: Redis replaces them too.
  for (char c : line) out_ += (c == '\r' || c == '\n') ? ' ' : c;
  out_ += "\r\n";
}

void Reply::errorVerbatim(std::string_view line) {
  errorAt_ = out_.size();
  out_ += '-';
  out_ += line;
  out_ += "\r\n";
}

void Reply::integer(long long value) {
  if (value == 0) nothingAt_ = out_.size();
  out_ += ':';
  appendNumber(out_, value);
  out_ += "\r\n";
}

void Reply::bulk(std::string_view value) {
  header('$', value.size());
  out_ += value;
  out_ += "\r\n";
}

void Reply::null() {
  nothingAt_ = out_.size();
  out_ += protocol_ == Protocol::Resp3 ? "_\r\n" : "$-1\r\n";
}

void Reply::nullArray() {
  nothingAt_ = out_.size();
  out_ += protocol_ == Protocol::Resp3 ? "_\r\n" : "*-1\r\n";
}

void Reply::array(std::size_t count) { header('*', count); }

void Reply::map(std::size_t pairs) {
  if (protocol_ == Protocol::Resp3) {
    header('%', pairs);
  } else {
    header('*', pairs * 2);
  }
}

void Reply::set(std::size_t count) { header(protocol_ == Protocol::Resp3 ? '~' : '*', count); }

void Reply::verbatim(std::string_view text) {
  if (protocol_ != Protocol::Resp3) return bulk(text);
  header('=', text.size() + 4);
  out_ += "txt:";
  out_ += text;
  out_ += "\r\n";
}

void Reply::boolean(bool value) {
  if (protocol_ == Protocol::Resp3) {
    out_ += value ? "#t\r\n" : "#f\r\n";
  } else {
    integer(value ? 1 : 0);
  }
}

void Reply::doubleValue(double value) {
  char digits[64];
  int n;
  if (std::isinf(value)) {
    n = std::snprintf(digits, sizeof digits, "%s", value > 0 ? "inf" : "-inf");
  } else {
    n = std::snprintf(digits, sizeof digits, "%.17g", value);
  }
  doubleText(std::string_view(digits, static_cast<std::size_t>(n)));
}

void Reply::doubleText(std::string_view text) {
  if (protocol_ == Protocol::Resp2) return bulk(text);
  out_ += ',';
  out_ += text;
  out_ += "\r\n";
}

void Reply::push(std::size_t count) { header('>', count); }

}  // namespace keyloop::resp
