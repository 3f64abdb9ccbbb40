#include "agent/spool.hpp"

#include <fcntl.h>
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <sstream>

namespace gpuopt::agent {

namespace {

namespace fs = std::filesystem;

constexpr uint32_t kMagic = 0x31524F47;  // "GOR1" little-endian
constexpr size_t kHeaderSize = 4 + 4 + 8 + 8 + 4;
constexpr uint32_t kMaxPayload = 16 * 1024 * 1024;

Error IoError(const std::string& what) {
    return Error{ErrorCode::kInternal, "spool: " + what + ": " + std::strerror(errno), {}};
}

void PutU32(unsigned char* p, uint32_t v) { std::memcpy(p, &v, 4); }
void PutU64(unsigned char* p, uint64_t v) { std::memcpy(p, &v, 8); }
uint32_t GetU32(const unsigned char* p) {
    uint32_t v;
    std::memcpy(&v, p, 4);
    return v;
}
uint64_t GetU64(const unsigned char* p) {
    uint64_t v;
    std::memcpy(&v, p, 8);
    return v;
}

uint32_t RecordCrc(uint64_t sequence, int64_t created, const void* payload, size_t length) {
    unsigned char meta[16];
    PutU64(meta, sequence);
    PutU64(meta + 8, static_cast<uint64_t>(created));
    return Crc32(payload, length, Crc32(meta, sizeof meta));
}

bool SyncDirectory(const fs::path& dir) {
    const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) return false;
    const bool ok = ::fsync(fd) == 0;
    ::close(fd);
    return ok;
}

std::string SegmentName(uint64_t first_sequence) {
    std::string n = std::to_string(first_sequence);
    return "seg-" + std::string(20 - n.size(), '0') + n + ".log";
}

}  // namespace

uint32_t Crc32(const void* data, size_t size, uint32_t crc) {
    static const std::array<uint32_t, 256> table = [] {
        std::array<uint32_t, 256> t{};
        for (uint32_t i = 0; i < 256; ++i) {
            uint32_t c = i;
            for (int k = 0; k < 8; ++k) c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
            t[i] = c;
        }
        return t;
    }();
    crc = ~crc;
    const auto* p = static_cast<const unsigned char*>(data);
    for (size_t i = 0; i < size; ++i) crc = table[(crc ^ p[i]) & 0xFF] ^ (crc >> 8);
    return ~crc;
}

Spool::~Spool() {
    if (append_fd_ >= 0) ::close(append_fd_);
}

Result<std::unique_ptr<Spool>> Spool::Open(SpoolOptions options) {
    std::error_code ec;
    fs::create_directories(options.dir, ec);
    if (ec)
        return Error{ErrorCode::kInternal, "spool: cannot create " + options.dir.string() + ": " + ec.message(), {}};
    if (options.max_bytes < 2 * options.segment_bytes)
        options.segment_bytes = std::max<uint64_t>(options.max_bytes / 4, 4096);
    std::unique_ptr<Spool> spool(new Spool(std::move(options)));
    if (auto r = spool->Load(); !r) return r.error();
    return spool;
}

