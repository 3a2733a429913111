using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenDllm.Evaluation;

/// <summary>
/// The OS half of the sandbox, detected once per interpreter by trying the strongest setup first and keeping the first
/// that runs a probe program: a new network and PID namespace (<c>unshare -n -p -f --kill-child</c>, or
/// <c>unshare -rn …</c> in a user namespace when not root), rlimits via <c>prlimit</c> (CPU, address space, file size,
/// process count, no core files) and, when root, an unprivileged user (<c>setpriv</c> to nobody) so the program can
/// write nowhere but its own directory. <see cref="Label"/> names what is active, e.g.
/// <c>unshare-net-pid+prlimit+setpriv-nobody</c>, <c>prlimit-only</c>, or <c>python-rlimit</c> (limits set by the
/// runner itself when prlimit is missing). Results files record it.
/// </summary>
/// <param name="Label">What is active, joined with '+'.</param>
/// <param name="Prefix">argv placed before the interpreter (limit values filled in per run).</param>
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

    /// <summary>Detects (once per interpreter name) the strongest isolation that works here.</summary>
    public static SandboxIsolation Detect(string python = "python3") =>
        Cache.GetOrAdd(python, p => new Lazy<SandboxIsolation>(() => DetectUncached(p))).Value;

    /// <summary>The argv of one run: prefix with <paramref name="options"/>' limits, interpreter, runner and its arguments.</summary>
    public IReadOnlyList<string> CommandLine(SandboxOptions options, string runnerPath, string programPath)
    {
        var args = new List<string>();
        foreach (var part in Prefix)
            args.Add(part switch
            {
                "{cpu}" => $"--cpu={options.EffectiveCpuSeconds}",
                "{as}" => $"--as={options.MemoryBytes}",
                "{fsize}" => $"--fsize={options.MaxFileBytes}",
                "{nproc}" => $"--nproc={(UnprivilegedUser is null ? 4096 + options.MaxProcesses : options.MaxProcesses)}",
                _ => part,
            });
        args.AddRange([PythonExecutable, "-I", "-B", runnerPath, programPath, ExternalLimits ? "-" : "rlimit",
            options.EffectiveCpuSeconds.ToString(), options.MemoryBytes.ToString(), options.MaxFileBytes.ToString(), options.MaxProcesses.ToString()]);
        return args;
    }

    static SandboxIsolation DetectUncached(string python)
    {
        var (executable, version) = ResolvePython(python);
        if (!OperatingSystem.IsLinux())
            return new SandboxIsolation("none", [], executable, version, false, null, false);
        string? setsid = Which("setsid"), unshare = Which("unshare"), prlimit = Which("prlimit"), setpriv = Which("setpriv");
        bool root = Environment.UserName == "root" || GetEuid() == 0;
        var limits = prlimit is null ? null : new[] { prlimit, "{cpu}", "{as}", "{fsize}", "{nproc}", "--core=0", "--" };
        var drop = root && setpriv is not null ? new[] { setpriv, $"--reuid={NobodyId}", $"--regid={NobodyId}", "--clear-groups", "--" } : null;
        var namespaces = new List<(string Label, string[] Args)>();
        if (unshare is not null)
        {
            var user = root ? "" : "r";
            namespaces.Add(("unshare-net-pid", [unshare, $"-{user}n", "-p", "-f", "--kill-child"]));
            namespaces.Add(("unshare-net", [unshare, $"-{user}n"]));
        }
        namespaces.Add(("", []));

        foreach (var (nsLabel, nsArgs) in namespaces)
            foreach (var useDrop in drop is null ? [false] : new[] { true, false })
            {
                var prefix = new List<string>();
                if (setsid is not null) prefix.Add(setsid);
                prefix.AddRange(nsArgs);
                if (limits is not null) prefix.AddRange(limits);
                if (useDrop) prefix.AddRange(drop!);
                var parts = new[] { nsLabel, limits is null ? "" : "prlimit", useDrop ? "setpriv-nobody" : "" }.Where(p => p != "").ToList();
                var label = parts.Count == 0 ? "python-rlimit"
                    : parts.Count == 1 && limits is not null ? "prlimit-only" : string.Join("+", parts);
                if (limits is null && parts.Count > 0) label += "+python-rlimit";
                var candidate = new SandboxIsolation(label, prefix, executable, version, nsLabel != "",
                    useDrop ? (NobodyId, NobodyId) : null, limits is not null);
                if (Probe(candidate)) return candidate;
            }
        throw new InvalidOperationException($"the sandbox cannot run {executable}: even a bare probe program failed");
    }

    /// <summary>Runs print(6*7) through the full command line in a fresh sandbox directory.</summary>
    static bool Probe(SandboxIsolation candidate)
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

    static string? Which(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
        .Select(dir => Path.Combine(dir, name)).FirstOrDefault(File.Exists);

    static int GetEuid()
    {
        try { return File.ReadLines("/proc/self/status").Where(l => l.StartsWith("Uid:")).Select(l => int.Parse(l.Split('\t', StringSplitOptions.RemoveEmptyEntries)[2])).First(); }
        catch (Exception) { return -1; }
    }
}
