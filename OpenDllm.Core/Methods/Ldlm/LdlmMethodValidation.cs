using OpenDllm.Data;
using OpenDllm.Objectives;
using OpenDllm.Training;
using static TorchSharp.torch;

namespace OpenDllm.Methods.Ldlm;

public sealed partial class LdlmMethod
{
    /// <summary>
    /// The validation terms of one batch from clean latents (no σ_dec noise): the reconstruction cross-entropy Σ CE over
    /// non-pad tokens (the bound metric, <c>val_recon_bits</c>), and as extras L_h, L_w, L_diff (t ~ U(0, 1), no
    /// self-conditioning) and the reconstruction token accuracy.
    /// </summary>
    public BoundTerms Bound(PackedBatch batch, Generator generator)
    {
        using var scope = NewDisposeScope();
        var tokens = batch.Tokens;
        var keep = batch.KeyPadding;
        var h = Encoder.HiddenStates(batch);
        var z = _modules.Encoder.Encode(h, keep);
        var hHat = _modules.Decoder.DecodeHidden(z);
        var logits = _modules.TokenDecoder.forward(hHat);
        var ce = LatentDiffusionLosses.TokenReconstruction(logits, tokens, keep);
        var kept = keep.sum().to(ScalarType.Float64);
        var perPosition = (hHat - h).pow(2).mean([-1]) * keep.to(hHat.dtype);
        var t = _uniform.Sample(batch.BatchSize, generator).to(z.device);
        var diffusion = DiffusionLossPerSample(z, t, generator, selfCondition: false);
        var correct = ((logits.argmax(-1) == tokens) & keep).sum().to(ScalarType.Float64);
        var nats = ce.TokenCe.to(ScalarType.Float64).sum();
        return new BoundTerms(nats, ce.TargetCount.to(ScalarType.Int64))
        {
            Extras = new Dictionary<string, ValidationSum>
            {
                ["l_h"] = new(perPosition.sum().to(ScalarType.Float64), kept),
                ["l_w"] = new(nats, kept),
                ["l_diff"] = new(diffusion.sum().to(ScalarType.Float64), full(1, (double)batch.BatchSize, dtype: ScalarType.Float64, device: z.device).squeeze()),
                ["recon_acc"] = new(correct, kept),
            },
        }.MoveToOuterDisposeScope();
    }
}
