using static TorchSharp.torch;

namespace OpenDllm.Distributed;

/// <summary>A job of one process: every collective is the identity (all-gather copies its input).</summary>
public sealed class SingleProcessGroup : ICollectiveGroup
{
    /// <summary>The one group a single-process run uses.</summary>
    public static SingleProcessGroup Instance { get; } = new();

    public int Rank => 0;
    public int WorldSize => 1;
    public string Backend => "single";
    public TimeSpan Timeout => System.Threading.Timeout.InfiniteTimeSpan;

    public void AllReduceSum(Tensor buffer) => Collectives.EnsureFlat(buffer, nameof(AllReduceSum));

    public void Broadcast(Tensor buffer, int root = 0)
    {
        Collectives.EnsureFlat(buffer, nameof(Broadcast));
        if (root != 0) throw new ArgumentOutOfRangeException(nameof(root), root, "a group of one process has only rank 0");
    }

    public void AllGather(Tensor input, Tensor output)
    {
        Collectives.EnsureGather(input, output, 1);
        using var _ = no_grad();
        output.copy_(input);
    }

    public void Barrier() { }

    public void Dispose() { }
}
