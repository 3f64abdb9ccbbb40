// make bench, part 2: the agent's cost per sample. gpuopt-agent runs against the fake NVML with 8
// GPUs (two processes each), sampling every millisecond (the accelerated clock) and printing its
// reports instead of sending them, for SAMPLES samples; its CPU time (user + system) and peak RSS
// come from the kernel (wait4), its peak PSS from /proc/<pid>/smaps_rollup. Twice: with the fields the
// agent has always read, and with every newer one on (the driver's sample buffer, GPM, energy, memory
// clock, PCI bus id, XID events). The reference, in the same run, is the same agent on the nvidia-smi
// fallback (the fake nvidia-smi, so only the process spawns are measured, not a real driver).
// Targets (every field on): < 0.5 ms CPU per 8-GPU sample, peak RSS < 16 MiB.
#include <fcntl.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <signal.h>

extern char** environ;

namespace {

struct Run {
    double cpu_seconds = 0;
    long max_rss_kib = 0;
    long max_anon_kib = 0;  // the private part of RSS (heap, stacks), polled from /proc
    long max_pss_kib = 0;   // RSS with each shared page divided among the processes that map it
    double wall_seconds = 0;
    int status = -1;
};

Run Measure(std::vector<std::string> args, const std::vector<std::string>& env) {
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    std::vector<std::string> env_copy = env;
    std::vector<char*> envp;
    for (auto& e : env_copy) envp.push_back(e.data());
    envp.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    const auto start = std::chrono::steady_clock::now();
    rusage before{};
    getrusage(RUSAGE_CHILDREN, &before);
    pid_t pid = 0;
    Run r;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data()) != 0) return r;
    int status = 0;
    rusage own{};
    // Poll RssAnon while it runs: RSS also counts the pages of shared libraries it has touched, which
    // every process on the host shares; RssAnon is what the agent itself holds.
    const std::string status_path = "/proc/" + std::to_string(pid) + "/status";
    const std::string rollup_path = "/proc/" + std::to_string(pid) + "/smaps_rollup";
    for (;;) {
        siginfo_t info{};
        if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0 || info.si_pid == pid) break;
        std::ifstream in(status_path);
        for (std::string line; std::getline(in, line);) {
            if (line.rfind("RssAnon:", 0) == 0) r.max_anon_kib = std::max(r.max_anon_kib, std::atol(line.c_str() + 8));
        }
        std::ifstream rollup(rollup_path);
        for (std::string line; std::getline(rollup, line);) {
            if (line.rfind("Pss:", 0) == 0) r.max_pss_kib = std::max(r.max_pss_kib, std::atol(line.c_str() + 4));
        }
        usleep(20000);
    }
    wait4(pid, &status, 0, &own);
    rusage after{};
    getrusage(RUSAGE_CHILDREN, &after);  // the agent and every program it ran and waited for
    auto seconds = [](const timeval& t) {
        return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) / 1e6;
    };
    r.cpu_seconds =
        seconds(after.ru_utime) - seconds(before.ru_utime) + seconds(after.ru_stime) - seconds(before.ru_stime);
    r.max_rss_kib = own.ru_maxrss;
    r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    r.status = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    posix_spawn_file_actions_destroy(&actions);
    return r;
}

}  // namespace