Result<void> Spool::Load() {
    {
        std::ifstream in(options_.dir / "cursor");
        uint64_t acked = 0;
        if (in >> acked) acked_ = acked;
    }
    std::vector<fs::path> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(options_.dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.rfind("seg-", 0) == 0 && name.size() > 8 && name.substr(name.size() - 4) == ".log")
            files.push_back(entry.path());
    }
    if (ec) return Error{ErrorCode::kInternal, "spool: cannot list " + options_.dir.string() + ": " + ec.message(), {}};
    std::sort(files.begin(), files.end());
    uint64_t previous = 0;  // the last record read, across segments
    for (const auto& path : files) {
        std::ifstream in(path, std::ios::binary);
        std::string data((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
        Segment seg;
        seg.path = path;
        const auto* bytes = reinterpret_cast<const unsigned char*>(data.data());
        uint64_t offset = 0;
        while (offset < data.size()) {
            bool good = offset + kHeaderSize <= data.size() && GetU32(bytes + offset) == kMagic;
            uint32_t length = 0;
            uint64_t sequence = 0;
            int64_t created = 0;
            if (good) {
                length = GetU32(bytes + offset + 4);
                sequence = GetU64(bytes + offset + 8);
                created = static_cast<int64_t>(GetU64(bytes + offset + 16));
                // Sequences only grow; anything else is not a record this spool wrote.
                good =
                    length <= kMaxPayload && offset + kHeaderSize + length <= data.size() && sequence > previous &&
                    GetU32(bytes + offset + 24) == RecordCrc(sequence, created, bytes + offset + kHeaderSize, length);
            }
            if (!good) {
                spdlog::warn("spool: {} ends in a torn or damaged record at byte {} ({} bytes cut off)", path.string(),
                             offset, data.size() - offset);
                fs::resize_file(path, offset, ec);
                break;
            }
            seg.records.push_back({sequence, created, offset, length});
            previous = sequence;
            offset += kHeaderSize + length;
        }
        seg.bytes = offset;
        if (seg.records.empty()) {
            fs::remove(path, ec);
            continue;
        }
        segments_.push_back(std::move(seg));
    }
    highest_ = std::max(acked_, previous);
    RemoveDelivered();
    return {};
}

Result<void> Spool::WriteCursor(uint64_t acked) {
    const fs::path tmp = options_.dir / "cursor.tmp";
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0) return IoError("open " + tmp.string());
    const std::string text = std::to_string(acked) + "\n";
    const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) && ::fdatasync(fd) == 0;
    ::close(fd);
    if (!ok) return IoError("write " + tmp.string());
    if (::rename(tmp.c_str(), (options_.dir / "cursor").c_str()) != 0) return IoError("rename cursor");
    SyncDirectory(options_.dir);
    return {};
}

void Spool::RemoveDelivered() {
    std::error_code ec;
    while (!segments_.empty() && segments_.front().records.back().sequence <= acked_) {
        if (segments_.size() == 1 && append_fd_ >= 0) {
            ::close(append_fd_);
            append_fd_ = -1;
        }
        fs::remove(segments_.front().path, ec);
        segments_.erase(segments_.begin());
    }
}

void Spool::DropOldestSegment() {
    Segment& seg = segments_.front();
    size_t undelivered = 0;
    for (const auto& r : seg.records) undelivered += r.sequence > acked_;
    dropped_ += undelivered;
    if (undelivered > 0) {
        spdlog::warn("spool: over its size limit of {} bytes: dropped the {} oldest undelivered report(s) ({} so far)",
                     options_.max_bytes, undelivered, dropped_);
    }
    acked_ = std::max(acked_, seg.records.back().sequence);
    if (auto r = WriteCursor(acked_); !r) spdlog::error("{}", r.error().message);
    RemoveDelivered();
}

