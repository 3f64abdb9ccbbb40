#include "store/packed_day.hpp"

#include <algorithm>
#include <bit>
#include <cstring>
#include <map>
#include <tuple>

namespace gpuopt::store {

namespace {

void Put(char* at, uint64_t bits) {
    for (int i = 7; i >= 0; --i) {
        at[i] = static_cast<char>(bits & 0xff);
        bits >>= 8;
    }
}

uint64_t Get(const char* at) {
    uint64_t bits = 0;
    for (int i = 0; i < 8; ++i) bits = (bits << 8) | static_cast<unsigned char>(at[i]);
    return bits;
}

}  // namespace

void HourFigures::Merge(const HourFigures& more) {
    windows += more.windows;
    reported_s += more.reported_s;
    util_weighted += more.util_weighted;
    util_max = std::max(util_max, more.util_max);
    idle_s += more.idle_s;
    idle_held_s += more.idle_held_s;
    mem_used_max = std::max(mem_used_max, more.mem_used_max);
    mem_total = std::max(mem_total, more.mem_total);
    cost_usd += more.cost_usd;
    idle_cost_usd += more.idle_cost_usd;
    idle_held_cost_usd += more.idle_held_cost_usd;
    sm_s += more.sm_s;
    sm_weighted += more.sm_weighted;
}

HourFigures FiguresOf(const HourlyRow& row) {
    return {row.windows,    row.reported_s,    row.util_weighted,      row.util_max,
            row.idle_s,     row.idle_held_s,   row.mem_used_max,       row.mem_total,
            row.cost_usd,   row.idle_cost_usd, row.idle_held_cost_usd, row.sm_s,
            row.sm_weighted};
}

void CopyFigures(const HourFigures& from, HourStats& to) {
    to.windows = from.windows;
    to.reported_s = from.reported_s;
    to.util_weighted = from.util_weighted;
    to.util_max = from.util_max;
    to.idle_s = from.idle_s;
    to.idle_held_s = from.idle_held_s;
    to.mem_used_max = from.mem_used_max;
    to.mem_total = from.mem_total;
    to.cost_usd = from.cost_usd;
    to.idle_cost_usd = from.idle_cost_usd;
    to.idle_held_cost_usd = from.idle_held_cost_usd;
    to.sm_s = from.sm_s;
    to.sm_weighted = from.sm_weighted;
}

std::string PackedDay::Encode() const {
    std::string out(kPackedDayBytes, '\0');
    char* at = out.data();
    for (const HourFigures& h : hours) {
        Put(at, static_cast<uint64_t>(h.windows));
        at += 8;
        for (double v : {h.reported_s, h.util_weighted, h.util_max, h.idle_s, h.idle_held_s, h.mem_used_max,
                         h.mem_total, h.cost_usd, h.idle_cost_usd, h.idle_held_cost_usd, h.sm_s, h.sm_weighted}) {
            Put(at, std::bit_cast<uint64_t>(v));
            at += 8;
        }
    }
    return out;
}

Result<PackedDay> PackedDay::Decode(std::string_view bytes) {
    if (bytes.size() != kPackedDayBytes && bytes.size() != kPackedDayBytesBeforeSm) {
        return Error{ErrorCode::kInternal,
                     "a roll-up day holds " + std::to_string(bytes.size()) + " bytes, not " +
                         std::to_string(kPackedDayBytes) + " (or " + std::to_string(kPackedDayBytesBeforeSm) +
                         " from before SM activity)",
                     {}};
    }
    const bool with_sm = bytes.size() == kPackedDayBytes;
    PackedDay day;
    const char* at = bytes.data();
    auto next = [&at] {
        const double v = std::bit_cast<double>(Get(at));
        at += 8;
        return v;
    };
    for (HourFigures& h : day.hours) {
        h.windows = static_cast<int64_t>(Get(at));
        at += 8;
        h.reported_s = next();
        h.util_weighted = next();
        h.util_max = next();
        h.idle_s = next();
        h.idle_held_s = next();
        h.mem_used_max = next();
        h.mem_total = next();
        h.cost_usd = next();
        h.idle_cost_usd = next();
        h.idle_held_cost_usd = next();
        if (with_sm) {
            h.sm_s = next();
            h.sm_weighted = next();
        }
    }
    return day;
}

int64_t PackedDay::Windows() const {
    int64_t n = 0;
    for (const auto& h : hours) n += h.windows;
    return n;
}

double PackedDay::Cost() const {
    double n = 0;
    for (const auto& h : hours) n += h.cost_usd;
    return n;
}

double PackedDay::IdleCost() const {
    double n = 0;
    for (const auto& h : hours) n += h.idle_cost_usd;
    return n;
}

double PackedDay::IdleHeldCost() const {
    double n = 0;
    for (const auto& h : hours) n += h.idle_held_cost_usd;
    return n;
}

SysSeconds DayOf(SysSeconds hour) { return std::chrono::floor<std::chrono::days>(hour); }

size_t SlotOf(SysSeconds hour) {
    return static_cast<size_t>(std::chrono::floor<std::chrono::hours>(hour - DayOf(hour)).count());
}

std::vector<DayGroup> GroupByDay(const std::vector<HourlyRow>& hours) {
    std::map<std::tuple<int64_t, SysSeconds, std::string_view>, size_t> index;
    std::vector<DayGroup> out;
    for (const HourlyRow& h : hours) {
        const SysSeconds day = DayOf(h.hour);
        auto [it, added] = index.try_emplace({h.account_id, day, h.gpu_key}, out.size());
        if (added) {
            DayGroup& g = out.emplace_back();
            g.account_id = h.account_id;
            g.gpu_key = h.gpu_key;
            g.day = day;
            g.latest_hour = h.hour;
            g.host = h.host;
            g.uuid = h.uuid;
            g.name = h.name;
            g.gpu_index = h.gpu_index;
        }
        DayGroup& g = out[it->second];
        if (h.hour >= g.latest_hour) {
            g.latest_hour = h.hour;
            g.host = h.host;
            g.uuid = h.uuid;
            g.name = h.name;
            g.gpu_index = h.gpu_index;
        }
        g.added.hours[SlotOf(h.hour)].Merge(FiguresOf(h));
    }
    return out;
}

PackedDay MergeDay(const PackedDay& stored, const DayGroup& group) {
    PackedDay out = stored;
    for (size_t i = 0; i < out.hours.size(); ++i) {
        if (!group.added.hours[i].empty()) out.hours[i].Merge(group.added.hours[i]);
    }
    return out;
}

void DayHours::StartDay(SysSeconds day) {
    Flush();
    day_ = day;
}

Result<void> DayHours::Add(size_t gpu, std::string_view packed) {
    auto day = PackedDay::Decode(packed);
    if (!day) return day.error();
    if (used_ == rows_.size()) rows_.emplace_back();
    rows_[used_].first = gpu;
    rows_[used_].second = *day;
    ++used_;
    return {};
}

void DayHours::Flush() {
    for (size_t slot = 0; slot < 24 && used_ > 0; ++slot) {
        const SysSeconds hour = day_ + std::chrono::hours(static_cast<int64_t>(slot));
        if (hour < from_ || hour >= to_) continue;
        for (size_t i = 0; i < used_; ++i) {
            const HourFigures& f = rows_[i].second.hours[slot];
            if (f.empty()) continue;
            HourStats& h = out_.hours.emplace_back();
            h.gpu = rows_[i].first;
            h.hour = hour;
            CopyFigures(f, h);
        }
    }
    used_ = 0;
}

}  // namespace gpuopt::store
