using OpenDllm.Distributed;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Distributed;

/// <summary>
/// A test group: N ranks as N threads of this process, exchanging CPU tensors through shared slots and a barrier. It has
/// the semantics of a real backend (every rank calls every collective, in the same order), so the code above the
/// interface can be tested without MPI.
/// </summary>
sealed class ThreadGroup(ThreadGroup.Shared shared, int rank) : ICollectiveGroup
{
    public sealed class Shared(int world)
    {
        public readonly Barrier Barrier = new(world);
        public readonly Tensor?[] Slots = new Tensor?[world];
        public int World => Slots.Length;
    }

    /// <summary>Runs <paramref name="body"/> on every rank (one thread each) and returns each rank's result or exception.</summary>
    public static (T? Result, Exception? Error)[] Run<T>(int world, Func<ThreadGroup, T> body)
    {
        var shared = new Shared(world);
        var results = new (T?, Exception?)[world];
        var threads = Enumerable.Range(0, world).Select(r => new Thread(() =>
        {
            try { results[r] = (body(new ThreadGroup(shared, r)), null); }
            catch (Exception e) { results[r] = (default, e); }
        })).ToList();
        threads.ForEach(t => t.Start());
        threads.ForEach(t => Assert.True(t.Join(TimeSpan.FromMinutes(2)), "a rank thread hung"));
        return results;
    }

    public int Rank => rank;
    public int WorldSize => shared.World;
    public string Backend => "threads";
    public TimeSpan Timeout => TimeSpan.FromMinutes(1);

    void Exchange(Tensor mine, Action<Tensor?[]> combine)
    {
        shared.Slots[rank] = mine.clone();
        shared.Barrier.SignalAndWait();
        combine(shared.Slots);
        shared.Barrier.SignalAndWait();
        shared.Slots[rank]!.Dispose();
    }

    public void AllReduceSum(Tensor buffer) => Exchange(buffer, slots =>
    {
        using var sum = slots.Aggregate(zeros_like(buffer), (acc, s) => acc.add_(s!));
        buffer.copy_(sum);
    });

    public void Broadcast(Tensor buffer, int root = 0) => Exchange(buffer, slots => buffer.copy_(slots[root]!));

    public void AllGather(Tensor input, Tensor output) => Exchange(input, slots =>
    {
        for (int r = 0; r < slots.Length; r++) output.narrow(0, r * input.numel(), input.numel()).copy_(slots[r]!.reshape(-1));
    });

    public void Barrier() => shared.Barrier.SignalAndWait();

    public void Dispose() { }
}
