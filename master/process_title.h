// Process titles like nginx's: `ps` shows "keyloop: master process ..." and
// "keyloop: worker process 1" instead of the command line. The title is
// written over the memory of argv (Linux shows that memory as the args).
#pragma once

#include <string>

namespace keyloop {

// Call once, first thing in main, with main's arguments.
void initProcessTitle(int argc, char** argv);
void setProcessTitle(const std::string& title);

}  // namespace keyloop
