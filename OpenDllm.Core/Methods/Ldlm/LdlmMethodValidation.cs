using OpenDllm.Data;
using OpenDllm.Sampling.Latent;
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
        var h = EncoderStates(batch);
        var z = _modules.Encoder.Encode(h, keep);
        var hHat = _modules.Decoder.DecodeHidden(z);
        var logits = _modules.TokenDecoder.forward(hHat);
        var ce = LatentDiffusionLosses.TokenReconstruction(logits, tokens, keep);
        var kept = keep.sum().to(ScalarType.Float64);
        var perPosition = (hHat - h).pow(2).mean([-1]) * keep.to(hHat.dtype);
        var t = _uniform.Sample(batch.BatchSize, generator).to(z.device);
        var diffusion = DiffusionLossPerSample(z, t, generator, selfCondition: false);
        var correct = CorrectTokens(logits, tokens, keep);
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

    /// <summary>
    /// Generated text, scored once per evaluation (<c>validation_samples</c> sequences, DDIM with <c>validation_steps</c>,
    /// from the validation seed): <c>gen_encoder_acc</c>, the frozen encoder's agreement with the generated text
    /// (<see cref="EncoderAgreement"/>), next to <c>real_encoder_acc</c> on as many held-out windows; and
    /// <c>gen_roundtrip_acc</c>, the share of generated tokens that encoding the generated text and decoding it again gives
    /// back (generated latents the autoencoder agrees with); <c>gen_token_entropy</c> vs <c>real_token_entropy</c>, the
    /// unigram entropy of the tokens in bits, because a judge restores repetitive text easily: agreement without diversity
    /// means degenerate samples. Nothing when <c>validation_samples</c> is 0.
    /// </summary>
    public IReadOnlyDictionary<string, double> Validate(PackedLoader validation, int batches, long seed, long step)
    {
        var result = new Dictionary<string, double>(StringComparer.Ordinal);
        int n = Options.ValidationSamples;
        if (n == 0) return result;
        using var scope = NewDisposeScope();
        var device = Model.HeadWeight.device;
        var sampler = new LatentSampler(new LatentSamplerSettings { Steps = Options.ValidationSteps, Seed = seed });
        var generated = sampler.Generate(_modules.Denoiser, _modules, n, device, Schedule).Tokens;       // [n, L]
        using var judge = new Generator((ulong)seed + 1);
        result["gen_encoder_acc"] = EncoderAgreement.Accuracy(Encoder, generated, judge);
        result["gen_token_entropy"] = UnigramEntropyBits(generated);

        var real = validation.InOrder().Take(1).ToList();
        try
        {
            if (real.Count == 1 && real[0].Tokens.shape[1] == generated.shape[1])
            {
                var rows = real[0].Tokens.narrow(0, 0, Math.Min(n, real[0].BatchSize));
                using var judgeReal = new Generator((ulong)seed + 1);
                result["real_encoder_acc"] = EncoderAgreement.Accuracy(Encoder, rows, judgeReal);
                result["real_token_entropy"] = UnigramEntropyBits(rows);
            }
        }
        finally { foreach (var batch in real) batch.Dispose(); }

        var keep = ones_like(generated, dtype: ScalarType.Bool);
        var h = Encoder.HiddenStates(new Models.ModelInput(generated, Encoder.Attention));
        var again = _modules.Logits(_modules.Encoder.Encode(h, keep)).argmax(-1);
        result["gen_roundtrip_acc"] = (again == generated).to(ScalarType.Float64).mean().item<double>();
        return result;
    }

    /// <summary>H = −Σ_v p_v·log₂ p_v of the token frequencies p_v in <paramref name="tokens"/> (one read).</summary>
    static double UnigramEntropyBits(Tensor tokens)
    {
        using var scope = NewDisposeScope();
        var counts = tokens.flatten().to(ScalarType.Int64).bincount(null, 0).to(ScalarType.Float64);
        var p = counts[counts > 0] / counts.sum();
        return -(p * p.log2()).sum().item<double>();
    }
}
