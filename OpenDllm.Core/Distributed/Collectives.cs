using System.Runtime.InteropServices;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Distributed;

/// <summary>
/// Picks the collective backend a process was launched for, and the checks and helpers the backends share.
/// </summary>
public static class Collectives
{
    /// <summary>Environment variable: seconds one collective call may take (default <see cref="DefaultTimeout"/>).</summary>
    public const string TimeoutVariable = "OPENDLLM_COLLECTIVE_TIMEOUT_S";

    /// <summary>The default collective timeout, 10 minutes.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(10);

    /// <summary>
    /// The group this process belongs to:
    /// <list type="bullet">
    /// <item>launched by OpenMPI's <c>mpirun</c> (<c>OMPI_COMM_WORLD_SIZE</c> set): <see cref="MpiGroup"/> on a CPU device,
    /// <see cref="NcclGroup"/> bootstrapped through MPI on a CUDA device;</item>
    /// <item>torchrun-style variables (<c>WORLD_SIZE</c>, <c>RANK</c>, <c>MASTER_ADDR</c>, <c>MASTER_PORT</c>, as
    /// <c>opendllm launch</c> sets them, even with <c>WORLD_SIZE=1</c>) on a CUDA device: <see cref="NcclGroup"/> through a
    /// TCP rendezvous;</item>
    /// <item>otherwise <see cref="SingleProcessGroup"/>.</item>
    /// </list>
    /// </summary>
    /// <exception cref="InvalidOperationException">Torchrun-style variables with more than one process on a CPU device (the CPU
    /// backend is MPI: launch with <c>mpirun</c>), or a variable that is not a number.</exception>
    public static ICollectiveGroup FromEnvironment(Device device, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        var timeout = TimeoutFrom(environment);
        bool mpi = environment("OMPI_COMM_WORLD_SIZE") is not null;
        int? torchrun = IntegerVariable(environment, "WORLD_SIZE");
        int world = torchrun ?? 1;
        if (device.type == DeviceType.CUDA && (mpi || torchrun is not null))   // WORLD_SIZE=1 too: a one-GPU NCCL job
            return mpi ? NcclGroup.BootstrapByMpi(device, timeout) : NcclGroup.BootstrapByTcp(device, TcpRendezvous.FromEnvironment(environment), timeout);
        if (mpi) return MpiGroup.Initialize(timeout);
        if (world > 1)
            throw new InvalidOperationException($"WORLD_SIZE={world} is set, but train.device is {device.type.ToString().ToLowerInvariant()}: "
                + "several CPU processes talk through MPI; launch them with mpirun -np N (opendllm launch is for CUDA devices)");
        return SingleProcessGroup.Instance;
    }

    /// <summary>
    /// A rank's own CUDA device: <c>cuda</c> without an index becomes <c>cuda:LOCAL_RANK</c> (torchrun-style) or
    /// <c>cuda:OMPI_COMM_WORLD_LOCAL_RANK</c> (mpirun), so the ranks on one machine use one GPU each. Anything else is returned as it is.
    /// </summary>
    public static Device LocalDevice(Device requested, Func<string, string?>? environment = null)
    {
        environment ??= Environment.GetEnvironmentVariable;
        if (requested.type != DeviceType.CUDA || requested.index >= 0) return requested;
        var local = IntegerVariable(environment, "LOCAL_RANK") ?? IntegerVariable(environment, "OMPI_COMM_WORLD_LOCAL_RANK");
        return local is { } i ? new Device(DeviceType.CUDA, i) : requested;
    }

    /// <summary>The collective timeout from <see cref="TimeoutVariable"/>, else <see cref="DefaultTimeout"/>.</summary>
    public static TimeSpan TimeoutFrom(Func<string, string?> environment)
    {
        if (environment(TimeoutVariable) is not { } text) return DefaultTimeout;
        if (!double.TryParse(text, System.Globalization.NumberStyles.Float, System.Globalization.CultureInfo.InvariantCulture, out var s) || !(s > 0))
            throw new InvalidOperationException($"{TimeoutVariable}={text}: expected a positive number of seconds");
        return TimeSpan.FromSeconds(s);
    }

    internal static int? IntegerVariable(Func<string, string?> environment, string name)
    {
        if (environment(name) is not { } text) return null;
        if (!int.TryParse(text, out int value) || value < 0) throw new InvalidOperationException($"{name}={text}: expected a whole number ≥ 0");
        return value;
    }

    /// <summary>A collective buffer is a contiguous tensor (any shape: its elements are what is communicated).</summary>
    internal static void EnsureFlat(Tensor buffer, string operation)
    {
        ArgumentNullException.ThrowIfNull(buffer);
        if (!buffer.is_contiguous()) throw new ArgumentException($"{operation}: the buffer must be contiguous (call .contiguous() and copy back)");
    }

    internal static void EnsureGather(Tensor input, Tensor output, int world)
    {
        EnsureFlat(input, nameof(ICollectiveGroup.AllGather));
        EnsureFlat(output, nameof(ICollectiveGroup.AllGather));
        if (input.dtype != output.dtype) throw new ArgumentException($"AllGather: input is {input.dtype}, output {output.dtype}");
        if (output.numel() != input.numel() * world)
            throw new ArgumentException($"AllGather: output has {output.numel()} elements, expected {input.numel()} × {world} ranks");
    }

    /// <summary>The address of a contiguous tensor's first element (CPU memory, or device memory for CUDA tensors).</summary>
    internal static IntPtr DataPointer(Tensor t)
    {
        IntPtr start = t.dtype switch
        {
            ScalarType.Float32 => t.storage<float>().data_ptr(),
            ScalarType.Float64 => t.storage<double>().data_ptr(),
            ScalarType.Int64 => t.storage<long>().data_ptr(),
            ScalarType.Int32 => t.storage<int>().data_ptr(),
            ScalarType.Byte => t.storage<byte>().data_ptr(),
            ScalarType.Float16 => t.storage<Half>().data_ptr(),
            ScalarType.BFloat16 => t.storage<short>().data_ptr(),
            _ => throw new ArgumentException($"collectives do not handle {t.dtype} tensors"),
        };
        return start + (nint)(t.storage_offset() * t.element_size());
    }

    /// <summary>
    /// Runs one blocking collective call under a watchdog: when it has not returned after <paramref name="timeout"/>, the
    /// rank writes one line to stderr and exits at once with code 1 (a native call cannot be cancelled; the launcher then
    /// stops the other ranks).
    /// </summary>
    internal static void Watched(string operation, int rank, TimeSpan timeout, Action call)
    {
        if (timeout == System.Threading.Timeout.InfiniteTimeSpan) { call(); return; }
        using var watchdog = new Timer(_ =>
        {
            Console.Error.WriteLine($"rank {rank}: {operation} did not complete within {timeout.TotalSeconds:G4} s: another rank died, "
                + $"failed or is stuck; stopping this rank ({TimeoutVariable} sets the limit)");
            Console.Error.Flush();
            Console.Out.Flush();
            ExitNow(1);
        }, null, timeout, System.Threading.Timeout.InfiniteTimeSpan);
        call();
    }

    [DllImport("libc", EntryPoint = "_exit")]
    static extern void ExitNow(int status);
}
