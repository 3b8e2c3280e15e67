// runWorker (common/ipc/worker_start.h): the body of one worker process
// after fork, its Server, Store and Router.
#include "common/ipc/worker_start.h"

#include <csignal>
#include <functional>
#include <memory>
#include <utility>

#include "common/ipc/control.h"
#include "common/ipc/messages.h"
#include "worker/migration.h"
#include "worker/server.h"

namespace keyloop {

namespace {

// How a worker ends: SIGQUIT (the whole server drains) or a reload that
// retired it (only its own clients matter: nobody routes to it any more).
class Leaving {
 public:
  Leaving(Loop& loop, Server& server, Router& router, Log& log, int slot, int control, std::function<void()> stop)
      : server_(server), router_(router), log_(log), slot_(slot), control_(control), stop_(std::move(stop)),
        check_(loop), deadline_(loop), hardStop_(loop), handOver_(loop) {}

  // retired: a reload replaced this worker. Its clients move to the new
  // generation, each as soon as it is between two requests (through the
  // master, which picks a new worker); a client never notices. Otherwise
  // (SIGQUIT) idle clients are closed.
  void drain(bool retired) {
    retired_ = retired_ || retired;
    if (draining_) return;
    draining_ = true;
    if (!retired_) server_.connections().stopAccepting();
    log_.notice("Worker %d draining", slot_);
    server_.connections().drain(/*closeIdle=*/!retired_);
    if (retired_) {
      // After every poll: clients reach request boundaries in I/O
      // callbacks, and the last one leaving is one too.
      handOver_.start([this] {
        server_.connections().handOverIdleClients([this](int fd, const ipc::ClientState& state) {
          const int fds[] = {fd};
          return ipc::sendControl(control_, ipc::encode(ipc::PassClient{state}), fds);
        });
        leaveIfDone();
      });
    } else {
      // SIGQUIT: whether the other workers' clients are gone is only in
      // their shared counters; nothing tells us, so look every 50 ms.
      check_.start(std::chrono::milliseconds(50), std::chrono::milliseconds(50), [this] { leaveIfDone(); });
    }
    deadline_.start(std::chrono::milliseconds(server_.config().drainTimeoutMs), [this] {  // as reloaded
      log_.warning("Worker %d: drain_timeout reached, finishing remaining clients", slot_);
      finishNow();
    });
  }

  // Every client ends at its next request boundary; gone for good after
  // the linger time.
  void finishNow() {
    server_.connections().finishClients();
    if (std::exchange(finishing_, true)) return;
    hardStop_.start(Client::kLinger + std::chrono::milliseconds(500), stop_);
  }

  // Instead of exiting once drained (SIGQUIT), tell() once and wait.
  void waitForFinalSave(std::function<void()> tell) { drained_ = std::move(tell); }

  void stop() {
    handOver_.stop();
    check_.stop();
    deadline_.stop();
    hardStop_.stop();
  }

 private:
  void leaveIfDone() {
    if (!server_.connections().drained() || router_.inFlight() != 0 || !router_.allWritten()) return;
    // Peers may still forward requests for our keys while their own
    // clients drain: leave only once no worker has a client left (the
    // shared per-slot counts), so every forwarded request gets its answer.
    // A retired worker owns no key: nobody forwards to it.
    if (!retired_ && server_.connections().everywhere() != 0) return;
    // Sockets that go away: what is still queued is served, not reset.
    if (retired_ && server_.connections().acceptQueued() > 0) return;
    if (!retired_ && drained_) {
      check_.stop();
      deadline_.stop();
      return std::exchange(drained_, nullptr)();
    }
    stop_();
  }

