#include "worker/session/sessions.h"

#include "worker/session/pubsub.h"
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
}

void Sessions::resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) {
  pubsub::adopt(dispatch_, client, subscriptions);
}

}  // namespace keyloop
