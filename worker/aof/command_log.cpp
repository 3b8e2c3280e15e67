#include "worker/aof/command_log.h"

#include <algorithm>
#include <string_view>
#include <vector>

#include "common/ring/ring.h"
#include "worker/aof/aof_log.h"
#include "worker/command_table.h"
#include "worker/store.h"

namespace keyloop {

void logWrite(AofLog& log, const CommandRun& run, const Effects& effects) {
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
    AofAtomic block(forms.size() > 1 ? &log : nullptr);
    for (const PropagatedCommand& form : forms) {
      const std::vector<std::string_view> views(form.begin(), form.end());
      log.append(views);
    }
    return;
  }
  AofAtomic block(&log);
  // Keys of a read-only (RO) group are only read: not logged.
  const std::vector<std::string_view> groups = keyFlagGroups(spec, args);
  std::vector<std::string_view> done;
  for (const auto& [key, group] : keys) {
    const bool written = groups.empty() || groups[std::min(group, groups.size() - 1)].substr(0, 2) != "RO";
    if (!written || std::find(done.begin(), done.end(), key) != done.end()) continue;
    done.push_back(key);
    log.appendState(key, run.ctx.store.find(key, run.ctx.nowMs));
  }
}

}  // namespace keyloop
