using OpenDllm.Models;
using OpenDllm.Config;
using OpenDllm.Runtime;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Inference;

/// <summary>
/// Checks a generation request against the model before any forward pass: a positive length, a canvas (prompt or
/// prefix + gap + suffix) within <c>max_position_embeddings</c>, and a <see cref="MemoryEstimate"/> lower bound within
/// the memory available. Each failure is one <see cref="ArgumentException"/> (or <see cref="InsufficientMemoryException"/>)
/// naming the value and the limit.
/// </summary>
public static class GenerationLimits
{
    /// <summary>Checks <see cref="DiffusionPipeline.Complete"/>'s arguments.</summary>
    public static void CheckCompletion(DiffusionPipeline pipeline, string prompt, int length, ISampler sampler) =>
        CheckCompletionBatch(pipeline, [prompt], length, sampler);

    /// <summary>Checks <see cref="DiffusionPipeline.CompleteBatch"/>'s arguments: every prompt as <see cref="CheckCompletion"/>
    /// does, and the memory of the whole batch at the widest prompt's width.</summary>
    public static void CheckCompletionBatch(DiffusionPipeline pipeline, IReadOnlyList<string> prompts, int length, ISampler sampler)
    {
        CheckLength(length);
        long widest = 1;
        for (int i = 0; i < prompts.Count; i++)
        {
            long promptTokens = Math.Max(1, pipeline.TokenCount(prompts[i]));  // an empty prompt becomes one EOS
            EnsureWithinPositions(pipeline.Model.MaxPositions, promptTokens + length,
                                  prompts.Count == 1 ? $"prompt {promptTokens} tokens + length {length}" : $"prompt {i}: {promptTokens} tokens + length {length}");
            widest = Math.Max(widest, promptTokens);
        }
        Check(pipeline, widest + length, $"prompt {widest} tokens + length {length}", sampler, prompts.Count);
    }

    /// <summary>Checks <see cref="DiffusionPipeline.Infill"/>'s arguments.</summary>
    public static void CheckInfill(DiffusionPipeline pipeline, string prefix, string suffix, int length, ISampler sampler) =>
        CheckInfillBatch(pipeline, [(prefix, suffix, length)], sampler);

    /// <summary>Checks <see cref="DiffusionPipeline.InfillBatch"/>'s arguments: every row's length and positions, and the
    /// memory of the whole batch at the width of its canvas (longest prefix + longest middle + longest suffix).</summary>
    public static void CheckInfillBatch(DiffusionPipeline pipeline, IReadOnlyList<(string Prefix, string Suffix, int Length)> rows, ISampler sampler)
    {
        long prefixes = 1, middles = 1, suffixes = 0;
        for (int i = 0; i < rows.Count; i++)
        {
            var (prefix, suffix, length) = rows[i];
            CheckLength(length);
            long prefixTokens = Math.Max(1, pipeline.TokenCount(prefix)), suffixTokens = pipeline.TokenCount(suffix);
            string what = $"prefix {prefixTokens} tokens + length {length} + suffix {suffixTokens} tokens";
            if (rows.Count == 1) { Check(pipeline, prefixTokens + length + suffixTokens, what, sampler); return; }
            EnsureWithinPositions(pipeline.Model.MaxPositions, prefixTokens + length + suffixTokens, $"row {i}: {what}");
            (prefixes, middles, suffixes) = (Math.Max(prefixes, prefixTokens), Math.Max(middles, length), Math.Max(suffixes, suffixTokens));
        }
        CheckMemory(pipeline, prefixes + middles + suffixes, sampler, rows.Count);  // columns, not positions: positions skip padding
    }

    /// <summary>Throws unless <paramref name="positions"/> fit <paramref name="config"/>'s <c>max_position_embeddings</c>.</summary>
    /// <param name="what">How the message names the value (e.g. <c>data.seq_len = 1024</c>).</param>
    public static void EnsureWithinPositions(ModelConfig config, long positions, string what) =>
        EnsureWithinPositions(config.MaxPositionEmbeddings, positions, what);

    /// <summary>Refuses <paramref name="positions"/> beyond a model's <paramref name="maxPositions"/> (<c>max_position_embeddings</c>).</summary>
    public static void EnsureWithinPositions(int maxPositions, long positions, string what)
    {
        if (positions > maxPositions)
            throw new ArgumentOutOfRangeException(
                $"{what} = {positions} positions, more than the model's max_position_embeddings ({maxPositions})", (Exception?)null);
    }

    static void CheckLength(int length)
    {
        if (length <= 0) throw new ArgumentOutOfRangeException($"length {length}: the number of tokens to generate must be at least 1", (Exception?)null);
    }

    static void Check(DiffusionPipeline pipeline, long positions, string what, ISampler sampler, int batch = 1)
    {
        EnsureWithinPositions(pipeline.Model.MaxPositions, positions, what);
        CheckMemory(pipeline, positions, sampler, batch);
    }

    /// <summary>Refuses a batch of <paramref name="batch"/> canvases of <paramref name="positions"/> columns that would not fit
    /// the model device's memory (Qwen2 shapes only).</summary>
    static void CheckMemory(DiffusionPipeline pipeline, long positions, ISampler sampler, int batch)
    {
        if (pipeline.Model is not Qwen2Model { Config: var config }) return;     // the memory bound counts Qwen2 shapes
        var weight = pipeline.Model.HeadWeight;
        int elementBytes = weight.dtype is ScalarType.Float32 ? 4 : weight.dtype is ScalarType.Float64 ? 8 : 2;
        bool cache = sampler is AutoregressiveSampler { Options.UseCache: true } or BlockDiffusionSampler { Options.UseCache: true };
        MemoryEstimate.ForSampling(config, batch, positions, elementBytes, cache)
            .EnsureFits(weight.device, "shorten the prompt or the length");
    }
}
