using System.Diagnostics;
using System.Security.Cryptography;
using OpenDllm.Build;
using OpenDllm.Runtime;

namespace OpenDllm.Tests.Runtime;

/// <summary>The ELF edit of the build step, tested on a copy of TorchSharp's real, unpatched native library.</summary>
public sealed class GlibcxxCompatTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-elf-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>The pristine libLibTorchSharp.so from the NuGet package folder (never modified by the build).</summary>
    static string PristineLibrary()
    {
        var packages = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                       ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
        var path = Path.Combine(packages, "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        Assert.True(File.Exists(path), $"TorchSharp's native library is not in the package folder: {path}");
        return path;
    }

    string CopyOfPristine()
    {
        var copy = Path.Combine(_dir, "libLibTorchSharp.so");
        File.Copy(PristineLibrary(), copy, overwrite: true);
        return copy;
    }

    /// <summary>A fake libstdc++ that defines GLIBCXX_3.4.32, built with the system compiler and a version script.</summary>
    string NewLibStdCxx()
    {
        var src = Path.Combine(_dir, "fake.c");
        var map = Path.Combine(_dir, "fake.map");
        var lib = Path.Combine(_dir, "libstdc++.so.6");
        File.WriteAllText(src, "int fake_symbol(void) { return 1; }\n");
        File.WriteAllText(map, "GLIBCXX_3.4.31 { global: fake_symbol; }; GLIBCXX_3.4.32 { } GLIBCXX_3.4.31;\n");
        var gcc = Process.Start(new ProcessStartInfo("gcc", ["-shared", "-fPIC", "-o", lib, src, $"-Wl,--version-script={map}"])
        { RedirectStandardError = true })!;
        gcc.WaitForExit();
        Assert.True(gcc.ExitCode == 0, "gcc failed: " + gcc.StandardError.ReadToEnd());
        return lib;
    }

    static string Sha256(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path))).ToLowerInvariant();

    [Fact]
    public void TheRealLibraryNeedsGlibcxx_3_4_32_OnlyThroughAnUnrelocatedMarker()
    {
        var elf = ElfFile.Read(PristineLibrary());
        var need = Assert.Single(elf.VersionNeeds(), n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal("libstdc++.so.6", need.Library);
        Assert.False(need.IsWeak);
        Assert.Equal(["_ZSt21ios_base_library_initv"], elf.SymbolsOfVersion(need.Index));
        Assert.False(elf.RelocationsUse(need.Index));
        // a version that real relocations use, for contrast
        var used = elf.VersionNeeds().First(n => n.Version == "GLIBCXX_3.4");
        Assert.True(elf.RelocationsUse(used.Index));
    }

    [Fact]
    public void RelaxMarksExactlyTheMissingVersionWeakAndIsIdempotent()
    {
        var system = GlibcxxCompat.FindSystemLibStdCxx();
        Assert.NotNull(system);
        var copy = CopyOfPristine();
        var before = File.ReadAllBytes(copy);
        var missing = GlibcxxCompat.MissingVersions(copy, system!);
        if (missing.Count == 0) return;   // a system with GCC 13+: nothing to relax (covered by the next test)

        var first = GlibcxxCompat.Relax(copy, system!);
        Assert.Equal(["GLIBCXX_3.4.32"], first.Weakened);
        Assert.Empty(first.UnsafeVersions);
        var after = File.ReadAllBytes(copy);
        var changed = Enumerable.Range(0, before.Length).Where(i => before[i] != after[i]).ToList();
        var need = ElfFile.Read(copy).VersionNeeds().Single(n => n.Version == "GLIBCXX_3.4.32");
        Assert.Equal([(int)need.FlagsOffset], changed);            // one byte: vna_flags 0x00 → 0x02
        Assert.Equal(ElfFile.VerFlagWeak, after[need.FlagsOffset]);
        Assert.True(need.IsWeak);

        var second = GlibcxxCompat.Relax(copy, system!);
        Assert.False(second.Changed);
        Assert.Equal(["GLIBCXX_3.4.32"], second.AlreadyWeak);
        Assert.Equal(Sha256(copy), Convert.ToHexString(SHA256.HashData(after)).ToLowerInvariant());
        Assert.Equal("5968efac8270eff8a2b5ca7381612ea9cc54d81cf4104a54e0e6106b7b5f11e3", Sha256(copy)); // PLATFORM §1
    }

    [Fact]
    public void RelaxIsANoOpWhereTheSystemLibraryIsNewEnough()
    {
        var copy = CopyOfPristine();
        var sha = Sha256(copy);
        var result = GlibcxxCompat.Relax(copy, NewLibStdCxx());
        Assert.False(result.Changed);
        Assert.Equal(sha, Sha256(copy));
    }

    [Fact]
    public void TheNuGetCacheCopyIsNeverPatched() =>
        Assert.Equal("cf33b1b0bb6bbb9754a768fb5c5d04d9f498603be50e73f55621a0b40ee608b8", Sha256(PristineLibrary()));

    [Fact]
    public void NonElfInputGetsAClearError()
    {
        var path = Path.Combine(_dir, "not-elf.so");
        File.WriteAllText(path, "hello");
        var error = Assert.Throws<InvalidDataException>(() => ElfFile.Read(path));
        Assert.Contains(path, error.Message);
    }

    [Fact]
    public void DiagnosisNamesTheMissingVersionForAnUnpatchedLibrary()
    {
        // The diagnosis reads the library next to the app; here we only check the message logic on the copy.
        var copy = CopyOfPristine();
        var system = GlibcxxCompat.FindSystemLibStdCxx()!;
        var missing = GlibcxxCompat.MissingVersions(copy, system).Where(n => !n.IsWeak).Select(n => n.Version).ToList();
        if (missing.Count == 0) return;
        Assert.Contains("GLIBCXX_3.4.32", missing);
        Assert.Contains("GLIBCXX fix", string.Join("\n", TorchRuntime.Facts().Select(f => f.Name)));
    }
}

