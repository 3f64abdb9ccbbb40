#include "common/time.hpp"

#include <charconv>
#include <cstdio>

namespace gpuopt {

SysSeconds UtcNow() { return std::chrono::floor<std::chrono::seconds>(std::chrono::system_clock::now()); }

std::string FormatUtc(SysSeconds t) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const hh_mm_ss hms{t - day};
    // Written digit by digit: this runs several times per request, and snprintf is slow.
    std::string out = "0000-00-00T00:00:00Z";
    auto put = [&out](size_t pos, unsigned value, size_t width) {
        for (size_t i = 0; i < width; ++i) {
            out[pos + width - 1 - i] = static_cast<char>('0' + value % 10);
            value /= 10;
        }
    };
    put(0, static_cast<unsigned>(static_cast<int>(ymd.year())), 4);
    put(5, static_cast<unsigned>(ymd.month()), 2);
    put(8, static_cast<unsigned>(ymd.day()), 2);
    put(11, static_cast<unsigned>(hms.hours().count()), 2);
    put(14, static_cast<unsigned>(hms.minutes().count()), 2);
    put(17, static_cast<unsigned>(hms.seconds().count()), 2);
    return out;
}

namespace {

bool ReadDigits(std::string_view s, size_t pos, size_t n, int& out) {
    if (pos + n > s.size()) return false;
    int v = 0;
    for (size_t i = pos; i < pos + n; ++i) {
        if (s[i] < '0' || s[i] > '9') return false;
        v = v * 10 + (s[i] - '0');
    }
    out = v;
    return true;
}

}  // namespace

std::optional<SysSeconds> ParseUtc(std::string_view s) {
    auto t = ParseUtcMillis(s);
    if (!t) return std::nullopt;
    return std::chrono::floor<std::chrono::seconds>(*t);
}

std::optional<SysMillis> ParseUtcMillis(std::string_view s) {
    using namespace std::chrono;
    int y = 0, mo = 0, d = 0, h = 0, mi = 0, sec = 0;
    if (s.size() < 20 || !ReadDigits(s, 0, 4, y) || s[4] != '-' || !ReadDigits(s, 5, 2, mo) || s[7] != '-' ||
        !ReadDigits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't') || !ReadDigits(s, 11, 2, h) || s[13] != ':' ||
        !ReadDigits(s, 14, 2, mi) || s[16] != ':' || !ReadDigits(s, 17, 2, sec)) {
        return std::nullopt;
    }
    if (y < 1970 || h > 23 || mi > 59 || sec > 60) return std::nullopt;
    const year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
    if (!ymd.ok()) return std::nullopt;
    size_t pos = 19;
    int millis = 0;
    if (pos < s.size() && s[pos] == '.') {
        ++pos;
        const size_t start = pos;
        while (pos < s.size() && s[pos] >= '0' && s[pos] <= '9') {
            if (pos - start < 3) millis = millis * 10 + (s[pos] - '0');
            ++pos;
        }
        if (pos == start || pos - start > 9) return std::nullopt;
        for (size_t digits = pos - start; digits < 3; ++digits) millis *= 10;  // ".1" is 100 ms
    }
    if (pos >= s.size()) return std::nullopt;
    int offset_minutes = 0;
    if (s[pos] == 'Z' || s[pos] == 'z') {
        ++pos;
    } else if (s[pos] == '+' || s[pos] == '-') {
        const int sign = s[pos] == '-' ? -1 : 1;
        int oh = 0, om = 0;
        if (!ReadDigits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
            !ReadDigits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
            return std::nullopt;
        }
        offset_minutes = sign * (oh * 60 + om);
        pos += 6;
    } else {
        return std::nullopt;
    }
    if (pos != s.size()) return std::nullopt;
    if (sec == 60) {  // a leap second is clamped, not rejected
        sec = 59;
        millis = 999;
    }
    const SysMillis local = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{millis};
    return local - minutes{offset_minutes};
}

std::string FormatUtcMillis(SysMillis t) {
    const auto whole = std::chrono::floor<std::chrono::seconds>(t);
    const auto ms = (t - whole).count();
    std::string out = FormatUtc(whole);
    if (ms == 0) return out;
    char frac[8];
    std::snprintf(frac, sizeof frac, ".%03d", static_cast<int>(ms));
    out.insert(out.size() - 1, frac);
    return out;
}

SysSeconds AddMonths(SysSeconds t, int months) {
    using namespace std::chrono;
    const auto day = floor<days>(t);
    const auto time_of_day = t - day;
    year_month_day ymd{day};
    ymd += std::chrono::months(months);
    if (!ymd.ok()) ymd = ymd.year() / ymd.month() / last;
    return sys_days{ymd} + time_of_day;
}

std::string FormatRfc5322(SysSeconds t) {
    using namespace std::chrono;
    static const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
    static const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
    const auto day = floor<days>(t);
    const year_month_day ymd{day};
    const weekday wd{day};
    const hh_mm_ss hms{t - day};
    char out[40];
    std::snprintf(out, sizeof out, "%s, %02u %s %04d %02d:%02d:%02d +0000", kDays[wd.c_encoding()],
                  static_cast<unsigned>(ymd.day()), kMonths[static_cast<unsigned>(ymd.month()) - 1],
                  static_cast<int>(ymd.year()), static_cast<int>(hms.hours().count()),
                  static_cast<int>(hms.minutes().count()), static_cast<int>(hms.seconds().count()));
    return out;
}

}  // namespace gpuopt
