// The master's part of snapshots: BGSAVE / SAVE / SHUTDOWN asked by a
// worker's client, the save rules, and the save before exiting.
#include <csignal>

#include "master/master.h"
#include "master/notify.h"
#include "common/ipc/control.h"

namespace keyloop {

namespace {

std::string errorReply(const std::string& text) { return "-" + text + "\r\n"; }

}  // namespace

bool Master::onSnapshotMessage(int slot, const ipc::ControlMessage& message) {
  if (auto* written = std::get_if<ipc::SnapshotWritten>(&message)) {
    snapshots_->onWritten(slot, *written);
  } else if (auto* begun = std::get_if<ipc::SnapshotBegun>(&message)) {
    snapshots_->onBegun(slot, *begun);
  } else if (auto* asked = std::get_if<ipc::SaveAsked>(&message)) {
    onSaveAsked(slot, *asked);
  } else if (auto* held = std::get_if<ipc::WritesHeld>(&message)) {
    onWritesHeld(slot, *held);
  } else if (auto* rules = std::get_if<ipc::PersistenceSet>(&message)) {
    Config next = config();
    if (auto parsed = parseSaveRules(rules->rules)) next.persistence.save = *parsed;
    next.persistence.stopWritesOnError = rules->stopWritesOnError;
    next.persistence.aofEnabled = rules->aofEnabled;  // the log follows within a second (checkLogRules)
    serving_->updateSettings(std::move(next));
  } else if (std::holds_alternative<ipc::Drained>(message)) {
    if (static_cast<std::size_t>(slot) < drained_.size()) drained_[static_cast<std::size_t>(slot)] = true;
    if (std::find(drained_.begin(), drained_.end(), false) != drained_.end() || finalSnapshot_) return true;
    stopAfterSaving(/*save=*/true, /*force=*/true, [](const Status&) {});
  } else {
    return false;
  }
  return true;
}

Status Master::startSnapshot(bool final) {
  if (snapshots_->rewriting() || rewrite_) {
    return fail("ERR An AOF log rewriting in progress: can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a "
           "BGSAVE whenever possible.");
  }
  if (snapshots_->running()) return fail("ERR Background save already in progress");
  // Once handed over, a retiring generation owns no key: only the hand-over itself is in the way.
  if (step_ != ReloadStep::Idle) return fail("ERR keyloop is reloading; BGSAVE again once the reload is done");
  auto send = [this](int slot, const ipc::ControlMessage& m) { return sendToWorker(slot, m); };
  Snapshots::Options options;
  options.final = final;
  snapshots_->start(config().persistence, serving_->workers(), send, options);
  return {};
}

void Master::answerSave(int slot, std::uint64_t token, const std::string& reply) {
  const WorkerSlot& s = serving_->slot(slot);
  if (s.pid > 0 && s.control) ipc::sendControl(s.control.get(), ipc::encode(ipc::SaveReply{token, reply}));
}

void Master::onSaveAsked(int slot, const ipc::SaveAsked& asked) {
  using Kind = ipc::SaveKind;
  auto answer = [this, slot, token = asked.token](const std::string& reply) { answerSave(slot, token, reply); };
  switch (asked.kind) {
    case Kind::Background:
    case Kind::Scheduled: {
      // Answered once every worker's part holds the keys as of now, as
      // Redis answers after its fork: what the client writes next is not in it.
      if (Status started = startSnapshot(/*final=*/false); !started) return answer(errorReply(started.error()));
      return snapshots_->whenBegun([answer](const Status& begun) {
        answer(begun ? "+Background saving started\r\n" : errorReply("ERR Background saving failed: " + begun.error()));
      });
    }
    case Kind::Rewrite: {
      // A save running: the rewrite follows it (Redis's "scheduled").
      if (snapshots_->running() && !snapshots_->rewriting()) {
        metrics_->aof().rewriteScheduled.store(true);
        return answer("+Background append only file rewriting scheduled\r\n");
      }
      const Status started = startRewrite([answer](const Status& begun) {
        answer(begun ? "+Background append only file rewriting started\r\n"
                     : errorReply("ERR Background append only file rewriting failed: " + begun.error()));
      });
      if (!started) answer(errorReply(started.error()));
      return;
    }
    case Kind::Save: {
      if (Status started = startSnapshot(/*final=*/false); !started) return answer(errorReply(started.error()));
      return snapshots_->whenDone([answer](const Status& saved) { answer(saved ? "+OK\r\n" : "-ERR\r\n"); });
    }
    default: {
      const bool save = asked.kind == Kind::ShutdownSave || (asked.kind == Kind::Shutdown && saveOnExit());
      log_.warning("User requested shutdown...");
      return stopAfterSaving(save, asked.force, [answer](const Status& saved) {
        if (!saved) answer("-ERR Errors trying to SHUTDOWN. Check logs.\r\n");
      });
    }
  }
}

void Master::checkSaveRules() {
  checkLogRules();
  if (stopping_ || finalSnapshot_ || !snapshots_->due(config().persistence)) return;
  const metrics::SnapshotStatus& status = metrics_->snapshots();
  log_.notice("%llu changes in the save rules' time: saving",
              static_cast<unsigned long long>(metrics_->totalChanges() - status.changesAtLastSave.load()));
  // Refused while a rewrite or a reload runs: the rule is checked again in a second.
  (void)startSnapshot(/*final=*/false);
}

void Master::stopAfterSaving(bool save, bool force, std::function<void(const Status& saved)> then) {
  if (finalSnapshot_) return;  // already on its way out
  if (!save) {
    then({});
    return stopWorkers();
  }
  auto saveNow = [this, force, then] {
    finalSnapshot_ = true;
    forceStop_.stop();  // a save takes as long as it takes (systemd's TimeoutStopSec bounds it)
    log_.notice("Saving the final RDB snapshot before exiting.");
    if (Status started = startSnapshot(/*final=*/true); !started) {
      finalSnapshot_ = false;
      then(started);
      return;
    }
    snapshots_->whenDone([this, force, then](const Status& saved) {
      if (!saved && !force) {
        log_.warning("Error trying to save the DB, can't exit.");
        finalSnapshot_ = false;
        stopping_ = false;
        // A worker that died meanwhile was not restarted (the server was stopping): now it is.
        for (int slot = 0; slot < serving_->workers(); ++slot) {
          if (serving_->slot(slot).pid <= 0) spawn(slot);
        }
        return then(saved);
      }
      then({});
      stopWorkers();
    });
  };
  // A background save under way: the final one follows it. A reload's
  // hand-over: once it is done (the keys are moving until then).
  if (snapshots_->running()) return snapshots_->whenDone([saveNow](const Status&) { saveNow(); });
  if (step_ != ReloadStep::Idle) {
    log_.notice("The final snapshot waits for the reload's hand-over to end.");
    afterReload_ = saveNow;
    return;
  }
  saveNow();
}

void Master::stopWorkers() {
  notifySystemd("STOPPING=1\nSTATUS=stopping");
  stopping_ = true;
  signalWorkers(SIGTERM);
  forceStop_.start(std::chrono::seconds(5), [this] { signalWorkers(SIGKILL); });
}

}  // namespace keyloop
