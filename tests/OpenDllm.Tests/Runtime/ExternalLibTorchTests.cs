using OpenDllm.Runtime;

namespace OpenDllm.Tests.Runtime;

/// <summary>Locating the libtorch that OPENDLLM_LIBTORCH names: folders and `auto` (asking Python), without loading it.</summary>
public class ExternalLibTorchTests
{
    /// <summary>A fake PyTorch package: torch/version.py and torch/lib with (empty) library files.</summary>
    internal static string FakeTorch(string version, string? cuda, bool withLibs = true)
    {
        var torch = Directory.CreateDirectory(Path.Combine(Directory.CreateTempSubdirectory("opendllm-faketorch-").FullName, "torch")).FullName;
        File.WriteAllText(Path.Combine(torch, "version.py"),
                          $"__version__ = '{version}'\ncuda: Optional[str] = {(cuda is null ? "None" : $"'{cuda}'")}\n");
        var lib = Directory.CreateDirectory(Path.Combine(torch, "lib")).FullName;
        if (withLibs)
            foreach (var name in new[] { "libc10.so", "libtorch_cpu.so" }) File.WriteAllBytes(Path.Combine(lib, name), []);
        return torch;
    }

    /// <summary>An executable standing in for Python: prints what the probe prints (sys.executable, the torch folder).</summary>
    [System.Runtime.Versioning.SupportedOSPlatform("linux")]
    internal static string FakePython(string torchDir)
    {
        var path = Path.Combine(Directory.CreateTempSubdirectory("opendllm-fakepython-").FullName, "python3");
        File.WriteAllText(path, $"#!/bin/sh\necho /opt/fake/bin/python3\necho '{torchDir}'\n");
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return path;
    }

    [Fact]
    public void AutoFindsTheLibFolderAndVersionOfPythonsTorch()
    {
        if (!OperatingSystem.IsLinux()) return;
        var torch = FakeTorch("2.11.0+cu130", "13.0");
        var folder = ExternalLibTorch.Locate("auto", FakePython(torch));
        Assert.Equal(Path.Combine(torch, "lib"), folder.Path);
        Assert.Equal("2.11.0+cu130", folder.Version!.Version);
        Assert.Equal("13.0", folder.Version.Cuda);
        Assert.Contains("/opt/fake/bin/python3", folder.Origin);
    }

    [Fact]
    public void AutoRefusesATorchOlderThanTwoTenInOneLine()
    {
        if (!OperatingSystem.IsLinux()) return;
        var python = FakePython(FakeTorch("1.13.0a0", null, withLibs: false));
        var e = Assert.Throws<TorchLoadException>(() => ExternalLibTorch.Locate("auto", python));
        Assert.Contains("1.13.0a0", e.Message);
        Assert.Contains("too old", e.Message);
        Assert.Contains("OPENDLLM_PYTHON", e.Message);
        Assert.DoesNotContain("\n", e.Message);
    }

    [Fact]
    public void AutoSaysWhenPythonHasNoTorch()
    {
        if (!OperatingSystem.IsLinux()) return;
        var python = FakePython("");
        var e = Assert.Throws<TorchLoadException>(() => ExternalLibTorch.Locate("auto", python));
        Assert.Contains("no torch package", e.Message);
    }

    [Fact]
    public void AutoSaysWhenPythonCannotBeRun()
    {
        var e = Assert.Throws<TorchLoadException>(() => ExternalLibTorch.Locate("auto", "/nonexistent/python3"));
        Assert.Contains("/nonexistent/python3", e.Message);
        Assert.Contains("OPENDLLM_PYTHON", e.Message);
    }

    [Fact]
    public void AFolderMustExistAndHoldLibtorch()
    {
        var missing = Assert.Throws<TorchLoadException>(() => ExternalLibTorch.Locate("/nonexistent/torch/lib", "python3"));
        Assert.Contains("OPENDLLM_LIBTORCH=/nonexistent/torch/lib", missing.Message);
        var empty = Directory.CreateTempSubdirectory("opendllm-empty-").FullName;
        var noLib = Assert.Throws<TorchLoadException>(() => ExternalLibTorch.Locate(empty, "python3"));
        Assert.Contains("libtorch_cpu.so", noLib.Message);
    }

    [Fact]
    public void AFolderWhoseVersionFileIsTooOldIsRefusedBeforeLoading()
    {
        var lib = Path.Combine(FakeTorch("2.9.1+cu128", "12.8"), "lib");
        var e = Assert.Throws<TorchLoadException>(() => ExternalLibTorch.Locate(lib, "python3"));
        Assert.Contains("2.9.1+cu128", e.Message);
    }

    [Theory]
    [InlineData("torch_cpu", "torch_cpu")]
    [InlineData("libtorch_cuda.so", "torch_cuda")]
    [InlineData("LibTorchSharp", "LibTorchSharp")]
    [InlineData("libLibTorchSharp.so", "LibTorchSharp")]
    public void LibraryNamesAreMatchedWithoutPrefixAndSuffix(string name, string key) => Assert.Equal(key, ExternalLibTorch.Key(name));

    [Fact]
    public void TheTestHostShipsItsOwnLibtorch()
    {
        // Why OPENDLLM_LIBTORCH needs a build without natives: this (normal) build has them where .NET probes first.
        if (!OperatingSystem.IsLinux()) return;
        Assert.EndsWith("libtorch_cpu.so", ExternalLibTorch.BundledLibTorch());
    }
}
