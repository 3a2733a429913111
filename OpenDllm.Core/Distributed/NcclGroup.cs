using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Distributed;

/// <summary>
/// The GPU backend: one process per CUDA device, collectives through NCCL (<see cref="NcclNative"/>) on CUDA tensors of
/// float32, float64, bfloat16, float16, int64, int32 or uint8. The communicator is bootstrapped by sending rank 0's
/// <see cref="NcclUniqueId"/> to the others, either over MPI (<see cref="BootstrapByMpi"/>) or over a TCP rendezvous
/// (<see cref="BootstrapByTcp"/>, torchrun-style). Each call waits for the GPU to finish it (a device synchronisation)
/// under the watchdog, so the timeout covers the communication itself.
/// </summary>
public sealed class NcclGroup : ICollectiveGroup
{
    IntPtr _comm;
    readonly Device _device;
    readonly MpiGroup? _bootstrap;

    NcclGroup(Device device, int rank, int world, NcclUniqueId id, TimeSpan timeout, MpiGroup? bootstrap)
    {
        if (device.type != DeviceType.CUDA) throw new ArgumentException($"the NCCL backend needs a CUDA device, not {device}");
        _device = device;
        _bootstrap = bootstrap;
        Rank = rank; WorldSize = world; Timeout = timeout;
        if (device.index > 0) NcclNative.SetDevice(device.index);
        IntPtr comm = 0;
        Collectives.Watched("ncclCommInitRank", rank, timeout, () => comm = NcclNative.CommInitRank(world, id, rank));
        _comm = comm;
    }

    /// <summary>The ranks <c>mpirun</c> started; MPI carries the unique id and stays up until this group is disposed.</summary>
    public static NcclGroup BootstrapByMpi(Device device, TimeSpan timeout)
    {
        var mpi = MpiGroup.Initialize(timeout);
        try
        {
            using var bytes = zeros(NcclUniqueId.Length, dtype: ScalarType.Byte);
            if (mpi.Rank == 0) bytes.copy_(tensor(NcclNative.GetUniqueId().ToArray()));
            mpi.Broadcast(bytes);
            var id = NcclUniqueId.FromBytes(bytes.data<byte>().ToArray());
            return new NcclGroup(device, mpi.Rank, mpi.WorldSize, id, timeout, mpi);
        }
        catch { mpi.Dispose(); throw; }
    }

    /// <summary>torchrun-style: rank 0 makes the unique id and serves it at <c>MASTER_ADDR:MASTER_PORT</c>.</summary>
    public static NcclGroup BootstrapByTcp(Device device, TcpRendezvous rendezvous, TimeSpan timeout)
    {
        var bytes = rendezvous.Exchange(() => NcclNative.GetUniqueId().ToArray(), timeout);
        return new NcclGroup(device, rendezvous.Rank, rendezvous.WorldSize, NcclUniqueId.FromBytes(bytes), timeout, null);
    }

    public int Rank { get; }
    public int WorldSize { get; }
    public string Backend => "nccl";
    public TimeSpan Timeout { get; }

    public void AllReduceSum(Tensor buffer)
    {
        Check(buffer, nameof(AllReduceSum));
        var p = Collectives.DataPointer(buffer);
        Run("all-reduce", () => NcclNative.AllReduce(p, p, buffer.numel(), NcclNative.Datatype(buffer.dtype), NcclNative.Sum, _comm));
    }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        Check(buffer, nameof(Broadcast));
        if (root < 0 || root >= WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"ranks are 0 … {WorldSize - 1}");
        var p = Collectives.DataPointer(buffer);
        Run("broadcast", () => NcclNative.Broadcast(p, p, buffer.numel(), NcclNative.Datatype(buffer.dtype), root, _comm));
    }

    public void AllGather(Tensor input, Tensor output)
    {
        Check(input, nameof(AllGather));
        Check(output, nameof(AllGather));
        Collectives.EnsureGather(input, output, WorldSize);
        var (i, o) = (Collectives.DataPointer(input), Collectives.DataPointer(output));
        Run("all-gather", () => NcclNative.AllGather(i, o, input.numel(), NcclNative.Datatype(input.dtype), _comm));
    }

    public void Barrier()
    {
        using var one = ones(1, dtype: ScalarType.Float32, device: _device);
        AllReduceSum(one);
    }

    void Check(Tensor buffer, string operation)
    {
        ObjectDisposedException.ThrowIf(_comm == 0, this);
        Collectives.EnsureFlat(buffer, operation);
        if (buffer.device_type != DeviceType.CUDA) throw new ArgumentException($"{operation}: the NCCL backend takes CUDA tensors (this one is on {buffer.device})");
    }

    /// <summary>Queues the call after the kernels already queued, then waits for the device under the watchdog.</summary>
    void Run(string operation, Action call) => Collectives.Watched(operation, Rank, Timeout, () =>
    {
        call();
        torch.cuda.synchronize(_device);
    });

    public void Dispose()
    {
        if (_comm != 0) { NcclNative.CommDestroy(_comm); _comm = 0; }
        _bootstrap?.Dispose();
    }
}
