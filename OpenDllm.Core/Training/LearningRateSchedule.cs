namespace OpenDllm.Training;

/// <summary>
/// Linear warmup then cosine decay to a floor (Open-dLLM's <c>lr_warmup_ratio</c>, <c>lr_min</c>; nanoGPT's <c>get_lr</c>):
/// <code>
/// lr(s) = lr_max · (s+1)/W                                           s &lt; W
/// lr(s) = lr_min + ½(lr_max − lr_min)(1 + cos(π · (s − W)/(S − W)))    W ≤ s &lt; S
/// lr(s) = lr_min                                                      s ≥ S
/// </code>
/// with W = ⌈warmup_ratio · S⌉ warmup steps and S total steps.
/// </summary>
public sealed record LearningRateSchedule(double MaxLr, double MinLr, long WarmupSteps, long TotalSteps)
{
    public static LearningRateSchedule FromRatio(double maxLr, double minLr, double warmupRatio, long totalSteps) =>
        new(maxLr, minLr, (long)Math.Ceiling(warmupRatio * totalSteps), totalSteps);

    /// <summary>The learning rate of optimizer step <paramref name="step"/> (0-based).</summary>
    public double At(long step)
    {
        if (step < WarmupSteps) return MaxLr * (step + 1) / WarmupSteps;
        if (step >= TotalSteps) return MinLr;
        double progress = (double)(step - WarmupSteps) / Math.Max(1, TotalSteps - WarmupSteps);
        return MinLr + 0.5 * (MaxLr - MinLr) * (1 + Math.Cos(Math.PI * progress));
    }
}
