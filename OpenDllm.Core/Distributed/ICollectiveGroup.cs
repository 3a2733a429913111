using static TorchSharp.torch;

namespace OpenDllm.Distributed;

/// <summary>
/// The processes of one data-parallel job and the collective operations among them. Every operation is collective:
/// every rank calls it, in the same order, with buffers of the same shape and dtype. Buffers are flat (contiguous) tensors
/// on the group's device and are changed in place. A call that does not complete within <see cref="Timeout"/> stops the
/// job with a one-line error on that rank (a rank died or is stuck), so no job hangs forever.
/// </summary>
/// <remarks>Backends: <see cref="SingleProcessGroup"/> (world size 1, no communication), <see cref="MpiGroup"/> (CPU tensors,
/// OpenMPI through P/Invoke), <see cref="NcclGroup"/> (CUDA tensors, NCCL through P/Invoke). Create one with
/// <see cref="Collectives.FromEnvironment"/>.</remarks>
public interface ICollectiveGroup : IDisposable
{
    /// <summary>This process's index, 0 … <see cref="WorldSize"/> − 1.</summary>
    int Rank { get; }

    /// <summary>How many processes the job has.</summary>
    int WorldSize { get; }

    /// <summary>The engine's name as <c>train</c> prints it: <c>single</c>, <c>mpi</c>, <c>nccl</c>.</summary>
    string Backend { get; }

    /// <summary>How long one collective call may take before the job is stopped.</summary>
    TimeSpan Timeout { get; }

    /// <summary>x ← Σ_ranks x, elementwise, in place.</summary>
    void AllReduceSum(Tensor buffer);

    /// <summary>x ← rank <paramref name="root"/>'s x, in place.</summary>
    void Broadcast(Tensor buffer, int root = 0);

    /// <summary>Every rank's <paramref name="input"/> (n elements) into <paramref name="output"/> (n · world size elements),
    /// rank r's at [r·n, (r+1)·n).</summary>
    void AllGather(Tensor input, Tensor output);

    /// <summary>Returns once every rank has called it.</summary>
    void Barrier();
}
