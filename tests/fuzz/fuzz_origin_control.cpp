// Fuzz target: the pure parts of operator control on the system API
// (api/origin_control.h): match_origin_path() on a request path and
// parse_weight_request() on a POST body and query. Input lines = path, query,
// body. Promises: a matched origin's server id passes check_server_id (it is
// stored and echoed as JSON), an accepted weight is 0 (clear) or 1..kWeightMax.
#include "api/origin_control.h"
#include "api/register_request.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto parts = sp::fuzz::split_lines(sp::fuzz::as_text(data, size), 3);
  if (auto m = sp::match_origin_path(parts[0])) {
    if (m->ok()) {
      FUZZ_CHECK(!m->value().server.empty());
      FUZZ_CHECK(sp::check_server_id(m->value().server).ok());
    } else {
      FUZZ_CHECK(!m->error().empty());
    }
  }
  sp::Result<int> w = sp::parse_weight_request(parts[2], parts[1]);
  if (w.ok()) FUZZ_CHECK(w.value() >= 0 && w.value() <= sp::kWeightMax);
  return 0;
}
