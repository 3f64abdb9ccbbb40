// How much of one GPU's time its stored windows already count (decision 0012), as both store backends
// keep it in memory on their writer thread: everything up to `floor` counts as covered (what was stored
// before the store knew the GPU, read back from the database), and `spans` are the disjoint intervals
// counted since, in epoch ms, oldest first.
#pragma once

#include <algorithm>
#include <cstdint>
#include <iterator>
#include <optional>
#include <utility>
#include <vector>

namespace gpuopt::store {

struct Coverage {
    int64_t floor = -1;
    std::vector<std::pair<int64_t, int64_t>> spans;

    int64_t High() const { return spans.empty() ? floor : std::max(floor, spans.back().second); }

    // The newest stretch of [start, end] not counted yet, now counted; nullopt when all of it was. A window
    // whose uncovered time is split by earlier windows counts its newest stretch only (never more than the
    // truth), so every stored window's counted time is one interval ending at its counted end.
    std::optional<std::pair<int64_t, int64_t>> Claim(int64_t start, int64_t end) {
        start = std::max(start, floor);
        if (end <= start) return std::nullopt;
        // From `end` leftwards past every span that covers it: there the newest uncovered stretch ends.
        int64_t stretch_end = end;
        auto it = std::lower_bound(spans.begin(), spans.end(), stretch_end,
                                   [](const std::pair<int64_t, int64_t>& span, int64_t at) { return span.first < at; });
        while (it != spans.begin()) {
            auto before = std::prev(it);
            if (before->second < stretch_end) break;
            stretch_end = before->first;
            it = before;
        }
        if (stretch_end <= start) return std::nullopt;
        const int64_t stretch_start = it == spans.begin() ? start : std::max(start, std::prev(it)->second);
        Merge(stretch_start, stretch_end);
        return std::make_pair(stretch_start, stretch_end);
    }

    // Spans that overlap or touch [start, end] become one.
    void Merge(int64_t start, int64_t end) {
        auto first =
            std::lower_bound(spans.begin(), spans.end(), start,
                             [](const std::pair<int64_t, int64_t>& span, int64_t at) { return span.second < at; });
        auto last = first;
        int64_t merged_start = start, merged_end = end;
        for (; last != spans.end() && last->first <= end; ++last) {
            merged_start = std::min(merged_start, last->first);
            merged_end = std::max(merged_end, last->second);
        }
        const auto at = spans.erase(first, last);
        spans.insert(at, {merged_start, merged_end});
        // Bounded memory: past 256 gaps, the oldest one counts as covered (never more than the truth).
        if (spans.size() > 256) {
            spans[1].first = spans[0].first;
            spans.erase(spans.begin());
        }
    }
};

}  // namespace gpuopt::store
