#include "master/process_title.h"

#include <sys/prctl.h>

#include <cstring>
#include <vector>

extern char** environ;

namespace keyloop {

namespace {
char* titleArea = nullptr;
std::size_t titleCapacity = 0;
// The environment's new home once its old memory becomes title space.
std::vector<std::string> movedEnvironment;
std::vector<char*> movedEnvironPointers;

// End of the run of back-to-back strings that starts at strings[0].
char* endOfContiguous(char** strings, char* end) {
  for (; *strings != nullptr; ++strings) {
    if (*strings != end + 1) break;
    end = *strings + std::strlen(*strings);
  }
  return end;
}
}  // namespace

void initProcessTitle(int argc, char** argv) {
  if (argc == 0) return;
  // argv strings sit back to back, and the environment right after them
  // (nginx's ngx_init_setproctitle): move the environment to the heap and
  // the whole run becomes room for a title, so "-c /etc/x.yaml" never cuts
  // "keyloop: master process" short.
  char* end = endOfContiguous(argv + 1, argv[0] + std::strlen(argv[0]));
  if (environ != nullptr && environ[0] == end + 1) {
    end = endOfContiguous(environ + 1, environ[0] + std::strlen(environ[0]));
    for (char** e = environ; *e != nullptr; ++e) movedEnvironment.emplace_back(*e);
    for (std::string& e : movedEnvironment) movedEnvironPointers.push_back(e.data());
    movedEnvironPointers.push_back(nullptr);
    environ = movedEnvironPointers.data();
  }
  titleArea = argv[0];
  titleCapacity = static_cast<std::size_t>(end - argv[0]);
}

void setProcessTitle(const std::string& title) {
  // The short name (comm, 15 bytes) shows in top and in `ps -o comm`.
  const std::string comm = title.find("worker") != std::string::npos ? "keyloop-worker" : "keyloop-master";
  ::prctl(PR_SET_NAME, comm.c_str(), 0, 0, 0);
  if (titleArea == nullptr || titleCapacity == 0) return;
  const std::size_t n = std::min(title.size(), titleCapacity);
  std::memcpy(titleArea, title.data(), n);
  std::memset(titleArea + n, 0, titleCapacity - n + 1);
}

}  // namespace keyloop
