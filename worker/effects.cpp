#include "worker/effects.h"

#include "worker/command_table.h"

namespace keyloop {

Effects effectsOf(const CommandSpec& spec, resp::Reply::Began began) {
  Effects effects;
  effects.failed = began == resp::Reply::Began::Error;
  effects.noChange = (spec.flags & kNoneIsNoChange) && began == resp::Reply::Began::ZeroOrNull;
  effects.dirty = (spec.flags & kWrite) && effects.changed() ? 1 : 0;
  return effects;
}

void CommandObservers::add(std::unique_ptr<CommandObserver> observer) {
  interest_ |= observer->flags();
  observers_.push_back(std::move(observer));
}

void CommandObservers::before(const CommandRun& run) {
  for (const std::unique_ptr<CommandObserver>& o : observers_) {
    if (run.spec.flags & o->flags()) o->before(run);
  }
}

void CommandObservers::after(const CommandRun& run, const Effects& effects) {
  for (const std::unique_ptr<CommandObserver>& o : observers_) {
    if (run.spec.flags & o->flags()) o->after(run, effects);
  }
}

}  // namespace keyloop