  Server& server_;
  Router& router_;
  Log& log_;
  int slot_;
  int control_;
  std::function<void()> stop_;
  std::function<void()> drained_;
  bool draining_ = false, retired_ = false, finishing_ = false;
  Timer check_, deadline_, hardStop_;
  Check handOver_;  // a retired worker's hand-over of its clients, and its exit
};

}  // namespace

int runWorker(const Config& config, const WorkerSetup& setup, Log& log) {
  Loop loop;
  // First, before the server's thread pool exists (threads inherit masks).
  SignalWatcher signals(loop);
  Server server(loop, config, log);
  server.setPort(setup.port);
  Router router(loop, setup.slot, setup.links,
                [&server](std::span<const std::string_view> args, resp::Protocol protocol, int db, Router::Origin origin,
                    Router::Done done) {
                  server.dispatch().executeRouted(args, protocol, db, std::move(done), origin);
                });
  server.setRouter(&router);
  server.setSharedMetrics(setup.metrics, setup.metricsIndex);
  Migration migration(loop, server, router, log, setup.slot);
  for (const Router::Link& guest : setup.guests) router.addGuest(guest);
  migration.expectArrivals(setup.handOvers);
  migration.setOnArrived([&server] { server.connections().startAccepting(); });
  std::vector<std::unique_ptr<ipc::ChannelMemory>> nextChannels;  // received over the control socket

  IoWatcher control(loop, setup.control);
  std::function<void()> stopAll;
  Leaving leaving(loop, server, router, log, setup.slot, setup.control, [&stopAll] { stopAll(); });
  stopAll = [&] {
    server.shutdown();
    signals.stop();
    control.stop();
    leaving.stop();
  };

  auto tellMaster = [&setup](const ipc::ControlMessage& message) {
    ipc::sendControl(setup.control, ipc::encode(message));
  };
  server.persistence()->setSlot(setup.slot, tellMaster);
  // SIGQUIT with save rules: drained, the worker waits for the final snapshot.
  if (!config.persistence.save.empty()) leaving.waitForFinalSave([&tellMaster] { tellMaster(ipc::Drained{}); });
  if (setup.handOvers == 0) {  // a reload's new worker gets its keys from the retiring one instead
    const int slot = setup.slot;
    auto owns = [&router, slot](std::string_view key) { return router.ring().ownerOf(key) == slot; };
    if (Status loaded = server.persistence()->loadAtStart(owns); !loaded) {
      log.warning("Worker %d: %s", setup.slot, loaded.error().c_str());
      log.warning("Fatal error loading the DB: keyloop will not start with part of it. Exiting.");
      return kExitDataRefused;
    }
  }
  if (Status started = server.persistence()->startLog(router.workers()); !started) {
    log.warning("Worker %d: %s", setup.slot, started.error().c_str());
    return kExitDataRefused;
  }
  auto onControl = [&](ipc::ControlMessage& message, std::vector<UniqueFd>& fds) {
    if (server.persistence()->onControl(message)) return;
    if (std::holds_alternative<ipc::LinkNext>(message) && fds.size() == 6) {
      auto out = ipc::ChannelMemory::attach(std::move(fds[0]), std::move(fds[1]), std::move(fds[2]));
      auto in = ipc::ChannelMemory::attach(std::move(fds[3]), std::move(fds[4]), std::move(fds[5]));
      for (const auto* attached : {&out, &in}) {
        if (!*attached) {
          return log.warning("Worker %d: channel to the next generation: %s", setup.slot, attached->error().c_str());
        }
      }
      auto& outChannel = *out;
      auto& inChannel = *in;
      router.addNext(std::get<ipc::LinkNext>(message).peer, {outChannel.get(), inChannel.get()});
      nextChannels.push_back(std::move(outChannel));
      nextChannels.push_back(std::move(inChannel));
    } else if (auto* handOver = std::get_if<ipc::HandOver>(&message); handOver != nullptr && !migration.retiring()) {
      if (setup.setTitle) {
        // `ps` shows where the hand-over is: "... is retiring (copying)".
        migration.observePhases([&setup](const char* phase) {
          setup.setTitle("keyloop: worker process " + std::to_string(setup.slot) + " is retiring (" + phase + ")");
        });
      }
      const std::vector<int> keep(handOver->keep.begin(), handOver->keep.end());
      migration.retire(handOver->workers, [&server, keep] { server.connections().stopAccepting(keep); },
                       [&](std::uint64_t keys, Duration took, Duration held) {
                         tellMaster(ipc::HandedOver{keys, took.count(), held.count()});
                         leaving.drain(/*retired=*/true);
                       });
    } else if (auto* adopt = std::get_if<ipc::AdoptClient>(&message); adopt != nullptr && fds.size() == 1) {
      server.connections().adoptClient(std::move(fds[0]), adopt->state);
    } else if (auto* gone = std::get_if<ipc::RetireeGone>(&message)) {
      migration.forgetRetiring(gone->slot);
    } else if (std::holds_alternative<ipc::FinishClients>(message)) {
      leaving.finishNow();
    }
  };
  if (setup.control >= 0) {
    control.unref();  // the master going away is PR_SET_PDEATHSIG's business (SIGKILL)
    control.start(kReadable, [&](std::uint32_t) {
      bool closed = false;
      while (auto received = ipc::receiveControl(setup.control, closed)) {
        if (auto message = ipc::decodeControl(received->bytes)) onControl(*message, received->fds);
      }
      if (closed) control.stop();
    });
  }

  signals.start({SIGTERM, SIGINT, SIGQUIT, SIGHUP}, [&](int signo) {
    if (signo == SIGHUP) {
      // The master validated this text and published it before signalling.
      if (setup.configText == nullptr) return;
      const ipc::SharedText::Snapshot published = setup.configText->read();
      ConfigResult next = parseConfig(published.text, config.path);
      if (const Config* c = next ? &*next : nullptr) {
        server.applyConfig(*c);
        // A log file that cannot be opened keeps the current one (the
        // master said why when it checked the reload).
        (void)log.configure(c->logLevel, c->logFile);
      }
      // The master answers the reload once every worker says it has it.
      return tellMaster(ipc::ConfigApplied{published.version});
    }
    if (signo == SIGQUIT) return leaving.drain(/*retired=*/false);
    // A terminal's Ctrl-C reaches every process of the group: the master
    // acts on it for all (its final snapshot needs the workers alive).
    if (signo == SIGINT) return;
    stopAll();
  });
  server.serve(setup.listenFds, /*acceptNow=*/setup.handOvers == 0);
  tellMaster(ipc::Serving{});
  // Forked with the master's current settings: current as of this version.
  if (setup.configText) tellMaster(ipc::ConfigApplied{setup.configText->version()});
  log.verbose("Worker %d serving", setup.slot);
  loop.run();
  return 0;
}

}  // namespace keyloop
