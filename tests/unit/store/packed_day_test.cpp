// The roll-up's packed day (store/packed_day.hpp): its bytes, how hours group into days and merge, and how
// days read back as hours.
#include "store/packed_day.hpp"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

namespace gpuopt::store {
namespace {

using namespace std::chrono;
const SysSeconds kMidnight = sys_days{2026y / 11 / 22};

HourlyRow Hour(std::string gpu, SysSeconds at, int64_t windows, double util_max, double cost) {
    HourlyRow h;
    h.account_id = 7;
    h.gpu_key = "host/" + gpu;
    h.host = "host";
    h.uuid = gpu;
    h.name = "H100";
    h.hour = at;
    h.windows = windows;
    h.reported_s = 60.0 * static_cast<double>(windows);
    h.util_max = util_max;
    h.cost_usd = cost;
    return h;
}

TEST(PackedDay, EncodesEveryFigureExactlyInBigEndianOrder) {
    PackedDay day;
    day.hours[0].windows = 0x0102030405060708;
    day.hours[0].reported_s = 1.0;
    day.hours[23].idle_held_cost_usd = 0.1 + 0.2;  // not a round binary fraction
    day.hours[5].util_max = std::numeric_limits<double>::denorm_min();
    day.hours[6].mem_total = -0.0;
    day.hours[7].sm_weighted = 3600 * 42.5;
    const std::string bytes = day.Encode();
    ASSERT_EQ(bytes.size(), kPackedDayBytes);
    EXPECT_EQ(bytes.substr(0, 8), std::string("\x01\x02\x03\x04\x05\x06\x07\x08", 8));
    EXPECT_EQ(bytes.substr(8, 8), std::string("\x3f\xf0\0\0\0\0\0\0", 8));  // 1.0 as float8send writes it
    auto back = PackedDay::Decode(bytes);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->hours[0].windows, 0x0102030405060708);
    EXPECT_EQ(back->hours[23].idle_held_cost_usd, 0.1 + 0.2);
    EXPECT_EQ(back->hours[5].util_max, std::numeric_limits<double>::denorm_min());
    EXPECT_TRUE(std::signbit(back->hours[6].mem_total));
    EXPECT_EQ(back->hours[7].sm_weighted, 3600 * 42.5);
    EXPECT_EQ(back->Encode(), bytes);
}

TEST(PackedDay, ReadsADayWrittenBeforeSmActivityWithNone) {
    // The earlier form: 11 figures a slot. Hour 4 holds windows 3 and reported_s 180, the rest zero.
    std::string old(kPackedDayBytesBeforeSm, '\0');
    const size_t slot = 4 * kFiguresPerHourBeforeSm * 8;
    old[slot + 7] = 3;
    const std::string seconds_180("\x40\x66\x80\0\0\0\0\0", 8);  // 180.0 as float8send writes it
    old.replace(slot + 8, 8, seconds_180);
    auto day = PackedDay::Decode(old);
    ASSERT_TRUE(day.ok()) << day.error().message;
    EXPECT_EQ(day->hours[4].windows, 3);
    EXPECT_EQ(day->hours[4].reported_s, 180.0);
    EXPECT_EQ(day->hours[4].sm_s, 0.0);
    EXPECT_TRUE(day->hours[5].empty());
    // Written back, it takes the current form with the SM figures of a merge.
    HourFigures more;
    more.reported_s = 60;
    more.sm_s = 60;
    more.sm_weighted = 60 * 12.5;
    day->hours[4].Merge(more);
    const std::string bytes = day->Encode();
    ASSERT_EQ(bytes.size(), kPackedDayBytes);
    auto back = PackedDay::Decode(bytes);
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->hours[4].reported_s, 240.0);
    EXPECT_EQ(back->hours[4].sm_s, 60.0);
    EXPECT_EQ(back->hours[4].sm_weighted, 750.0);
}

TEST(PackedDay, RefusesAValueOfAnyOtherSize) {
    const std::string bytes = PackedDay{}.Encode();
    EXPECT_FALSE(PackedDay::Decode(bytes.substr(1)).ok());
    EXPECT_FALSE(PackedDay::Decode(bytes + "x").ok());
    EXPECT_FALSE(PackedDay::Decode("").ok());
    EXPECT_FALSE(PackedDay::Decode(std::string(kPackedDayBytesBeforeSm - 8, '\0')).ok());
}

