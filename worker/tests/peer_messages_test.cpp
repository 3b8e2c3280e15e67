// Peer messages: each decodes to what was encoded, a malformed one decodes
// to nothing, and the table finds each by kind and none by name.
#include "worker/execution/peer_messages.h"

#include <gtest/gtest.h>

#include "worker/execution/command_table.h"

namespace keyloop {
namespace {

using Views = std::vector<std::string_view>;

Views viewsOf(const peer::Message& m) { return Views(m.args().begin(), m.args().end()); }

TEST(PeerMessages, EveryKindHasARowFoundByKindNeverByName) {
  for (std::size_t k = 1; k < static_cast<std::size_t>(peer::Kind::Count); ++k) {
    const auto kind = static_cast<peer::Kind>(k);
    const peer::Message m(kind);
    const CommandSpec* row = findPeerMessage(m.args()[0]);
    ASSERT_NE(row, nullptr) << k;
    EXPECT_EQ(row->peer, kind);
    EXPECT_NE(row->handler, nullptr) << row->name;
    EXPECT_EQ(findCommand(row->name), nullptr) << row->name << " must not be a client's command";
    const Views asClient{m.args()[0]};
    EXPECT_EQ(resolveCommand(asClient).spec, nullptr) << "a client named a peer message";
  }
  EXPECT_EQ(findPeerMessage("get"), nullptr);
  EXPECT_EQ(peer::kindOf(std::string(1, static_cast<char>(peer::Kind::Count))), peer::Kind::None);  // past the last
  static_assert(static_cast<int>(peer::Kind::Count) < ' ', "kinds are control bytes, never a command's first letter");
  EXPECT_EQ(peer::kindOf(""), peer::Kind::None);
  for (const CommandSpec& c : allCommands()) EXPECT_EQ(c.peer, peer::Kind::None) << c.name;
}

TEST(PeerMessages, LockAndCommitRoundTripAndNameTheirKeys) {
  const Views keys{"a", "b"};
  const peer::Message lock = peer::encode(peer::Lock{"tx1", keys});
  const auto decoded = peer::decodeLock(lock.args());
  ASSERT_TRUE(decoded);
  EXPECT_EQ(decoded->transaction, "tx1");
  EXPECT_EQ(Views(decoded->keys.begin(), decoded->keys.end()), keys);
  EXPECT_EQ(keysOf(*findPeerMessage(lock.args()[0]), lock.args()), keys);

  peer::Message commit = peer::commitOf("tx1");
  peer::addSet(commit, "a", "image", 1234);
  peer::addEvent(commit, "__keyspace@0__:a", "set");
  peer::addDelete(commit, "b");
  const auto c = peer::decodeCommit(commit.args());
  ASSERT_TRUE(c);
  EXPECT_EQ(c->transaction, "tx1");
  ASSERT_EQ(c->ops.size(), 3u);
  EXPECT_EQ(c->ops[0].op, peer::CommitOp::Op::Set);
  EXPECT_EQ(c->ops[0].key, "a");
  EXPECT_EQ(c->ops[0].value, "image");
  EXPECT_EQ(c->ops[0].expireAt, 1234);
  EXPECT_EQ(c->ops[1].op, peer::CommitOp::Op::Event);
  EXPECT_EQ(c->ops[1].key, "__keyspace@0__:a");
  EXPECT_EQ(c->ops[1].value, "set");
  EXPECT_EQ(c->ops[2].op, peer::CommitOp::Op::Delete);
  EXPECT_EQ(c->ops[2].key, "b");
  // Its keys are the written ones (the event's channel is none).
  EXPECT_EQ(keysOf(*findPeerMessage(commit.args()[0]), commit.args()), keys);

  // A malformed op ends the ops; the transaction still unlocks.
  Views cut = viewsOf(commit);
  cut.resize(4);  // kind tx "s" "a": the set lacks its image and expiry
  const auto partial = peer::decodeCommit(cut);
  ASSERT_TRUE(partial);
  EXPECT_TRUE(partial->ops.empty());
  EXPECT_FALSE(peer::decodeLock(Views{lock.args()[0], "tx1"}));
  EXPECT_FALSE(peer::decodeLock(viewsOf(commit))) << "a Commit is no Lock";
}

TEST(PeerMessages, RepliesToLockWatchAndTotalsRoundTrip) {
  std::string out;
  resp::Reply reply(out, resp::Protocol::Resp2);
  reply.array(2);
  peer::replyLocked(reply, {std::string_view("img"), 99, 5});
  peer::replyLocked(reply, {std::nullopt, 0, 6});
  const auto locked = peer::decodeLockReply(out, 2);
  ASSERT_TRUE(locked);
  ASSERT_TRUE((*locked)[0].image);
  EXPECT_EQ(*(*locked)[0].image, "img");
  EXPECT_EQ((*locked)[0].expireAt, 99);
  EXPECT_EQ((*locked)[0].version, 5u);
  EXPECT_FALSE((*locked)[1].image);
  EXPECT_EQ((*locked)[1].version, 6u);
  EXPECT_FALSE(peer::decodeLockReply(out, 3)) << "not one state per key";
  EXPECT_FALSE(peer::decodeLockReply("-TRYAGAIN worker 1 did not answer\r\n", 2));

  out.clear();
  reply.array(1);
  peer::replyWatched(reply, {12, true});
  const auto watched = peer::decodeWatchReply(out, 2, 77);
  ASSERT_EQ(watched.size(), 2u);
  EXPECT_EQ(watched[0].version, 12u);
  EXPECT_TRUE(watched[0].existed);
  EXPECT_EQ(watched[1].version, 77u) << "a missing answer is unwatched";
  EXPECT_FALSE(watched[1].existed);

  out.clear();
  const std::uint64_t counters[] = {3, 0, 41};
  peer::replyTotals(reply, counters);
  std::uint64_t back[4] = {};
  peer::decodeTotalsReply(out, back);
  EXPECT_EQ(back[0], 3u);
  EXPECT_EQ(back[2], 41u);
  EXPECT_EQ(back[3], 0u);
}

TEST(PeerMessages, ExecRoundTripsItsWatchesAndCommands) {
  const std::vector<peer::WatchCheck> watches{{"w", 7, true}, {"x", 0, false}};
  peer::Message exec = peer::execOf(watches, 2);
  const std::vector<std::string> set{"set", "k", "v"}, get{"get", "w"};
  peer::addCommand(exec, set);
  peer::addCommand(exec, get);
  const auto e = peer::decodeExec(exec.args());
  ASSERT_TRUE(e);
  ASSERT_EQ(e->watches.size(), 2u);
  EXPECT_EQ(e->watches[0].key, "w");
  EXPECT_EQ(e->watches[0].version, 7u);
  EXPECT_TRUE(e->watches[0].existed);
  EXPECT_FALSE(e->watches[1].existed);
  ASSERT_EQ(e->commands.size(), 2u);
  EXPECT_EQ(Views(e->commands[0].begin(), e->commands[0].end()), (Views{"set", "k", "v"}));
  EXPECT_EQ(Views(e->commands[1].begin(), e->commands[1].end()), (Views{"get", "w"}));
  EXPECT_EQ(keysOf(*findPeerMessage(exec.args()[0]), exec.args()), (Views{"w", "x", "k", "w"}));
  Views cut = viewsOf(exec);
  cut.pop_back();
  EXPECT_FALSE(peer::decodeExec(cut)) << "a command shorter than its count";
}

TEST(PeerMessages, BlockingMessagesRoundTrip) {
  const Views keys{"k1", "k2"}, command{"blpop", "k1", "k2", "0"};
  const peer::Message block =
      peer::encode(peer::Block{42, 1, resp::Protocol::Resp3, 2, keys, command});
  const auto b = peer::decodeBlock(block.args());
  ASSERT_TRUE(b);
  EXPECT_EQ(b->wait, 42u);
  EXPECT_EQ(b->worker, 1);
  EXPECT_EQ(b->protocol, resp::Protocol::Resp3);
  EXPECT_EQ(b->waitsFor, 2);
  EXPECT_EQ(Views(b->keys.begin(), b->keys.end()), keys);
  EXPECT_EQ(Views(b->command.begin(), b->command.end()), command);
  EXPECT_EQ(keysOf(*findPeerMessage(block.args()[0]), block.args()), keys);
  Views noCommand = viewsOf(block);
  noCommand.resize(8);  // kind wait worker protocol type n k1 k2: no command
  EXPECT_FALSE(peer::decodeBlock(noCommand));

  for (peer::Kind kind :
       {peer::Kind::Unblock, peer::Kind::Rewait, peer::Kind::Wake, peer::Kind::Retry}) {
    const peer::Message m = peer::waitMessage(kind, 9);
    EXPECT_EQ(peer::kindOf(m.args()[0]), kind);
    EXPECT_EQ(peer::decodeWait(m.args()), 9u);
  }
  const peer::Message served = peer::encode(peer::Served{9, "*2\r\n$1\r\nk\r\n$1\r\nv\r\n"});
  const auto s = peer::decodeServed(served.args());
  ASSERT_TRUE(s);
  EXPECT_EQ(s->wait, 9u);
  EXPECT_EQ(s->reply, "*2\r\n$1\r\nk\r\n$1\r\nv\r\n");
  EXPECT_FALSE(peer::decodeServed(peer::waitMessage(peer::Kind::Served, 9).args())) << "no reply";
}

TEST(PeerMessages, SharedKnowledgeRoundTrips) {
  const auto load = peer::decodeScriptLoad(peer::encode(peer::ScriptLoad{"return 1"}).args());
  ASSERT_TRUE(load);
  EXPECT_EQ(load->body, "return 1");
  const auto deliver = peer::decodeDeliver(peer::encode(peer::Deliver{"ch", "msg"}).args());
  ASSERT_TRUE(deliver);
  EXPECT_EQ(deliver->channel, "ch");
  EXPECT_EQ(deliver->message, "msg");
  EXPECT_EQ(peer::kindOf(peer::totalsRequest().args()[0]), peer::Kind::Totals);
  EXPECT_FALSE(peer::decodeDeliver(peer::encode(peer::ScriptLoad{"x"}).args()));
}

TEST(PeerMessages, TrackingNotesRoundTrip) {
  using What = peer::TrackingNote::What;
  const std::string_view keys[] = {"k1", "", "k3"};
  for (What what : {What::Keys, What::Broadcast, What::Broken, What::Found, What::Prefixes, What::Unprefix,
                    What::Remember}) {
    const peer::Message m = peer::encode(peer::TrackingNote{what, 42, 7, 3, true, keys});
    const auto back = peer::decodeTrackingNote(m.args());
    ASSERT_TRUE(back) << static_cast<char>(what);
    EXPECT_EQ(back->what, what);
    EXPECT_EQ(back->client, 42u);
    EXPECT_EQ(back->other, 7u);
    EXPECT_EQ(back->worker, 3);
    EXPECT_TRUE(back->flag);
    EXPECT_EQ(std::vector<std::string_view>(back->items.begin(), back->items.end()),
              std::vector<std::string_view>(std::begin(keys), std::end(keys)));
  }
  const std::string_view payload[] = {"*1\r\n$1\r\nk\r\n"};
  const peer::Message redirect = peer::encode(peer::TrackingNote{What::Redirected, 9, 8, -1, false, payload});
  const auto redirected = peer::decodeTrackingNote(redirect.args());
  ASSERT_TRUE(redirected);
  EXPECT_EQ(redirected->items[0], payload[0]);
  EXPECT_EQ(redirected->worker, -1);
  // A redirected note carries exactly one payload; an unknown letter is refused.
  EXPECT_FALSE(peer::decodeTrackingNote(peer::encode(peer::TrackingNote{What::Redirected, 9, 8, 1, false, keys}).args()));
  peer::Message bad(peer::Kind::Tracking);
  for (std::string_view a : {"?", "1", "2", "3", "0"}) bad.add(a);
  EXPECT_FALSE(peer::decodeTrackingNote(bad.args()));
  EXPECT_EQ(peer::decodeHasClient(peer::hasClientMessage(77).args()), std::optional<std::uint64_t>(77));
}

}  // namespace
}  // namespace keyloop