Result<void> Spool::Append(uint64_t sequence, int64_t created_unix, const std::string& body) {
    std::lock_guard lock(mu_);
    if (sequence <= highest_) {
        return Error{ErrorCode::kInternal,
                     "spool: sequence " + std::to_string(sequence) + " is not above " + std::to_string(highest_),
                     {}};
    }
    if (body.size() > kMaxPayload) return Error{ErrorCode::kInternal, "spool: report too large", {}};
    const uint64_t size = kHeaderSize + body.size();
    while (!segments_.empty()) {
        uint64_t total = 0;
        for (const auto& s : segments_) total += s.bytes;
        if (total + size <= options_.max_bytes) break;
        DropOldestSegment();
    }
    if (segments_.empty() || segments_.back().bytes >= options_.segment_bytes) {
        if (append_fd_ >= 0) {
            ::close(append_fd_);
            append_fd_ = -1;
        }
        Segment seg;
        seg.path = options_.dir / SegmentName(sequence);
        const int fd = ::open(seg.path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_APPEND | O_CLOEXEC, 0600);
        if (fd < 0) return IoError("create " + seg.path.string());
        append_fd_ = fd;
        SyncDirectory(options_.dir);
        segments_.push_back(std::move(seg));
    } else if (append_fd_ < 0) {
        append_fd_ = ::open(segments_.back().path.c_str(), O_WRONLY | O_APPEND | O_CLOEXEC);
        if (append_fd_ < 0) return IoError("open " + segments_.back().path.string());
    }
    std::string record(kHeaderSize, '\0');
    auto* h = reinterpret_cast<unsigned char*>(record.data());
    PutU32(h, kMagic);
    PutU32(h + 4, static_cast<uint32_t>(body.size()));
    PutU64(h + 8, sequence);
    PutU64(h + 16, static_cast<uint64_t>(created_unix));
    PutU32(h + 24, RecordCrc(sequence, created_unix, body.data(), body.size()));
    record += body;
    Segment& seg = segments_.back();
    size_t written = 0;
    while (written < record.size()) {
        const ssize_t n = ::write(append_fd_, record.data() + written, record.size() - written);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            Error e = IoError("write " + seg.path.string());
            // Leave no half record behind for the next append to follow.
            if (::ftruncate(append_fd_, static_cast<off_t>(seg.bytes)) != 0)
                spdlog::error("spool: cannot undo a failed write");
            return e;
        }
        written += static_cast<size_t>(n);
    }
    if (::fdatasync(append_fd_) != 0) return IoError("fsync " + seg.path.string());
    seg.records.push_back({sequence, created_unix, seg.bytes, static_cast<uint32_t>(body.size())});
    seg.bytes += size;
    highest_ = sequence;
    return {};
}

Result<std::optional<SpooledReport>> Spool::Oldest(int64_t now_unix) {
    std::lock_guard lock(mu_);
    const uint64_t acked_before = acked_;
    size_t expired = 0;
    std::optional<SpooledReport> found;
    for (const auto& seg : segments_) {
        for (const auto& r : seg.records) {
            if (r.sequence <= acked_) continue;
            if (r.created < now_unix - options_.max_age.count()) {
                ++expired;
                acked_ = r.sequence;
                continue;
            }
            const int fd = ::open(seg.path.c_str(), O_RDONLY | O_CLOEXEC);
            if (fd < 0) return IoError("open " + seg.path.string());
            std::string body(r.length, '\0');
            const ssize_t n = ::pread(fd, body.data(), r.length, static_cast<off_t>(r.offset + kHeaderSize));
            ::close(fd);
            if (n != static_cast<ssize_t>(r.length)) return IoError("read " + seg.path.string());
            found = SpooledReport{r.sequence, r.created, std::move(body)};
            break;
        }
        if (found) break;
    }
    if (expired > 0) {
        dropped_ += expired;
        spdlog::warn("spool: dropped {} report(s) older than {} s ({} so far)", expired, options_.max_age.count(),
                     dropped_);
    }
    if (acked_ != acked_before) {
        if (auto r = WriteCursor(acked_); !r) return r.error();
        RemoveDelivered();
    }
    return found;
}

Result<void> Spool::Ack(uint64_t sequence) {
    std::lock_guard lock(mu_);
    if (sequence <= acked_) return {};
    acked_ = sequence;
    highest_ = std::max(highest_, acked_);
    if (auto r = WriteCursor(acked_); !r) return r.error();
    RemoveDelivered();
    return {};
}

uint64_t Spool::HighestSequence() const {
    std::lock_guard lock(mu_);
    return highest_;
}

size_t Spool::Pending() const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& seg : segments_) {
        for (const auto& r : seg.records) n += r.sequence > acked_;
    }
    return n;
}

uint64_t Spool::Bytes() const {
    std::lock_guard lock(mu_);
    uint64_t n = 0;
    for (const auto& seg : segments_) n += seg.bytes;
    return n;
}

uint64_t Spool::Dropped() const {
    std::lock_guard lock(mu_);
    return dropped_;
}

}  // namespace gpuopt::agent
