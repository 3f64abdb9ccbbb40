// The hourly roll-up as it is stored: one row per account, GPU and day, its 24 hours packed in one value.
// A month of a 64-GPU fleet is 1,920 rows instead of 46,080, and each row's figures are decoded with a
// few loads instead of read column by column (decision 0008).
//
// The packed value is 24 slots of 13 figures, each 8 bytes big-endian (the first an integer, the rest
// IEEE 754 doubles): 2,496 bytes. Big-endian is PostgreSQL's own binary order (int8send, float8send).
// A slot whose figures are all zero is an hour without reports. Rows written before SM activity was
// rolled up hold 11 figures a slot (2,112 bytes): they read with no SM activity, and are written back
// in the longer form when an hour of theirs changes.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/result.hpp"
#include "common/time.hpp"
#include "store/usage.hpp"

namespace gpuopt::store {

// One hour's figures, as HourlyRow and HourStats carry them.
struct HourFigures {
    int64_t windows = 0;
    double reported_s = 0;
    double util_weighted = 0;
    double util_max = 0;
    double idle_s = 0;
    double idle_held_s = 0;
    double mem_used_max = 0;
    double mem_total = 0;
    double cost_usd = 0;
    double idle_cost_usd = 0;
    double idle_held_cost_usd = 0;
    double sm_s = 0;
    double sm_weighted = 0;

    // No figure at all: an hour without reports. (A window split across two hours counts its window
    // in the later hour only, so an earlier part has seconds but no windows.)
    bool empty() const { return *this == HourFigures{}; }
    bool operator==(const HourFigures&) const = default;
    // Adds a later contribution to the same GPU-hour: sums add, maxima take the larger.
    void Merge(const HourFigures& more);
};

HourFigures FiguresOf(const HourlyRow& row);
void CopyFigures(const HourFigures& from, HourStats& to);

constexpr size_t kFiguresPerHour = 13;
constexpr size_t kPackedDayBytes = 24 * kFiguresPerHour * 8;
constexpr size_t kFiguresPerHourBeforeSm = 11;
constexpr size_t kPackedDayBytesBeforeSm = 24 * kFiguresPerHourBeforeSm * 8;

struct PackedDay {
    std::array<HourFigures, 24> hours{};

    std::string Encode() const;
    // Reads either size; fails on a value of any other (a damaged row): nothing is guessed.
    static Result<PackedDay> Decode(std::string_view bytes);

    // The day's sums, kept beside the packed hours so that SQL can total them.
    int64_t Windows() const;
    double Cost() const;
    double IdleCost() const;
    double IdleHeldCost() const;
};

// The day an hour belongs to (UTC midnight), and its slot in that day.
SysSeconds DayOf(SysSeconds hour);
size_t SlotOf(SysSeconds hour);

// A batch of roll-up hours grouped by the row they go to: account, day and GPU. Each group keeps the
// identity (host, UUID, name, index) of its latest hour, as the row will.
struct DayGroup {
    int64_t account_id = 0;
    std::string gpu_key;
    SysSeconds day;
    std::string host;
    std::string uuid;
    std::string name;
    int gpu_index = 0;
    SysSeconds latest_hour;
    PackedDay added;
};
std::vector<DayGroup> GroupByDay(const std::vector<HourlyRow>& hours);

// Adds `group`'s hours to what the row holds already (`stored`, empty for a new row).
PackedDay MergeDay(const PackedDay& stored, const DayGroup& group);

// Turns roll-up days read in order of day (each day's rows together) into RolledHistory's hours: oldest
// first, only those in [from, to), and within an hour in the order the day's rows came.
class DayHours {
public:
    DayHours(SysSeconds from, SysSeconds to, RolledHistory& out) : from_(from), to_(to), out_(out) {}
    // Writes out the previous day's hours and starts `day`.
    void StartDay(SysSeconds day);
    // One GPU's row of the current day: `gpu` indexes RolledHistory::gpus.
    Result<void> Add(size_t gpu, std::string_view packed);
    // Writes out the last day.
    void Flush();

private:
    SysSeconds from_;
    SysSeconds to_;
    SysSeconds day_{};
    RolledHistory& out_;
    std::vector<std::pair<size_t, PackedDay>> rows_;
    size_t used_ = 0;
};

}  // namespace gpuopt::store
