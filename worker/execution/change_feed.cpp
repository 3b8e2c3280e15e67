#include "worker/execution/change_feed.h"

#include <algorithm>

#include "common/ring/ring.h"
#include "worker/execution/command_table.h"

namespace keyloop {

void ChangeFeed::addConsumer(FeedConsumer* consumer) {
  if (std::find(consumers_.begin(), consumers_.end(), consumer) == consumers_.end()) consumers_.push_back(consumer);
}

bool ChangeFeed::anyAccepting() const {
  return std::any_of(consumers_.begin(), consumers_.end(), [](const FeedConsumer* c) { return c->accepting(); });
}

void ChangeFeed::beginAtomic() {
  for (FeedConsumer* c : consumers_) {
    if (c->accepting()) c->beginAtomic();
  }
}

void ChangeFeed::endAtomic() {
  for (FeedConsumer* c : consumers_) {
    if (c->accepting()) c->endAtomic();
  }
}

void ChangeFeed::recordCommand(int db, std::span<const std::string_view> command) {
  for (FeedConsumer* c : consumers_) {
    if (c->accepting()) c->append(db, command);
  }
}

void ChangeFeed::recordState(int db, std::string_view key, const Store::Entry* entry) {
  for (FeedConsumer* c : consumers_) {
    if (c->accepting()) c->appendState(db, key, entry);
  }
}

void ChangeFeed::record(const CommandRun& run, const Effects& effects) {
  const CommandSpec& spec = run.spec;
  const std::span<const std::string_view> args = run.ctx.args;
  std::vector<std::pair<std::string_view, std::size_t>> keys;  // key, its group
  bool oneSlot = true;
  forEachKey(spec, args, [&](std::size_t i, std::size_t group) {
    if (!keys.empty() && ring::slotOf(args[i]) != ring::slotOf(keys.front().first)) oneSlot = false;
    keys.emplace_back(args[i], group);
    return true;
  });
  if (keys.empty() || oneSlot) {
    const std::vector<PropagatedCommand> forms = propagatedForm(run, effects);
    FeedBlock block(forms.size() > 1 ? this : nullptr);
    for (const PropagatedCommand& form : forms) {
      const std::vector<std::string_view> views(form.begin(), form.end());
      for (FeedConsumer* c : consumers_) {
        if (c->accepting()) c->append(run.ctx.db, views);
      }
    }
    return;
  }
  // No single worker could redo it: each written key as it is now. Keys of
  // a read-only (RO) group are only read.
  FeedBlock block(this);
  const std::vector<std::string_view> groups = keyFlagGroups(spec, args);
  std::vector<std::string_view> done;
  for (const auto& [key, group] : keys) {
    const bool written = groups.empty() || flagsOfGroup(groups, group).substr(0, 2) != "RO";
    if (!written || std::find(done.begin(), done.end(), key) != done.end()) continue;
    done.push_back(key);
    recordState(run.ctx.db, key, run.ctx.store.find(key, run.ctx.nowMs));
  }
}

}  // namespace keyloop
