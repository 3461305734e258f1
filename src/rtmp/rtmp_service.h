// The RTMP proxy service of a protocol worker: accepts clients on the
// inherited `rtmp { listen }` sockets and runs one Session (rtmp_session.h)
// per client. Every protocol worker accepts on the same sockets; the kernel
// hands each connection to one of them.
#pragma once

#include <memory>

#include "core/result.h"
#include "process/worker.h"

namespace sp {

// Factory for kProtocolFactories (process/worker.cpp).
Result<std::unique_ptr<Service>> make_rtmp_service(WorkerContext& ctx);

}  // namespace sp
