using System.Security.Cryptography;
using System.Text;
using OpenDllm.Data;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Distributed;

/// <summary>
/// What the trainer needs to train one model on several processes (data parallelism over an <see cref="ICollectiveGroup"/>):
/// which micro-batches of a step are this rank's, moving the data cursor past the others' rows, the gradient all-reduce,
/// sums of step scalars, agreement on stopping, and "rank 0 does it, the others learn whether it worked".
/// With a group of one every method is a cheap no-op, so the trainer has one code path.
/// </summary>
/// <remarks>
/// How a step splits (the trainer's gradient accumulation to the global batch, SPEC §2.5): a step is
/// M = <c>global_batch_size / micro_batch_size</c> micro-batches, numbered j = 0 … M−1 in stream order. With N ranks, rank r
/// takes j ∈ [r·M/N, (r+1)·M/N) (so M must be a multiple of N). Each rank moves its data cursor over the whole step, reading
/// only its own rows; and micro-batch j's random draws come from a generator seeded by (seed, step, j)
/// (<see cref="MicroBatchSeed"/>), so a step computes the same losses on any number of ranks, and the cursor and
/// checkpoint are the same on every rank. Gradients: every rank back-propagates Σ_{its j} loss_j / M; the all-reduced sum
/// is the single-process gradient (up to the order of fp32 additions). TorchSharp 0.107 has no tensor backward hooks, so
/// the all-reduce runs after the backward pass of the last micro-batch, in buckets, not overlapped with it.
/// </remarks>
public sealed class DataParallel
{
    /// <summary>Gradient bucket size: gradients are copied into flat buffers of about this many bytes per all-reduce.</summary>
    public const long BucketBytes = 25L << 20;

    /// <summary>One process: no communication.</summary>
    public static DataParallel Single { get; } = new(SingleProcessGroup.Instance, CPU) { RanksOnThisNode = 1 };

    /// <param name="group">The job's processes.</param>
    /// <param name="device">Where the group's buffers live: the CPU for MPI, this rank's CUDA device for NCCL.</param>
    public DataParallel(ICollectiveGroup group, Device device)
    {
        Group = group ?? throw new ArgumentNullException(nameof(group));
        Device = device;
    }

    public Device Device { get; }

    /// <summary>Ranks on this machine (<c>OMPI_COMM_WORLD_LOCAL_SIZE</c> under mpirun, <c>LOCAL_WORLD_SIZE</c> under a
    /// torchrun-style launch, else 1): a rank uses its share of the cores unless <c>train.threads</c> says otherwise.</summary>
    public int RanksOnThisNode { get; init; } = Math.Max(1, Collectives.IntegerVariable(Environment.GetEnvironmentVariable, "OMPI_COMM_WORLD_LOCAL_SIZE")
        ?? Collectives.IntegerVariable(Environment.GetEnvironmentVariable, "LOCAL_WORLD_SIZE") ?? 1);

    public ICollectiveGroup Group { get; }
    public int Rank => Group.Rank;
    public int WorldSize => Group.WorldSize;
    public bool IsRoot => Group.Rank == 0;
    /// <summary>True for any real backend, even with one rank (mpirun -np 1, a one-GPU NCCL job): the collectives run,
    /// so a world of one exercises the same code as a larger one.</summary>
    public bool IsDistributed => Group is not SingleProcessGroup;

    /// <summary>Seconds spent in gradient and scalar all-reduces since the last <see cref="TakeCommunicationSeconds"/>.</summary>
    double _communicationSeconds;

    /// <summary>This rank's micro-batches of a step: the first global index and how many.</summary>
    /// <exception cref="ArgumentException">M is not a multiple of the world size (the message says which settings to change).</exception>
    public (int First, int Count) MicroBatches(int globalBatch, int microBatch)
    {
        int total = globalBatch / microBatch;
        if (total % WorldSize != 0)
            throw new ArgumentException($"train.global_batch_size {globalBatch} / train.micro_batch_size {microBatch} = {total} micro-batches per step "
                + $"cannot be split over {WorldSize} ranks; choose train.micro_batch_size so that global_batch_size / (micro_batch_size × {WorldSize}) "
                + "is a whole number (e.g. --train.micro_batch_size=" + Math.Max(1, globalBatch / WorldSize) + ")");
        int count = total / WorldSize;
        return (Rank * count, count);
    }

