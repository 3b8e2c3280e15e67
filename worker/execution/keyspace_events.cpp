#include "worker/execution/keyspace_events.h"

#include <utility>

#include "worker/execution/command_table.h"
#include "worker/keyspace/store.h"
#include "worker/execution/worker_services.h"

namespace keyloop::keyspace_events {

void notify(std::uint32_t flags, char type, std::string_view event, std::string_view key, int db,
            const Publish& publish) {
  if (!(flags & classOf(type)) || event.empty()) return;
  const std::string number = std::to_string(db);
  if (flags & kKeyspace) publish("__keyspace@" + number + "__:" + std::string(key), event);
  if (flags & kKeyevent) publish("__keyevent@" + number + "__:" + std::string(event), key);
}

Recorder::Recorder(std::uint32_t flags, const CommandSpec& spec, CommandContext& ctx)
    : flags_(flags), spec_(spec), ctx_(ctx) {
  if (flags_ == 0 || keyEventsOf(spec_) == nullptr) return;
  forEachKey(spec_, ctx_.args, [&](std::size_t i, std::size_t group) {
    const Store::Entry* e = ctx_.store.find(ctx_.args[i], ctx_.nowMs);
    keys_.push_back({i, group, e != nullptr, e != nullptr ? Store::expireAt(e) : kNoExpiry});
    return true;
  });
}

void publishRaised(std::uint32_t flags, std::span<const RaisedEvent> events, int db, const Publish& publish) {
  for (const RaisedEvent& e : events) notify(flags, e.type, e.event, e.key, e.db >= 0 ? e.db : db, publish);
}

void Recorder::collect(const Effects& effects, std::vector<RaisedEvent>& out) const {
  const KeyEventSpec* events = keys_.empty() ? nullptr : keyEventsOf(spec_);
  collectDeclared(events, effects, out);
  if (!effects.failed && flags_ != 0) out.insert(out.end(), effects.raised.begin(), effects.raised.end());
}

void Recorder::collectDeclared(const KeyEventSpec* events, const Effects& effects, std::vector<RaisedEvent>& out) const {
  if (events == nullptr || !effects.changed()) return;
  auto emit = [&](char type, std::string_view event, std::string_view key) { out.push_back({type, event, key}); };
  bool first = true;
  for (const Before& before : keys_) {
    const bool isFirst = std::exchange(first, false);
    if (events->firstKeyOnly && !isFirst) continue;
    const std::string_view key = ctx_.args[before.index];
    std::string_view event = events->event;
    if (events->eventOf != nullptr) event = events->eventOf(ctx_.args, before.index, before.group);
    else if (before.group == 1 && !events->second.empty()) event = events->second;
    else if (before.group == 1 && events->event.empty()) continue;
    if (event.empty()) continue;
    const Store::Entry* now = ctx_.store.find(key, ctx_.nowMs);
    const bool exists = now != nullptr;
    const std::int64_t expireAt = exists ? Store::expireAt(now) : kNoExpiry;
    if (!before.existed && !exists) continue;  // nothing happened to it
    if (!before.existed) emit('n', "new", key);
    const char type = events->type;
    switch (events->rule) {
      case KeyEventSpec::EventOrDel:
        exists ? emit(type, event, key) : emit('g', "del", key);
        break;
      case KeyEventSpec::TtlChange:
        if (exists && expireAt != before.expireAt) emit('g', expireAt == kNoExpiry ? "persist" : "expire", key);
        break;
      case KeyEventSpec::SetWithTtl:
        emit(type, event, key);
        if (exists && expireAt != kNoExpiry && expireAt != before.expireAt) emit('g', "expire", key);
        break;
      case KeyEventSpec::Renames:
        emit(type, event, key);
        break;
      case KeyEventSpec::Plain:
        emit(type, event, key);
        if (before.existed && !exists && event != "del") emit('g', "del", key);
        break;
    }
  }
}

std::string_view keyOf(std::string_view channel, std::string_view message) {
  constexpr std::string_view kKeyspace = "__keyspace@";
  if (channel.substr(0, kKeyspace.size()) != kKeyspace) return message;
  const std::size_t end = channel.find("__:", kKeyspace.size());
  return end == std::string_view::npos ? message : channel.substr(end + 3);
}

void runRecorded(const CommandSpec& spec, CommandContext& ctx) {
  const std::uint32_t flags = ctx.events != nullptr && (spec.flags & kWrite) ? ctx.worker.config().notifyKeyspaceEvents : 0;
  Recorder recorder(flags, spec, ctx);
  Effects effects = runHandler(spec, ctx);
  if (flags == 0) return;
  recorder.collect(effects, effects.events);
  publishRaised(flags, effects.events, ctx.db, *ctx.events);
}

}  // namespace keyloop::keyspace_events
