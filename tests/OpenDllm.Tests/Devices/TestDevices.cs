using System.Reflection;
using OpenDllm.Runtime;
using TorchSharp;
using Xunit.Sdk;

namespace OpenDllm.Tests.Devices;

/// <summary>
/// Devices a device test runs on. Write <c>[Theory, OnCpu, OnCuda]</c> on a method taking the device name
/// (<c>"cpu"</c> or <c>"cuda"</c>): the CUDA row runs where libtorch sees a GPU and is reported as skipped, with the reason,
/// everywhere else. Compare against the CPU result computed inside the test, within a tolerance.
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
    public static string CudaSkipReason => $"no CUDA device visible to libtorch {torch.__version__} on this machine";

    public static torch.Device Parse(string name) => TorchRuntime.ParseDevice(name);
}

/// <summary>A theory row with the device name "cpu".</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OnCpuAttribute : DataAttribute
{
    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [["cpu"]];
}

/// <summary>A theory row with the device name "cuda", skipped (visibly) without a GPU.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class OnCudaAttribute : DataAttribute
{
    public OnCudaAttribute()
    {
        if (!TestDevices.CudaAvailable) Skip = TestDevices.CudaSkipReason;
    }

    public override IEnumerable<object[]> GetData(MethodInfo testMethod) => [["cuda"]];
}
