// A blocking HTTP/1.1 GET over loopback, for the metrics endpoint and the
// Prometheus API: the status code and the body.
#pragma once

#include <cstdint>
#include <string>

namespace keyloop::test {

struct HttpResponse {
  int status = 0;  // 0: no answer
  std::string body;
};

HttpResponse httpGet(std::uint16_t port, const std::string& target);
// Sends `request` as is and returns what comes back until the server closes.
std::string httpRaw(std::uint16_t port, const std::string& request);

}  // namespace keyloop::test
