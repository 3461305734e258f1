// The RTMP proxy service of a protocol worker: accepts clients on the
// inherited `rtmp { listen }` sockets and runs one Session (rtmp_session.h)
// per client. Every protocol worker accepts on the same sockets; the kernel
// hands each connection to one of them.
#pragma once

#include "module/module.h"

namespace sp {

// The RTMP module (listed in src/modules.cpp).
extern const Module kRtmpModule;

}  // namespace sp
