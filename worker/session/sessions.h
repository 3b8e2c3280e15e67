// Sessions: the session layer as Dispatch sees it (dispatch.h:
// SessionLayer): MULTI's queue and its refusals, a transaction ended by
// EXECABORT, a client's transaction, watches and subscriptions gone with
// it, subscriptions a connection brings from a retiring worker. The
// worker registers one (Dispatch::setSessions).
#pragma once

#include "worker/dispatch/dispatch.h"

namespace keyloop {

class Sessions final : public SessionLayer {
 public:
  explicit Sessions(Dispatch& dispatch) : dispatch_(dispatch) {}

  void queue(Client& client, const ResolvedCommand& command, std::span<const std::string_view> args) override;
  void refused(Client& client) override;
  void endTransaction(Client& client) override;
  void clientGone(Client& client) override;
  void resubscribe(Client& client, std::span<const std::vector<std::string>> subscriptions) override;
  void feedMonitors(const Client* client, const CommandSpec& spec, std::span<const std::string_view> args, int db,
                    bool elsewhere) override;

 private:
  Dispatch& dispatch_;
};

}  // namespace keyloop
