using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// The sandbox's boundary is the OS: each route a program can take around the Python guard (<c>_io.FileIO</c>, the real
/// <c>open</c> in the guarded open's closure, the real <c>os.open</c> likewise, a shell through a re-imported
/// <c>subprocess</c>, <c>shm_open</c>, and <c>fork</c> through a re-imported ctypes) must leave no file in the real
/// <c>/tmp</c>, <c>/dev/shm</c>, <c>/var/tmp</c> or the sample folder's parent, and no process behind. Every route runs
/// under both mount-namespace isolations (bubblewrap, and the <c>unshare -m</c> fallback), with and without the seccomp
/// filter, so the file-system boundary is shown to hold on its own. Each route must still work inside the sample's own
/// folder, so a route that silently broke cannot pass. Under the isolation used before (a user and namespaces, no mount
/// namespace) every route wrote to /tmp.
/// </summary>
public sealed class SandboxBoundaryTests(ITestOutputHelper output)
{
    public static TheoryData<string, string, bool> Rows(string kind)
    {
        var rows = new TheoryData<string, string, bool>();
        foreach (var route in Routes.Keys)
            foreach (var seccomp in new[] { true, false })
                rows.Add(kind, route, seccomp);
        return rows;
    }

    public static TheoryData<string, string, bool> BubblewrapRows => Rows("bwrap");
    public static TheoryData<string, string, bool> UnshareRows => Rows("unshare-mount-net-pid");

    [BubblewrapTheory]
    [MemberData(nameof(BubblewrapRows))]
    public void NoRouteWritesOutsideTheSampleFolderUnderBubblewrap(string kind, string route, bool seccomp) => Check(kind, route, seccomp);

    [UnshareMountTheory]
    [MemberData(nameof(UnshareRows))]
    public void NoRouteWritesOutsideTheSampleFolderUnderTheUnshareFallback(string kind, string route, bool seccomp) => Check(kind, route, seccomp);

    [BubblewrapFact]
    public void WithBubblewrapInstalledTheDetectedIsolationIsTheFullOne()
    {
        var isolation = SandboxIsolation.Detect();
        output.WriteLine(isolation.Label);
        Assert.StartsWith("bwrap+", isolation.Label);
        Assert.True(isolation.FilesystemIsolated && isolation.NetworkIsolated && isolation.ProcessCreationBlocked);
        Assert.Null(isolation.Warning);
    }

    [Fact]
    public void AnIsolationWithoutAMountNamespaceCarriesAWarning()
    {
        var weak = SandboxIsolation.Detect() with { Label = "unshare-net-pid+prlimit", FilesystemIsolated = false, ProcessCreationBlocked = false };
        Assert.StartsWith("WARNING: ", weak.Warning);
        Assert.Contains("no private mount namespace", weak.Warning);
        Assert.Contains("process creation is not blocked", weak.Warning);
        Assert.Contains("apt-get install bubblewrap", weak.Warning);
    }

    [Fact]
    public async Task AWeakIsolationIsAWarningLineInThePrintedSummary()
    {
        var dir = Directory.CreateTempSubdirectory("opendllm-weak-").FullName;
        try
        {
            var problem = new BenchmarkProblem(BenchmarkTask.HumanEval, "T/0", "def f(x):\n", "    return x\n",
                "def check(candidate):\n    assert candidate(1) == 1\n", EntryPoint: "f");
            var samples = Path.Combine(dir, "samples.jsonl");
            File.WriteAllText(samples, "{\"task_id\": \"T/0\", \"completion\": \"    return x\\n\"}\n");
            var weak = SandboxIsolation.Detect() with
            {
                Label = "python-rlimit", Prefix = [], NetworkIsolated = false, UnprivilegedUser = null, ExternalLimits = false,
                FilesystemIsolated = false, ProcessCreationBlocked = false,
            };
            var summary = await SampleScorer.ScoreAsync(samples, [problem], new ScoreOptions { Isolation = weak });
            var printed = new StringWriter();
            OpenDllm.Cli.Commands.EvalCommand.PrintSummary(summary, printed);
            output.WriteLine(printed.ToString());
            Assert.Equal(1, summary.Passed);
            Assert.Contains(printed.ToString().Split('\n'), line => line.StartsWith("WARNING: weak sandbox isolation (python-rlimit)", StringComparison.Ordinal));
            Assert.Equal("python-rlimit", (string?)ResultsLog.ReadSummary(samples + "_opendllm.jsonl")!["isolation"]);

            var strong = await SampleScorer.ScoreAsync(samples, [problem], new ScoreOptions { ResultsPath = Path.Combine(dir, "strong.jsonl") });
            if (strong.Isolation.StartsWith("bwrap+", StringComparison.Ordinal)) Assert.Null(strong.IsolationWarning);
        }
        finally { Directory.Delete(dir, true); }
    }

