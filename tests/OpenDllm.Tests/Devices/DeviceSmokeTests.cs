using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Devices;

/// <summary>The device rows themselves: a matmul on each device equals the CPU's within fp32 tolerance.</summary>
public class DeviceSmokeTests
{
    [Theory, OnCpu, OnCuda]
    public void MatmulMatchesTheCpu(string device)
    {
        using var scope = NewDisposeScope();
        var a = randn(64, 48, generator: new Generator(1));
        var b = randn(48, 32, generator: new Generator(2));
        var expected = a.matmul(b);
        var actual = a.to(TestDevices.Parse(device)).matmul(b.to(TestDevices.Parse(device))).cpu();
        Fixture.AssertClose(expected, actual, 1e-4, $"matmul on {device}");
    }
}
