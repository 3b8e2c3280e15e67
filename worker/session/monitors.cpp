#include "worker/session/monitors.h"

#include <cctype>
#include <cstdio>

#include "worker/connection/client.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/dispatch.h"
#include "worker/execution/command_families.h"
#include "worker/execution/peer_messages.h"
#include "worker/execution/slowlog.h"
#include "worker/execution/worker_services.h"
#include "worker/execution/worker_stats.h"

namespace keyloop {

namespace {

// Redis's sdscatrepr: quoted, with C escapes for what is not printable.
void appendQuoted(std::string& out, std::string_view text) {
  out += '"';
  for (char ch : text) {
    switch (ch) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      case '\r': out += "\\r"; break;
      case '\t': out += "\\t"; break;
      case '\a': out += "\\a"; break;
      case '\b': out += "\\b"; break;
      default:
        if (std::isprint(static_cast<unsigned char>(ch))) {
          out += ch;
        } else {
          char hex[8];
          std::snprintf(hex, sizeof hex, "\\x%02x", static_cast<unsigned char>(ch));
          out += hex;
        }
    }
  }
  out += '"';
}

}  // namespace

std::string monitorLine(std::int64_t unixMicros, int db, std::string_view origin, const CommandSpec& spec,
                        std::span<const std::string_view> args) {
  char head[96];
  std::snprintf(head, sizeof head, "+%lld.%06lld [%d ", static_cast<long long>(unixMicros / 1000000),
                static_cast<long long>(unixMicros % 1000000), db);
  std::string line = head;
  line.append(origin).append("] ");
  const std::vector<std::string> shown = loggedArguments(spec, args, false);
  for (std::size_t i = 0; i < shown.size(); ++i) {
    if (i != 0) line += ' ';
    appendQuoted(line, shown[i]);
  }
  line += "\r\n";
  return line;
}

Monitors::~Monitors() { stats_.addMonitors(-static_cast<std::int64_t>(clients_.size())); }

void Monitors::add(std::uint64_t clientId) {
  if (clients_.insert(clientId).second) stats_.addMonitors(1);
}

void Monitors::remove(std::uint64_t clientId) {
  if (clients_.erase(clientId) != 0) stats_.addMonitors(-1);
}

void Monitors::deliver(std::string_view line) {
  // A monitor closed over its limit leaves through remove() (clientGone):
  // walk a copy.
  const std::set<std::uint64_t> now = clients_;
  for (std::uint64_t id : now) {
    if (Client* c = connections_.find(id)) c->push(line);
  }
}

}  // namespace keyloop

namespace keyloop::commands {

// MONITOR: from now on the client sees every command (no reply at all when
// it already does, as Redis).
void monitor(Dispatch& dispatch, Client& client, std::span<const std::string_view>) {
  if (client.session().inExec) return client.reply().error("ERR MONITOR isn't allowed for DENY BLOCKING client");
  Monitors* monitors = dispatch.services().monitors();
  if (client.session().monitoring || monitors == nullptr) return;
  client.session().monitoring = true;
  monitors->add(client.id());
  client.reply().ok();
}

// The peer message MonitorLine: another worker's client ran a command.
void deliverMonitorLine(CommandContext& ctx) {
  const auto line = peer::decodeMonitorLine(ctx.args);
  Monitors* monitors = ctx.worker.monitors();
  if (line && monitors != nullptr) monitors->deliver(line->line);
  ctx.reply.ok();
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> monitorCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "monitor", .arity = 1, .flags = kAdmin | kNoScript,
       .session = monitor},
      {.name = "peer-monitorline", .arity = 2, .flags = 0,
       .handler = deliverMonitorLine, .peer = peer::Kind::MonitorLine},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