    /// <summary>The programs, by route: each calls attempt(write) with a function that writes one path its way.</summary>
    static readonly Dictionary<string, string> Routes = new()
    {
        ["fileio"] = """
            import _io
            attempt(lambda p: _io.FileIO(p, "w").write(b"x"))
            """,
        ["open-closure"] = """
            real = [c.cell_contents for c in open.__closure__ if getattr(c.cell_contents, "__name__", "") == "open"][0]
            attempt(lambda p: real(p, "w").write("x"))
            """,
        ["os-open-closure"] = """
            import os
            real = [c.cell_contents for c in os.open.__closure__ if getattr(c.cell_contents, "__name__", "") == "open"][0]
            attempt(lambda p: os.write(real(p, os.O_WRONLY | os.O_CREAT, 0o644), b"x"))
            """,
        ["shell"] = """
            import sys
            for m in ("subprocess", "_posixsubprocess"): sys.modules.pop(m, None)
            import subprocess
            def shell(p):
                if subprocess.run("echo x > " + p, shell=True).returncode != 0: raise OSError("shell failed")
            attempt(shell)
            """,
        ["shm-open"] = """
            import os, _posixshmem
            def shm(p):
                if p.startswith("/dev/shm/"): _posixshmem.shm_open("/" + os.path.basename(p), os.O_CREAT | os.O_RDWR, mode=0o644)
                else: os.write(os.open(p, os.O_WRONLY | os.O_CREAT), b"x")
            attempt(shm)
            """,
        ["ctypes-fork"] = """
            import sys, os, time, _io
            for m in ("ctypes", "_ctypes"): sys.modules.pop(m, None)
            import ctypes
            libc = ctypes.CDLL(None, use_errno=True)
            r, w = os.pipe()
            pid = libc.fork()
            if pid == 0:
                libc.prctl(15, COMM.encode(), 0, 0, 0)
                try: attempt(lambda p: _io.FileIO(p, "w").write(b"x"))
                finally: os.write(w, b".")
                time.sleep(60)
                os._exit(0)
            if pid < 0: raise OSError(ctypes.get_errno(), os.strerror(ctypes.get_errno()))
            os.read(r, 1)
            """,
    };

    void Check(string kind, string route, bool seccomp)
    {
        var isolation = SandboxIsolation.Candidates().First(c => c.Label.StartsWith(kind + "+", StringComparison.Ordinal) && c.ProcessCreationBlocked == seccomp);
        Assert.True(SandboxIsolation.Probe(isolation), $"{isolation.Label} does not run a probe program on this machine");
        var name = "opendllm-escape-" + Guid.NewGuid().ToString("N")[..12];
        var comm = "odl" + Guid.NewGuid().ToString("N")[..12];
        var targets = new[] { "/tmp", "/dev/shm", "/var/tmp", Path.GetTempPath() }
            .Select(d => Path.Combine(d, name)).Distinct().ToArray();
        var program = $$"""
            import os
            NAME, COMM = "{{name}}", "{{comm}}"
            targets = ["/tmp/" + NAME, "/dev/shm/" + NAME, "/var/tmp/" + NAME, os.path.join(os.path.dirname(os.getcwd()), NAME)]
            def attempt(write):
                write(os.path.join(os.getcwd(), "inside-" + NAME))
                print("inside ok", flush=True)
                for t in targets:
                    try:
                        write(t); print("wrote", t, flush=True)
                    except BaseException as e:
                        print("refused", t, type(e).__name__, e, flush=True)

            """ + Routes[route].Replace("\r", "");
        try
        {
            var sandbox = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 20 }, isolation);
            var result = sandbox.RunAsync(program).GetAwaiter().GetResult();
            output.WriteLine($"[{isolation.Label}] {route}: {result.StatusName} exit={result.ExitCode}\n{result.Stdout}\n{result.Stderr}");

