// Command docs: expands a command's compact syntax string into the argument
// tree that COMMAND DOCS returns (what redis-cli builds its hints from).
//
// Notation: words separated by spaces; `[...]` optional; `(...)` a group;
// `a|b` one of; a trailing `...` repeats; `TOKEN:name` an argument that is
// introduced by a keyword (`EX:seconds` reads "EX seconds"); an upper-case
// word alone is a pure keyword (NX); a word starting with "key" is a key.
#pragma once

#include <string_view>

#include "common/resp/reply.h"

namespace keyloop {

// Replies the "arguments" array for `syntax`.
void replyArguments(resp::Reply& reply, std::string_view syntax);

}  // namespace keyloop
