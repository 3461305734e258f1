// Process titles: see proctitle.h.
#include "process/proctitle.h"

#include <sys/prctl.h>
#include <unistd.h>

#include <cstring>

extern char** environ;

namespace sp {

namespace {
char* g_title_start = nullptr;
size_t g_title_len = 0;
}  // namespace

void proctitle_init(int argc, char** argv) {
  if (argc == 0 || !argv[0]) return;
  // The writable area runs from argv[0] to the end of the last contiguous
  // environment string; the environment is copied to the heap first.
  char* end = argv[0] + strlen(argv[0]) + 1;
  for (int i = 1; i < argc; i++) {
    if (argv[i] == end) end = argv[i] + strlen(argv[i]) + 1;
  }
  size_t n = 0;
  while (environ[n]) n++;
  char** copy = static_cast<char**>(malloc((n + 1) * sizeof(char*)));
  if (!copy) return;
  for (size_t i = 0; i < n; i++) {
    if (environ[i] == end) end = environ[i] + strlen(environ[i]) + 1;
    copy[i] = strdup(environ[i]);
  }
  copy[n] = nullptr;
  environ = copy;
  g_title_start = argv[0];
  g_title_len = size_t(end - argv[0]);
}

void set_proctitle(const std::string& title) {
  prctl(PR_SET_NAME, title.c_str() + (title.rfind(": ") != std::string::npos ? title.rfind(": ") + 2 : 0));
  if (!g_title_start || g_title_len < 2) return;
  size_t n = std::min(title.size(), g_title_len - 1);
  memcpy(g_title_start, title.data(), n);
  memset(g_title_start + n, 0, g_title_len - n);
}

}  // namespace sp