            // the route itself works inside the sample folder, except process creation under seccomp
            bool spawns = route is "shell" or "ctypes-fork";
            if (spawns && seccomp) Assert.Contains("Operation not permitted", result.Stdout + result.Stderr);
            else Assert.Contains("inside ok", result.Stdout);
            // nothing outside, no process left
            foreach (var target in targets) Assert.False(File.Exists(target), $"{route} under {isolation.Label} wrote {target}");
            Assert.Empty(ProcessesNamed(comm));
        }
        finally
        {
            foreach (var target in targets) File.Delete(target);
            foreach (var pid in ProcessesNamed(comm))
                try { System.Diagnostics.Process.GetProcessById(pid).Kill(); } catch (ArgumentException) { }
        }
    }

    /// <summary>Processes whose name (comm) is <paramref name="comm"/>, after letting a dying PID namespace finish (up to 5 s).</summary>
    static List<int> ProcessesNamed(string comm)
    {
        List<int> found = [];
        for (int attempt = 0; attempt < 50; attempt++)
        {
            found = [];
            foreach (var dir in Directory.EnumerateDirectories("/proc"))
                if (int.TryParse(Path.GetFileName(dir), out var pid))
                    try { if (File.ReadAllText(Path.Combine(dir, "comm")).Trim() == comm) found.Add(pid); }
                    catch (Exception e) when (e is IOException or UnauthorizedAccessException) { }
            if (found.Count == 0) break;
            Thread.Sleep(100);
        }
        return found;
    }
}

/// <summary>A fact that needs bubblewrap; reported as skipped, with the reason, where <c>bwrap</c> is not on PATH.</summary>
public sealed class BubblewrapFactAttribute : FactAttribute
{
    public BubblewrapFactAttribute()
    {
        if (SandboxTestEnvironment.BubblewrapMissing is { } reason) Skip = reason;
    }
}

/// <summary>A theory that needs bubblewrap; skipped, with the reason, where <c>bwrap</c> is not on PATH.</summary>
public sealed class BubblewrapTheoryAttribute : TheoryAttribute
{
    public BubblewrapTheoryAttribute()
    {
        if (SandboxTestEnvironment.BubblewrapMissing is { } reason) Skip = reason;
    }
}

/// <summary>A theory for the <c>unshare -m</c> fallback, which needs root on Linux; skipped, with the reason, elsewhere.</summary>
public sealed class UnshareMountTheoryAttribute : TheoryAttribute
{
    public UnshareMountTheoryAttribute()
    {
        if (!OperatingSystem.IsLinux()) Skip = "the sandbox's mount namespaces are Linux-only";
        else if (SandboxIsolation.Which("unshare") is null) Skip = "unshare (util-linux) is not on PATH";
        else if (Environment.UserName != "root") Skip = "the unshare -m fallback remounts as root; these tests run as another user";
    }
}

static class SandboxTestEnvironment
{
    public static string? BubblewrapMissing =>
        !OperatingSystem.IsLinux() ? "bubblewrap sandboxing is Linux-only"
        : SandboxIsolation.Which("bwrap") is null
            ? "bubblewrap (bwrap) is not installed on this machine: apt-get install bubblewrap (CI installs it in .ci/run)" : null;
}
