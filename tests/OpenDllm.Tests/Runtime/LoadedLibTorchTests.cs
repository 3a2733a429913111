using OpenDllm.Runtime;

namespace OpenDllm.Tests.Runtime;

/// <summary>What doctor reports about the libtorch in this process, read from the process itself.</summary>
public class LoadedLibTorchTests
{
    [Fact]
    public void TheLoadedLibraryIsTheMappedLibtorchCpuWithItsRealVersion()
    {
        if (!OperatingSystem.IsLinux()) return;
        var loaded = TorchRuntime.LibTorch;
        Assert.NotNull(loaded.LibraryPath);
        Assert.Contains(loaded.LibraryPath, LoadedLibraries.Find("libtorch_cpu.so"));
        Assert.True(File.Exists(loaded.LibraryPath));
        Assert.True(loaded.Build?.MajorMinor >= LibTorchVersion.Minimum, $"version read: {loaded.Build}");
        Assert.DoesNotContain("build constant", loaded.VersionText);
    }

    [Fact]
    public void ShowConfigOfTheLoadedLibraryCarriesTheVersion()
    {
        if (!OperatingSystem.IsLinux()) return;
        var text = NativeConfig.ShowConfig(TorchRuntime.LibTorch.LibraryPath!);
        Assert.NotNull(text);
        var parsed = LibTorchVersion.FromShowConfig(text!);
        Assert.NotNull(parsed);
        Assert.Equal(TorchRuntime.LibTorch.Build!.MajorMinor, parsed!.MajorMinor);
    }

    [Theory]
    [InlineData("libcudart", "libcudart.so.13", true)]
    [InlineData("libcudart", "libcudart-a1b2c3d4.so.12", true)]
    [InlineData("libcudart", "libcudart_static.a", false)]
    [InlineData("libtorch_cpu.so", "libtorch_cpu.so", true)]
    [InlineData("libtorch", "libtorch_cpu.so", false)]
    public void MappedNamesMatchExactlyOrWithAVersionSuffix(string wanted, string name, bool matches) =>
        Assert.Equal(matches, LoadedLibraries.NameMatches(wanted, name));

    [Theory]
    [InlineData(13000, "13.0")]
    [InlineData(12080, "12.8")]
    [InlineData(11070, "11.7")]
    public void CudaVersionNumbersAreFormattedAsMajorDotMinor(int number, string text) =>
        Assert.Equal(text, CudaDevices.Format(number));

    [Fact]
    public void DoctorNotesStateWhatRanAndWhatIsUnverified()
    {
        var notes = string.Join("\n", TorchRuntime.Notes());
        Assert.Contains("2.11", notes);
        Assert.Contains("H200", notes);
        Assert.Contains("unverified", notes);
    }
}
