// Tests for src/http/http_error: every error kind gets the HTTP status the
// proxy has always answered for that situation.
#include "http/http_error.h"

#include <gtest/gtest.h>

namespace sp {
namespace {

TEST(HttpErrorTest, EveryKindHasItsStatus) {
  EXPECT_EQ(http_status_for(ErrorKind::bad_input), 400);    // bad stream name, registration, offer
  EXPECT_EQ(http_status_for(ErrorKind::not_found), 404);    // unknown HLS or WebRTC session
  EXPECT_EQ(http_status_for(ErrorKind::internal), 500);     // corrupt stored session record
  EXPECT_EQ(http_status_for(ErrorKind::upstream), 502);     // origin answered wrongly
  EXPECT_EQ(http_status_for(ErrorKind::unavailable), 503);  // no alive origin, connect refused
  EXPECT_EQ(http_status_for(ErrorKind::full), 503);         // registry full: try later
  EXPECT_EQ(http_status_for(ErrorKind::timeout), 503);      // origin did not answer in time
}

TEST(HttpErrorTest, StatusAndResultCarryTheKind) {
  EXPECT_EQ(Status::Error("x").kind(), ErrorKind::internal);  // no kind given
  Status full = Status::Error(ErrorKind::full, "registry full: 4 origins");
  EXPECT_FALSE(full.ok());
  EXPECT_EQ(http_status_for(full.kind()), 503);
  Status prefixed = full.with_prefix("register: ");
  EXPECT_EQ(prefixed.kind(), ErrorKind::full);
  EXPECT_EQ(prefixed.message(), "register: registry full: 4 origins");
  Result<int> r = Result<int>::Error(ErrorKind::not_found, "no session");
  EXPECT_EQ(r.kind(), ErrorKind::not_found);
  EXPECT_EQ(r.status().kind(), ErrorKind::not_found);
  EXPECT_EQ(r.error(), "no session");
  EXPECT_STREQ(error_kind_name(ErrorKind::bad_input), "bad_input");
}

}  // namespace
}  // namespace sp
