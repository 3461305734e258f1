// The SRT proxy service of a protocol worker: callers connect with libsrt
// (live mode) to `srt { listen }`, are routed by their streamid and relayed to
// the picked origin's `srt` endpoint. The design (threads, socket ownership
// across workers and reloads, rejections) is described at the top of
// srt_service.cpp.
#pragma once

#include <memory>

#include "core/result.h"
#include "process/worker.h"

namespace sp {

// Factory for kProtocolFactories (process/worker.cpp). Every protocol worker
// gets a service; only worker slot 0 actually serves SRT.
Result<std::unique_ptr<Service>> make_srt_service(WorkerContext& ctx);

}  // namespace sp
