using OpenDllm.Runtime;
using TorchSharp;

namespace OpenDllm.Tests.Devices;

/// <summary>What doctor says about a device matches what libtorch can use (the GPU check runs these on the GPU).</summary>
public class LibTorchDeviceTests
{
    [Theory, OnCpu, OnCuda]
    public void TheLoadedLibtorchAndItsDevicesAreDescribed(string device)
    {
        var loaded = TorchRuntime.LibTorch;
        Assert.True(loaded.Build?.MajorMinor >= LibTorchVersion.Minimum, $"version read: {loaded.Build}");
        var facts = TorchRuntime.Facts().ToDictionary(f => f.Name, f => f.Value);
        Assert.Equal(loaded.VersionText, facts["libtorch"].Split(' ')[0]);
        if (device != "cuda") return;
        Assert.NotNull(loaded.Build!.Cuda);                   // a CUDA build of libtorch
        Assert.NotNull(CudaDevices.RuntimeVersion());         // its CUDA runtime is mapped
        var devices = CudaDevices.List();
        Assert.Equal(torch.cuda.device_count(), devices.Count);
        Assert.All(devices, d =>
        {
            Assert.False(string.IsNullOrWhiteSpace(d.Name));
            Assert.True(d.TotalBytes > 0);
            Assert.Equal(d.Description, facts[$"cuda:{d.Index}"]);
        });
    }
}
