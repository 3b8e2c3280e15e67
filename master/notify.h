// systemd's notification protocol (Type=notify), through libsystemd's
// sd_notify: READY=1 once every worker serves, RELOADING=1 ... READY=1
// around a reload, STOPPING=1 at shutdown, STATUS= one line for
// `systemctl status`. Without NOTIFY_SOCKET (not under systemd) it does
// nothing.
#pragma once

#include <string>

namespace keyloop {

void notifySystemd(const std::string& state);

}  // namespace keyloop
