using OpenDllm.Data;

namespace OpenDllm.Training;

/// <summary>
/// A training method with statistics estimated once from data before training (LDLM's per-dimension standardisation of
/// the encoder's hidden states). The trainer calls <see cref="Calibrate"/> right after opening the data, before a resume
/// (which then restores the saved statistics), so the statistics never depend on whether the run begins with an evaluation
/// or a training step.
/// </summary>
public interface IDataCalibratedMethod
{
    /// <param name="validation">The held-out data; read it with <see cref="PackedLoader.InOrder"/> (the same batches every time).</param>
    void Calibrate(PackedLoader validation);
}
