// MetricsHttp: the master's tiny HTTP/1.1 server for Prometheus: GET
// /metrics (text exposition format 0.0.4) and GET /healthz, on the master's
// own loop.
//
// One request per connection, then close (Prometheus opens a connection per
// scrape anyway; nothing to keep alive). It can never stall the master:
// requests are read without blocking, a request head over 8 KB or a
// malformed request line gets 400 and a close, a client that has not sent
// a whole request within 5 s is dropped, and at most 64 connections are
// open at once (more are closed at accept).
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>

#include "common/loop/handles.h"

namespace keyloop {

class MetricsHttp {
 public:
  static constexpr std::size_t kMaxRequestHead = 8192;
  static constexpr auto kRequestTimeout = std::chrono::seconds(5);
  static constexpr std::size_t kMaxConnections = 64;

  // Produces the body of GET /metrics, or of GET /healthz.
  using Render = std::function<std::string()>;

  // Serves on `listenFd` (a listening socket it takes over).
  MetricsHttp(Loop& loop, UniqueFd listenFd, Render metrics, Render health);
  ~MetricsHttp();

 private:
  struct Connection;
  void accept();
  void onReadable(Connection& c);
  void respond(Connection& c, std::string_view status, std::string_view contentType, const std::string& body);
  void close(int fd);
  void closeSlow();

  Loop& loop_;
  UniqueFd listenFd_;
  IoWatcher listenWatcher_;
  Render metrics_, health_;
  std::map<int, std::unique_ptr<Connection>> connections_;
  Timer timeouts_;
};

// What a request head asks for: "GET /metrics" -> {"GET", "/metrics"};
// empty method if the request line is malformed.
struct RequestLine {
  std::string method, target;
};
RequestLine parseRequestLine(std::string_view head);

}  // namespace keyloop