    /// <summary>
    /// The seed of micro-batch <paramref name="microBatch"/> of step <paramref name="step"/>: SplitMix64 over the run's
    /// seed, the step and the index, so it is the same on every rank and after a resume.
    /// </summary>
    public static long MicroBatchSeed(long seed, long step, int microBatch)
    {
        static ulong SplitMix(ulong z)
        {
            z += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }
        return (long)(SplitMix(SplitMix(SplitMix((ulong)seed) ^ (ulong)step) ^ (ulong)microBatch) >> 1);   // ≥ 0
    }

    /// <summary>Moves <paramref name="loader"/>'s cursor past <paramref name="sequences"/> rows without reading them
    /// (the rows other ranks train on), exactly as that many rows taken by <see cref="PackedLoader.Next"/> would.</summary>
    public static void Skip(PackedLoader loader, long sequences)
    {
        if (sequences < 0) throw new ArgumentOutOfRangeException(nameof(sequences), sequences, "≥ 0");
        if (sequences == 0) return;
        var c = loader.Cursor;
        long perEpoch = loader.SequencesPerEpoch;
        if (perEpoch <= 0) throw new InvalidOperationException("the training split has no sequences");
        long index = c.Index + sequences;
        int epoch = c.Epoch;
        if (index > perEpoch)      // Next() wraps lazily: a cursor may stand at index == perEpoch
        {
            long wraps = (index - 1) / perEpoch;
            epoch += (int)wraps;
            index -= wraps * perEpoch;
        }
        loader.Cursor = c with { Epoch = epoch, Index = index };
    }

    /// <summary>
    /// Sums every parameter's gradient over the ranks, in place: gradients are packed per dtype into flat buckets of about
    /// <see cref="BucketBytes"/>, all-reduced and copied back. A parameter without a gradient takes part as zeros (ranks
    /// must agree on the buckets); it gets a gradient only when some rank had one.
    /// </summary>
    public void SumGradients(IReadOnlyList<Parameter> parameters)
    {
        if (!IsDistributed) return;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var bucket in Buckets(parameters))
        {
            var flat = cat(bucket.Select(p => p.grad is { } g ? g.reshape(-1) : zeros(p.numel(), dtype: p.dtype, device: p.device)).ToArray());
            Group.AllReduceSum(flat);
            long offset = 0;
            foreach (var p in bucket)
            {
                var part = flat.narrow(0, offset, p.numel()).view_as(p);
                if (p.grad is { } g) g.copy_(part);
                else p.grad = part.clone().DetachFromDisposeScope();
                offset += p.numel();
            }
        }
        _communicationSeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>Consecutive parameters of one dtype and device, up to <see cref="BucketBytes"/> per bucket.</summary>
    static IEnumerable<List<Parameter>> Buckets(IReadOnlyList<Parameter> parameters)
    {
        var bucket = new List<Parameter>();
        long bytes = 0;
        foreach (var p in parameters)
        {
            long size = p.numel() * p.element_size();
            if (bucket.Count > 0 && (bytes + size > BucketBytes || bucket[0].dtype != p.dtype || bucket[0].device != p.device))
            {
                yield return bucket;
                (bucket, bytes) = ([], 0);
            }
            bucket.Add(p);
            bytes += size;
        }
        if (bucket.Count > 0) yield return bucket;
    }

    /// <summary>Sums a tensor over the ranks in place (any shape; float64 scalars of a step: loss, tokens, metrics).</summary>
    public void Sum(Tensor values)
    {
        if (!IsDistributed) return;
        var clock = System.Diagnostics.Stopwatch.StartNew();
        if (values.is_contiguous()) Group.AllReduceSum(values);
        else
        {
            using var copy = values.contiguous();
            Group.AllReduceSum(copy);
            using var _ = no_grad();
            values.copy_(copy);
        }
        _communicationSeconds += clock.Elapsed.TotalSeconds;
    }

    /// <summary>The communication seconds counted since the last call (gradient and step-scalar all-reduces).</summary>
    public double TakeCommunicationSeconds()
    {
        double s = _communicationSeconds;
        _communicationSeconds = 0;
        return s;
    }

