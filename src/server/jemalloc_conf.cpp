// jemalloc's settings for the server, read by jemalloc at its start (an operator's MALLOC_CONF still
// overrides them); see docs/decisions/0006-jemalloc.md.
//
// - thp:always: jemalloc asks for transparent huge pages for its memory (on kernels where THP is
//   "madvise"), so a history answer's buffers (tens of MB for a month of a fleet) fault in 2 MB pages
//   rather than thousands of 4 KB ones.
// - oversize_threshold: allocations above 8 MiB (a month of hourly points as JSON is about 9 MB) would
//   otherwise come from an arena that returns them to the system at once, so each such answer would be
//   written into freshly faulted pages. Above 128 MiB they still do.
extern "C" {
// NOLINTNEXTLINE(cppcoreguidelines-avoid-non-const-global-variables,readability-identifier-naming): jemalloc's name
const char* malloc_conf = "thp:always,oversize_threshold:134217728";
}
