#include "agent/process_owner.hpp"

#include <fcntl.h>
#include <linux/openat2.h>
#include <pwd.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <vector>

namespace gpuopt::agent {

namespace {

constexpr size_t kMaxFile = 64 * 1024;

// At most `max` bytes of an open file that is a regular file; empty otherwise. Closes `fd`.
std::string ReadRegular(int fd, size_t max) {
    if (fd < 0) return {};
    std::string out;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode)) {
        out.resize(max);
        size_t got = 0;
        while (got < max) {
            const ssize_t n = ::read(fd, out.data() + got, max - got);
            if (n < 0 && errno == EINTR) continue;
            if (n <= 0) break;
            got += static_cast<size_t>(n);
        }
        out.resize(got);
    }
    ::close(fd);
    return out;
}

// A small file of /proc/<pid>/ itself (procfs: the kernel writes it), whole up to kMaxFile bytes; empty
// when it cannot be read. Never blocks on a FIFO, never follows a last-component link.
std::string ReadSmall(const std::string& path) {
    return ReadRegular(::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_NOFOLLOW | O_CLOEXEC), kMaxFile);
}

// A file inside a process's own root (its container's filesystem, which the container controls): resolved
// as if that root were "/" (openat2 RESOLVE_IN_ROOT), so no link can lead out to the host's files, and
// read only when it is a regular file. Empty on kernels without openat2 (before 5.6).
std::string ReadInRoot(const std::string& root, const char* relative, size_t max) {
    const int dir = ::open(root.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (dir < 0) return {};
    open_how how{};
    how.flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC;
    how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
    const auto fd = static_cast<int>(::syscall(SYS_openat2, dir, relative, &how, sizeof how));
    ::close(dir);
    return ReadRegular(fd, max);
}

// `s` with every byte that is not part of a valid UTF-8 sequence replaced by '?', and control characters
// by spaces: what the server's strict JSON and text checks accept.
std::string CleanText(std::string_view s) {
    std::string out;
    out.reserve(s.size());
    size_t i = 0;
    while (i < s.size()) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x80) {
            out += c < 0x20 || c == 0x7f ? ' ' : static_cast<char>(c);
            ++i;
            continue;
        }
        const size_t length = c >= 0xC2 && c <= 0xDF ? 2 : c >= 0xE0 && c <= 0xEF ? 3 : c >= 0xF0 && c <= 0xF4 ? 4 : 0;
        bool valid = length > 0 && i + length <= s.size();
        for (size_t k = 1; valid && k < length; ++k) valid = (static_cast<unsigned char>(s[i + k]) & 0xC0) == 0x80;
        if (valid && length == 3) {  // no overlong forms, no surrogates
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            valid = !(c == 0xE0 && c1 < 0xA0) && !(c == 0xED && c1 >= 0xA0);
        } else if (valid && length == 4) {
            const auto c1 = static_cast<unsigned char>(s[i + 1]);
            valid = !(c == 0xF0 && c1 < 0x90) && !(c == 0xF4 && c1 >= 0x90);
        }
        if (valid) {
            out.append(s.substr(i, length));
            i += length;
        } else {
            out += '?';
            ++i;
        }
    }
    return out;
}

// Whether an argument names a secret: "--password", "--api-key=...", "TOKEN=...".
bool NamesSecret(std::string_view arg) {
    std::string lower(arg.substr(0, arg.find('=')));
    std::transform(lower.begin(), lower.end(), lower.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    for (const char* word : {"password", "passwd", "secret", "token", "key", "credential"}) {
        if (lower.find(word) != std::string::npos) return true;
    }
    return false;
}

// The command line from /proc/<pid>/cmdline: arguments joined by spaces, the value of any argument that
// names a secret ("--token abc", "--api-key=abc", "PASSWORD=abc") replaced by "***".
std::string CommandLine(const std::string& raw) {
    std::string out;
    bool hide_next = false;
    size_t at = 0;
    while (at < raw.size()) {
        const size_t end = std::min(raw.find('\0', at), raw.size());
        std::string a = raw.substr(at, end - at);
        at = end + 1;
        if (hide_next) {
            a = "***";
            hide_next = false;
        } else if (NamesSecret(a)) {
            if (const auto eq = a.find('='); eq != std::string::npos) {
                a = a.substr(0, eq + 1) + "***";
            } else {
                hide_next = a.rfind('-', 0) == 0;  // "--token abc": the next argument is the value
            }
        }
        if (!out.empty()) out += ' ';
        out += a;
    }
    return out;
}

bool IsHex(std::string_view s) {
    return std::all_of(s.begin(), s.end(), [](unsigned char c) { return std::isxdigit(c) != 0; });
}

// The container id a cgroup path component names: "<64 hex>", "docker-<64 hex>.scope",
// "cri-containerd-<64 hex>.scope", "crio-<64 hex>.scope", "libpod-<64 hex>.scope".
std::string_view ContainerIn(std::string_view part) {
    if (part.size() >= 6 && part.substr(part.size() - 6) == ".scope") part.remove_suffix(6);
    if (const auto dash = part.rfind('-'); dash != std::string_view::npos) part.remove_prefix(dash + 1);
    return part.size() == 64 && IsHex(part) ? part : std::string_view();
}

// The pod UID a component names: "pod<uid>" (cgroupfs) or "kubepods-<class>-pod<uid with _>.slice" (systemd).
std::string PodIn(std::string_view part) {
    const auto at = part.rfind("pod");  // "kubepods-...-pod<uid>": the last one (a UID has no "o")
    if (at == std::string_view::npos || (at != 0 && part[at - 1] != '-')) return {};
    std::string_view uid = part.substr(at + 3);
    if (uid.size() >= 6 && uid.substr(uid.size() - 6) == ".slice") uid.remove_suffix(6);
    std::string out(uid);
    std::replace(out.begin(), out.end(), '_', '-');
    if (out.size() != 36) return {};
    for (size_t i = 0; i < out.size(); ++i) {
        const bool dash = i == 8 || i == 13 || i == 18 || i == 23;
        if (dash ? out[i] != '-' : std::isxdigit(static_cast<unsigned char>(out[i])) == 0) return {};
    }
    return out;
}

std::string Trimmed(std::string s) {
    while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.pop_back();
    return s;
}

// The value of NAME=... in a NUL-separated environment file.
std::string EnvValue(const std::string& environ, std::string_view name) {
    size_t at = 0;
    while (at < environ.size()) {
        const size_t end = std::min(environ.find('\0', at), environ.size());
        const std::string_view entry(environ.data() + at, end - at);
        if (entry.size() > name.size() && entry.substr(0, name.size()) == name && entry[name.size()] == '=') {
            return std::string(entry.substr(name.size() + 1));
        }
        at = end + 1;
    }
    return {};
}

bool PrintableName(std::string_view s, size_t max) {
    if (s.empty() || s.size() > max) return false;
    return std::all_of(s.begin(), s.end(),
                       [](unsigned char c) { return std::isalnum(c) != 0 || c == '-' || c == '.' || c == '_'; });
}

}  // namespace

