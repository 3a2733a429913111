using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Distributed;

/// <summary>
/// The CPU backend: the processes <c>mpirun</c> started, talking through OpenMPI (<see cref="MpiNative"/>). Buffers are
/// CPU tensors of float32, float64, int64, int32 or uint8, reduced in place through their own memory (no copy). MPI is
/// initialised once per process and finalised when the group is disposed.
/// </summary>
public sealed class MpiGroup : ICollectiveGroup
{
    /// <summary>Elements per MPI call: counts are C ints, so larger buffers go in pieces.</summary>
    const long MaxCount = 1 << 30;

    readonly IntPtr _comm;
    bool _disposed;

    MpiGroup(TimeSpan timeout)
    {
        if (!MpiNative.Initialized()) MpiNative.Init();
        _comm = MpiNative.CommWorld;
        Rank = MpiNative.CommRank(_comm);
        WorldSize = MpiNative.CommSize(_comm);
        Timeout = timeout;
    }

    /// <summary>Initialises MPI (a process started without <c>mpirun</c> becomes a job of one) and joins MPI_COMM_WORLD.</summary>
    public static MpiGroup Initialize(TimeSpan? timeout = null) => new(timeout ?? Collectives.DefaultTimeout);

    public int Rank { get; }
    public int WorldSize { get; }
    public string Backend => "mpi";
    public TimeSpan Timeout { get; }

    public void AllReduceSum(Tensor buffer)
    {
        Check(buffer, nameof(AllReduceSum));
        var type = MpiNative.Datatype(buffer.dtype);
        Collectives.Watched("all-reduce", Rank, Timeout, () =>
            Pieces(buffer, (start, count) => MpiNative.Allreduce(MpiNative.InPlace, start, count, type, MpiNative.OpSum, _comm)));
    }

    public void Broadcast(Tensor buffer, int root = 0)
    {
        Check(buffer, nameof(Broadcast));
        if (root < 0 || root >= WorldSize) throw new ArgumentOutOfRangeException(nameof(root), root, $"ranks are 0 … {WorldSize - 1}");
        var type = MpiNative.Datatype(buffer.dtype);
        Collectives.Watched("broadcast", Rank, Timeout, () => Pieces(buffer, (start, count) => MpiNative.Bcast(start, count, type, root, _comm)));
    }

    public void AllGather(Tensor input, Tensor output)
    {
        Check(input, nameof(AllGather));
        Check(output, nameof(AllGather));
        Collectives.EnsureGather(input, output, WorldSize);
        if (input.numel() > MaxCount) throw new ArgumentException($"AllGather: at most {MaxCount} elements per rank");
        var type = MpiNative.Datatype(input.dtype);
        Collectives.Watched("all-gather", Rank, Timeout, () =>
            MpiNative.Allgather(Collectives.DataPointer(input), (int)input.numel(), type, Collectives.DataPointer(output), _comm));
    }

    public void Barrier()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Collectives.Watched("barrier", Rank, Timeout, () => MpiNative.Barrier(_comm));
    }

    void Check(Tensor buffer, string operation)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Collectives.EnsureFlat(buffer, operation);
        if (buffer.device_type != DeviceType.CPU) throw new ArgumentException($"{operation}: the MPI backend takes CPU tensors (this one is on {buffer.device})");
    }

    /// <summary>Calls <paramref name="call"/> on consecutive pieces of at most <see cref="MaxCount"/> elements.</summary>
    static void Pieces(Tensor buffer, Action<IntPtr, int> call)
    {
        IntPtr start = Collectives.DataPointer(buffer);
        long size = buffer.element_size();
        for (long done = 0, total = buffer.numel(); done < total; done += MaxCount)
            call(start + (nint)(done * size), (int)Math.Min(MaxCount, total - done));
    }

    /// <summary>Finalises MPI (after a barrier-free shutdown: every rank disposes its group at the end of the job).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        if (MpiNative.Initialized() && !MpiNative.Finalized()) MpiNative.FinalizeMpi();
    }
}
