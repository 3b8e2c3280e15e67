#include "worker/execution/command_docs.h"

#include <cctype>
#include <string>
#include <vector>

#include "common/text/text.h"

namespace keyloop {

namespace {

struct Argument {
  std::string name, type, token;
  bool optional = false, multiple = false;
  std::vector<Argument> children;  // for "oneof" and "block"
};

class SyntaxParser {
 public:
  explicit SyntaxParser(std::string_view text) : text_(text) {}

  std::vector<Argument> sequence(char closing = '\0') {
    std::vector<Argument> items;
    for (;;) {
      skipSpaces();
      if (at_ >= text_.size() || text_[at_] == closing) break;
      items.push_back(alternatives(closing));
    }
    if (at_ < text_.size()) ++at_;  // the closing bracket
    return items;
  }

 private:
  Argument alternatives(char closing) {
    std::vector<Argument> choices{item()};
    while (at_ < text_.size() && text_[at_] == '|') {
      ++at_;
      choices.push_back(item());
    }
    (void)closing;
    if (choices.size() == 1) return choices.front();
    Argument oneOf;
    oneOf.name = "choice";
    oneOf.type = "oneof";
    oneOf.children = std::move(choices);
    return oneOf;
  }

  Argument item() {
    Argument a;
    if (text_[at_] == '[' || text_[at_] == '(') {
      const bool optional = text_[at_] == '[';
      ++at_;
      std::vector<Argument> inner = sequence(optional ? ']' : ')');
      if (inner.size() == 1) {
        a = std::move(inner.front());
      } else {
        a.name = "block";
        a.type = "block";
        a.children = std::move(inner);
      }
      a.optional = a.optional || optional;
    } else {
      std::string word;
      while (at_ < text_.size() && (std::isalnum(static_cast<unsigned char>(text_[at_])) ||
                                    text_[at_] == ':' || text_[at_] == '-' || text_[at_] == '_')) {
        word += text_[at_++];
      }
      const std::size_t colon = word.find(':');
      if (colon != std::string::npos) {
        a.token = word.substr(0, colon);
        a.name = word.substr(colon + 1);
        a.type = "string";
      } else if (!word.empty() && std::isupper(static_cast<unsigned char>(word[0]))) {
        a.token = word;
        a.name = toLower(word);
        a.type = "pure-token";
      } else {
        a.name = word;
        a.type = word.rfind("key", 0) == 0 ? "key" : word == "pattern" ? "pattern" : "string";
      }
    }
    if (text_.substr(at_, 3) == "...") {
      a.multiple = true;
      at_ += 3;
    }
    return a;
  }

  void skipSpaces() {
    while (at_ < text_.size() && text_[at_] == ' ') ++at_;
  }

  std::string_view text_;
  std::size_t at_ = 0;
};

void replyArgument(resp::Reply& reply, const Argument& a) {
  const bool hasFlags = a.optional || a.multiple;
  reply.map(2 + !a.token.empty() + hasFlags + !a.children.empty());
  reply.bulk("name");
  reply.bulk(a.name);
  reply.bulk("type");
  reply.bulk(a.type);
  if (!a.token.empty()) {
    reply.bulk("token");
    reply.bulk(a.token);
  }
  if (hasFlags) {
    reply.bulk("flags");
    reply.set(static_cast<std::size_t>(a.optional) + static_cast<std::size_t>(a.multiple));
    if (a.optional) reply.simple("optional");
    if (a.multiple) reply.simple("multiple");
  }
  if (!a.children.empty()) {
    reply.bulk("arguments");
    reply.array(a.children.size());
    for (const Argument& child : a.children) replyArgument(reply, child);
  }
}

}  // namespace

void replyArguments(resp::Reply& reply, std::string_view syntax) {
  const std::vector<Argument> args = SyntaxParser(syntax).sequence();
  reply.array(args.size());
  for (const Argument& a : args) replyArgument(reply, a);
}

}  // namespace keyloop
