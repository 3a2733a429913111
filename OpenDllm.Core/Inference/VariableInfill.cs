using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Inference;

/// <summary>
/// Variable-length infilling with a <see cref="DiffusionPipeline"/> and a <see cref="DreamOnSampler"/> (SPEC §5.7): the
/// middle starts at <c>initialLength</c> masks and grows or shrinks as the model predicts <c>&lt;expand&gt;</c> and
/// <c>&lt;delete&gt;</c>. The text is the final middle cut at the first EOS, as for the fixed-length path.
/// </summary>
public static class VariableInfill
{
    /// <summary>Fills the gap between <paramref name="prefix"/> and <paramref name="suffix"/>; <see cref="Generation.Output"/> holds the final canvas.</summary>
    public static (Generation Generation, VariableInfillOutput Detail) Infill(this DiffusionPipeline pipeline, string prefix, string suffix,
                                                                            int initialLength, DreamOnSampler sampler)
    {
        int positions = pipeline.Model.MaxPositions;
        using var scope = NewDisposeScope();
        var tokenizer = pipeline.Tokenizer;
        var p = tokenizer.Encode(prefix).Select(i => (long)i).ToList();
        if (p.Count == 0) p.Add(tokenizer.Special.Eos);                       // shifted models need a leading token
        var s = tokenizer.Encode(suffix).Select(i => (long)i).ToList();
        int longest = p.Count + sampler.Options.MaxMiddle + s.Count;
        if (longest > positions)
            throw new ArgumentException($"prefix ({p.Count}) + max middle ({sampler.Options.MaxMiddle}) + suffix ({s.Count}) = {longest} tokens exceed the model's {positions} positions");
        var detail = sampler.Infill(pipeline.Denoiser, p, initialLength, s, pipeline.Model.HeadWeight.device);
        var row = detail.Output.Sequences[0].cpu().data<long>().ToArray();
        var middle = row.Skip(detail.MiddleStart).Take(detail.MiddleLength).TakeWhile(t => t != tokenizer.Special.Eos).ToArray();
        detail.Output.Sequences.MoveToOuterDisposeScope();
        return (new Generation(tokenizer.Decode(middle.Select(t => (int)t)), middle, detail.Output), detail);
    }
}
