// Fuzz target: the system API's registration body (POST /api/v1/srs/register),
// JSON from any origin that can reach the API port.
#include "api/register_request.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  auto spec = sp::parse_register_request(sp::fuzz::as_text(data, size));
  if (!spec.ok()) FUZZ_CHECK(!spec.status().message().empty());
  return 0;
}
