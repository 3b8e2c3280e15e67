#include "worker/execution/effects.h"

#include "common/text/text.h"
#include "worker/execution/command_table.h"

#include <new>
#include <stdexcept>
#include <utility>

namespace keyloop {

void Effects::settle(const CommandSpec& spec, resp::Reply::Began began) {
  failed = began == resp::Reply::Began::Error;
  // A handler that said what it propagates changed something, whatever it
  // answered (SET k v GET of a missing key answers null and sets it).
  noChange = noChange || (!rewritten && (spec.flags & kNoneIsNoChange) && began == resp::Reply::Began::ZeroOrNull);
  dirty = (spec.flags & kWrite) && changed() ? 1 : 0;
}

void runGuarded(void (*handler)(CommandContext&), CommandContext& ctx) {
  const std::size_t replyStart = ctx.reply.buffer().size();
  auto refuse = [&] {
    ctx.reply.buffer().resize(replyStart);
    ctx.reply.error("OOM command not allowed: the worker could not allocate the memory it needs");
  };
  try {
    handler(ctx);
  } catch (const std::bad_alloc&) {
    refuse();
  } catch (const std::length_error&) {
    refuse();
  }
}

Effects runHandler(const CommandSpec& spec, CommandContext& ctx) {
  const std::size_t replyStart = ctx.reply.buffer().size();
  ctx.reply.markStart();
  Effects effects;
  Effects* outer = std::exchange(ctx.effects, &effects);
  runGuarded(spec.handler, ctx);
  ctx.effects = outer;
  effects.settle(spec, ctx.reply.beganWith(replyStart));
  return effects;
}

std::vector<PropagatedCommand> propagatedForm(const CommandRun& run, const Effects& effects) {
  const std::uint32_t flags = run.spec.flags;
  if (!(flags & kWrite) || run.spec.peer != peer::Kind::None || !effects.changed()) return {};
  if (effects.rewritten) return effects.propagate;
  return {PropagatedCommand(run.ctx.args.begin(), run.ctx.args.end())};
}

std::vector<KeyTouch> keysTouched(const CommandRun& run, const Effects& effects) {
  const std::span<const std::string_view> args = run.ctx.args;
  const std::vector<std::string_view> groups = keyFlagGroups(run.spec, args);
  const bool writes = (run.spec.flags & kWrite) && effects.changed();
  std::vector<KeyTouch> touched;
  forEachKey(run.spec, args, [&](std::size_t i, std::size_t group) {
    bool read = false, written = false;
    for (std::string_view flag : splitOn(flagsOfGroup(groups, group), ' ')) {
      if (equalsIgnoreCase(flag, "RO") || equalsIgnoreCase(flag, "access")) read = true;
      if (equalsIgnoreCase(flag, "RW") || equalsIgnoreCase(flag, "OW") || equalsIgnoreCase(flag, "RM")) written = writes;
    }
    touched.push_back({run.ctx.db, args[i], read, written});
    return true;
  });
  if (writes) {
    for (const KeyInDatabase& k : effects.elsewhere) touched.push_back({k.db, k.key, false, true});
  }
  return touched;
}

void CommandObservers::add(std::unique_ptr<CommandObserver> observer) {
  interest_ |= observer->flags() | observer->beforeFlags();
  if (observer->beforeFlags() != 0) before_.push_back({observer->beforeFlags(), observer.get()});
  if (observer->flags() != 0) after_.push_back({observer->flags(), observer.get()});
  owned_.push_back(std::move(observer));
}

void CommandObservers::before(const CommandRun& run) {
  for (const Registered& r : before_) {
    if (run.spec.flags & r.flags) r.observer->before(run);
  }
}

void CommandObservers::after(const CommandRun& run, const Effects& effects) {
  for (const Registered& r : after_) {
    if (run.spec.flags & r.flags) r.observer->after(run, effects);
  }
}

}  // namespace keyloop
