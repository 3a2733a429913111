using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using System.Text;

namespace OpenDllm.Evaluation;

/// <summary>
/// Runs Python programs one per process (SPEC §7.3; issue "Executing model-written code safely"): each in its own
/// temporary directory (the working directory, the only writable folder besides private tmpfs mounts, removed
/// afterwards) under <see cref="SandboxIsolation"/> and <see cref="SandboxGuard"/>, stdin closed, a minimal environment,
/// the program clock inside Python (<see cref="SandboxOptions.TimeoutSeconds"/>), a larger outside kill after which the
/// whole process group (and PID namespace) is killed, and stdout/stderr captured and truncated. <see cref="RunManyAsync{T}"/>
/// runs programs in parallel on <see cref="SandboxOptions.Workers"/> workers.
/// </summary>
public sealed partial class PythonSandbox
{
    /// <summary>The limits in force.</summary>
    public SandboxOptions Options { get; }

    /// <summary>The isolation in force (see <see cref="SandboxIsolation.Label"/>).</summary>
    public SandboxIsolation Isolation { get; }

    /// <summary>A sandbox with <paramref name="options"/> (default limits when null) and the detected isolation.</summary>
    public PythonSandbox(SandboxOptions? options = null, SandboxIsolation? isolation = null)
    {
        Options = (options ?? new SandboxOptions()).Validate();
        Isolation = isolation ?? SandboxIsolation.Detect(Options.Python);
    }

    /// <summary>Runs every item's program on <see cref="SandboxOptions.Workers"/> workers; <paramref name="onResult"/> is called as each finishes.</summary>
    public Task RunManyAsync<T>(IEnumerable<T> items, Func<T, string> program, Func<T, ExecutionResult, ValueTask> onResult,
                                CancellationToken cancellation = default) =>
        Parallel.ForEachAsync(items, new ParallelOptions { MaxDegreeOfParallelism = Options.Workers, CancellationToken = cancellation },
            async (item, token) =>
            {
                ExecutionResult result;
                try { result = await RunAsync(program(item), token); }
                catch (Exception e) when (e is not OperationCanceledException) { result = ExecutionResult.Error($"sandbox failure: {e.Message}"); }
                await onResult(item, result);
            });

