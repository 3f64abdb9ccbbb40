#include "common/time.hpp"

#include <gtest/gtest.h>

namespace gpuopt {
namespace {

using namespace std::chrono;

TEST(Time, FormatsUtcWithZ) {
    EXPECT_EQ(FormatUtc(sys_days{2026y / 11 / 25} + 10h + 1min + 2s), "2026-11-25T10:01:02Z");
    EXPECT_EQ(FormatUtc(SysSeconds{}), "1970-01-01T00:00:00Z");
}

TEST(Time, ParsesRfc3339AndConvertsOffsets) {
    const auto expected = sys_days{2026y / 11 / 25} + 10h;
    EXPECT_EQ(ParseUtc("2026-11-25T10:00:00Z"), expected);
    EXPECT_EQ(ParseUtc("2026-11-25T10:00:00.123456Z"), expected);
    EXPECT_EQ(ParseUtc("2026-11-25T12:00:00+02:00"), expected);
    EXPECT_EQ(ParseUtc("2026-11-25T05:30:00-04:30"), expected);
    EXPECT_EQ(ParseUtc("2026-11-25t10:00:00z"), expected);
}

TEST(Time, RejectsMalformedAndImpossibleDates) {
    for (const char* bad :
         {"", "2026-11-25", "2026-11-25 10:00:00Z", "2026-11-25T10:00:00", "2026-02-30T00:00:00Z",
          "2026-13-01T00:00:00Z", "2026-11-25T24:00:00Z", "2026-11-25T10:60:00Z", "1969-12-31T23:59:59Z",
          "2026-11-25T10:00:00+2:00", "2026-11-25T10:00:00.Z", "2026-11-25T10:00:00Zjunk", "abcd-11-25T10:00:00Z"}) {
        EXPECT_FALSE(ParseUtc(bad).has_value()) << bad;
    }
}

TEST(Time, RoundTrips) {
    const auto now = UtcNow();
    EXPECT_EQ(ParseUtc(FormatUtc(now)), now);
}

TEST(Time, AddsCalendarMonthsKeepingTheTimeOfDay) {
    EXPECT_EQ(AddMonths(sys_days{2026y / 11 / 26} + 10h + 5s, 1), sys_days{2026y / 12 / 26} + 10h + 5s);
    EXPECT_EQ(AddMonths(sys_days{2026y / 12 / 15} + 1h, 1), sys_days{2027y / 1 / 15} + 1h);  // across the year
    EXPECT_EQ(AddMonths(sys_days{2027y / 1 / 31} + 9h, 1), sys_days{2027y / 2 / 28} + 9h);   // the month's last day
    EXPECT_EQ(AddMonths(sys_days{2028y / 1 / 31}, 1), sys_days{2028y / 2 / 29});             // a leap year
    EXPECT_EQ(AddMonths(sys_days{2026y / 3 / 31}, -1), sys_days{2026y / 2 / 28});
}

TEST(Time, KeepsMillisecondsWhenAsked) {
    const SysMillis t = sys_days{2026y / 11 / 25} + 10h + 250ms;
    EXPECT_EQ(ParseUtcMillis("2026-11-25T10:00:00.25Z"), t);
    EXPECT_EQ(ParseUtcMillis("2026-11-25T10:00:00.250999Z"), t);  // past the millisecond: dropped
    EXPECT_EQ(ParseUtcMillis("2026-11-25T11:00:00.250+01:00"), t);
    EXPECT_EQ(ParseUtc("2026-11-25T10:00:00.999Z"), sys_days{2026y / 11 / 25} + 10h);  // whole seconds: floored
    EXPECT_EQ(FormatUtcMillis(t), "2026-11-25T10:00:00.250Z");
    EXPECT_EQ(FormatUtcMillis(sys_days{2026y / 11 / 25} + 10h + 0ms), "2026-11-25T10:00:00Z");
    EXPECT_EQ(ParseUtcMillis(FormatUtcMillis(t + 7ms)), t + 7ms);
    EXPECT_FALSE(ParseUtcMillis("2026-11-25T10:00:00.Z").has_value());
}

TEST(Time, FormatsMailDates) {
    EXPECT_EQ(FormatRfc5322(sys_days{2026y / 11 / 26} + 9h + 5min + 7s), "Thu, 26 Nov 2026 09:05:07 +0000");
    EXPECT_EQ(FormatRfc5322(sys_days{2027y / 2 / 1}), "Mon, 01 Feb 2027 00:00:00 +0000");
}

}  // namespace
}  // namespace gpuopt
