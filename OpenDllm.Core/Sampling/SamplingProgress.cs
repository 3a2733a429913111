namespace OpenDllm.Sampling;

/// <summary>
/// What a watcher sees after each denoiser step: the whole canvas (every row, current length: a variable-length
/// sampler may grow or shrink it between steps), the positions that changed at this step, and the forwards so far.
/// </summary>
/// <param name="Step">0 for the initial canvas, then 1, 2, … for each recorded step.</param>
/// <param name="Canvas">Token ids per row after the step (masks are <see cref="MaskId"/>).</param>
/// <param name="Events">The positions committed (or re-masked) at this step; empty for the initial canvas.</param>
/// <param name="Forwards">Model forwards made by <see cref="ModelDenoiser"/> while watched, up to this step.</param>
public sealed record SamplingStepView(int Step, long[][] Canvas, IReadOnlyList<TokenEvent> Events, long MaskId, long Forwards);

/// <summary>
/// A per-step callback for watching a sampler work (the terminal's <c>--live</c> view, a notebook progress widget)
/// without changing any sampler: it rides on the trajectory recorder every sampler already calls once per step, so it
/// fires only for samplers run with <see cref="SamplerSettings.RecordTrajectory"/> on. The watcher is ambient to the
/// calling flow (<see cref="AsyncLocal{T}"/>), so samplers running elsewhere at the same time (other tests, other
/// threads) are not observed. Watching never changes the tokens a sampler chooses.
/// <code>using (SamplingProgress.Watch(v => Console.WriteLine($"step {v.Step}: {v.Events.Count} tokens"))) pipeline.Complete(…);</code>
/// </summary>
public static class SamplingProgress
{
    sealed class Watcher(Action<SamplingStepView> onStep)
    {
        public readonly Action<SamplingStepView> OnStep = onStep;
        public long Forwards;
        public int Steps;
    }

    static readonly AsyncLocal<Watcher?> Current = new();

    /// <summary>Calls <paramref name="onStep"/> for every step of samplers run in this flow until the result is disposed.</summary>
    public static IDisposable Watch(Action<SamplingStepView> onStep)
    {
        ArgumentNullException.ThrowIfNull(onStep);
        var previous = Current.Value;
        Current.Value = new Watcher(onStep);
        return new Restore(previous);
    }

    /// <summary>True while a watcher is installed in this flow.</summary>
    public static bool IsWatched => Current.Value is not null;

    sealed class Restore(Watcher? previous) : IDisposable
    {
        bool _done;
        public void Dispose()
        {
            if (_done) return;
            _done = true;
            Current.Value = previous;
        }
    }

    /// <summary>Counts one model forward (called by <see cref="ModelDenoiser"/>).</summary>
    internal static void CountForward()
    {
        if (Current.Value is { } w) w.Forwards++;
    }

    /// <summary>Reports the initial canvas of a sampling run (step 0).</summary>
    internal static void Started(long[][] canvas, long maskId)
    {
        if (Current.Value is not { } w) return;
        w.Steps = 0;
        w.OnStep(new SamplingStepView(0, canvas, [], maskId, w.Forwards));
    }

    /// <summary>Reports one step: the canvas after it and what changed.</summary>
    internal static void Stepped(long[][] canvas, IReadOnlyList<TokenEvent> events, long maskId)
    {
        if (Current.Value is not { } w) return;
        w.OnStep(new SamplingStepView(++w.Steps, canvas, events, maskId, w.Forwards));
    }
}
