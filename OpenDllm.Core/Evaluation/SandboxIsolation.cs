using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenDllm.Evaluation;

/// <summary>
/// The OS half of the sandbox, detected once per interpreter by trying the strongest setup first and keeping the first
/// that runs a probe program:
/// <list type="number">
/// <item>a private mount namespace where only the sample's folder and private tmpfs mounts (<c>/tmp</c>, <c>/var/tmp</c>,
/// <c>/dev/shm</c>) are writable (<see cref="SandboxMounts"/>: <c>bwrap</c>, else <c>unshare -m</c> with bind mounts),
/// with new network, PID and IPC namespaces;</item>
/// <item>without it, new network and PID namespaces only (<c>unshare -n -p -f --kill-child</c>, or in a user namespace
/// when not root);</item>
/// </list>
/// in each case rlimits via <c>prlimit</c> (CPU, address space, file size, process count, no core files), when root an
/// unprivileged user (<c>setpriv</c> to nobody, which makes RLIMIT_NPROC bite), and a seccomp filter the runner installs
/// before the program starts that refuses every new process (fork, vfork, clone without CLONE_THREAD; see
/// <see cref="SandboxGuard"/>). <see cref="Label"/> names what is active, e.g.
/// <c>bwrap+prlimit+setpriv-nobody+seccomp</c>; results files record it and <see cref="Warning"/> says what is missing.
/// </summary>
/// <param name="Label">What is active, joined with '+'.</param>
/// <param name="Prefix">argv placed before the interpreter (limit values, <c>{dir}</c> and <c>{tmpfs}</c> filled in per run).</param>
/// <param name="PythonExecutable">The resolved interpreter path.</param>
/// <param name="PythonVersion">The interpreter's version, e.g. 3.11.7.</param>
/// <param name="NetworkIsolated">True when programs run in a new network namespace.</param>
/// <param name="UnprivilegedUser">The uid:gid programs run as, when the host runs as root; null otherwise.</param>
/// <param name="ExternalLimits">True when prlimit applies the rlimits (else the runner sets them).</param>
public sealed record SandboxIsolation(
    string Label, IReadOnlyList<string> Prefix, string PythonExecutable, string PythonVersion,
    bool NetworkIsolated, (int Uid, int Gid)? UnprivilegedUser, bool ExternalLimits)
{
    static readonly ConcurrentDictionary<string, Lazy<SandboxIsolation>> Cache = new();

    /// <summary>The uid/gid of <c>nobody</c>/<c>nogroup</c>.</summary>
    public const int NobodyId = 65534;

    /// <summary>True in a private mount namespace where only the sample folder and private tmpfs mounts are writable.</summary>
    public bool FilesystemIsolated { get; init; }

    /// <summary>True when the runner installs the seccomp filter that refuses new processes.</summary>
    public bool ProcessCreationBlocked { get; init; }

    /// <summary>What this isolation lacks compared with the strongest one, in words (empty when nothing is missing).</summary>
    public IReadOnlyList<string> Weaknesses
    {
        get
        {
            var missing = new List<string>();
            if (!FilesystemIsolated) missing.Add("no private mount namespace: programs can write wherever the sandbox user may (/tmp, /dev/shm, …)");
            if (!NetworkIsolated) missing.Add("no network namespace");
            if (!ProcessCreationBlocked) missing.Add("process creation is not blocked (no seccomp filter)");
            if (UnprivilegedUser is null && GetEuid() == 0) missing.Add("programs run as root (no setpriv to drop to nobody)");
            return missing;
        }
    }

    /// <summary>A one-line WARNING naming what is missing and how to get it, or null when the isolation is complete.</summary>
    public string? Warning => Weaknesses.Count == 0 ? null
        : $"WARNING: weak sandbox isolation ({Label}): {string.Join("; ", Weaknesses)}."
          + (FilesystemIsolated ? "" : " Install bubblewrap (apt-get install bubblewrap) for the full sandbox.");

    /// <summary>Detects (once per interpreter name) the strongest isolation that works here.</summary>
    public static SandboxIsolation Detect(string python = "python3") =>
        Cache.GetOrAdd(python, p => new Lazy<SandboxIsolation>(() => DetectUncached(p))).Value;

    /// <summary>
    /// The argv of one run: prefix with <paramref name="options"/>' limits and <paramref name="directory"/> filled in, then
    /// the interpreter, runner and its arguments (see <see cref="SandboxGuard.RunnerSource"/>).
    /// </summary>
    public IReadOnlyList<string> CommandLine(SandboxOptions options, string directory, string runnerPath, string programPath)
    {
        var args = new List<string>();
        foreach (var part in Prefix)
            args.Add(part switch
            {
                "{cpu}" => $"--cpu={options.EffectiveCpuSeconds}",
                "{as}" => $"--as={options.MemoryBytes}",
                "{fsize}" => $"--fsize={options.MaxFileBytes}",
                "{nproc}" => $"--nproc={(UnprivilegedUser is null ? 4096 + options.MaxProcesses : options.MaxProcesses)}",
                "{dir}" => directory,
                "{tmpfs}" => options.TmpfsBytes.ToString(System.Globalization.CultureInfo.InvariantCulture),
                _ => part,
            });
        args.AddRange([PythonExecutable, "-I", "-B", runnerPath, programPath, ExternalLimits ? "-" : "rlimit",
            options.EffectiveCpuSeconds.ToString(), options.MemoryBytes.ToString(), options.MaxFileBytes.ToString(), options.MaxProcesses.ToString(),
            ProcessCreationBlocked ? "seccomp" : "-", options.TimeoutSeconds.ToString("R", System.Globalization.CultureInfo.InvariantCulture)]);
        return args;
    }

    /// <summary>The candidates <see cref="Detect"/> tries, strongest first (before probing); tests use it to force one.</summary>
    public static IEnumerable<SandboxIsolation> Candidates(string python = "python3")
    {
        var (executable, version) = ResolvePython(python);
        return Candidates(executable, version, Which("bwrap"));
    }

    static IEnumerable<SandboxIsolation> Candidates(string executable, string version, string? bwrap)
    {
        if (!OperatingSystem.IsLinux())
        {
            yield return new SandboxIsolation("none", [], executable, version, false, null, false);
            yield break;
        }
        string? setsid = Which("setsid"), unshare = Which("unshare"), prlimit = Which("prlimit"), setpriv = Which("setpriv"), sh = Which("sh");
        bool root = Environment.UserName == "root" || GetEuid() == 0;
        var limits = prlimit is null ? null : new[] { prlimit, "{cpu}", "{as}", "{fsize}", "{nproc}", "--core=0", "--" };
        var drop = root && setpriv is not null ? new[] { setpriv, $"--reuid={NobodyId}", $"--regid={NobodyId}", "--clear-groups", "--" } : null;
        // (label, argv, private mounts, network namespace)
        var namespaces = new List<(string Label, IReadOnlyList<string> Args, bool Mounts, bool Net)>();
        if (bwrap is not null) namespaces.Add(("bwrap", SandboxMounts.Bubblewrap(bwrap, root), true, true));
        if (unshare is not null)
        {
            if (sh is not null) namespaces.Add(("unshare-mount-net-pid", SandboxMounts.UnshareScript(unshare, sh, root), true, true));
            var user = root ? "" : "r";
            namespaces.Add(("unshare-net-pid", [unshare, $"-{user}n", "-p", "-f", "--kill-child"], false, true));
            namespaces.Add(("unshare-net", [unshare, $"-{user}n"], false, true));
        }
        namespaces.Add(("", [], false, false));

        foreach (var ns in namespaces)
            foreach (var useDrop in drop is null ? [false] : new[] { true, false })
                foreach (var seccomp in new[] { true, false })
                {
                    var prefix = new List<string>();
                    if (setsid is not null) prefix.Add(setsid);
                    if (limits is not null) prefix.AddRange(limits);
                    prefix.AddRange(ns.Args);
                    if (useDrop) prefix.AddRange(drop!);
                    var parts = new[] { ns.Label, limits is null ? "python-rlimit" : "prlimit", useDrop ? "setpriv-nobody" : "", seccomp ? "seccomp" : "" }
                        .Where(p => p != "");
                    yield return new SandboxIsolation(string.Join("+", parts), prefix, executable, version, ns.Net,
                        useDrop ? (NobodyId, NobodyId) : null, limits is not null)
                    {
                        FilesystemIsolated = ns.Mounts, ProcessCreationBlocked = seccomp,
                    };
                }
    }

    static SandboxIsolation DetectUncached(string python)
    {
        var (executable, version) = ResolvePython(python);
        foreach (var candidate in Candidates(executable, version, Which("bwrap")))
            if (Probe(candidate)) return candidate;
        throw new InvalidOperationException($"the sandbox cannot run {executable}: even a bare probe program failed");
    }

    /// <summary>Runs print(6*7) through the full command line in a fresh sandbox directory.</summary>
    public static bool Probe(SandboxIsolation candidate)
    {
        try
        {
            var result = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 10 }, candidate)
                .RunAsync("print(6 * 7)").GetAwaiter().GetResult();
            return result.Passed && result.Stdout.Trim() == "42";
        }
        catch (Exception e) when (e is IOException or InvalidOperationException or System.ComponentModel.Win32Exception) { return false; }
    }

    static (string Executable, string Version) ResolvePython(string python)
    {
        var info = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
        foreach (var a in new[] { "-I", "-c", "import sys, platform; print(sys.executable); print(platform.python_version())" }) info.ArgumentList.Add(a);
        try
        {
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"{python} did not start");
            process.StandardInput.Close();
            var output = process.StandardOutput.ReadToEnd().Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            if (!process.WaitForExit(30_000) || process.ExitCode != 0 || output.Length < 2)
                throw new InvalidOperationException($"{python} did not report its executable and version");
            return (output[0], output[1]);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"{python}: Python interpreter not found ({e.Message}); scoring needs python3", e);
        }
    }

    /// <summary>The first <paramref name="name"/> on PATH (or /usr/bin:/bin), or null.</summary>
    public static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    static int GetEuid()
    {
        try { return File.ReadLines("/proc/self/status").Where(l => l.StartsWith("Uid:")).Select(l => int.Parse(l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2])).First(); }
        catch (Exception) { return -1; }
    }
}
