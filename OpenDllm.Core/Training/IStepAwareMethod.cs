namespace OpenDllm.Training;

/// <summary>
/// A training method whose loss depends on where the run is (LDLM's warmup γ(s) = sigmoid(k·(s/S − c)), SPEC §6.3) or
/// that folds per-step state once per optimizer step (LDLM's adaptive time sampler, SPEC §6.5). The trainer calls
/// <see cref="BeginStep"/> before the micro-batches of every optimizer step and before writing a checkpoint, so a resumed
/// run sees the same values as an uninterrupted one.
/// </summary>
public interface IStepAwareMethod
{
    /// <param name="step">Optimizer steps already taken (0 before the first).</param>
    /// <param name="totalSteps">Steps the run is planned for (the learning-rate schedule's S).</param>
    void BeginStep(long step, long totalSteps);
}