/// <summary>The startup check, end to end: the CLI next to an unpatched native library says the cause in one line.</summary>
public class StartupCheckTests
{
    [Fact]
    public async Task CliWithUnpatchedLibraryExplainsTheCauseAndTheFixInOneLine()
    {
        var system = GlibcxxCompat.FindSystemLibStdCxx();
        var pristine = Path.Combine(Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                                    ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages"),
                                    "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        if (system is null || GlibcxxCompat.MissingVersions(pristine, system).Count == 0) return; // new libstdc++: nothing to see

        var app = Directory.CreateTempSubdirectory("opendllm-startup-").FullName;
        var empty = Directory.CreateTempSubdirectory("opendllm-nuget-").FullName;
        try
        {
            // Managed files are copied; the large natives are linked, except the unpatched libLibTorchSharp.so.
            var bin = AppContext.BaseDirectory;
            foreach (var file in Directory.EnumerateFiles(bin, "*", SearchOption.AllDirectories))
            {
                var rel = Path.GetRelativePath(bin, file);
                if (rel.StartsWith("Fixtures")) continue;
                var target = Path.Combine(app, rel);
                Directory.CreateDirectory(Path.GetDirectoryName(target)!);
                if (rel.EndsWith("libLibTorchSharp.so")) File.Copy(pristine, target);
                else if (rel.StartsWith("runtimes")) File.CreateSymbolicLink(target, file);
                else File.Copy(file, target);
            }
            var start = new ProcessStartInfo("dotnet", [Path.Combine(app, "opendllm.dll"), "doctor"])
            {
                RedirectStandardOutput = true, RedirectStandardError = true,
                Environment = { ["NUGET_PACKAGES"] = empty }, // keep TorchSharp's fallback from copying natives out of the cache
            };
            using var process = Process.Start(start)!;
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = await process.StandardError.ReadToEndAsync();
            await process.WaitForExitAsync();
            Assert.Equal(1, process.ExitCode);
            var line = Assert.Single(stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries));
            Assert.Contains("GLIBCXX_3.4.32", line);
            Assert.Contains("dotnet build", line);
            Assert.DoesNotContain("LoadNativeBackend", await stdout);
        }
        finally
        {
            Directory.Delete(app, true);
            Directory.Delete(empty, true);
        }
    }
}
