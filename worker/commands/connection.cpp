// Connection commands: PING, ECHO, SELECT, QUIT, HELLO, AUTH, CLIENT.
#include <climits>

#include "worker/commands/commands.h"
#include "worker/session/tracking.h"
#include "worker/execution/command_families.h"
#include "common/result/result.h"

namespace keyloop::commands {

namespace {

constexpr std::string_view kWrongPass = "WRONGPASS invalid username-password pair or user is disabled.";

bool validClientName(std::string_view name) {
  for (char c : name) {
    if (c < '!' || c > '~') return false;
  }
  return true;
}

// Whether the credentials are good, as Redis's default user checks them:
// with no password configured any password is accepted.
Status checkCredentials(CommandContext& ctx, std::string_view user, std::string_view password) {
  const std::string& required = ctx.worker.config().requirePass;
  if (user != "default") return fail(std::string(kWrongPass));
  if (!required.empty() && password != required) return fail(std::string(kWrongPass));
  return {};
}

// What a log must not show (CommandSpec::redacts): AUTH's user and
// password, HELLO's after AUTH, as Redis redacts them.
bool authRedacts(std::span<const std::string_view> args, std::size_t index) { return args.size() <= 3 && index >= 1; }

bool helloRedacts(std::span<const std::string_view> args, std::size_t index) {
  for (std::size_t j = 2; j < args.size(); ++j) {
    const std::size_t more = args.size() - 1 - j;
    if (equalsIgnoreCase(args[j], "auth") && more >= 2) {
      if (index == j + 1 || index == j + 2) return true;
      j += 2;
    } else if (equalsIgnoreCase(args[j], "setname") && more >= 1) {
      ++j;
    } else {
      return false;
    }
  }
  return false;
}

}  // namespace

void ping(CommandContext& ctx) {
  if (ctx.args.size() > 2) {
    return ctx.reply.error("ERR wrong number of arguments for 'ping' command");
  }
  // A RESP2 subscriber gets its pong as a message would look (Redis).
  if (ctx.client != nullptr && ctx.client->session().subscribed() && ctx.reply.protocol() == resp::Protocol::Resp2) {
    ctx.reply.array(2);
    ctx.reply.bulk("pong");
    return ctx.reply.bulk(ctx.args.size() == 1 ? std::string_view() : ctx.args[1]);
  }
  ctx.args.size() == 1 ? ctx.reply.simple("PONG") : ctx.reply.bulk(ctx.args[1]);
}

void echo(CommandContext& ctx) { ctx.reply.bulk(ctx.args[1]); }

void select(CommandContext& ctx) {
  const auto index = rangedIntegerOrReply(ctx, ctx.args[1], INT_MIN, INT_MAX);
  if (!index) return;
  if (*index != 0 && ctx.worker.config().cluster.enabled) return ctx.reply.error("ERR SELECT is not allowed in cluster mode");
  if (*index < 0 || *index >= ctx.worker.config().databases) return ctx.reply.error("ERR DB index is out of range");
  if (ctx.selects != nullptr) *ctx.selects = static_cast<int>(*index);
  ctx.reply.ok();
}

void quit(CommandContext& ctx) {
  ctx.reply.ok();
  ctx.client->closeAfterReply();
}

void auth(CommandContext& ctx) {
  if (ctx.args.size() > 3) return ctx.reply.error(kSyntaxError);
  if (ctx.args.size() == 2 && ctx.worker.config().requirePass.empty()) {
    return ctx.reply.error(
        "ERR AUTH <password> called without any password configured for the default user. "
        "Are you sure your configuration is correct?");
  }
  const std::string_view user = ctx.args.size() == 3 ? ctx.args[1] : "default";
  if (Status good = checkCredentials(ctx, user, ctx.args.back()); !good) return ctx.reply.error(good.error());
  ctx.client->setAuthenticated(true);
  ctx.reply.ok();
}

void hello(CommandContext& ctx) {
  long long version = 0;
  std::size_t next = 1;
  if (ctx.args.size() >= 2) {
    auto v = parseInteger(ctx.args[next++]);
    if (!v) return ctx.reply.error("ERR Protocol version is not an integer or out of range");
    if (*v < 2 || *v > 3) return ctx.reply.error("NOPROTO unsupported protocol version");
    version = *v;
  }
  std::string_view user, password, name;
  bool hasAuth = false, hasName = false;
  for (std::size_t j = next; j < ctx.args.size(); ++j) {
    const std::size_t more = ctx.args.size() - 1 - j;
    if (equalsIgnoreCase(ctx.args[j], "auth") && more >= 2) {
      user = ctx.args[j + 1];
      password = ctx.args[j + 2];
      hasAuth = true;
      j += 2;
    } else if (equalsIgnoreCase(ctx.args[j], "setname") && more >= 1) {
      name = ctx.args[++j];
      if (!validClientName(name)) {
        return ctx.reply.error("ERR Client names cannot contain spaces, newlines or special characters.");
      }
      hasName = true;
    } else {
      return ctx.reply.error("ERR Syntax error in HELLO option '" + std::string(ctx.args[j]) + "'");
    }
  }
  if (hasAuth) {
    if (Status good = checkCredentials(ctx, user, password); !good) return ctx.reply.error(good.error());
    ctx.client->setAuthenticated(true);
  }
  if (!ctx.client->authenticated()) {
    return ctx.reply.error(
        "NOAUTH HELLO must be called with the client already authenticated, otherwise the "
        "HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and "
        "select the RESP protocol version at the same time");
  }
  if (hasName) ctx.client->setName(std::string(name));
  if (version) ctx.reply.setProtocol(version == 3 ? resp::Protocol::Resp3 : resp::Protocol::Resp2);
  ctx.reply.map(7);
  ctx.reply.bulk("server");
  ctx.reply.bulk("redis");
  ctx.reply.bulk("version");
  ctx.reply.bulk(kRedisCompatibleVersion);
  ctx.reply.bulk("proto");
  ctx.reply.integer(static_cast<long long>(ctx.reply.protocol()));
  ctx.reply.bulk("id");
  ctx.reply.integer(static_cast<long long>(ctx.client->id()));
  ctx.reply.bulk("mode");
  ctx.reply.bulk(ctx.worker.config().cluster.enabled ? "cluster" : "standalone");
  ctx.reply.bulk("role");
  ctx.reply.bulk("master");
  ctx.reply.bulk("modules");
  ctx.reply.array(0);
}

void clientId(CommandContext& ctx) { ctx.reply.integer(static_cast<long long>(ctx.client->id())); }

void clientSetname(CommandContext& ctx) {
  if (!validClientName(ctx.args[2])) {
    return ctx.reply.error("ERR Client names cannot contain spaces, newlines or special characters.");
  }
  ctx.client->setName(std::string(ctx.args[2]));
  ctx.reply.ok();
}

void clientReply(CommandContext& ctx) {
  Session& s = ctx.client->session();
  if (equalsIgnoreCase(ctx.args[2], "on")) {
    s.repliesOff = s.skipThis = s.skipNext = false;
    s.replyTurnedOn = true;
    return ctx.reply.ok();
  }
  if (equalsIgnoreCase(ctx.args[2], "off")) {
    s.repliesOff = true;
  } else if (equalsIgnoreCase(ctx.args[2], "skip")) {
    if (!s.repliesOff) s.skipNext = true;
  } else {
    ctx.reply.error(kSyntaxError);
  }
}

void clientGetname(CommandContext& ctx) {
  if (ctx.client->name().empty()) return ctx.reply.null();
  ctx.reply.bulk(ctx.client->name());
}

void clientList(CommandContext& ctx) {
  // CLIENT LIST [TYPE normal | ID id...], this worker's part (every worker's is joined).
  if (ctx.args.size() == 4 && equalsIgnoreCase(ctx.args[2], "type")) {
    if (!equalsIgnoreCase(ctx.args[3], "normal")) {
      bool known = equalsIgnoreCase(ctx.args[3], "master") || equalsIgnoreCase(ctx.args[3], "replica") ||
                   equalsIgnoreCase(ctx.args[3], "pubsub");
      if (!known) return ctx.reply.error("ERR Unknown client type '" + std::string(ctx.args[3]) + "'");
      return ctx.reply.verbatim("");
    }
  } else if (ctx.args.size() > 3 && equalsIgnoreCase(ctx.args[2], "id")) {
    // CLIENT LIST ID id...: those of them this worker has, in the order named.
    std::string text;
    for (std::size_t i = 3; i < ctx.args.size(); ++i) {
      const auto id = parseInteger(ctx.args[i]);
      if (!id) return ctx.reply.error("ERR Invalid client ID");
      const auto& clients = ctx.worker.clients();
      if (auto it = clients.find(static_cast<std::uint64_t>(*id)); it != clients.end()) {
        text += it->second->describe(ctx.worker.now()) + "\n";
      }
    }
    return ctx.reply.verbatim(text);
  } else if (ctx.args.size() != 2) {
    return ctx.reply.error(kSyntaxError);
  }
  std::string text;
  const TimePoint now = ctx.worker.now();
  for (const auto& [id, client] : ctx.worker.clients()) text += client->describe(now) + "\n";
  ctx.reply.verbatim(text);
}

void clientInfo(CommandContext& ctx) {
  ctx.reply.verbatim(ctx.client->describe(ctx.worker.now()) + "\n");
}

void clientHelp(CommandContext& ctx) {
  static constexpr std::string_view kLines[] = {
      // Redis's lines for the subcommands keyloop has, in Redis's order.
      "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "CACHING (YES|NO)",
      "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
      "GETREDIR",
      "    Return the client ID we are redirecting to when tracking is enabled.",
      "GETNAME",
      "    Return the name of the current connection.",
      "ID",
      "    Return the ID of the current connection.",
      "INFO",
      "    Return information about the current client connection.",
      "KILL <ip:port>",
      "    Kill connection made from <ip:port>.",
      "KILL <option> <value> [<option> <value> [...]]",
      "    Kill connections. Options are:",
      "    * ADDR (<ip:port>|<unixsocket>:0)",
      "      Kill connections made from the specified address",
      "    * LADDR (<ip:port>|<unixsocket>:0)",
      "      Kill connections made to specified local address",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "      Kill connections by type.",
      "    * USER <username>",
      "      Kill connections authenticated by <username>.",
      "    * SKIPME (YES|NO)",
      "      Skip killing current connection (default: yes).",
      "LIST [options ...]",
      "    Return information about client connections. Options:",
      "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
      "      Return clients of specified type.",
      "UNPAUSE",
      "    Stop the current client pause, resuming traffic.",
      "PAUSE <timeout> [WRITE|ALL]",
      "    Suspend all, or just write, clients for <timeout> milliseconds.",
      "REPLY (ON|OFF|SKIP)",
      "    Control the replies sent to the current connection.",
      "SETNAME <name>",
      "    Assign the name <name> to the current connection.",
      "UNBLOCK <clientid> [TIMEOUT|ERROR]",
      "    Unblock the specified blocked client.",
      "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
      "         [OPTIN] [OPTOUT] [NOLOOP]",
      "    Control server assisted client side caching.",
      "TRACKINGINFO",
      "    Report tracking status for the current connection.",
      "NO-EVICT (ON|OFF)",
      "    Protect current client connection from eviction.",
      "HELP",
      "    Prints this help.",
  };
  replyHelp(ctx, kLines);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----

namespace keyloop {

std::span<const CommandSpec> connectionCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kClientSubcommands[] = {
      {.name = "caching", .arity = 3, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientCaching},
      {.name = "getredir", .arity = 2, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientGetredir},
      {.name = "getname", .arity = 2, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientGetname},
      {.name = "help", .arity = 2, .flags = kConnection, .acl = acl::kConnection,
       .handler = clientHelp},
      {.name = "id", .arity = 2, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientId},
      {.name = "info", .arity = 2, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientInfo},
      {.name = "no-evict", .arity = 3, .flags = kAdmin | kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientNoEvict},
      {.name = "no-touch", .arity = 3, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientNoTouch},
      {.name = "pause", .arity = -3, .flags = kAdmin | kConnection | kNoScript, .acl = acl::kConnection,
       .cross = CrossWorker::BroadcastSame, .handler = clientPause},
      {.name = "reply", .arity = 3, .flags = kNoScript | kConnection, .acl = acl::kConnection,
       .handler = clientReply},
      {.name = "kill", .arity = -3, .flags = kAdmin | kConnection | kNoScript, .acl = acl::kConnection,
       .session = clientKill},
      {.name = "list", .arity = -2, .flags = kAdmin | kConnection | kNoScript, .acl = acl::kConnection,
       .cross = CrossWorker::BroadcastLines, .handler = clientList},
      {.name = "setinfo", .arity = 4, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientSetinfo},
      {.name = "setname", .arity = 3, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientSetname},
      {.name = "unpause", .arity = 2, .flags = kAdmin | kConnection | kNoScript, .acl = acl::kConnection,
       .cross = CrossWorker::BroadcastSame, .handler = clientUnpause},
      {.name = "unblock", .arity = -3, .flags = kAdmin | kConnection | kNoScript, .acl = acl::kConnection,
       .cross = CrossWorker::BroadcastSum, .handler = clientUnblock},
      {.name = "tracking", .arity = -3, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .session = clientTracking},
      {.name = "trackinginfo", .arity = 2, .flags = kConnection | kNoScript, .acl = acl::kConnection,
       .handler = clientTrackinginfo},
  };
  static constexpr CommandSpec kRows[] = {
      {.name = "auth", .arity = -2, .flags = kNoAuth | kFast | kConnection | kNoScript | kAllowBusy, .acl = acl::kConnection,
       .handler = auth, .redacts = authRedacts},
      {.name = "client", .arity = -2, .flags = kKeepsCaching,
       .subcommands = kClientSubcommands},
      {.name = "echo", .arity = 2, .flags = kFast | kConnection, .acl = acl::kConnection,
       .handler = echo},
      {.name = "hello", .arity = -1, .flags = kNoAuth | kFast | kConnection | kNoScript | kAllowBusy, .acl = acl::kConnection,
       .handler = hello, .redacts = helloRedacts},
      {.name = "peer-killclients", .arity = 0, .flags = 0,
       .handler = killClientsHere, .peer = peer::Kind::KillClients},
      {.name = "ping", .arity = -1, .flags = kFast | kConnection | kSubscribedOk | kDiskErrorRefuses, .acl = acl::kConnection,
       .handler = ping},
      {.name = "quit", .arity = -1, .flags = kNoAuth | kFast | kConnection | kRunsInMulti | kSubscribedOk | kNoScript | kAllowBusy, .acl = acl::kConnection,
       .handler = quit},
      {.name = "select", .arity = 2, .flags = kFast | kConnection | kSelectsDatabase | kMonitoredAfter, .acl = acl::kConnection,
       .handler = select},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
