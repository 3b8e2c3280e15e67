// Messages: every control message and channel record decodes to what was
// encoded, and truncated or unknown bytes are refused, not misread.
#include "common/ipc/messages.h"

#include <gtest/gtest.h>

#include <set>

namespace keyloop::ipc {
namespace {

// Every control message type, with fields that differ from the defaults.
std::vector<ControlMessage> oneOfEach() {
  return {LinkNext{3},
          HandOver{4, {7, 9}},
          RetireeGone{2},
          FinishClients{},
          AdoptClient{ClientState{3, true, "conn-name", "*1\r\n$4\r\nPING\r\n", {}, false, 0, 0, ""}},
          Serving{},
          ConfigApplied{42},
          HandedOver{1000, 123456789, 987654},
          PassClient{ClientState{2, false, "", "", {}, false, 0, 0, ""}},
          WriteSnapshot{7, true, "/tmp/part-0", "appendonly.aof.3.incr.aof"},
          DropSnapshot{7},
          SaveReply{9, "+OK\r\n"},
          SnapshotWritten{7, 100, 10, 4096, "write: No space left on device"},
          SaveAsked{9, SaveKind::ShutdownSave, true},
          Drained{},
          SnapshotBegun{7},
          PersistenceSet{"900 1", false, true},
          HoldWrites{8},
          WritesHeld{8}};
}

TEST(Messages, EveryControlMessageRoundTrips) {
  const auto messages = oneOfEach();
  ASSERT_EQ(messages.size(), std::variant_size_v<ControlMessage>);
  std::set<char> letters;
  for (const ControlMessage& m : messages) {
    const std::string bytes = encode(m);
    letters.insert(bytes[0]);
    const auto back = decodeControl(bytes);
    ASSERT_TRUE(back.has_value()) << "type " << bytes[0];
    EXPECT_EQ(back->index(), m.index());
    EXPECT_EQ(encode(*back), bytes);  // same fields
  }
  EXPECT_EQ(letters.size(), messages.size()) << "two control messages share a letter";
}

TEST(Messages, FieldsSurviveTheTrip) {
  const auto back = decodeControl(encode(HandOver{5, {11, 12, 13}}));
  ASSERT_TRUE(back && std::holds_alternative<HandOver>(*back));
  EXPECT_EQ(std::get<HandOver>(*back).workers, 5);
  EXPECT_EQ(std::get<HandOver>(*back).keep, (std::vector<std::int32_t>{11, 12, 13}));
  const auto client = decodeControl(
      encode(AdoptClient{ClientState{3, true, "name with spaces", "*1\r\n$4\r\nPING\r\n", {{"a", "b"}, {}, {"s"}}, true, 15,
                                     1234, "0100 7\n2:u:"}}));
  ASSERT_TRUE(client && std::holds_alternative<AdoptClient>(*client));
  EXPECT_EQ(std::get<AdoptClient>(*client).state.protocol, 3);
  EXPECT_TRUE(std::get<AdoptClient>(*client).state.authenticated);
  EXPECT_EQ(std::get<AdoptClient>(*client).state.name, "name with spaces");
  EXPECT_EQ(std::get<AdoptClient>(*client).state.resume, "*1\r\n$4\r\nPING\r\n");
  EXPECT_TRUE(std::get<AdoptClient>(*client).state.monitoring);
  EXPECT_EQ(std::get<AdoptClient>(*client).state.db, 15) << "the selected database goes with the connection";
  EXPECT_EQ(std::get<AdoptClient>(*client).state.id, 1234u) << "its id goes too (a tracking redirect names it)";
  EXPECT_EQ(std::get<AdoptClient>(*client).state.tracking, "0100 7\n2:u:");
}

TEST(Messages, TruncatedOrUnknownControlBytesAreRefused) {
  EXPECT_FALSE(decodeControl(""));
  EXPECT_FALSE(decodeControl("?"));
  const std::string done = encode(HandedOver{1, 2, 3});
  for (std::size_t cut = 1; cut < done.size(); ++cut) EXPECT_FALSE(decodeControl(done.substr(0, cut))) << cut;
  EXPECT_FALSE(decodeControl(encode(RetireeGone{1}) + "x"));  // trailing bytes
}

TEST(Messages, ChannelLettersDifferFromControlLetters) {
  std::set<char> control;
  for (const ControlMessage& m : oneOfEach()) control.insert(encode(m)[0]);
  for (RecordType t : {RecordType::Request, RecordType::Reply, RecordType::KeyValue, RecordType::KeyGone,
                       RecordType::Flushed, RecordType::Copied, RecordType::Quiet, RecordType::HandOverEnd}) {
    EXPECT_EQ(control.count(static_cast<char>(t)), 0u) << static_cast<char>(t);
  }
}

TEST(Messages, RequestsAndRepliesRoundTrip) {
  std::string record;
  const std::string_view args[] = {"SET", "key", std::string_view("bin\0ary", 7), ""};
  encodeRequest(record, 77, 3, args, 9, 0x8000000000000042ull);
  const auto typed = recordType(record);
  ASSERT_TRUE(typed && typed->first == RecordType::Request);
  Request request;
  std::vector<std::string_view> parsed;
  ASSERT_TRUE(decodeRequest(typed->second, request, parsed));
  EXPECT_EQ(request.id, 77u);
  EXPECT_EQ(request.protocol, 3);
  EXPECT_EQ(request.db, 9);
  EXPECT_EQ(request.tracked, 0x8000000000000042ull) << "the tracking client it runs for";
  EXPECT_EQ(parsed, std::vector<std::string_view>(std::begin(args), std::end(args)));
  EXPECT_FALSE(decodeRequest(typed->second.substr(0, typed->second.size() - 3), request, parsed));
  std::uint16_t db = 0;
  EXPECT_EQ(peekRequestKey(record, &db), std::optional<std::string_view>("key"));
  EXPECT_EQ(db, 9);
  EXPECT_EQ(peekRequestKey(record.substr(0, 29)), std::nullopt);  // cut inside the key
  const std::string_view ping[] = {"PING"};
  encodeRequest(record, 79, 2, ping);
  EXPECT_EQ(peekRequestKey(record), std::nullopt);

  encodeReply(record, 78, "+OK\r\n");
  EXPECT_EQ(peekRequestKey(record), std::nullopt);
  std::uint64_t id = 0;
  std::string_view reply;
  ASSERT_TRUE(decodeReply(recordType(record)->second, id, reply));
  EXPECT_EQ(id, 78u);
  EXPECT_EQ(reply, "+OK\r\n");
}

TEST(Messages, KeyStatesAndNoticesRoundTrip) {
  std::string record;
  encodeKeyState(record, KeyState{"k", true, 1234, "value", 11});
  auto typed = recordType(record);
  ASSERT_EQ(typed->first, RecordType::KeyValue);
  KeyState state;
  ASSERT_TRUE(decodeKeyState(typed->first, typed->second, state));
  EXPECT_EQ(state.key, "k");
  EXPECT_EQ(state.expireAt, 1234);
  EXPECT_EQ(state.value, "value");
  EXPECT_EQ(state.db, 11);
  encodeKeyState(record, KeyState{"gone", false, 0, {}});
  typed = recordType(record);
  ASSERT_EQ(typed->first, RecordType::KeyGone);
  ASSERT_TRUE(decodeKeyState(typed->first, typed->second, state));
  EXPECT_FALSE(state.exists);
  EXPECT_EQ(state.key, "gone");
  EXPECT_FALSE(decodeKeyState(RecordType::KeyValue, "\x05\x00", state));

  const std::string notice = encodeSlotNotice(RecordType::Quiet, 6);
  std::int32_t slot = -1;
  ASSERT_EQ(recordType(notice)->first, RecordType::Quiet);
  ASSERT_TRUE(decodeSlotNotice(recordType(notice)->second, slot));
  EXPECT_EQ(slot, 6);
}

}  // namespace
}  // namespace keyloop::ipc