CgroupIdentity ParseCgroup(std::string_view cgroup_file) {
    CgroupIdentity id;
    size_t line_start = 0;
    while (line_start < cgroup_file.size() && (id.container.empty() || id.pod_uid.empty())) {
        const size_t line_end = std::min(cgroup_file.find('\n', line_start), cgroup_file.size());
        std::string_view line = cgroup_file.substr(line_start, line_end - line_start);
        line_start = line_end + 1;
        // hierarchy-ID:controllers:path
        const auto second = line.find(':', line.find(':') + 1);
        if (second == std::string_view::npos) continue;
        std::string_view path = line.substr(second + 1);
        size_t at = 0;
        while (at < path.size()) {
            const size_t end = std::min(path.find('/', at), path.size());
            const std::string_view part = path.substr(at, end - at);
            at = end + 1;
            if (id.container.empty()) {
                if (auto c = ContainerIn(part); !c.empty()) id.container = std::string(c.substr(0, 12));
            }
            if (id.pod_uid.empty()) id.pod_uid = PodIn(part);
        }
    }
    return id;
}

std::string ProcessAttributor::UserName(uint32_t uid) {
    if (auto it = users_.find(uid); it != users_.end()) return it->second;
    std::string name;
    std::array<char, 4096> buffer{};
    passwd entry{};
    passwd* found = nullptr;
    if (getpwuid_r(uid, &entry, buffer.data(), buffer.size(), &found) == 0 && found != nullptr &&
        found->pw_name != nullptr) {
        name = found->pw_name;
    }
    name = CleanText(name);
    if (name.empty() || name.size() > 64) name = std::to_string(uid);  // no entry: the number itself
    if (users_.size() > 4096) users_.clear();
    return users_.emplace(uid, std::move(name)).first->second;
}

void ProcessAttributor::Attribute(GpuProcess& p) {
    if (!rules_.enabled) return;
    const std::string dir = rules_.proc_root + "/" + std::to_string(p.pid);
    const std::string status = ReadSmall(dir + "/status");
    if (const auto at = status.find("\nUid:"); at != std::string::npos) {
        const char* begin = status.data() + at + 5;
        const char* end = status.data() + status.size();
        while (begin < end && (*begin == ' ' || *begin == '\t')) ++begin;
        uint32_t uid = 0;
        if (std::from_chars(begin, end, uid).ec == std::errc()) {
            p.uid = uid;
            p.user = UserName(uid);
        }
    }
    const CgroupIdentity id = ParseCgroup(ReadSmall(dir + "/cgroup"));
    p.container = id.container;
    if (!id.pod_uid.empty()) {
        const std::string host = EnvValue(ReadSmall(dir + "/environ"), "HOSTNAME");
        p.pod = PrintableName(host, 253) ? host : id.pod_uid;
        const std::string ns =
            Trimmed(ReadInRoot(dir + "/root", "var/run/secrets/kubernetes.io/serviceaccount/namespace", 256));
        if (PrintableName(ns, 63)) p.k8s_namespace = ns;
    }
    if (rules_.cmdline) {
        std::string cmd = CleanText(CommandLine(ReadSmall(dir + "/cmdline")));
        while (!cmd.empty() && cmd.back() == ' ') cmd.pop_back();
        if (cmd.size() > 1024) {
            cmd.resize(1024);
            // Never cut a UTF-8 character in half: drop a last sequence left incomplete.
            size_t lead = cmd.size();
            while (lead > 0 && (static_cast<unsigned char>(cmd[lead - 1]) & 0xC0) == 0x80) --lead;
            if (lead > 0) {
                const auto c = static_cast<unsigned char>(cmd[lead - 1]);
                const size_t length = c < 0x80 ? 1 : c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
                if (cmd.size() - (lead - 1) < length) cmd.resize(lead - 1);
            }
        }
        p.cmdline = std::move(cmd);
    }
}

void AttributeProcesses(WindowReport& window, ProcessAttributor& attributor) {
    if (!attributor.rules().enabled) return;
    for (auto& g : window.gpus) {
        for (auto& [pid, p] : g.processes) attributor.Attribute(p);
    }
}

}  // namespace gpuopt::agent
