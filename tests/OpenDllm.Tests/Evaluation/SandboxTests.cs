using System.Net;
using System.Net.Sockets;
using OpenDllm.Evaluation;
using Xunit.Abstractions;

namespace OpenDllm.Tests.Evaluation;

/// <summary>
/// The sandbox holds (issue 6, "Executing model-written code safely"): each hostile program fails or times out,
/// the host is unharmed, and the run goes on (a normal program still passes afterwards).
/// </summary>
public sealed class SandboxTests(ITestOutputHelper output) : IDisposable
{
    readonly string _outside = Directory.CreateTempSubdirectory("opendllm-outside-").FullName;
    readonly PythonSandbox _sandbox = new(new SandboxOptions { TimeoutSeconds = 3 });

    public void Dispose() => Directory.Delete(_outside, true);

    ExecutionResult Run(string program, PythonSandbox? sandbox = null)
    {
        var result = (sandbox ?? _sandbox).RunAsync(program).GetAwaiter().GetResult();
        output.WriteLine($"[{_sandbox.Isolation.Label}] {result.StatusName} exit={result.ExitCode} {result.DurationMs} ms; " +
                         $"stderr: {result.Stderr.Split('\n').LastOrDefault(l => l.Trim() != "")}");
        return result;
    }

    void AssertRunContinues() => Assert.True(Run("assert sum(range(4)) == 6\nprint('ok')").Passed);

    [Fact]
    public void PassingFailingAndExitingProgramsAreClassified()
    {
        output.WriteLine($"isolation: {_sandbox.Isolation.Label}, python {_sandbox.Isolation.PythonVersion}");
        var ok = Run("print('hello')");
        Assert.Equal(ExecutionStatus.Passed, ok.Status);
        Assert.Equal("hello", ok.Stdout.Trim());
        Assert.Equal(ExecutionStatus.Failed, Run("assert 1 == 2").Status);
        Assert.Equal(ExecutionStatus.Failed, Run("def f(:\n  pass").Status);
        Assert.Equal(ExecutionStatus.Failed, Run("import sys\nsys.exit(0)").Status);           // leaving early is not passing
        Assert.Equal(ExecutionStatus.Failed, Run("import os\nos._exit(0)").Status);
        Assert.Contains("ZeroDivisionError", Run("1/0").Stderr);
    }

    [Fact]
    public void StdinIsClosedAndOutputIsTruncated()
    {
        Assert.Equal(ExecutionStatus.Failed, Run("input()").Status);                           // EOFError, no hang
        var loud = Run("print('x' * 1_000_000)");
        Assert.True(loud.Passed);
        Assert.True(loud.Stdout.Length < 5000);
        Assert.Contains("output truncated", loud.Stdout);
    }

