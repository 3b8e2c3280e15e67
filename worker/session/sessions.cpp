#include "worker/session/sessions.h"

#include "worker/connection/client.h"
#include "worker/execution/peer_messages.h"
#include "worker/execution/worker_services.h"
#include "worker/session/monitors.h"
#include "worker/session/pubsub.h"
#include "worker/session/tracking.h"
#include "worker/session/transaction.h"

namespace keyloop {

void Sessions::queue(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args) {
  transaction::queue(client, command, args);
}

void Sessions::refused(Client& client) { transaction::refused(client); }

void Sessions::endTransaction(Client& client) { transaction::forget(dispatch_, client); }

void Sessions::clientGone(Client& client) {
  transaction::forget(dispatch_, client);
  pubsub::forget(dispatch_, client);
  Monitors* monitors = dispatch_.services().monitors();
  if (client.session().monitoring && monitors != nullptr) monitors->remove(client.id());
  if (Tracking* tracking = dispatch_.services().tracking()) tracking->disable(client);
}

void Sessions::feedMonitors(const Client* client, const CommandSpec& spec, std::span<const std::string_view> args,
                            int db, bool elsewhere) {
  const std::string line = monitorLine(unixMicros(), db, client != nullptr ? std::string_view(client->peer()) : "lua",
                                       spec, args);
  if (Monitors* monitors = dispatch_.services().monitors()) monitors->deliver(line);
  if (elsewhere) dispatch_.services().postToPeers(peer::encode(peer::MonitorLine{line}).args());
}

void Sessions::resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) {
  pubsub::adopt(dispatch_, client, subscriptions);
  Monitors* monitors = dispatch_.services().monitors();
  if (client.session().monitoring && monitors != nullptr) monitors->add(client.id());
}

}  // namespace keyloop
