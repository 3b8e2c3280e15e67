#include "worker/aof/command_log.h"

#include <algorithm>
#include <vector>

#include "common/ring/ring.h"
#include "worker/aof/aof_log.h"
#include "worker/command_table.h"
#include "worker/store.h"

namespace keyloop {

namespace {

// Whether key group `group` of the table's key flags ("RW access update;OW
// update") may be written: anything but a read-only (RO) group.
bool groupWrites(std::string_view keyFlags, std::size_t group) {
  for (std::size_t i = 0; i < group; ++i) {
    const std::size_t next = keyFlags.find(';');
    if (next == std::string_view::npos) break;
    keyFlags.remove_prefix(next + 1);
  }
  return keyFlags.substr(0, 2) != "RO";
}

}  // namespace

void logWrite(AofLog& log, const CommandSpec& spec, std::span<const std::string_view> args, Store& store,
              std::int64_t nowMs) {
  std::vector<std::pair<std::string_view, std::size_t>> keys;  // key, its group
  bool oneSlot = true;
  forEachKey(spec, args, [&](std::size_t i, std::size_t group) {
    if (!keys.empty() && ring::slotOf(args[i]) != ring::slotOf(keys.front().first)) oneSlot = false;
    keys.emplace_back(args[i], group);
    return true;
  });
  if (keys.empty() || (oneSlot && !(spec.flags & kLoggedAsEffect))) {
    log.append(args);
    if (!(spec.flags & kRelativeExpiry) || keys.empty()) return;
    if (const Store::Entry* e = store.find(keys.front().first, nowMs); e != nullptr && Store::expireAt(e) != kNoExpiry) {
      log.appendExpireAt(keys.front().first, Store::expireAt(e));
    }
    return;
  }
  AofAtomic block(&log);
  std::vector<std::string_view> done;
  for (const auto& [key, group] : keys) {
    if (!groupWrites(spec.keyFlags, group) || std::find(done.begin(), done.end(), key) != done.end()) continue;
    done.push_back(key);
    log.appendState(key, store.find(key, nowMs));
  }
}

}  // namespace keyloop
