// The agent's on-disk spool: every report is appended here (and fsync'd) before it is sent, and
// removed once the server has acknowledged it, so nothing the agent produced is lost to a crash, a
// restart or a server that is away. Reports are replayed oldest first.
//
// Layout, in one directory: segment files "seg-<first sequence>.log" holding records
//   magic "GOR1" | payload length u32 | sequence u64 | created (Unix s) i64 | CRC-32 u32 | payload
// appended in sequence order, and "cursor" holding the highest sequence the server acknowledged.
// A torn or corrupt record (a crash in the middle of an append) ends its segment: it is cut off at
// open, with a log line, and the records before it are kept.
//
// Bounds: at most max_bytes of segments (the oldest segment is dropped first, its undelivered reports
// counted and logged), and reports older than max_age are dropped when they come up for delivery.
// Thread-safe.
#pragma once

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "common/result.hpp"

namespace gpuopt::agent {

struct SpoolOptions {
    std::filesystem::path dir;
    uint64_t max_bytes = 64ull * 1024 * 1024;
    std::chrono::seconds max_age = std::chrono::hours(24 * 7);
    uint64_t segment_bytes = 1024 * 1024;
};

struct SpooledReport {
    uint64_t sequence = 0;
    int64_t created_unix = 0;
    std::string body;
};

class Spool {
public:
    ~Spool();
    Spool(const Spool&) = delete;
    Spool& operator=(const Spool&) = delete;

    // Creates the directory when missing, reads the segments and the cursor, cuts off torn tails.
    static Result<std::unique_ptr<Spool>> Open(SpoolOptions options);

    // Appends durably (written and fsync'd before it returns). `sequence` must be above HighestSequence().
    Result<void> Append(uint64_t sequence, int64_t created_unix, const std::string& body);

    // The oldest report not yet acknowledged, after dropping those older than max_age at `now_unix`.
    Result<std::optional<SpooledReport>> Oldest(int64_t now_unix);

    // Everything up to `sequence` is delivered (or given up): persists the cursor, removes segments
    // that hold nothing undelivered.
    Result<void> Ack(uint64_t sequence);

    uint64_t HighestSequence() const;  // the largest sequence appended or acknowledged, ever
    size_t Pending() const;            // reports not yet acknowledged
    uint64_t Bytes() const;            // on disk, in segments
    uint64_t Dropped() const;          // reports dropped by the bounds since Open

private:
    struct Record {
        uint64_t sequence;
        int64_t created;
        uint64_t offset;  // of the header
        uint32_t length;  // payload
    };
    struct Segment {
        std::filesystem::path path;
        uint64_t bytes = 0;
        std::vector<Record> records;
    };

    explicit Spool(SpoolOptions options) : options_(std::move(options)) {}
    Result<void> Load();
    Result<void> WriteCursor(uint64_t acked);
    void RemoveDelivered();
    void DropOldestSegment();

    SpoolOptions options_;
    mutable std::mutex mu_;
    std::vector<Segment> segments_;  // oldest first; the last is appended to
    int append_fd_ = -1;             // open on segments_.back() while appending
    uint64_t acked_ = 0;
    uint64_t highest_ = 0;
    uint64_t dropped_ = 0;
};

// CRC-32 (IEEE 802.3, as zlib computes it).
uint32_t Crc32(const void* data, size_t size, uint32_t crc = 0);

}  // namespace gpuopt::agent
