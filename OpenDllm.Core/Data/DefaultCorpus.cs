using System.Diagnostics;

namespace OpenDllm.Data;

/// <summary>
/// The embedded default corpus: the Python standard library sources of the machine's own Python
/// (<c>python3 -c "import sysconfig; print(sysconfig.get_paths()['stdlib'])"</c>): real code, already on every machine
/// here, never committed. It is read in place as a <see cref="FolderCorpus"/>.
/// </summary>
/// <remarks>
/// Selection (decided here; recorded in every manifest through <see cref="ICorpus.Description"/>): <c>**/*.py</c>;
/// <b>without</b> <c>site-packages/</c> (third-party code, not the standard library) and without the test suites
/// (<c>test/</c>, <c>tests/</c>, <c>idle_test/</c>): they are half the bytes, highly repetitive, and hold files that are
/// deliberately malformed or in other encodings; the remaining library code (about 700 files, 14 MB on CPython 3.11)
/// is plenty for a CPU run and more like the code users write. Files of 64 bytes to 1 MiB are kept (tiny
/// <c>__init__.py</c> stubs teach nothing).
/// </remarks>
public static class DefaultCorpus
{
    /// <summary>The Python executable asked for its stdlib path; override with the <c>OPENDLLM_PYTHON</c> variable.</summary>
    public static string PythonExecutable => Environment.GetEnvironmentVariable("OPENDLLM_PYTHON") is { Length: > 0 } p ? p : "python3";

    /// <summary>Where <c>opendllm prepare --source python-stdlib</c> writes by default (git-ignored).</summary>
    public const string DefaultOutputDirectory = "runs/data/python-stdlib";

    /// <summary>The file selection described in the remarks.</summary>
    public static FolderCorpusOptions Options { get; } = new()
    {
        Include = ["**/*.py"],
        Exclude = ["site-packages/**", "dist-packages/**", "**/test/**", "**/tests/**", "**/idle_test/**"],
        MinBytes = 64,
        MaxBytes = 1 << 20,
    };

    /// <summary>The stdlib folder as reported by <see cref="PythonExecutable"/>.</summary>
    /// <exception cref="InvalidOperationException">Python is missing or failed; the message says which command ran.</exception>
    public static string LocateStdlib()
    {
        var command = $"{PythonExecutable} -c \"import sysconfig; print(sysconfig.get_paths()['stdlib'])\"";
        var info = new ProcessStartInfo(PythonExecutable)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        info.ArgumentList.Add("-c");
        info.ArgumentList.Add("import sysconfig; print(sysconfig.get_paths()['stdlib'])");
        Process process;
        try { process = Process.Start(info) ?? throw new InvalidOperationException($"could not start `{command}`"); }
        catch (System.ComponentModel.Win32Exception e)
        {
            throw new InvalidOperationException($"the default corpus needs Python: `{command}` failed ({e.Message}); set OPENDLLM_PYTHON or use --source folder", e);
        }
        using (process)
        {
            var output = process.StandardOutput.ReadToEnd().Trim();
            var error = process.StandardError.ReadToEnd().Trim();
            process.WaitForExit();
            if (process.ExitCode != 0 || output.Length == 0)
                throw new InvalidOperationException($"`{command}` exited with {process.ExitCode}: {error}");
            if (!Directory.Exists(output))
                throw new InvalidOperationException($"`{command}` printed {output}, which is not a folder");
            return output;
        }
    }

    /// <summary>The Python standard library as a corpus (<paramref name="stdlib"/> defaults to <see cref="LocateStdlib"/>).</summary>
    public static FolderCorpus Create(string? stdlib = null) => new(stdlib ?? LocateStdlib(), Options) { Kind = "python-stdlib" };
}