    /// <summary>Rank 0's values of the parameters on every rank (after building or resuming: the ranks start equal).</summary>
    public void BroadcastFromRoot(IEnumerable<Tensor> tensors)
    {
        if (!IsDistributed) return;
        using var noGrad = no_grad();
        foreach (var t in tensors)
        {
            if (t.is_contiguous()) { Group.Broadcast(t); continue; }
            using var copy = t.contiguous();
            Group.Broadcast(copy);
            t.copy_(copy);
        }
    }

    /// <summary>
    /// Whether the job stops here, the same answer on every rank: true when any rank was asked to stop (a signal reaches
    /// the ranks at different moments) or rank 0's <paramref name="rootDecides"/> says so (a time budget read from rank 0's clock).
    /// </summary>
    public bool Any(bool local, bool rootDecides = false)
    {
        if (!IsDistributed) return local || rootDecides;
        using var flag = tensor(new[] { local ? 1.0 : 0.0, IsRoot && rootDecides ? 1.0 : 0.0 }, device: Device);
        Group.AllReduceSum(flag);
        var v = flag.cpu().data<double>().ToArray();
        return v[0] > 0 || v[1] > 0;
    }

    /// <summary>Rank 0's value of a number on every rank (e.g. the step count a time budget fitted on rank 0's clock).</summary>
    public long FromRoot(long value)
    {
        if (!IsDistributed) return value;
        using var buffer = tensor(new[] { value }, device: Device);
        Group.Broadcast(buffer);
        return buffer.cpu().data<long>()[0];
    }

    /// <summary>
    /// Rank 0 runs <paramref name="work"/> (preparing data, writing a checkpoint) while the others wait; then every rank
    /// learns whether it succeeded. Rank 0 rethrows its exception; the others throw one naming <paramref name="what"/>.
    /// No rank waits longer than <paramref name="timeout"/> (default: the group's).
    /// </summary>
    public void RootFirst(string what, Action work, TimeSpan? timeout = null)
    {
        if (!IsDistributed) { work(); return; }
        Exception? failure = null;
        if (IsRoot)
            try { work(); }
            catch (Exception e) { failure = e; }
        using var ok = tensor(new long[] { failure is null ? 1 : 0 }, device: Device);
        if (timeout is { } t && t != Group.Timeout) WithTimeout(t, () => Group.Broadcast(ok));
        else Group.Broadcast(ok);
        if (failure is not null) System.Runtime.ExceptionServices.ExceptionDispatchInfo.Capture(failure).Throw();
        if (ok.cpu().data<long>()[0] == 0) throw new InvalidOperationException($"rank {Rank}: rank 0 failed while {what} (its error is above); stopping");
    }

    void WithTimeout(TimeSpan timeout, Action call)
    {
        // a longer one-off wait (data preparation): the same watchdog, another limit
        if (Group is MpiGroup or NcclGroup) Collectives.Watched("waiting for rank 0", Rank, timeout, call);
        else call();
    }

    /// <summary>
    /// Stops every rank with the same clear error when the ranks were started with different recipes or data: each rank
    /// contributes SHA-256 digests of its recipe and data identity; rank r's are compared with rank 0's.
    /// </summary>
    /// <exception cref="InvalidOperationException">On every rank, naming the ranks and what differs.</exception>
    public void EnsureSameRun(string recipeJson, string dataIdentity)
    {
        if (!IsDistributed) return;
        var mine = SHA256.HashData(Encoding.UTF8.GetBytes(recipeJson)).Concat(SHA256.HashData(Encoding.UTF8.GetBytes(dataIdentity))).ToArray();
        using var local = tensor(mine, device: Device);
        using var all = zeros(mine.Length * WorldSize, dtype: ScalarType.Byte, device: Device);
        Group.AllGather(local, all);
        var bytes = all.cpu().data<byte>().ToArray();
        var problems = new List<string>();
        for (int r = 1; r < WorldSize; r++)
        {
            var span = bytes.AsSpan(r * mine.Length, mine.Length);
            if (!span[..32].SequenceEqual(bytes.AsSpan(0, 32))) problems.Add($"rank {r} has another recipe than rank 0");
            if (!span[32..].SequenceEqual(bytes.AsSpan(32, 32))) problems.Add($"rank {r} reads other data (manifest/shards) than rank 0");
        }
        if (problems.Count > 0)
            throw new InvalidOperationException($"rank {Rank}: the ranks of this job disagree: {string.Join("; ", problems)}. "
                + "Every rank must run the same recipe, overrides and prepared data");
    }
}