TEST(PackedDay, HoursGroupByAccountDayAndGpuAndKeepTheLatestIdentity) {
    HourlyRow renamed = Hour("GPU-1", kMidnight + hours(3), 10, 50, 1);
    renamed.host = "host-renamed";
    const std::vector<HourlyRow> rows = {
        Hour("GPU-1", kMidnight - hours(1), 60, 20, 1), renamed, Hour("GPU-1", kMidnight + hours(2), 60, 30, 1),
        Hour("GPU-2", kMidnight + hours(2), 60, 30, 1), Hour("GPU-1", kMidnight + hours(3), 5, 70, 0.5)};
    const auto groups = GroupByDay(rows);
    ASSERT_EQ(groups.size(), 3u);  // GPU-1 the day before, GPU-1 and GPU-2 on the day
    EXPECT_EQ(groups[0].day, kMidnight - days(1));
    EXPECT_EQ(groups[0].added.hours[23].windows, 60);
    EXPECT_EQ(groups[1].day, kMidnight);
    EXPECT_EQ(groups[1].gpu_key, "host/GPU-1");
    EXPECT_EQ(groups[1].host, "host") << "identity of the latest hour (03:00), written last";
    EXPECT_EQ(groups[1].added.hours[3].windows, 15);
    EXPECT_DOUBLE_EQ(groups[1].added.hours[3].util_max, 70);
    EXPECT_DOUBLE_EQ(groups[1].added.hours[3].cost_usd, 1.5);
    EXPECT_EQ(groups[1].added.Windows(), 75);
    EXPECT_EQ(groups[2].gpu_key, "host/GPU-2");
    EXPECT_EQ(SlotOf(kMidnight + hours(23) + minutes(59)), 23u);
    EXPECT_EQ(DayOf(kMidnight + hours(23) + minutes(59)), kMidnight);
}

TEST(PackedDay, MergingAddsSumsAndKeepsMaxima) {
    PackedDay stored;
    stored.hours[4] = FiguresOf(Hour("GPU-1", kMidnight + hours(4), 60, 95, 2));
    stored.hours[4].mem_used_max = 4000;
    const auto groups = GroupByDay({Hour("GPU-1", kMidnight + hours(4), 3, 20, 0.1)});
    ASSERT_EQ(groups.size(), 1u);
    const PackedDay merged = MergeDay(stored, groups[0]);
    EXPECT_EQ(merged.hours[4].windows, 63);
    EXPECT_DOUBLE_EQ(merged.hours[4].reported_s, 3780);
    EXPECT_DOUBLE_EQ(merged.hours[4].util_max, 95);
    EXPECT_DOUBLE_EQ(merged.hours[4].mem_used_max, 4000);
    EXPECT_DOUBLE_EQ(merged.Cost(), 2.1);
    EXPECT_TRUE(merged.hours[5].empty());
}

TEST(PackedDay, DaysReadBackAsHoursOldestFirstWithinTheRange) {
    RolledHistory out;
    out.gpus = {{"host/GPU-1", "host", "GPU-1", "H100", 0}, {"host/GPU-2", "host", "GPU-2", "H100", 1}};
    PackedDay a;
    PackedDay b;
    for (int h : {0, 1, 22, 23}) a.hours[static_cast<size_t>(h)].windows = 60;
    b.hours[1].windows = 30;
    b.hours[23].windows = 30;
    // From 01:00 to 23:00: hours 0 and 23 are outside.
    DayHours days(kMidnight + hours(1), kMidnight + hours(23), out);
    days.StartDay(kMidnight);
    ASSERT_TRUE(days.Add(0, a.Encode()).ok());
    ASSERT_TRUE(days.Add(1, b.Encode()).ok());
    EXPECT_FALSE(days.Add(1, "short").ok());
    days.Flush();
    ASSERT_EQ(out.hours.size(), 3u);
    EXPECT_EQ(out.hours[0].hour, kMidnight + hours(1));
    EXPECT_EQ(out.hours[0].gpu, 0u);
    EXPECT_EQ(out.hours[1].hour, kMidnight + hours(1));
    EXPECT_EQ(out.hours[1].gpu, 1u);
    EXPECT_EQ(out.hours[1].windows, 30);
    EXPECT_EQ(out.hours[2].hour, kMidnight + hours(22));
}

}  // namespace
}  // namespace gpuopt::store
