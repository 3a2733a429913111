using System.Collections.Concurrent;

namespace OpenDllm.Interactive.Notebooks;

/// <summary>
/// The one thread that runs every cell of a notebook run. Libtorch keeps some state per thread (grad mode under
/// <c>torch.no_grad()</c>, TorchSharp's dispose scopes), so cells must not hop between thread-pool threads. Code after an
/// <c>await</c> inside a cell continues wherever the awaited task completes, as in any console app. The thread is a
/// background thread: a cell abandoned on timeout does not keep the process alive.
/// </summary>
internal sealed class CellThread : IDisposable
{
    const int StackSize = 16 * 1024 * 1024;   // Roslyn recurses deeply on large expressions
    readonly BlockingCollection<Action> _work = new();

    public CellThread(string name)
    {
        var thread = new Thread(() =>
        {
            foreach (var item in _work.GetConsumingEnumerable()) item();
        }, StackSize) { IsBackground = true, Name = name };
        thread.Start();
    }

    /// <summary>Runs <paramref name="work"/> on the thread, waiting there for it to complete.</summary>
    public Task RunAsync(Func<Task> work)
    {
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        _work.Add(() =>
        {
            try
            {
                work().GetAwaiter().GetResult();
                done.SetResult();
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        });
        return done.Task;
    }

    public void Dispose() => _work.CompleteAdding();
}
