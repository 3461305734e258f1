// The SRT proxy service of a protocol worker: callers connect with libsrt
// (live mode) to `srt { listen }`, are routed by their streamid and relayed to
// the picked origin's `srt` endpoint. The design (threads, socket ownership
// across workers and reloads, rejections) is described at the top of
// srt_service.cpp.
#pragma once

#include "module/module.h"

namespace sp {

// The SRT module (listed in src/modules.cpp). Every protocol worker gets a
// service; only worker slot 0 actually serves SRT. Its master hook keeps the
// reuseport groups across reloads (srt_groups.h).
extern const Module kSrtModule;

}  // namespace sp
