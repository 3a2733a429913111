using System.Security.Cryptography;
using OpenDllm.Build;
using OpenDllm.Runtime;

namespace OpenDllm.Tests.Runtime;

/// <summary>
/// <see cref="TorchNatives"/>: where libtorch is looked for (never the system folders), and the private relaxed copy of
/// libLibTorchSharp.so. That a kernel process really loads TorchSharp through it is checked by KernelExtensionTests and
/// by the dotnet-repl notebooks step in CI.
/// </summary>
public sealed class TorchNativesTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-natives-").FullName;

    public void Dispose() => Directory.Delete(_dir, true);

    string FakeLibTorch(params string[] parts)
    {
        var folder = Path.Combine([_dir, .. parts]);
        Directory.CreateDirectory(folder);
        File.WriteAllText(Path.Combine(folder, "libtorch_cpu.so"), "");
        return folder;
    }

    [Fact]
    public void TheApplicationsOwnNativesComeFirst()
    {
        var app = Path.Combine(_dir, "app");
        var natives = FakeLibTorch("app", "runtimes", "linux-x64", "native");
        FakeLibTorch("cache", TorchNatives.CpuPackage, "2.10.0", "runtimes", "linux-x64", "native");

        var found = TorchNatives.FindLibTorch(Path.Combine(_dir, "cache"), [Path.Combine(_dir, "empty"), app]);

        Assert.Equal((natives, "application"), found);
    }

    [Fact]
    public void TheNuGetCacheGivesTheNewestPatchOfTheReleaseTorchSharpWasBuiltFor()
    {
        var cache = Path.Combine(_dir, "cache");
        FakeLibTorch("cache", TorchNatives.CpuPackage, "2.9.0", "runtimes", "linux-x64", "native");
        FakeLibTorch("cache", TorchNatives.CpuPackage, "2.11.0", "runtimes", "linux-x64", "native");
        var wanted = FakeLibTorch("cache", TorchNatives.CpuPackage, "2.10.1", "runtimes", "linux-x64", "native");
        FakeLibTorch("cache", TorchNatives.CpuPackage, "2.10.0", "runtimes", "linux-x64", "native");
        Directory.CreateDirectory(Path.Combine(cache, TorchNatives.CpuPackage, "2.10.2"));   // restored without natives: skipped

        var found = TorchNatives.FindLibTorch(cache, [Path.Combine(_dir, "app")]);

        Assert.Equal((wanted, "nuget-cache"), found);
    }

    [Fact]
    public void NothingIsFoundOutsideTheApplicationAndTheCache()
    {
        // Only the given folders and the cache are searched: Debian's libtorch 1.13 in /usr/lib (installed here) is not found.
        Directory.CreateDirectory(Path.Combine(_dir, "app"));
        Assert.Null(TorchNatives.FindLibTorch(Path.Combine(_dir, "no-cache"), [Path.Combine(_dir, "app")]));
    }

    [Fact]
    public void TheRelaxedCopyIsPrivateReusedAndLeavesTheOriginalAlone()
    {
        var original = Path.Combine(TorchNatives.NuGetCache(Environment.GetEnvironmentVariable("NUGET_PACKAGES")),
                                    "torchsharp", "0.107.0", "runtimes", "linux-x64", "native", "libLibTorchSharp.so");
        var system = GlibcxxCompat.FindSystemLibStdCxx();
        if (!File.Exists(original) || system is null) return;   // not a Linux machine with the restored package
        var pristine = Path.Combine(_dir, "pristine", "libLibTorchSharp.so");
        Directory.CreateDirectory(Path.GetDirectoryName(pristine)!);
        File.Copy(original, pristine);
        var before = SHA256.HashData(File.ReadAllBytes(pristine));
        var missing = GlibcxxCompat.MissingVersions(pristine, system).Where(n => !n.IsWeak).Select(n => n.Version).ToList();

        var (copy, weakened) = TorchNatives.RelaxedCopy(pristine, Path.Combine(_dir, "natives"));
        var (again, _) = TorchNatives.RelaxedCopy(pristine, Path.Combine(_dir, "natives"));

        Assert.Equal(before, SHA256.HashData(File.ReadAllBytes(pristine)));
        Assert.Equal(missing, weakened);
        Assert.Equal(copy, again);
        if (missing.Count == 0)
        {
            Assert.Equal(pristine, copy);   // a libstdc++ new enough: the original is used as it is
            return;
        }
        Assert.StartsWith(Path.Combine(_dir, "natives"), copy);
        Assert.DoesNotContain(GlibcxxCompat.MissingVersions(copy, system), n => !n.IsWeak);
        Assert.Empty(Directory.GetFiles(Path.GetDirectoryName(copy)!, "*.tmp"));
    }

    [Fact]
    public void LoadingInAnApplicationWithNativesReportsWhatIsLoaded()
    {
        // The tests are such an application: Load finds its own natives (or the ones already mapped) and is idempotent.
        var info = TorchNatives.Load();
        if (info is null) return;   // not Linux
        Assert.Same(info, TorchNatives.Load());
        Assert.True(Directory.Exists(info.LibTorchFolder), info.ToString());
        Assert.DoesNotContain("/usr/lib", info.LibTorchFolder);
        TorchRuntime.EnsureLoaded();
        Assert.DoesNotContain("/usr/lib", LoadedLibraries.FindOne("libtorch_cpu.so") ?? "");
    }
}