    [Fact]
    public void InfiniteLoopIsStoppedByTheProgramClock()
    {
        var fast = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 1 });
        var result = Run("while True:\n    pass", fast);
        Assert.Equal(ExecutionStatus.TimedOut, result.Status);
        Assert.Contains("program clock", result.Note);
        Assert.NotNull(result.ExitCode);                                  // it ended itself, not the outside kill
        Assert.InRange(result.ProgramMs!.Value, 1000, result.DurationMs);  // the clock counts the program only
        AssertRunContinues();
    }

    [Fact]
    public void AProgramThatBlocksTheClockIsKilledFromOutside()
    {
        // below the guard: _signal blocks SIGALRM, so only the outside kill can end it
        var fast = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 1, KillAfterSeconds = 2 });
        var result = Run("import _signal\n_signal.pthread_sigmask(_signal.SIG_BLOCK, {_signal.SIGALRM})\nwhile True:\n    pass", fast);
        Assert.Equal(ExecutionStatus.TimedOut, result.Status);
        Assert.Null(result.ExitCode);
        Assert.Contains("killed from outside", result.Note);
        AssertRunContinues();
    }

    [Fact]
    public void TheProgramClockStartsAfterStartUp()
    {
        var result = Run("import time\ntime.sleep(0.2)");
        Assert.True(result.Passed, result.Stderr);
        Assert.InRange(result.ProgramMs!.Value, 200, result.DurationMs);
    }

    [Fact]
    public void ForkBombFails()
    {
        Assert.False(Run("import os\nwhile True:\n    os.fork()").Passed);
        Assert.False(Run("import multiprocessing\nps = [multiprocessing.Process(target=print) for _ in range(10000)]\nfor p in ps: p.start()").Passed);
        Assert.False(Run("import subprocess\nsubprocess.run(['sh', '-c', ':(){ :|:& };:'])").Passed);
        AssertRunContinues();
    }

    [Fact]
    public void MemoryHogFails()
    {
        Assert.False(Run("x = bytearray(8 * 1024 ** 3)\nprint(len(x))").Passed);
        // touching pages is slow on small VMs (~1.5 s per GiB here), so the growing hog gets a 512 MiB limit
        var small = new PythonSandbox(new SandboxOptions { MemoryBytes = 512L << 20 });
        Assert.False(Run("xs = []\nwhile True:\n    xs.append(bytearray(50 * 1024 ** 2))", small).Passed);
        AssertRunContinues();
    }

    [Fact]
    public void TenGigabyteFileWriteFails()
    {
        var result = Run("chunk = b'\\0' * (1 << 20)\nwith open('big.bin', 'wb') as f:\n    for _ in range(10 * 1024):\n        f.write(chunk)");
        Assert.False(result.Passed);
        AssertRunContinues();
    }

    [Fact]
    public void SocketConnectionsFail()
    {
        var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        try
        {
            int port = ((IPEndPoint)listener.LocalEndpoint).Port;
            Assert.False(Run($"import socket\ns = socket.create_connection(('127.0.0.1', {port}), timeout=1)\ns.sendall(b'hi')").Passed);
            Assert.False(Run("import socket\nsocket.create_connection(('1.1.1.1', 53), timeout=1)").Passed);
            // below the guard: the raw _socket module; only the network namespace stops this one
            var raw = Run($"import _socket\ns = _socket.socket()\ns.settimeout(1)\ns.connect(('127.0.0.1', {port}))");
            if (_sandbox.Isolation.NetworkIsolated) Assert.False(raw.Passed);
            else output.WriteLine("no network namespace here: the raw-socket check only documents the behaviour");
            Assert.False(listener.Pending());
        }
        finally { listener.Stop(); }
        AssertRunContinues();
    }

    [Fact]
    public void WritingOutsideTheTemporaryDirectoryFails()
    {
        var victim = Path.Combine(_outside, "victim.txt");
        File.WriteAllText(victim, "unchanged");
        var created = Path.Combine(_outside, "created.txt");
        Assert.False(Run($"open({Quote(victim)}, 'a').write('x')").Passed);
        Assert.False(Run($"open({Quote(created)}, 'w').write('x')").Passed);
        Assert.False(Run($"import os\nos.remove({Quote(victim)})").Passed);
        Assert.False(Run($"import shutil\nshutil.rmtree({Quote(_outside)})").Passed);
        // below the guard: the raw _io.FileIO; the mount namespace (the folder is not there) or the unprivileged user stops it
        var raw = Run($"import _io\n_io.FileIO({Quote(victim)}, 'a').write(b'x')");
        if (_sandbox.Isolation.FilesystemIsolated || _sandbox.Isolation.UnprivilegedUser is not null) Assert.False(raw.Passed);
        else output.WriteLine("programs run as this user without a mount namespace: the raw FileIO check only documents the behaviour");
        Assert.Equal("unchanged", File.ReadAllText(victim));
        Assert.False(File.Exists(created));
        AssertRunContinues();
    }

    [Fact]
    public void TemporaryDirectoryIsRemovedAndProgramsStartThere()
    {
        var result = Run("import os\nprint(os.getcwd())\nopen('scratch.txt', 'w').write('ok')");
        Assert.True(result.Passed, result.Stderr);
        var dir = result.Stdout.Trim();
        Assert.Contains("opendllm-sandbox-", dir);
        Assert.False(Directory.Exists(dir));
    }

    [Fact]
    public async Task ProgramsRunInParallelAndEveryResultArrives()
    {
        var programs = Enumerable.Range(0, 12).Select(i => i == 5 ? "raise SystemExit(3)" : i == 7 ? "while True: pass" : $"assert {i} == {i}").ToArray();
        var results = new System.Collections.Concurrent.ConcurrentDictionary<int, ExecutionResult>();
        var fast = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 1.5 });
        await fast.RunManyAsync(Enumerable.Range(0, 12), i => programs[i], (i, r) => { results[i] = r; return ValueTask.CompletedTask; });
        Assert.Equal(12, results.Count);
        Assert.Equal(ExecutionStatus.Failed, results[5].Status);
        Assert.Equal(ExecutionStatus.TimedOut, results[7].Status);
        Assert.Equal(10, results.Values.Count(r => r.Passed));
    }

    [Fact]
    public void WithoutOsToolsTheRunnerSetsTheLimitsItself()
    {
        // the weakest fallback (no setsid/unshare/prlimit/setpriv): limits come from the runner's resource.setrlimit
        var bare = _sandbox.Isolation with
        {
            Label = "python-rlimit", Prefix = [], NetworkIsolated = false, UnprivilegedUser = null, ExternalLimits = false, FilesystemIsolated = false,
        };
        var sandbox = new PythonSandbox(new SandboxOptions { TimeoutSeconds = 2, MemoryBytes = 512L << 20 }, bare);
        Assert.True(Run("print('ok')", sandbox).Passed);
        Assert.False(Run("x = bytearray(2 * 1024 ** 3)", sandbox).Passed);
        Assert.False(Run("open('big.bin', 'wb').write(b'0' * (64 << 20))", sandbox).Passed);
        Assert.Equal(ExecutionStatus.TimedOut, Run("while True: pass", sandbox).Status);
    }

    static string Quote(string s) => "'" + s.Replace("\\", "\\\\").Replace("'", "\\'") + "'";
}