int main() {
    const long samples = std::getenv("SAMPLES") ? std::atol(std::getenv("SAMPLES")) : 5000;
    const long smi_samples = std::max(10L, samples / 25);
    constexpr long kPerWindow = 10;
    const auto dir = std::filesystem::temp_directory_path() / ("gpuopt-agent-bench-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir);
    {
        std::ofstream nvml(dir / "nvml.script");
        std::ofstream full(dir / "nvml-full.script");
        std::ofstream smi(dir / "gpus.csv");
        std::ofstream apps(dir / "apps.csv");
        for (int i = 0; i < 8; ++i) {
            nvml << "gpu name=\"NVIDIA A100-SXM4-40GB\" uuid=GPU-bench-" << i
                 << " util=3,40,95 mem_util=10 total_mib=40960"
                 << " used_mib=1200,30000 procs=" << 4000 + 2 * i << ":1100," << 4001 + 2 * i << ":29000\n";
            full << "gpu name=\"NVIDIA H100 80GB HBM3\" uuid=GPU-bench-" << i
                 << " util=3,40,95 samples=3,40,95,20,10,0 mem_util=10 total_mib=81559 used_mib=1200,30000"
                 << " energy_step=700 sm_active=30 gr_active=35 procs=" << 4000 + 2 * i << ":1100," << 4001 + 2 * i
                 << ":29000\n";
            smi << i << ", GPU-bench-" << i
                << ", NVIDIA A100-SXM4-40GB, 40, 10, 30000, 40960, 50, 200.5, 400.00, 1410\n";
            apps << "GPU-bench-" << i << ", " << 4000 + 2 * i << ", python, 29000\n";
        }
    }
    const std::string agent = GPUOPT_AGENT_BIN;
    const std::vector<std::string> common = {
        "--interval",  "1ms",  "--window",    std::to_string(kPerWindow) + "ms", "--dry-run", "--no-cloud",
        "--log-level", "warn", "--spool-dir", (dir / "spool").string()};
    auto args = [&](std::vector<std::string> extra, long n) {
        std::vector<std::string> a{agent};
        a.insert(a.end(), extra.begin(), extra.end());
        a.insert(a.end(), common.begin(), common.end());
        a.push_back("--count");
        a.push_back(std::to_string(n / kPerWindow));
        return a;
    };
    const Run nvml = Measure(args({"--nvml-library", GPUOPT_FAKES_DIR "/nvml-current/libnvidia-ml.so.1"}, samples),
                             {"FAKE_NVML_SCRIPT=" + (dir / "nvml.script").string(), "PATH=/usr/bin:/bin"});
    // XIDs trickle in, one per GPU.
    {
        std::ofstream full(dir / "nvml-full.script", std::ios::app);
        for (int i = 0; i < 8; ++i) full << "xid gpu=" << i << " code=" << 31 + i << " after=" << 100 * i << "\n";
    }
    const Run all = Measure(args({"--nvml-library", GPUOPT_FAKES_DIR "/nvml-current/libnvidia-ml.so.1"}, samples),
                            {"FAKE_NVML_SCRIPT=" + (dir / "nvml-full.script").string(), "PATH=/usr/bin:/bin"});
    const Run smi =
        Measure(args({"--source", "nvidia-smi"}, smi_samples),
                {"FAKE_SMI_GPUS=" + (dir / "gpus.csv").string(), "FAKE_SMI_APPS=" + (dir / "apps.csv").string(),
                 std::string("PATH=") + GPUOPT_SOURCE_DIR + "/tests/fakes:/usr/bin:/bin"});
    std::filesystem::remove_all(dir);
    if (nvml.status != 0 || all.status != 0 || smi.status != 0) {
        std::fprintf(stderr, "agent benchmark: the agent failed (status %d / %d / %d)\n", nvml.status, all.status,
                     smi.status);
        return 1;
    }
    const double nvml_ms = nvml.cpu_seconds * 1000 / static_cast<double>(samples);
    const double all_ms = all.cpu_seconds * 1000 / static_cast<double>(samples);
    const double smi_ms = smi.cpu_seconds * 1000 / static_cast<double>(smi_samples);
    std::printf(
        "\nAgent benchmark: 8 GPUs (fake NVML, 2 processes each), a sample every 1 ms, a report every %ld samples\n",
        kPerWindow);
    std::printf("%-34s %10s %14s %14s %14s %14s %10s\n", "source", "samples", "CPU ms/sample", "peak RSS MiB",
                "of it private", "peak PSS MiB", "vs NVML");
    auto row = [](const char* name, long n, double ms, const Run& r, double ratio) {
        std::printf("%-34s %10ld %14.4f %14.2f %14.2f %14.2f %9.2fx\n", name, n, ms,
                    static_cast<double>(r.max_rss_kib) / 1024, static_cast<double>(r.max_anon_kib) / 1024,
                    static_cast<double>(r.max_pss_kib) / 1024, ratio);
    };
    row("NVML, the fields read before", samples, nvml_ms, nvml, 1.0);
    row("NVML, every field on", samples, all_ms, all, all_ms / nvml_ms);
    row("nvidia-smi fallback (reference)", smi_samples, smi_ms, smi, smi_ms / nvml_ms);
    std::printf("targets (every field on):\n");
    std::printf("  %s CPU per 8-GPU sample (%.4f ms, target < 0.5 ms)\n", all_ms < 0.5 ? "met:   " : "missed:", all_ms);
    const double rss = static_cast<double>(all.max_rss_kib) / 1024;
    std::printf("  %s peak RSS (%.2f MiB, target < 16 MiB; %.2f MiB private, %.2f MiB PSS)\n",
                rss < 16 ? "met:   " : "missed:", rss, static_cast<double>(all.max_anon_kib) / 1024,
                static_cast<double>(all.max_pss_kib) / 1024);
    return 0;
}
