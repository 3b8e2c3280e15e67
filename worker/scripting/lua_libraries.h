#pragma once
// The two libraries Redis gives scripts that Debian does not package,
// written here with Redis 7.0's behaviour (byte for byte, errors included):
//   cmsgpack: pack, unpack, unpack_one, unpack_limit (MessagePack)
//   struct:   pack, unpack, size (binary records, Roberto Ierusalimschy's format)
// Each opener leaves the library's table on the stack and sets the global.

extern "C" {
#include <lua.h>
}

namespace keyloop::lua {

int openMsgpack(lua_State* L);
int openStruct(lua_State* L);

}  // namespace keyloop::lua