    /// <summary>Runs one program and classifies how it ended.</summary>
    public async Task<ExecutionResult> RunAsync(string program, CancellationToken cancellation = default)
    {
        var dir = Directory.CreateTempSubdirectory("opendllm-sandbox-").FullName;
        try
        {
            // 1. the directory: runner + program, owned by the sandbox user when there is one
            var runner = Path.Combine(dir, SandboxGuard.RunnerFileName);
            var programPath = Path.Combine(dir, SandboxGuard.ProgramFileName);
            await File.WriteAllTextAsync(runner, SandboxGuard.RunnerSource, cancellation);
            await File.WriteAllTextAsync(programPath, program, new UTF8Encoding(false), cancellation);
            if (Isolation.UnprivilegedUser is var (uid, gid))
                foreach (var path in new[] { runner, programPath, dir })
                    if (Chown(path, uid, gid) != 0) throw new IOException($"chown {path} failed (errno {Marshal.GetLastPInvokeError()})");

            // 2. the process: argv from the isolation, clean environment, stdin closed
            var nonce = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
            var argv = Isolation.CommandLine(Options, dir, runner, programPath);
            var info = new ProcessStartInfo(argv[0])
            {
                WorkingDirectory = dir, UseShellExecute = false,
                RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true,
            };
            foreach (var arg in argv.Skip(1)) info.ArgumentList.Add(arg);
            info.Environment.Clear();
            info.Environment["PATH"] = "/usr/local/bin:/usr/bin:/bin";
            info.Environment["HOME"] = dir;
            info.Environment["TMPDIR"] = dir;
            info.Environment["LANG"] = "C.UTF-8";
            info.Environment["OMP_NUM_THREADS"] = "1";
            info.Environment[SandboxGuard.NonceVariable] = nonce;

            var clock = Stopwatch.StartNew();
            using var process = Process.Start(info) ?? throw new InvalidOperationException($"{argv[0]} did not start");
            process.StandardInput.Close();
            var stdout = Capture(process.StandardOutput.BaseStream);
            var stderr = Capture(process.StandardError.BaseStream);

            // 3. the program clock runs inside Python; from outside, wait up to the larger kill limit, then kill the
            //    process group (and with it the PID namespace)
            bool killed = false;
            using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellation))
            {
                timeout.CancelAfter(TimeSpan.FromSeconds(Options.EffectiveKillAfterSeconds));
                try { await process.WaitForExitAsync(timeout.Token); }
                catch (OperationCanceledException)
                {
                    killed = true;
                    Kill(process);
                    await process.WaitForExitAsync(CancellationToken.None);
                }
            }
            var elapsed = clock.Elapsed.TotalMilliseconds;
            var (outText, outTail) = await Finish(stdout);
            var (errText, _) = await Finish(stderr);
            cancellation.ThrowIfCancellationRequested();
            int? exitCode = killed ? null : process.ExitCode;
            return Classify(nonce, exitCode, Math.Round(elapsed, 1), outText, outTail, errText);
        }
        finally
        {
            RemoveDirectory(dir);
        }
    }

    /// <summary>
    /// How a run ended: killed from outside (<paramref name="exitCode"/> null), the runner's closing line
    /// (<c>NONCE passed|failed|timed_out MS</c>), or the CPU-time limit (SIGXCPU); a pass needs exit code 0 and "passed".
    /// </summary>
    ExecutionResult Classify(string nonce, int? exitCode, double elapsedMs, string outText, string outTail, string errText)
    {
        string? outcome = null;
        double? programMs = null;
        int at = outTail.LastIndexOf(nonce, StringComparison.Ordinal);
        if (at >= 0)
        {
            var fields = outTail[(at + nonce.Length)..].Split([' ', '\n'], StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length >= 2 && double.TryParse(fields[1], System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var ms))
                (outcome, programMs) = (fields[0], ms);
        }
        int cut = outText.LastIndexOf("\n" + nonce, StringComparison.Ordinal);
        if (cut >= 0) outText = outText[..cut];
        var killAfter = Options.EffectiveKillAfterSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var timeout = Options.TimeoutSeconds.ToString(System.Globalization.CultureInfo.InvariantCulture);
        var (status, note) = (exitCode, outcome) switch
        {
            (null, _) => (ExecutionStatus.TimedOut, $"killed from outside after {killAfter} s (the {timeout} s program clock did not stop it)"),
            (_, "timed_out") => (ExecutionStatus.TimedOut, $"ran past the {timeout} s program clock"),
            (0, "passed") => (ExecutionStatus.Passed, null),
            (SignalExit + SigXcpu, _) => (ExecutionStatus.TimedOut, $"used up its CPU time ({Options.EffectiveCpuSeconds} s, RLIMIT_CPU)"),
            (SandboxGuard.SeccompFailedExitCode, null) => (ExecutionStatus.Error, "the sandbox could not install its seccomp filter"),
            _ => (ExecutionStatus.Failed, (string?)null),
        };
        return new ExecutionResult(status, exitCode, elapsedMs, outText, errText, programMs, note);
    }

    const int SignalExit = 128, SigXcpu = 24;

    /// <summary>Reads a stream to its end, keeping the first <see cref="SandboxOptions.MaxOutputBytes"/> bytes and the last 256.</summary>
    Task<(byte[] Head, long Total, byte[] Tail)> Capture(Stream stream) => Task.Run(async () =>
    {
        var head = new MemoryStream();
        var tail = new byte[256];
        int tailLength = 0;
        long total = 0;
        var buffer = new byte[8192];
        try
        {
            for (int n; (n = await stream.ReadAsync(buffer)) > 0;)
            {
                total += n;
                int keep = (int)Math.Min(n, Math.Max(0, Options.MaxOutputBytes - head.Length));
                head.Write(buffer, 0, keep);
                // rolling tail of the last 256 bytes
                if (n >= tail.Length) { Array.Copy(buffer, n - tail.Length, tail, 0, tail.Length); tailLength = tail.Length; }
                else
                {
                    int shift = Math.Max(0, tailLength + n - tail.Length);
                    Array.Copy(tail, shift, tail, 0, tailLength - shift);
                    tailLength -= shift;
                    Array.Copy(buffer, 0, tail, tailLength, n);
                    tailLength += n;
                }
            }
        }
        catch (IOException) { }
        catch (ObjectDisposedException) { }
        return (head.ToArray(), total, tail[..tailLength]);
    });

    async Task<(string Text, string Tail)> Finish(Task<(byte[] Head, long Total, byte[] Tail)> capture)
    {
        // a straggler that escaped the kill could hold the pipe open: give up on its output after 2 s
        if (await Task.WhenAny(capture, Task.Delay(2000)) != capture) return ("[output abandoned: pipe still open]", "");
        var (head, total, tail) = await capture;
        var text = Encoding.UTF8.GetString(head);
        if (total > head.Length) text += $"\n[output truncated: {total} bytes, {head.Length} kept]";
        return (text, Encoding.UTF8.GetString(tail));
    }

    static void Kill(Process process)
    {
        try { _ = KillProcess(-process.Id, 9); } catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException) { }
        try { process.Kill(entireProcessTree: true); } catch (Exception e) when (e is InvalidOperationException or System.ComponentModel.Win32Exception) { }
    }

    static void RemoveDirectory(string dir)
    {
        for (int attempt = 0; attempt < 3 && Directory.Exists(dir); attempt++)
        {
            try { Directory.Delete(dir, recursive: true); }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                // a program may leave a directory without permissions behind: open everything up and retry
                if (OperatingSystem.IsWindows()) continue;
                foreach (var entry in Directory.EnumerateFileSystemEntries(dir, "*", new EnumerationOptions { RecurseSubdirectories = true, IgnoreInaccessible = true }))
                    try { File.SetUnixFileMode(entry, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute); }
                    catch (Exception inner) when (inner is IOException or UnauthorizedAccessException) { }
                Thread.Sleep(50);
            }
        }
    }

    [LibraryImport("libc", EntryPoint = "kill", SetLastError = true)]
    private static partial int KillProcess(int pid, int signal);

    [LibraryImport("libc", EntryPoint = "chown", SetLastError = true, StringMarshalling = StringMarshalling.Utf8)]
    private static partial int Chown(string path, int owner, int group);
}
