using System.Diagnostics;
using System.Text.Json.Nodes;

namespace OpenDllm.Tests.Runtime;

/// <summary>
/// OPENDLLM_LIBTORCH end to end: the CLI in a child process (the variable is read once per process). The "external"
/// libtorch here is a CPU libtorch 2.10 folder; on a GPU machine the GPU check does the same with PyTorch's torch/lib.
/// </summary>
public class ExternalLibTorchEndToEndTests
{
    static readonly string Bin = AppContext.BaseDirectory;
    static readonly string BundledNatives = Path.Combine(Bin, "runtimes", "linux-x64", "native");

    static readonly string[] LibtorchFiles = ["libtorch", "libc10", "libgomp", "libshm", "libbackend_with_compiler", "libjitbackend_test",
                                              "libnnapi_backend", "libaoti_custom_ops"];

    /// <summary>
    /// The test output folder as an application built without libtorch natives (what -p:TorchBackend=external gives):
    /// managed files copied (the .NET host resolves a linked application to the link's target folder), natives linked,
    /// the libtorch libraries left out; TorchSharp's own libLibTorchSharp.so stays.
    /// </summary>
    static string AppWithoutLibtorch()
    {
        var app = Directory.CreateTempSubdirectory("opendllm-nolibtorch-").FullName;
        foreach (var file in Directory.EnumerateFiles(Bin, "*", SearchOption.AllDirectories))
        {
            var rel = Path.GetRelativePath(Bin, file);
            if (rel.StartsWith("Fixtures", StringComparison.Ordinal)) continue;
            if (rel.StartsWith("runtimes", StringComparison.Ordinal) && LibtorchFiles.Any(Path.GetFileName(rel).StartsWith)) continue;
            var target = Path.Combine(app, rel);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            if (rel.StartsWith("runtimes", StringComparison.Ordinal)) File.CreateSymbolicLink(target, file);
            else File.Copy(file, target);
        }
        return app;
    }

    static async Task<(int Code, string Stdout, string Stderr)> Cli(string app, Dictionary<string, string> env, params string[] args)
    {
        var start = new ProcessStartInfo("dotnet", [Path.Combine(app, "opendllm.dll"), .. args])
        {
            RedirectStandardOutput = true, RedirectStandardError = true,
        };
        start.Environment.Remove("OPENDLLM_LIBTORCH");
        foreach (var (k, v) in env) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return (process.ExitCode, await stdout, await stderr);
    }

    [Fact]
    public async Task ABuildWithoutNativesRunsOnTheChosenLibtorchAndDoctorNamesIt()
    {
        if (!OperatingSystem.IsLinux()) return;
        var app = AppWithoutLibtorch();
        try
        {
            var (code, stdout, stderr) = await Cli(app, new() { ["OPENDLLM_LIBTORCH"] = BundledNatives }, "doctor", "--json");
            Assert.True(code == 0, $"exit {code}: {stderr}");
            var facts = JsonNode.Parse(stdout)!["facts"]!;
            Assert.Equal(Path.Combine(BundledNatives, "libtorch_cpu.so"), (string?)facts["libtorch library"]);
            Assert.Equal($"OPENDLLM_LIBTORCH={BundledNatives}", (string?)facts["libtorch chosen by"]);
            Assert.StartsWith("2.10", (string?)facts["libtorch"]);   // the real version, read from the library
            // TorchSharp's native library of the application (linked here, so /proc/self/maps shows the link's target).
            Assert.Equal(Path.Combine(BundledNatives, "libLibTorchSharp.so"), (string?)facts["native library"]);
            Assert.Contains("H200", JsonNode.Parse(stdout)!["notes"]!.ToJsonString());
        }
        finally { Directory.Delete(app, true); }
    }

    [Fact]
    public async Task ABuildWithoutNativesAndWithoutTheVariableSaysHowToChooseOne()
    {
        if (!OperatingSystem.IsLinux()) return;
        var app = AppWithoutLibtorch();
        try
        {
            var (code, _, stderr) = await Cli(app, new() { ["NUGET_PACKAGES"] = app }, "doctor");
            Assert.Equal(1, code);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("OPENDLLM_LIBTORCH=auto", line);
        }
        finally { Directory.Delete(app, true); }
    }

    [Fact]
    public async Task AutoWithATooOldTorchFailsInOneLine()
    {
        if (!OperatingSystem.IsLinux()) return;
        var app = AppWithoutLibtorch();
        try
        {
            var python = ExternalLibTorchTests.FakePython(ExternalLibTorchTests.FakeTorch("1.13.0a0", null));
            var (code, _, stderr) = await Cli(app, new() { ["OPENDLLM_LIBTORCH"] = "auto", ["OPENDLLM_PYTHON"] = python }, "doctor");
            Assert.Equal(1, code);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("1.13.0a0", line);
            Assert.Contains("too old", line);
        }
        finally { Directory.Delete(app, true); }
    }

    [Fact]
    public async Task ABuildWithNativesRefusesAnotherLibtorchInsteadOfAborting()
    {
        // Loading a second libtorch_cpu.so beside the shipped one aborts the process in libtorch's static initialisers
        // ("Tried to register multiple backend fallbacks"): the variable is refused, in one line, with the fix.
        if (!OperatingSystem.IsLinux()) return;
        var nuget = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                    ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var other = Path.Combine(nuget, "libtorch-cpu-linux-x64", "2.10.0", "runtimes", "linux-x64", "native");
        if (!Directory.Exists(other)) other = BundledNatives;
        var (code, _, stderr) = await Cli(Bin, new() { ["OPENDLLM_LIBTORCH"] = other }, "doctor");
        Assert.Equal(1, code);
        var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
        Assert.Contains("TorchBackend=external", line);
    }
}
