#include "worker/worker_process.h"

#include <csignal>

#include "worker/server.h"

namespace keyloop {

int runWorker(const Config& config, const WorkerSetup& setup, Log& log) {
  Loop loop;
  // First, before the server's thread pool exists (threads inherit masks).
  SignalWatcher signals(loop);
  Server server(loop, config, log);
  server.setPort(setup.port);
  Router router(loop, setup.slot, setup.links,
                [&server](std::span<const std::string_view> args, resp::Protocol protocol, Router::Done done) {
                  server.executeRouted(args, protocol, std::move(done));
                });
  server.setRouter(&router);
  server.setSharedMetrics(setup.metrics, setup.slot);

  Timer drainCheck(loop), drainDeadline(loop);
  auto stopAll = [&] {
    server.shutdown();
    signals.stop();
    drainCheck.stop();
    drainDeadline.stop();
  };
  signals.start({SIGTERM, SIGINT, SIGQUIT, SIGHUP}, [&](int signo) {
    if (signo == SIGHUP) {
      // The master validated this text and published it before signalling.
      if (setup.configText == nullptr) return;
      const ipc::SharedText::Snapshot published = setup.configText->read();
      ConfigResult next = parseConfig(published.text, config.path);
      if (auto* c = std::get_if<Config>(&next)) {
        server.applyConfig(*c);
        log.configure(c->logLevel, c->logFile);
      }
      // The master answers the reload once every worker says it has it.
      if (setup.metrics) setup.metrics->at(setup.slot).configVersion.store(published.version);
      return;
    }
    if (signo != SIGQUIT) return stopAll();
    log.notice("Worker %d draining", setup.slot);
    server.drain();
    // Peers may still forward requests for our keys while their own
    // clients drain: leave only once no worker has a client left (the
    // shared per-slot counts), so every forwarded request gets its answer.
    drainCheck.start(std::chrono::milliseconds(50), std::chrono::milliseconds(50), [&] {
      if (server.drained() && router.inFlight() == 0 && server.clientsEverywhere() == 0) stopAll();
    });
    drainDeadline.start(std::chrono::milliseconds(server.config().drainTimeoutMs), [&] {  // as reloaded
      log.warning("Worker %d: drain_timeout reached, closing remaining clients", setup.slot);
      stopAll();
    });
  });
  // Forked with the master's current settings: current as of this version.
  if (setup.metrics && setup.configText) setup.metrics->at(setup.slot).configVersion.store(setup.configText->version());
  server.serve(setup.listenFds);
  log.verbose("Worker %d serving", setup.slot);
  loop.run();
  return 0;
}

}  // namespace keyloop
