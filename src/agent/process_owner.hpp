// Who runs a GPU process (SPEC §5, issue "who holds the idle GPU"): its user (uid → name), its container
// and, on Kubernetes, its pod and namespace, read from /proc; its command line only when the host's
// operator turned that on. Everything is best effort, field by field: a process in another PID namespace
// or a file the agent may not read leaves that field empty.
//
//   user        the real uid of /proc/<pid>/status, named through the password database (cached)
//   container   the 64-hex id in /proc/<pid>/cgroup (docker, containerd, CRI-O, podman; cgroup v1 and
//               v2), its first 12 characters as `docker ps` shows them
//   pod         a pod UID in the cgroup path marks a Kubernetes pod; its name is the process's HOSTNAME
//               (the pod name unless the pod sets another), its namespace the service-account namespace
//               file mounted in the container (/proc/<pid>/root/var/run/secrets/...), resolved inside
//               the container's root so that no link in it leads to the host's files
//   cmdline     /proc/<pid>/cmdline, arguments joined by spaces, the values of arguments that name a
//               secret (password, token, key, ...) replaced by ***, at most 1024 bytes
//
// Text is made valid UTF-8 (a bad byte becomes '?') so that one odd argument never costs a report.
//
// Not thread-safe: the sampling thread owns it.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "agent/gpu_sample.hpp"
#include "agent/window.hpp"

namespace gpuopt::agent {

struct AttributionRules {
    bool enabled = true;   // off: no process is reported at all
    bool cmdline = false;  // full command lines (they may hold secrets passed as arguments)
    std::string proc_root = "/proc";
};

// What a process's cgroup file says about its container and pod.
struct CgroupIdentity {
    std::string container;  // 12 hex characters, or empty
    std::string pod_uid;    // with dashes, or empty
};

CgroupIdentity ParseCgroup(std::string_view cgroup_file);

class ProcessAttributor {
public:
    explicit ProcessAttributor(AttributionRules rules) : rules_(std::move(rules)) {}

    const AttributionRules& rules() const { return rules_; }
    // Fills the process's uid, user, container, pod, namespace (and command line when allowed).
    void Attribute(GpuProcess& p);

private:
    std::string UserName(uint32_t uid);

    AttributionRules rules_;
    std::unordered_map<uint32_t, std::string> users_;
};

// Attributes every process of the window's GPUs (nothing when attribution is off).
void AttributeProcesses(WindowReport& window, ProcessAttributor& attributor);

}  // namespace gpuopt::agent
