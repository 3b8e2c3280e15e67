// CLIENT TRACKING, CACHING, GETREDIR, TRACKINGINFO with Redis 7.0's
// options, checks and error texts (networking.c: clientCommand), and the
// peer messages of client tracking (tracking.h).
#include <algorithm>

#include "common/resp/reply_reader.h"
#include "common/text/text.h"
#include "worker/commands/commands.h"
#include "worker/connection/client.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/cross_worker.h"
#include "worker/dispatch/dispatch.h"
#include "worker/execution/command_families.h"
#include "worker/execution/peer_messages.h"
#include "worker/execution/worker_services.h"
#include "worker/session/tracking.h"

namespace keyloop::commands {

namespace {

// Redis's stringCheckPrefix: two prefixes overlap when one starts the other.
bool overlap(std::string_view a, std::string_view b) {
  const std::size_t n = std::min(a.size(), b.size());
  return a.substr(0, n) == b.substr(0, n);
}

// The prefixes of a BCAST request against each other and the client's own
// (Redis's checkPrefixCollisionsOrReply); the error, or empty.
std::string prefixCollision(const TrackingMode& now, const std::vector<std::string>& prefixes) {
  for (std::size_t i = 0; i < prefixes.size(); ++i) {
    for (const std::string& old : now.prefixes) {
      if (overlap(old, prefixes[i])) {
        return "ERR Prefix '" + prefixes[i] + "' overlaps with an existing prefix '" + old +
               "'. Prefixes for a single client must not overlap.";
      }
    }
    for (std::size_t j = i + 1; j < prefixes.size(); ++j) {
      if (overlap(prefixes[i], prefixes[j])) {
        return "ERR Prefix '" + prefixes[i] + "' overlaps with another provided prefix '" + prefixes[j] +
               "'. Prefixes for a single client must not overlap.";
      }
    }
  }
  return "";
}

// CLIENT TRACKING ON's checks (in Redis's order); the error, or empty.
std::string checkOn(const TrackingMode& now, const TrackingMode& wanted) {
  if (!wanted.bcast && !wanted.prefixes.empty()) return "ERR PREFIX option requires BCAST mode to be enabled";
  if (now.on && now.bcast != wanted.bcast) {
    return "ERR You can't switch BCAST mode on/off before disabling tracking for this client, and then re-enabling "
           "it with a different mode.";
  }
  if (wanted.bcast && (wanted.optin || wanted.optout)) return "ERR OPTIN and OPTOUT are not compatible with BCAST";
  if (wanted.optin && wanted.optout) return "ERR You can't specify both OPTIN mode and OPTOUT mode";
  if ((wanted.optin && now.optout) || (wanted.optout && now.optin)) {
    return "ERR You can't switch OPTIN/OPTOUT mode before disabling tracking for this client, and then re-enabling "
           "it with a different mode.";
  }
  return wanted.bcast ? prefixCollision(now, wanted.prefixes) : "";
}

}  // namespace

void clientTracking(Dispatch& dispatch, Client& client, std::span<const std::string_view> args) {
  resp::Reply& reply = client.reply();
  Tracking* tracking = dispatch.services().tracking();
  if (tracking == nullptr) return reply.error("ERR client tracking is not available here");
  TrackingMode wanted;
  for (std::size_t j = 3; j < args.size(); ++j) {
    const bool more = j + 1 < args.size();
    if (equalsIgnoreCase(args[j], "redirect") && more) {
      ++j;
      if (wanted.redirect != 0) return reply.error("ERR A client can only redirect to a single other client");
      const auto id = parseInteger(args[j]);
      if (!id) return reply.error("ERR value is not an integer or out of range");
      if (*id <= 0) return reply.error("ERR The client ID you want redirect to does not exist");
      wanted.redirect = static_cast<std::uint64_t>(*id);
    } else if (equalsIgnoreCase(args[j], "bcast")) {
      wanted.bcast = true;
    } else if (equalsIgnoreCase(args[j], "optin")) {
      wanted.optin = true;
    } else if (equalsIgnoreCase(args[j], "optout")) {
      wanted.optout = true;
    } else if (equalsIgnoreCase(args[j], "noloop")) {
      wanted.noloop = true;
    } else if (equalsIgnoreCase(args[j], "prefix") && more) {
      wanted.prefixes.emplace_back(args[++j]);
    } else {
      return reply.error(kSyntaxError);
    }
  }
  // What Redis does once the options are read (the redirect target's
  // existence it checks while reading them, here before this).
  auto finish = [tracking, on = std::string(args[2])](Client& c, TrackingMode mode) -> std::string {
    if (equalsIgnoreCase(on, "off")) {
      tracking->disable(c);
      return "";
    }
    if (!equalsIgnoreCase(on, "on")) return std::string(kSyntaxError);
    if (std::string refused = checkOn(c.session().tracking, mode); !refused.empty()) return refused;
    tracking->enable(c, std::move(mode));
    return "";
  };
  constexpr std::string_view kNoSuchClient = "ERR The client ID you want redirect to does not exist";
  if (wanted.redirect == 0 || dispatch.connections().find(wanted.redirect) != nullptr || dispatch.router() == nullptr) {
    if (wanted.redirect != 0 && dispatch.connections().find(wanted.redirect) == nullptr) return reply.error(kNoSuchClient);
    wanted.redirectWorker = dispatch.services().self();
    const std::string refused = finish(client, std::move(wanted));
    return refused.empty() ? reply.ok() : reply.error(refused);
  }
  // The client it redirects to talks to another worker, or to none: every
  // worker is asked, and nothing of this client runs before the answer.
  const peer::Message ask = peer::hasClientMessage(wanted.redirect);
  answerFromEveryWorker(
      dispatch, client, ask.args(),
      [&dispatch, id = client.id(), wanted, finish, kNoSuchClient](const std::vector<std::string>& replies) mutable {
        const auto at = std::find_if(replies.begin(), replies.end(),
                                     [](const std::string& r) { return resp::replyInteger(r).value_or(0) == 1; });
        Client* c = dispatch.connections().find(id);
        if (at == replies.end() || c == nullptr) return "-" + std::string(kNoSuchClient) + "\r\n";
        wanted.redirectWorker = static_cast<int>(at - replies.begin());
        const std::string refused = finish(*c, std::move(wanted));
        return refused.empty() ? std::string("+OK\r\n") : "-" + refused + "\r\n";
      },
      /*holdsLater=*/true);
}

void clientCaching(CommandContext& ctx) {
  TrackingMode& mode = ctx.client->session().tracking;
  if (!mode.on) {
    return ctx.reply.error(
        "ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or OPTOUT mode enabled");
  }
  if (equalsIgnoreCase(ctx.args[2], "yes")) {
    if (!mode.optin) return ctx.reply.error("ERR CLIENT CACHING YES is only valid when tracking is enabled in OPTIN mode.");
  } else if (equalsIgnoreCase(ctx.args[2], "no")) {
    if (!mode.optout) return ctx.reply.error("ERR CLIENT CACHING NO is only valid when tracking is enabled in OPTOUT mode.");
  } else {
    return ctx.reply.error(kSyntaxError);
  }
  mode.caching = true;
  ctx.reply.ok();
}

void clientGetredir(CommandContext& ctx) {
  const TrackingMode& mode = ctx.client->session().tracking;
  ctx.reply.integer(mode.on ? static_cast<long long>(mode.redirect) : -1);
}

void clientTrackinginfo(CommandContext& ctx) {
  const TrackingMode& mode = ctx.client->session().tracking;
  std::vector<std::string_view> flags{mode.on ? "on" : "off"};
  if (mode.bcast) flags.push_back("bcast");
  if (mode.optin) flags.push_back("optin");
  if (mode.optin && mode.caching) flags.push_back("caching-yes");
  if (mode.optout) flags.push_back("optout");
  if (mode.optout && mode.caching) flags.push_back("caching-no");
  if (mode.noloop) flags.push_back("noloop");
  if (mode.brokenRedirect) flags.push_back("broken_redirect");
  ctx.reply.map(3);
  ctx.reply.bulk("flags");
  ctx.reply.set(flags.size());
  for (std::string_view f : flags) ctx.reply.bulk(f);
  ctx.reply.bulk("redirect");
  ctx.reply.integer(mode.on ? static_cast<long long>(mode.redirect) : -1);
  ctx.reply.bulk("prefixes");
  ctx.reply.array(mode.prefixes.size());
  for (const std::string& p : mode.prefixes) ctx.reply.bulk(p);
}

void trackingMessage(CommandContext& ctx) {
  Tracking* tracking = ctx.worker.tracking();
  const auto note = peer::decodeTrackingNote(ctx.args);
  if (tracking == nullptr || !note) return ctx.reply.error("ERR malformed Tracking message");
  const int worker = static_cast<int>(note->worker);
  using What = peer::TrackingNote::What;
  switch (note->what) {
    case What::Keys:
      return tracking->invalidate(note->client, note->other, note->items, false);
    case What::Broadcast:
      return tracking->invalidate(note->client, 0, note->items, true);
    case What::Redirected:
      return tracking->redirected(note->client, note->other, worker, note->items[0], note->flag);
    case What::Broken:
      return tracking->redirectBroken(note->client);
    case What::Found:
      return tracking->redirectFound(note->client, worker);
    case What::Prefixes:
      return tracking->addPrefixes(note->client, worker, note->flag, note->items);
    case What::Unprefix:
      return tracking->dropPrefixes(note->client);
    case What::Remember:
      return tracking->remember(note->client, worker, note->items);
  }
}

void hasClient(CommandContext& ctx) {
  const auto id = peer::decodeHasClient(ctx.args);
  const Client* c = nullptr;
  if (id) {
    const auto& clients = ctx.worker.clients();
    if (auto it = clients.find(*id); it != clients.end()) c = it->second.get();
  }
  ctx.reply.integer(c != nullptr && !c->closed() ? 1 : 0);
}

}  // namespace keyloop::commands

// ---- this family's rows of the command table (command_families.h) ----
// (CLIENT TRACKING's rows are CLIENT's subcommands: commands/connection.cpp.)

namespace keyloop {

std::span<const CommandSpec> trackingCommands() {
  using namespace commands;
  // clang-format off
  static constexpr CommandSpec kRows[] = {
      {.name = "peer-tracking", .arity = 0, .flags = 0,
       .handler = trackingMessage, .peer = peer::Kind::Tracking},
      {.name = "peer-hasclient", .arity = 0, .flags = 0,
       .handler = hasClient, .peer = peer::Kind::HasClient},
  };
  // clang-format on
  return kRows;
}

}  // namespace keyloop
