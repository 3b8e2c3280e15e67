#include "master/notify.h"

#include <systemd/sd-daemon.h>

namespace keyloop {

void notifySystemd(const std::string& state) { ::sd_notify(0, state.c_str()); }

}  // namespace keyloop
