using OpenDllm.Methods.ArFim;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Inference;

/// <summary>
/// Infilling with a left-to-right model trained with FIM (<see cref="ArFimMethod"/>): the prompt is
/// <c>&lt;|fim_prefix|&gt; prefix &lt;|fim_suffix|&gt; suffix &lt;|fim_middle|&gt;</c> (PSM, as in training and as
/// Qwen2.5-Coder prompts), and the AR sampler writes the middle after it with its KV cache: one prefill, then one
/// single-token forward per token.
/// <list type="bullet">
/// <item>Oracle length (<c>untilEos: false</c>): exactly <c>length</c> tokens are generated; the middle is cut at the
/// first EOS, the rule <see cref="DiffusionPipeline.Infill"/> applies to a diffusion canvas.</item>
/// <item>Unknown length (<c>untilEos: true</c>): generation stops at the first EOS (the token FIM training puts after
/// every middle), or after <c>length</c> tokens, the budget.</item>
/// </list>
/// </summary>
public static class FimInfill
{
    /// <summary>The PSM prompt's ids.</summary>
    public static List<long> Prompt(DiffusionPipeline pipeline, string prefix, string suffix)
    {
        var fim = FimTokens.From(pipeline.Tokenizer);
        return [fim.Prefix, .. pipeline.Tokenizer.Encode(prefix).Select(i => (long)i), fim.Suffix,
                .. pipeline.Tokenizer.Encode(suffix).Select(i => (long)i), fim.Middle];
    }

    /// <summary>
    /// Fills the middle between <paramref name="prefix"/> and <paramref name="suffix"/>: <paramref name="length"/> tokens
    /// (oracle length), or until EOS within <paramref name="length"/> tokens when <paramref name="untilEos"/>. The
    /// sampler's seed, temperature and filters are <paramref name="settings"/>' (greedy by default); the cache is always on.
    /// <see cref="SamplerOutput.Forwards"/> of the result is the number of tokens generated.
    /// </summary>
    public static Generation Infill(DiffusionPipeline pipeline, string prefix, string suffix, int length, bool untilEos, SamplerSettings? settings = null)
    {
        var s = settings ?? new SamplerSettings();
        var eos = pipeline.Tokenizer.Special.Eos;
        var sampler = new AutoregressiveSampler(new AutoregressiveOptions
        {
            Temperature = s.Temperature, TopP = s.TopP, TopK = s.TopK, UseCache = true, Seed = s.Seed, RecordTrajectory = s.RecordTrajectory,
            EosId = untilEos ? eos : null, StopAtEos = untilEos,
        });
        var prompt = Prompt(pipeline, prefix, suffix);
        if (length <= 0) throw new ArgumentOutOfRangeException($"length {length}: the number of tokens to generate must be at least 1", (Exception?)null);
        GenerationLimits.EnsureWithinPositions(pipeline.Model.MaxPositions, prompt.Count + length, $"FIM prompt {prompt.Count} tokens + length {length}");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var canvas = Canvas.ForCompletion([prompt], length, pipeline.Denoiser.MaskId, pipeline.Tokenizer.Special.Pad);
        var device = pipeline.Model.HeadWeight.device;
        if (canvas.Tokens.device != device) canvas = new Canvas(canvas.Tokens.to(device), canvas.KeyPadding?.to(device));
        var output = sampler.Sample(pipeline.Denoiser, canvas);
        var row = output.Sequences[0].cpu().data<long>().ToArray();
        var middle = row.Skip(prompt.Count).Take(length).TakeWhile(t => t != eos).ToArray();
        output.Sequences.MoveToOuterDisposeScope();
        return new Generation(pipeline.Tokenizer.Decode(middle.Select(t => (int)t)), middle, output);
    }
}
