using OpenDllm.Runtime;

namespace OpenDllm.Tests.Runtime;

public class LibTorchVersionTests
{
    static string Temp(string name, string text)
    {
        var dir = Directory.CreateTempSubdirectory("opendllm-version-").FullName;
        var path = Path.Combine(dir, name);
        File.WriteAllText(path, text);
        return path;
    }

    [Fact]
    public void VersionPyOfACudaWheelGivesVersionAndCuda()
    {
        // The layout of PyTorch 2.x's generated torch/version.py.
        var path = Temp("version.py", "from typing import Optional\n\n__all__ = ['__version__', 'debug', 'cuda', 'git_version', 'hip', 'xpu']\n"
                                      + "__version__ = '2.11.0+cu130'\ndebug = False\ncuda: Optional[str] = '13.0'\n"
                                      + "git_version = 'abc'\nhip: Optional[str] = None\n");
        var v = LibTorchVersion.FromVersionPy(path)!;
        Assert.Equal("2.11.0+cu130", v.Version);
        Assert.Equal("13.0", v.Cuda);
        Assert.Equal(new Version(2, 11), v.MajorMinor);
        Assert.False(v.TooOld);
    }

    [Fact]
    public void VersionPyOfDebiansTorchIsTooOldAndCpuOnly()
    {
        // Debian 12's python3-torch: /usr/lib/python3/dist-packages/torch/version.py
        var v = LibTorchVersion.FromVersionPy(Temp("version.py", "__version__ = '1.13.0a0'\ndebug = False\ncuda = None\ngit_version = 'Unknown'\nhip = None\n"))!;
        Assert.Equal("1.13.0a0", v.Version);
        Assert.Null(v.Cuda);
        Assert.True(v.TooOld);
    }

    [Fact]
    public void BuildVersionFileGivesTheCudaVersionFromItsLocalTag()
    {
        var v = LibTorchVersion.FromBuildVersionFile(Temp("build-version", "2.10.0+cu128\n"))!;
        Assert.Equal("2.10.0+cu128", v.Version);
        Assert.Equal("12.8", v.Cuda);
        Assert.Null(LibTorchVersion.FromBuildVersionFile(Temp("build-version", "2.10.0+cpu"))!.Cuda);
    }

    [Fact]
    public void FolderLooksForVersionPyThenBuildVersionBesideTheLibFolder()
    {
        var root = Directory.CreateTempSubdirectory("opendllm-torch-").FullName;
        var lib = Directory.CreateDirectory(Path.Combine(root, "lib")).FullName;
        Assert.Null(LibTorchVersion.FromFolder(lib));
        File.WriteAllText(Path.Combine(root, "build-version"), "2.12.1+cu131");
        Assert.Equal("2.12.1+cu131", LibTorchVersion.FromFolder(lib)!.Version);
        File.WriteAllText(Path.Combine(root, "version.py"), "__version__ = '2.11.0'\ncuda = None\n");
        Assert.Equal("2.11.0", LibTorchVersion.FromFolder(lib + "/")!.Version);
    }

    [Fact]
    public void ShowConfigOfACudaBuildGivesVersionAndCuda()
    {
        // Abridged at::show_config() of a CUDA build: the "Build settings" line carries both facts.
        const string text = "PyTorch built with:\n  - GCC 13.3\n  - CUDA Runtime 13.0\n"
                            + "  - Build settings: BLAS_INFO=mkl, BUILD_TYPE=Release, CUDA_VERSION=13.0, CUDNN_VERSION=9.13.0, "
                            + "TORCH_VERSION=2.11.0, USE_CUDA=ON, USE_CUDNN=ON, \n";
        var v = LibTorchVersion.FromShowConfig(text)!;
        Assert.Equal("2.11.0", v.Version);
        Assert.Equal("13.0", v.Cuda);
        Assert.Null(LibTorchVersion.FromShowConfig("no settings here"));
    }

    [Theory]
    [InlineData("2.10.0", 2, 10)]
    [InlineData("2.11.0+cu130", 2, 11)]
    [InlineData("1.13.0a0", 1, 13)]
    [InlineData("10.2", 10, 2)]
    public void ParseTakesMajorAndMinor(string text, int major, int minor) =>
        Assert.Equal(new Version(major, minor), LibTorchVersion.Parse(text));

    [Fact]
    public void ParseRejectsNonVersions() => Assert.Null(LibTorchVersion.Parse("unknown"));
}
