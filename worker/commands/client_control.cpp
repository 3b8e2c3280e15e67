// CLIENT KILL: the filters are read on the client's worker (Redis's errors
// come from there), then every worker closes its own clients that match
// (the peer message KillClients) and the counts are summed. CLIENT PAUSE
// and UNPAUSE: every worker gets them (dispatch/client_pause.h).
#include "common/resp/reply_reader.h"
#include "worker/commands/commands.h"
#include "worker/connection/client.h"
#include "worker/dispatch/client_pause.h"
#include "worker/dispatch/cross_worker.h"
#include "worker/dispatch/dispatch.h"
#include "worker/execution/peer_messages.h"

namespace keyloop::commands {

namespace {

// Redis's getClientTypeByName: "normal", "slave"/"replica", "pubsub", "master".
bool knownClientType(std::string_view type) {
  for (std::string_view known : {"normal", "slave", "replica", "pubsub", "master"}) {
    if (equalsIgnoreCase(type, known)) return true;
  }
  return false;
}

// A client's type as Redis's getClientType names it: keyloop has no
// replica or master links yet, and a monitor is a normal client.
bool hasType(const Client& client, std::string_view type) {
  if (equalsIgnoreCase(type, "pubsub")) return client.session().subscribed();
  if (equalsIgnoreCase(type, "normal")) return !client.session().subscribed();
  return false;
}

bool matches(const Client& client, const peer::KillClients& f) {
  if (f.id != 0 && client.id() != f.id) return false;
  if (!f.addr.empty() && client.peer() != f.addr) return false;
  if (!f.laddr.empty() && client.local() != f.laddr) return false;
  if (!f.type.empty() && !hasType(client, f.type)) return false;
  return !(f.skipCaller && client.id() == f.caller);
}

}  // namespace

void clientKill(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  peer::KillClients filter;
  filter.caller = client.id();
  const bool oldForm = args.size() == 3;
  if (oldForm) {
    filter.addr = args[2];
    filter.skipCaller = false;  // the old form may kill its own connection
  } else {
    if (args.size() % 2 != 0) return client.reply().error(kSyntaxError);
    for (std::size_t i = 2; i + 1 < args.size(); i += 2) {
      const std::string_view option = args[i], value = args[i + 1];
      if (equalsIgnoreCase(option, "id")) {
        const auto id = parseInteger(value);
        if (!id || *id < 1) return client.reply().error("ERR client-id should be greater than 0");
        filter.id = static_cast<std::uint64_t>(*id);
      } else if (equalsIgnoreCase(option, "type")) {
        if (!knownClientType(value)) return client.reply().error("ERR Unknown client type '" + std::string(value) + "'");
        filter.type = value;
      } else if (equalsIgnoreCase(option, "addr")) {
        filter.addr = value;
      } else if (equalsIgnoreCase(option, "laddr")) {
        filter.laddr = value;
      } else if (equalsIgnoreCase(option, "user")) {
        if (value != "default") return client.reply().error("ERR No such user '" + std::string(value) + "'");
        filter.user = value;
      } else if (equalsIgnoreCase(option, "skipme")) {
        if (!equalsIgnoreCase(value, "yes") && !equalsIgnoreCase(value, "no")) return client.reply().error(kSyntaxError);
        filter.skipCaller = equalsIgnoreCase(value, "yes");
      } else {
        return client.reply().error(kSyntaxError);
      }
    }
  }
  const peer::Message message = peer::encode(filter);
  answerFromEveryWorker(dispatch, client, message.args(), [oldForm](const std::vector<std::string>& replies) {
    long long killed = 0;
    for (const std::string& r : replies) killed += resp::replyInteger(r).value_or(0);
    if (!oldForm) return ":" + std::to_string(killed) + "\r\n";
    return std::string(killed == 0 ? "-ERR No such client\r\n" : "+OK\r\n");
  });
}

// The peer message KillClients: closes this worker's matching clients (the
// caller after its reply) and answers how many.
void killClientsHere(CommandContext& ctx) {
  const auto filter = peer::decodeKillClients(ctx.args);
  if (!filter) return ctx.reply.error("ERR malformed KillClients message");
  std::vector<Client*> matched;
  for (const auto& [id, c] : ctx.worker.clients()) {
    if (!c->closed() && matches(*c, *filter)) matched.push_back(c.get());
  }
  for (Client* c : matched) {
    if (c->id() == filter->caller) {
      c->closeAfterReply();
    } else {
      c->close();
    }
  }
  ctx.reply.integer(static_cast<long long>(matched.size()));
}

void clientPause(CommandContext& ctx) {
  if (ctx.args.size() > 4) return ctx.reply.error(subcommandSyntaxError(ctx.args[1], "CLIENT"));
  const auto ms = parseInteger(ctx.args[2]);
  if (!ms) return ctx.reply.error("ERR timeout is not an integer or out of range");
  if (*ms < 0) return ctx.reply.error("ERR timeout is negative");
  ClientPause::Mode mode = ClientPause::Mode::All;
  if (ctx.args.size() == 4) {
    if (equalsIgnoreCase(ctx.args[3], "write")) mode = ClientPause::Mode::Write;
    else if (!equalsIgnoreCase(ctx.args[3], "all")) return ctx.reply.error("ERR CLIENT PAUSE mode must be WRITE or ALL");
  }
  if (*ms > LLONG_MAX - ctx.nowMs) return ctx.reply.error("ERR timeout is out of range");
  if (ClientPause* pause = ctx.worker.clientPause()) pause->pause(ctx.nowMs + *ms, mode);
  ctx.reply.ok();
}

namespace {
// CLIENT NO-EVICT / NO-TOUCH ON|OFF: the connection's switch.
void setSwitch(CommandContext& ctx, bool& on) {
  if (equalsIgnoreCase(ctx.args[2], "on")) on = true;
  else if (equalsIgnoreCase(ctx.args[2], "off")) on = false;
  else return ctx.reply.error(kSyntaxError);
  ctx.reply.ok();
}
}  // namespace

void clientNoEvict(CommandContext& ctx) { setSwitch(ctx, ctx.client->session().noEvict); }
// Redis 7.2's: its commands leave the keys' LRU/LFU as they were.
void clientNoTouch(CommandContext& ctx) { setSwitch(ctx, ctx.client->session().noTouch); }

// Redis 7.2's CLIENT SETINFO LIB-NAME | LIB-VER (clients send it as they
// connect): kept with the connection.
void clientSetinfo(CommandContext& ctx) {
  const std::string_view attribute = ctx.args[2], value = ctx.args[3];
  Session& session = ctx.client->session();
  std::string* into = equalsIgnoreCase(attribute, "lib-name")  ? &session.libName
                       : equalsIgnoreCase(attribute, "lib-ver") ? &session.libVersion
                                                                : nullptr;
  if (into == nullptr) return ctx.reply.error("ERR Unrecognized option '" + std::string(attribute) + "'");
  // Redis's validateClientAttr: printable characters but the space.
  for (const char c : value) {
    if (c < '!' || c > '~') {
      return ctx.reply.error("ERR " + std::string(attribute) + " cannot contain spaces, newlines or special characters.");
    }
  }
  into->assign(value);
  ctx.reply.ok();
}

void clientUnpause(CommandContext& ctx) {
  if (ClientPause* pause = ctx.worker.clientPause(); pause != nullptr && pause->active()) pause->unpause();
  ctx.reply.ok();
}

}  // namespace keyloop::commands
