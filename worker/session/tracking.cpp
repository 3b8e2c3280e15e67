#include "worker/session/tracking.h"

#include <algorithm>

#include "common/text/text.h"
#include "worker/connection/client.h"
#include "worker/connection/connections.h"
#include "worker/dispatch/dispatch.h"
#include "worker/execution/command_table.h"
#include "worker/execution/peer_messages.h"

namespace keyloop {

namespace {

using What = peer::TrackingNote::What;

// One key's invalidation, as Redis sends it outside BCAST: an array of one.
std::string keysPayload(std::span<const std::string_view> keys) {
  std::string out = "*" + std::to_string(keys.size()) + "\r\n";
  for (std::string_view k : keys) {
    out += "$" + std::to_string(k.size()) + "\r\n";
    out.append(k);
    out += "\r\n";
  }
  return out;
}

// "Every key": the null of the tracking client's protocol (Redis's shared.null[c->resp]).
std::string nullPayload(Client& client) {
  return client.reply().protocol() == resp::Protocol::Resp3 ? "_\r\n" : "$-1\r\n";
}

}  // namespace

std::uint64_t trackedTag(const Client& client) {
  const TrackingMode& mode = client.session().tracking;
  const std::uint64_t noTouch = client.session().noTouch ? kTouchesNothing : 0;
  if (!mode.on) return noTouch;
  return client.id() | noTouch | (mode.remembersReads() ? kRemembersReads : 0);
}

TrackingCaller* callerFromTag(std::uint64_t tag, int worker, TrackingCaller& storage) {
  const std::uint64_t client = tag & ~(kRemembersReads | kTouchesNothing);
  if (client == 0 || worker < 0) return nullptr;
  storage = TrackingCaller{client, worker, (tag & kRemembersReads) != 0};
  return &storage;
}

bool remembersWhatItNames(const CommandSpec& spec) {
  // Redis remembers the keys a read-only command names; a script's own
  // keys only once a command inside it read (EVAL_RO and FCALL_RO too).
  return (spec.flags & kReadonly) != 0 && !(spec.acl & acl::kScripting);
}

// ---- the owner's side ----------------------------------------------------------

void Tracking::remember(std::uint64_t client, int worker, std::span<const std::string_view> keys) {
  for (std::string_view key : keys) {
    auto it = table_.find(key);
    if (it == table_.end()) it = table_.emplace(std::string(key), std::vector<Reader>{}).first;
    // Sorted: a key read by many connections (and by ones long gone, which
    // stay until the key changes, as in Redis) is looked up, not scanned.
    const Reader reader{client, worker};
    std::vector<Reader>& readers = it->second;
    const auto at = std::lower_bound(readers.begin(), readers.end(), reader);
    if (at != readers.end() && *at == reader) continue;
    readers.insert(at, reader);
    ++items_;
  }
  if (maxKeys_ != 0 && table_.size() > share()) keepUnderLimit();
}

void Tracking::keyChanged(std::string_view key, std::uint64_t writer, bool broadcast) {
  if (broadcast && !prefixes_.empty()) {
    for (auto& [prefix, state] : prefixes_) {
      if (key.substr(0, prefix.size()) != prefix) continue;
      state.changed[std::string(key)] = writer;
      if (!broadcastSoon_) {
        broadcastSoon_ = true;
        loop_.defer([this] { broadcastChanged(); });
      }
    }
  }
  auto it = table_.find(key);
  if (it == table_.end()) return;
  const std::vector<Reader> readers = std::move(it->second);
  items_ -= readers.size();
  table_.erase(it);
  for (const Reader& r : readers) {
    const std::string_view one[] = {key};
    if (r.worker == self()) {
      invalidate(r.client, writer, one, false);
    } else {
      post(r.worker, peer::encode(peer::TrackingNote{What::Keys, r.client, writer, -1, false, one}).args());
    }
  }
}

void Tracking::evicted(std::string_view key) {
  // Eviction runs before the command that needed the room: its readers
  // hear of it before that command's reply, as in Redis.
  evicting_ = true;
  keyChanged(key, 0);
  evicting_ = false;
}

void Tracking::flushed() {
  // By id: a client over its output limit closes (and leaves the map) as it is sent to.
  std::vector<std::uint64_t> tracking;
  for (const auto& [id, client] : connections_.all()) {
    if (client->session().tracking.on) tracking.push_back(id);
  }
  for (std::uint64_t id : tracking) {
    if (Client* c = connections_.find(id); c != nullptr && !c->closed()) send(*c, nullPayload(*c));
  }
  table_.clear();
  items_ = 0;
}

void Tracking::setMaxKeys(std::size_t maxKeys) {
  maxKeys_ = maxKeys;
  share_.reset();
  if (maxKeys_ != 0 && table_.size() > share()) keepUnderLimit();
}

std::size_t Tracking::share() {
  // This worker's part of tracking-table-max-keys (the table is its keys'):
  // the parts add up to the limit. Worked out once per setting (the
  // worker count is the generation's).
  if (!share_) {
    const auto n = static_cast<std::size_t>(std::max(1, workers()));
    const auto index = static_cast<std::size_t>(std::max(0, self()));
    share_ = maxKeys_ / n + (index < maxKeys_ % n ? 1 : 0);
  }
  return *share_;
}

void Tracking::keepUnderLimit() {
  // Redis evicts random keys, a bounded effort at a time; the rest waits
  // for the next loop turn, so a lowered limit never stalls the loop.
  for (int effort = 0; effort < 1000 && table_.size() > share(); ++effort) {
    const std::string key = table_.begin()->first;
    keyChanged(key, 0, /*broadcast=*/false);
  }
  if (table_.size() > share() && !limitSoon_) {
    limitSoon_ = true;
    loop_.queuePending([this] {
      limitSoon_ = false;
      if (maxKeys_ != 0) keepUnderLimit();
    });
  }
}

void Tracking::addPrefixes(std::uint64_t client, int worker, bool noloop, std::span<const std::string_view> prefixes) {
  for (std::string_view p : prefixes) {
    auto it = prefixes_.find(p);
    if (it == prefixes_.end()) it = prefixes_.emplace(std::string(p), Prefix{}).first;
    std::vector<Subscriber>& subscribers = it->second.subscribers;
    auto same = [client](const Subscriber& s) { return s.client == client; };
    if (std::find_if(subscribers.begin(), subscribers.end(), same) == subscribers.end()) {
      subscribers.push_back({client, worker, noloop});
    }
  }
}

void Tracking::dropPrefixes(std::uint64_t client) {
  for (auto it = prefixes_.begin(); it != prefixes_.end();) {
    std::erase_if(it->second.subscribers, [client](const Subscriber& s) { return s.client == client; });
    it = it->second.subscribers.empty() ? prefixes_.erase(it) : std::next(it);
  }
}

void Tracking::broadcastChanged() {
  broadcastSoon_ = false;
  for (auto& [prefix, state] : prefixes_) {
    if (state.changed.empty()) continue;
    for (const Subscriber& s : state.subscribers) {
      std::vector<std::string_view> keys;
      for (const auto& [key, writer] : state.changed) {
        if (!(s.noloop && writer == s.client)) keys.push_back(key);
      }
      if (keys.empty()) continue;
      if (s.worker == self()) {
        invalidate(s.client, 0, keys, true);
      } else {
        post(s.worker, peer::encode(peer::TrackingNote{What::Broadcast, s.client, 0, -1, false, keys}).args());
      }
    }
    state.changed.clear();
  }
}

// ---- the client's worker ---------------------------------------------------------

void Tracking::enable(Client& client, TrackingMode mode) {
  TrackingMode& now = client.session().tracking;
  if (!now.on) ++clients_;
  // Prefixes add up (Redis keeps a BCAST client's earlier ones); an
  // empty list in BCAST is the empty prefix: every key.
  std::vector<std::string> added;
  if (mode.bcast) {
    if (mode.prefixes.empty() && now.prefixes.empty()) mode.prefixes.emplace_back();
    for (std::string& p : mode.prefixes) {
      if (std::find(now.prefixes.begin(), now.prefixes.end(), p) == now.prefixes.end()) added.push_back(p);
    }
    mode.prefixes = now.prefixes;
    mode.prefixes.insert(mode.prefixes.end(), added.begin(), added.end());
    std::sort(mode.prefixes.begin(), mode.prefixes.end());  // CLIENT TRACKINGINFO lists them as Redis's tree does
  }
  mode.on = true;
  mode.caching = now.caching;
  now = std::move(mode);
  if (added.empty()) return;
  const std::vector<std::string_view> views(added.begin(), added.end());
  addPrefixes(client.id(), self(), now.noloop, views);
  const peer::Message note = peer::encode(peer::TrackingNote{What::Prefixes, client.id(), 0, self(), now.noloop, views});
  postToOthers(note.args());
}

void Tracking::disable(Client& client) {
  TrackingMode& mode = client.session().tracking;
  if (!mode.on) return;
  --clients_;
  if (mode.bcast) {
    dropPrefixes(client.id());
    postToOthers(peer::encode(peer::TrackingNote{What::Unprefix, client.id(), 0, self(), false, {}}).args());
  }
  mode = TrackingMode{};
}

std::string Tracking::encodeMode(const TrackingMode& mode) {
  if (!mode.on) return "";
  std::string out;
  for (bool flag : {mode.bcast, mode.optin, mode.optout, mode.noloop}) out += flag ? '1' : '0';
  out += std::to_string(mode.redirect) + "\n";
  for (const std::string& p : mode.prefixes) out += std::to_string(p.size()) + ":" + p;
  return out;
}

void Tracking::adopt(Client& client, std::string_view encoded) {
  if (encoded.size() < 5) return;
  TrackingMode mode;
  mode.bcast = encoded[0] == '1';
  mode.optin = encoded[1] == '1';
  mode.optout = encoded[2] == '1';
  mode.noloop = encoded[3] == '1';
  encoded.remove_prefix(4);
  const std::size_t line = encoded.find('\n');
  if (line == std::string_view::npos) return;
  mode.redirect = static_cast<std::uint64_t>(parseInteger(encoded.substr(0, line)).value_or(0));
  encoded.remove_prefix(line + 1);
  while (!encoded.empty()) {
    const std::size_t colon = encoded.find(':');
    const auto length = colon == std::string_view::npos ? std::nullopt : parseInteger(encoded.substr(0, colon));
    if (!length || *length < 0 || static_cast<std::size_t>(*length) > encoded.size() - colon - 1) break;
    mode.prefixes.emplace_back(encoded.substr(colon + 1, static_cast<std::size_t>(*length)));
    encoded.remove_prefix(colon + 1 + static_cast<std::size_t>(*length));
  }
  mode.redirectWorker = -1;  // its redirect target moved too: every worker is asked
  // BCAST prefixes are registered again; an empty list stays the empty prefix.
  if (mode.bcast && mode.prefixes.empty()) mode.prefixes.emplace_back();
  enable(client, std::move(mode));
  // The old generation's owners remembered its reads; the new ones did not.
  send(client, nullPayload(client));
}

void Tracking::invalidate(std::uint64_t client, std::uint64_t writer, std::span<const std::string_view> keys,
                          bool broadcast) {
  Client* c = connections_.find(client);
  if (c == nullptr || c->closed()) return;
  const TrackingMode& mode = c->session().tracking;
  // A key remembered before the client switched to BCAST says nothing now (Redis's check).
  if (!mode.on || mode.bcast != broadcast) return;
  if (broadcast) return send(*c, keysPayload(keys));
  if (mode.noloop && writer == client) return;
  for (std::string_view key : keys) send(*c, keysPayload({&key, 1}));
}

void Tracking::send(Client& client, const std::string& payload) {
  TrackingMode& mode = client.session().tracking;
  if (mode.redirect == 0) return write(client, payload, false);
  if (Client* target = connections_.find(mode.redirect); target != nullptr && !target->closed()) {
    return write(*target, payload, true);
  }
  if (mode.redirectWorker == self() || workers() == 1) return redirectBroken(client.id());
  if (mode.redirectWorker < 0) return sendToEveryWorker(client, payload);
  const std::string_view items[] = {payload};
  post(mode.redirectWorker,
       peer::encode(peer::TrackingNote{What::Redirected, mode.redirect, client.id(), self(), false, items}).args());
}

void Tracking::sendToEveryWorker(const Client& from, const std::string& payload) {
  Unlocated& u = unlocated_[from.id()];
  u.target = from.session().tracking.redirect;
  u.payloads.push_back(payload);
  const std::string_view items[] = {payload};
  const peer::Message note = peer::encode(peer::TrackingNote{What::Redirected, u.target, from.id(), self(), true, items});
  postToOthers(note.args());
  if (unlocated_.size() == 1 && u.payloads.size() == 1) {
    retry_.start(kLocateEvery, kLocateEvery, [this] { locateAgain(); });
    retry_.unref();  // no reason to keep a stopping worker alive
  }
}

void Tracking::locateAgain() {
  for (auto it = unlocated_.begin(); it != unlocated_.end();) {
    Unlocated& u = it->second;
    const std::uint64_t from = it->first;
    Client* target = connections_.find(u.target);
    if (target != nullptr || ++u.tries > kLocateTries || connections_.find(from) == nullptr) {
      // Here now (handed over to this worker), given up, or its client gone.
      if (target != nullptr) {
        for (const std::string& p : u.payloads) write(*target, p, true);
      }
      const bool broken = target == nullptr;
      it = unlocated_.erase(it);
      if (broken) redirectBroken(from);
      continue;
    }
    for (const std::string& p : u.payloads) {
      const std::string_view items[] = {p};
      const peer::Message note = peer::encode(peer::TrackingNote{What::Redirected, u.target, from, self(), true, items});
      postToOthers(note.args());
    }
    ++it;
  }
  if (unlocated_.empty()) retry_.stop();
}

void Tracking::redirectFound(std::uint64_t client, int worker) {
  unlocated_.erase(client);
  if (unlocated_.empty()) retry_.stop();
  Client* c = connections_.find(client);
  if (c != nullptr && c->session().tracking.on) c->session().tracking.redirectWorker = worker;
}

void Tracking::write(Client& to, const std::string& payload, bool redirected) {
  std::string message;
  if (to.reply().protocol() == resp::Protocol::Resp3) {
    message = ">2\r\n$10\r\ninvalidate\r\n" + payload;
  } else if (redirected && to.session().subscribed()) {
    // RESP2 has no push: a client redirected to gets a pub/sub message.
    message = "*3\r\n$7\r\nmessage\r\n$20\r\n__redis__:invalidate\r\n" + payload;
  } else {
    return;  // RESP2 without redirection: nowhere to say it (as Redis)
  }
  pushAfterReply(to, std::move(message));
}

void Tracking::pushAfterReply(Client& to, std::string message) {
  // Inside its own command, its reply comes first (Redis's
  // tracking_pending_keys): the message waits for the command to end.
  if (!to.executing() || evicting_) return to.push(message);
  afterReply_.emplace_back(to.id(), std::move(message));
  if (afterReply_.size() > 1) return;
  loop_.defer([this] {
    for (auto& [id, bytes] : std::exchange(afterReply_, {})) {
      if (Client* c = connections_.find(id); c != nullptr && !c->closed()) c->push(bytes);
    }
  });
}

void Tracking::redirected(std::uint64_t target, std::uint64_t from, int fromWorker, std::string_view payload,
                          bool anywhere) {
  if (Client* t = connections_.find(target); t != nullptr && !t->closed()) {
    write(*t, std::string(payload), true);
    // Sent to every worker: its sender learns where the target is.
    if (anywhere && fromWorker >= 0) post(fromWorker, peer::encode(peer::TrackingNote{What::Found, from, 0, self(), false, {}}).args());
    return;
  }
  if (anywhere || fromWorker < 0) return;
  const peer::Message note = peer::encode(peer::TrackingNote{What::Broken, from, 0, -1, false, {}});
  if (fromWorker == self()) return redirectBroken(from);
  post(fromWorker, note.args());
}

void Tracking::redirectBroken(std::uint64_t client) {
  Client* c = connections_.find(client);
  if (c == nullptr || c->closed() || !c->session().tracking.on) return;
  TrackingMode& mode = c->session().tracking;
  mode.brokenRedirect = true;
  // Only RESP3 can be told, on its own connection.
  if (c->reply().protocol() != resp::Protocol::Resp3) return;
  pushAfterReply(*c, ">2\r\n$21\r\ntracking-redir-broken\r\n:" + std::to_string(mode.redirect) + "\r\n");
}

void Tracking::rememberAhead(Dispatch& dispatch, const Client& client, std::span<const std::string_view> keys) {
  if (!client.session().tracking.remembersReads()) return;
  const Router* router = dispatch.router();
  std::map<int, std::vector<std::string_view>> byOwner;
  for (std::string_view k : keys) byOwner[router != nullptr ? router->ownerOf(k) : self()].push_back(k);
  for (const auto& [owner, owned] : byOwner) {
    if (owner == self()) {
      remember(client.id(), self(), owned);
    } else {
      post(owner, peer::encode(peer::TrackingNote{What::Remember, client.id(), 0, self(), false, owned}).args());
    }
  }
}

void Tracking::post(int worker, std::span<const std::string_view> args) {
  if (post_ && worker >= 0) post_(worker, args);
}

void Tracking::postToOthers(std::span<const std::string_view> args) {
  for (int w = 0; w < workers(); ++w) {
    if (w != self()) post(w, args);
  }
}

// ---- what it observes -----------------------------------------------------------

std::uint32_t TrackingObserver::flags() const {
  return kReadonly | kWrite | kMayWrite | kWipesKeyspace | kSwapsDatabases;
}

void TrackingObserver::after(const CommandRun& run, const Effects& effects) {
  if (run.replaying || effects.failed) return;
  const CommandSpec& spec = run.spec;
  CommandContext& ctx = run.ctx;
  if ((spec.flags & (kWipesKeyspace | kSwapsDatabases)) && run.ownStore) return tracking_.flushed();
  TrackingCaller* caller = ctx.caller;
  if (caller != nullptr && caller->remembers && run.ownStore) {
    if (remembersWhatItNames(spec) && ctx.fromScript) {
      caller->readInScript = true;
    } else if (remembersWhatItNames(spec) || ((spec.acl & acl::kScripting) && std::exchange(caller->readInScript, false))) {
      forEachKey(spec, ctx.args, [&](std::size_t i, std::size_t) {
        tracking_.remember(caller->client, caller->worker, ctx.args.subspan(i, 1));
        return true;
      });
    }
  }
  if (!(spec.flags & kWrite) || !effects.changed() || !run.ownStore || !tracking_.watching()) return;
  const std::uint64_t writer = caller != nullptr ? caller->client : 0;
  if (spec.peer != peer::Kind::None) {
    // A commit of a cross-worker run: every key it names was written.
    forEachKey(spec, ctx.args, [&](std::size_t i, std::size_t) {
      tracking_.keyChanged(ctx.args[i], writer);
      return true;
    });
    return;
  }
  for (const KeyTouch& touched : keysTouched(run, effects)) {
    if (touched.written) tracking_.keyChanged(touched.key, writer);
  }
}

}  // namespace keyloop
