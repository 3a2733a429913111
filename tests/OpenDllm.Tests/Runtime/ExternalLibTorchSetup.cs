using System.Runtime.CompilerServices;
using OpenDllm.Runtime;

namespace OpenDllm.Tests.Runtime;

/// <summary>
/// With <c>OPENDLLM_LIBTORCH</c> set (the GPU check runs the device tests on the machine's PyTorch that way), the chosen
/// libtorch must be in the process before any test touches <c>torch</c>; tests run in any order, so load it when the
/// test assembly loads. Unset, this does nothing.
/// </summary>
static class ExternalLibTorchSetup
{
    [ModuleInitializer]
    internal static void LoadChosenLibTorchFirst()
    {
        if (ExternalLibTorch.Setting is null) return;
        try { TorchRuntime.EnsureLoaded(); }
        catch (TorchLoadException) { /* thrown again, with its one-line cause, by the first test that needs torch */ }
    }
}
