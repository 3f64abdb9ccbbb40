// Who runs a GPU process: cgroup files as docker, containerd, CRI-O, podman and Kubernetes (cgroup v1 and
// v2) write them, a /proc tree laid out like a Kubernetes node's, this test's own process, and a report
// that sends no process at all when attribution is off.
#include "agent/process_owner.hpp"

#include <gtest/gtest.h>
#include <pwd.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/json.hpp>

#include <filesystem>
#include <fstream>

#include "agent/report.hpp"
#include "support/test_dir.hpp"

namespace gpuopt::agent {
namespace {

const std::string kId = "3f2a9c1b7d0e5a4f8b6c2d1e0f9a8b7c6d5e4f3a2b1c0d9e8f7a6b5c4d3e2f1a";

TEST(ParseCgroup, FindsTheContainerAndThePodInEveryLayout) {
    struct Case {
        std::string file;
        std::string container;
        std::string pod;
    };
    const std::vector<Case> cases = {
        // Docker, cgroup v1 and v2.
        {"12:memory:/docker/" + kId + "\n11:cpu:/docker/" + kId + "\n", "3f2a9c1b7d0e", ""},
        {"0::/system.slice/docker-" + kId + ".scope\n", "3f2a9c1b7d0e", ""},
        // Kubernetes with the systemd driver (containerd) and with cgroupfs (CRI-O in v1).
        {"0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/"
         "cri-containerd-" +
             kId + ".scope\n",
         "3f2a9c1b7d0e", "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
        {"4:pids:/kubepods/besteffort/pod1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d/crio-" + kId + "\n", "3f2a9c1b7d0e",
         "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d"},
        // Podman.
        {"0::/user.slice/user-1000.slice/user@1000.service/user.slice/libpod-" + kId + ".scope\n", "3f2a9c1b7d0e", ""},
        // A process on the host, and nonsense.
        {"0::/user.slice/user-1000.slice/session-3.scope\n", "", ""},
        {"garbage without colons\n0::/podcast/notapod\n", "", ""},
        {"", "", ""},
    };
    for (const auto& c : cases) {
        const CgroupIdentity id = ParseCgroup(c.file);
        EXPECT_EQ(id.container, c.container) << c.file;
        EXPECT_EQ(id.pod_uid, c.pod) << c.file;
    }
}

void Write(const std::filesystem::path& path, const std::string& text) {
    std::filesystem::create_directories(path.parent_path());
    std::ofstream(path, std::ios::binary) << text;
}

class ProcTree : public ::testing::Test {
protected:
    void SetUp() override { root_ = testing::FreshTestDir("proc"); }
    void TearDown() override { std::filesystem::remove_all(root_); }

    // A process of uid 0 in a Kubernetes pod "train-0" of namespace "research".
    void PodProcess(uint32_t pid) {
        const auto dir = root_ / std::to_string(pid);
        Write(dir / "status",
              "Name:\tpython\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t0\t0\t0\t0\nGid:\t0\t0\t0\t0\n");
        Write(dir / "cgroup",
              "0::/kubepods.slice/kubepods-pod1a2b3c4d_5e6f_7a8b_9c0d_1e2f3a4b5c6d.slice/cri-containerd-" + kId +
                  ".scope\n");
        Write(dir / "environ", std::string("PATH=/usr/bin\0HOSTNAME=train-0\0HOME=/root\0", 41));
        Write(dir / "root/var/run/secrets/kubernetes.io/serviceaccount/namespace", "research\n");
        Write(dir / "cmdline", std::string("python\0train.py\0--lr\0003e-4\0", 27));
    }

    std::filesystem::path root_;
};

TEST_F(ProcTree, AProcessInAPodIsAttributedToItsUserContainerPodAndNamespace) {
    PodProcess(4121);
    ProcessAttributor attributor({true, false, root_.string()});
    GpuProcess p;
    p.pid = 4121;
    attributor.Attribute(p);
    EXPECT_EQ(p.uid, 0u);
    EXPECT_EQ(p.user, "root");
    EXPECT_EQ(p.container, "3f2a9c1b7d0e");
    EXPECT_EQ(p.pod, "train-0");
    EXPECT_EQ(p.k8s_namespace, "research");
    EXPECT_TRUE(p.cmdline.empty());  // only when the operator turns command lines on

    ProcessAttributor with_cmdline({true, true, root_.string()});
    with_cmdline.Attribute(p);
    EXPECT_EQ(p.cmdline, "python train.py --lr 3e-4");
}

TEST_F(ProcTree, WhatCannotBeReadStaysEmptyFieldByField) {
    // A pod process whose environment and service account cannot be read: the pod is its UID.
    PodProcess(7);
    std::filesystem::remove(root_ / "7" / "environ");
    std::filesystem::remove_all(root_ / "7" / "root");
    ProcessAttributor attributor({true, true, root_.string()});
    GpuProcess p;
    p.pid = 7;
    attributor.Attribute(p);
    EXPECT_EQ(p.user, "root");
    EXPECT_EQ(p.pod, "1a2b3c4d-5e6f-7a8b-9c0d-1e2f3a4b5c6d");
    EXPECT_TRUE(p.k8s_namespace.empty());
    // A process the agent cannot see at all (another PID namespace): nothing at all.
    GpuProcess gone;
    gone.pid = 99999;
    attributor.Attribute(gone);
    EXPECT_FALSE(gone.uid);
    EXPECT_TRUE(gone.user.empty());
    EXPECT_TRUE(gone.container.empty());
    EXPECT_TRUE(gone.cmdline.empty());
    // Attribution off: nothing is read.
    ProcessAttributor off({false, true, root_.string()});
    GpuProcess q;
    q.pid = 7;
    off.Attribute(q);
    EXPECT_FALSE(q.uid);
    EXPECT_TRUE(q.pod.empty());
}

TEST_F(ProcTree, TheContainersFilesCannotLeadOutOfItsRoot) {
    PodProcess(8);
    const auto secrets = root_ / "8" / "root/var/run/secrets/kubernetes.io/serviceaccount";
    // Kubernetes' own layout: the file is a relative link into ..data — followed.
    std::filesystem::remove(secrets / "namespace");
    Write(secrets / "..2026_12_01" / "namespace", "research\n");
    std::filesystem::create_directory_symlink("..2026_12_01", secrets / "..data");
    std::filesystem::create_symlink("..data/namespace", secrets / "namespace");
    ProcessAttributor attributor({true, false, root_.string()});
    GpuProcess p;
    p.pid = 8;
    attributor.Attribute(p);
    EXPECT_EQ(p.k8s_namespace, "research");
    // A link to an absolute path resolves inside the container's root, never to this machine's file.
    Write(root_ / "outside", "host-secret\n");
    std::filesystem::remove(secrets / "namespace");
    std::filesystem::create_symlink(root_ / "outside", secrets / "namespace");
    GpuProcess q;
    q.pid = 8;
    attributor.Attribute(q);
    EXPECT_TRUE(q.k8s_namespace.empty()) << q.k8s_namespace;
    // A FIFO is not read (it would block the sampling thread).
    std::filesystem::remove(secrets / "namespace");
    ASSERT_EQ(::mkfifo((secrets / "namespace").c_str(), 0600), 0);
    GpuProcess r;
    r.pid = 8;
    attributor.Attribute(r);
    EXPECT_TRUE(r.k8s_namespace.empty());
}

TEST_F(ProcTree, CommandLinesHideSecretsAndStayValidText) {
    const auto dir = root_ / "9";
    Write(dir / "cmdline", std::string("python\0serve.py\0--api-key=abc123\0--token\0xyz\0--port\08000\0"
                                       "DB_PASSWORD=hunter2\0caf\xc3\xa9\0bad\xff\xfe\0",
                                       89));
    ProcessAttributor attributor({true, true, root_.string()});
    GpuProcess p;
    p.pid = 9;
    attributor.Attribute(p);
    EXPECT_EQ(p.cmdline, "python serve.py --api-key=*** --token *** --port 8000 DB_PASSWORD=*** caf\xc3\xa9 bad??");
}

TEST(ProcessAttributor, ReadsThisProcessFromTheRealProc) {
    ProcessAttributor attributor({true, true, "/proc"});
    GpuProcess p;
    p.pid = static_cast<uint32_t>(::getpid());
    attributor.Attribute(p);
    ASSERT_TRUE(p.uid);
    EXPECT_EQ(*p.uid, ::getuid());
    const passwd* me = ::getpwuid(::getuid());
    EXPECT_EQ(p.user, me != nullptr ? std::string(me->pw_name) : std::to_string(::getuid()));
    EXPECT_NE(p.cmdline.find("unit_tests"), std::string::npos) << p.cmdline;
}

TEST(ProcessAttributor, ALongCommandLineIsCutWithoutBreakingACharacter) {
    const auto root = testing::FreshTestDir("proc-long");
    // 1023 ASCII characters, then "é" (two bytes) across the 1024-byte limit.
    Write(root / "5" / "cmdline", std::string(1023, 'a') + "\xc3\xa9" + std::string("\0", 1));
    ProcessAttributor attributor({true, true, root.string()});
    GpuProcess p;
    p.pid = 5;
    attributor.Attribute(p);
    EXPECT_EQ(p.cmdline, std::string(1023, 'a'));
    std::filesystem::remove_all(root);
}

TEST(Report, SendsNoProcessWhenAttributionIsOff) {
    WindowReport window;
    window.start = std::chrono::system_clock::time_point(std::chrono::seconds(1795600000));
    window.end = window.start + std::chrono::seconds(60);
    window.samples = 1;
    GpuWindowStats g;
    g.uuid = "GPU-0";
    g.name = "NVIDIA L4";
    g.samples = g.util_samples = 1;
    g.mem_total = 23034;
    g.mem_used_peak = 9000;
    g.processes_known = true;
    GpuProcess p;
    p.pid = 12;
    p.name = "python";
    p.used_mib = 9000;
    p.user = "alice";
    p.k8s_namespace = "research";
    g.processes.emplace(12, p);
    window.gpus.push_back(g);
    ReportContext ctx;
    ctx.report_id = "h:000001";
    auto on = boost::json::parse(BuildReportJson(window, ctx)).as_object();
    const auto& sent = on.at("gpu_data").at(0).at("processes").at(0);
    EXPECT_EQ(sent.at("user"), "alice");
    EXPECT_EQ(sent.at("namespace"), "research");
    EXPECT_FALSE(sent.as_object().contains("cmdline"));
    ctx.send_processes = false;
    auto off = boost::json::parse(BuildReportJson(window, ctx)).as_object();
    EXPECT_FALSE(off.at("gpu_data").at(0).as_object().contains("processes"));
    EXPECT_EQ(BuildReportJson(window, ctx).find("alice"), std::string::npos);
}

}  // namespace
}  // namespace gpuopt::agent
