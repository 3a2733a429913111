using OpenDllm.Attention;
using OpenDllm.Models;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Sampling;

/// <summary>Options of <see cref="AutoregressiveSampler"/>.</summary>
public sealed record AutoregressiveOptions
{
    public double Temperature { get; init; }
    public double? TopP { get; init; }
    public int? TopK { get; init; }
    /// <summary>Prefill once, then feed one token per step against the KV cache (default); false = full forward per token.</summary>
    public bool UseCache { get; init; } = true;
    /// <summary>When set, a row that produced it gets it in every later slot too (it stops).</summary>
    public long? EosId { get; init; }
    /// <summary>With <see cref="EosId"/>: stop as soon as every row has produced it, writing EOS into the slots left (the
    /// same tokens as running on, without the forwards), for generation of unknown length such as FIM infilling.</summary>
    public bool StopAtEos { get; init; }
    public long Seed { get; init; }
    public bool RecordTrajectory { get; init; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option and its value.</summary>
    public AutoregressiveOptions Validate()
    {
        SamplerOptionChecks.Temperature(Temperature);
        SamplerOptionChecks.TopP(TopP);
        SamplerOptionChecks.TopK(TopK);
        return this;
    }
}

/// <summary>
/// Left-to-right decoding with causal attention: the baseline every diffusion sampler is compared against. Fills the
/// canvas's masks in order (they must form one block of columns at the end, as <see cref="Canvas.ForCompletion"/> builds);
/// with <see cref="AutoregressiveOptions.UseCache"/> it is one prefill and one single-token forward per new token.
/// Left padding is excluded by the key-padding mask and position ids skip it.
/// </summary>
public sealed class AutoregressiveSampler(AutoregressiveOptions? options = null) : ISampler
{
    public AutoregressiveOptions Options { get; } = (options ?? new AutoregressiveOptions()).Validate();

    /// <summary>The <see cref="SamplerFactory"/> name: ar (KV cache) or ar-nocache.</summary>
    public string Name => Options.UseCache ? "ar" : "ar-nocache";

    public SamplerOutput Sample(IDenoiser denoiser, Canvas canvas)
    {
        using var outer = NewDisposeScope();
        var o = Options;
        var x = canvas.Tokens.clone();
        long maskId = denoiser.MaskId, width = x.shape[1];
        var maskedColumns = x.eq(maskId).any(0);
        long start = maskedColumns.to(ScalarType.Int64).argmax().item<long>();
        if (!maskedColumns.any().item<bool>()) return new SamplerOutput(x.MoveToOuterDisposeScope(), 0);
        if (!maskedColumns.narrow(0, start, width - start).all().item<bool>() || x.narrow(1, 0, start).eq(maskId).any().item<bool>())
            throw new ArgumentException("the AR sampler needs the masks to be the last columns of every row (prompt + masks)");
        if (start == 0) throw new ArgumentException("the AR sampler needs at least one prompt token");

        var real = canvas.KeyPadding ?? ones_like(x, dtype: ScalarType.Bool);
        var positions = SamplingGuards.PositionIds(real)!;                                // left padding skipped
        using var generator = SeededDraws.ForSeed(o.Seed);
        var recorder = o.RecordTrajectory ? new TrajectoryRecorder(x, maskId) : null;
        var done = zeros(x.shape[0], dtype: ScalarType.Bool, device: x.device);
        KvCache? cache = null;
        int forwards = 0;
        for (long j = start; j < width; j++)
        {
            using var scope = NewDisposeScope();
            Tensor logits;
            if (o.UseCache)
            {
                long from = cache is null ? 0 : j - 1;
                var output = denoiser.Forward(new DenoiserInput(x.narrow(1, from, j - from), AttentionPolicy.Causal,
                    PositionIds: positions.narrow(1, from, j - from), KeyPadding: real.narrow(1, 0, j), Cache: cache, ReturnCache: true));
                cache?.Dispose();
                cache = output.Cache!.DetachFromDisposeScope();
                logits = output.Logits.select(1, -1);
            }
            else
            {
                logits = denoiser.Forward(new DenoiserInput(x.narrow(1, 0, j), AttentionPolicy.Causal,
                    PositionIds: positions.narrow(1, 0, j), KeyPadding: real.narrow(1, 0, j))).Logits.select(1, -1);
            }
            forwards++;
            logits = SamplingGuards.SuppressToken(logits, maskId);                         // [B, V]
            var (conf, token) = TokenChoice.Choose(logits, o.Temperature, o.TopP, o.TopK, ConfidenceKind.Probability, generator);
            if (o.EosId is { } eos) token = where(done, full_like(token, eos), token);
            var before = recorder is null ? null : x.clone();
            x.select(1, j).copy_(token);
            if (o.EosId is { } e) done.bitwise_or_(token.eq(e));
            bool stop = o.StopAtEos && o.EosId is not null && j + 1 < width && done.all().item<bool>();
            if (stop) x.narrow(1, j + 1, width - j - 1).fill_(o.EosId!.Value);
            if (recorder is not null)
            {
                var confidence = zeros(x.shape, dtype: ScalarType.Float32, device: x.device);
                confidence.select(1, j).copy_(conf);
                recorder.Record(before!, x, confidence);
            }
            if (stop) break;
        }
        cache?.Dispose();
        return new SamplerOutput(x.MoveToOuterDisposeScope(), forwards, recorder?.Build());
    }
}
