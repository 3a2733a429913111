using System.Runtime.CompilerServices;
using OpenDllm.Runtime;
using TorchSharp;

namespace OpenDllm.Tests;

/// <summary>
/// TorchSharp's global state for the whole test assembly, set once before any test runs.
/// <para>
/// libtorch's intra-op thread count is per OS thread (an OpenMP setting of the calling thread) plus a process-wide default
/// that threads take when they first run a parallel op: `set_num_threads(1)` on one xunit worker thread does not change a
/// thread that already ran with 2. So the default is fixed here, before xunit starts its workers: every test thread runs
/// libtorch with one thread, whatever other test classes do in parallel, and results do not depend on which worker a test
/// lands on. The default dtype stays float32 (no test changes it).
/// </para>
/// </summary>
static class TorchTestDefaults
{
    public const int Threads = 1;

    [ModuleInitializer]
    internal static void Apply()
    {
        try
        {
            TorchRuntime.EnsureLoaded();
            torch.set_num_threads(Threads);
        }
        catch (TorchLoadException)
        {
            // The runtime tests report why TorchSharp cannot load; every torch test then fails with that message.
        }
    }
}
