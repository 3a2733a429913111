using System.Reflection;
using OpenDllm.Runtime;
using TorchSharp;
using Xunit.Abstractions;
using Xunit.Sdk;

namespace OpenDllm.Tests.Devices;

/// <summary>
/// Devices a device test runs on. Write <c>[Theory, OnCpu, OnCuda]</c> on a method taking the device name
/// (<c>"cpu"</c> or <c>"cuda"</c>): the CUDA row runs where libtorch sees a GPU and is reported as skipped, with the reason,
/// everywhere else. Compare against the CPU result computed inside the test, within a tolerance.
/// Both attributes also tag the test with the trait <c>Device=cpu</c> / <c>Device=cuda</c>, so the GPU check selects the
/// device tests with <c>-trait Device=cuda</c> (xunit console) or <c>--filter Device=cuda</c> (dotnet test).
/// </summary>
public static class TestDevices
{
    /// <summary>True when the loaded libtorch reaches a CUDA device.</summary>
    public static bool CudaAvailable
    {
        get
        {
            TorchRuntime.EnsureLoaded();
            return torch.cuda.is_available();
        }
    }

    /// <summary>Why CUDA rows are skipped here.</summary>
    public static string CudaSkipReason => $"no CUDA device visible to libtorch {TorchRuntime.LibTorch.VersionText} on this machine";

    /// <summary>The trait name the device attributes set.</summary>
    public const string Trait = "Device";

    public static torch.Device Parse(string name) => TorchRuntime.ParseDevice(name);
}

/// <summary>A theory row with the device name "cpu"; also the trait <c>Device=cpu</c>.</summary>
[AttributeUsage(AttributeTargets.Method)]
[TraitDiscoverer("OpenDllm.Tests.Devices.DeviceTraitDiscoverer", "OpenDllm.Tests")]
public sealed class OnCpuAttribute : DataAttribute, ITraitAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [["cpu"]];
}

/// <summary>A theory row with the device name "cuda", skipped (visibly) without a GPU; also the trait <c>Device=cuda</c>.</summary>
[AttributeUsage(AttributeTargets.Method)]
[TraitDiscoverer("OpenDllm.Tests.Devices.DeviceTraitDiscoverer", "OpenDllm.Tests")]
public sealed class OnCudaAttribute : DataAttribute, ITraitAttribute
{
    public OnCudaAttribute()
    {
        if (!TestDevices.CudaAvailable) Skip = TestDevices.CudaSkipReason;
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [["cuda"]];
}

/// <summary>Turns <see cref="OnCpuAttribute"/> / <see cref="OnCudaAttribute"/> into the traits <c>Device=cpu</c> / <c>Device=cuda</c>.</summary>
public sealed class DeviceTraitDiscoverer : ITraitDiscoverer
{
    public IEnumerable<KeyValuePair<string, string>> GetTraits(IAttributeInfo traitAttribute)
    {
        var type = (traitAttribute as IReflectionAttributeInfo)?.Attribute.GetType();
        if (type == typeof(OnCpuAttribute)) yield return new(TestDevices.Trait, "cpu");
        if (type == typeof(OnCudaAttribute)) yield return new(TestDevices.Trait, "cuda");
    }
}
