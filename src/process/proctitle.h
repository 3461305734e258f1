// Process titles as shown by ps: "srs-proxy: master process -c FILE",
// "srs-proxy: worker process", "srs-proxy: api worker". Like nginx, the
// title is written over the argv area after moving the environment away.
#pragma once

#include <string>

namespace sp {

// Call once at the start of main, before anything reads environ's strings
// through saved pointers.
void proctitle_init(int argc, char** argv);
void set_proctitle(const std::string& title);

}  // namespace sp
