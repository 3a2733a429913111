using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Inference;

/// <summary>One gap to fill with variable length: the text around it, the initial middle length and, optionally, the row's own seed.</summary>
public sealed record VariableInfillRequest(string Prefix, string Suffix, int InitialLength, long? Seed = null);

/// <summary>
/// Variable-length infilling with a <see cref="DiffusionPipeline"/> and a <see cref="DreamOnSampler"/> (SPEC §5.7): the
/// middle starts at <c>initialLength</c> masks and grows or shrinks as the model predicts <c>&lt;expand&gt;</c> and
/// <c>&lt;delete&gt;</c>. The text is the final middle cut at the first EOS, as for the fixed-length path.
/// </summary>
public static class VariableInfill
{
    /// <summary>Fills the gap between <paramref name="prefix"/> and <paramref name="suffix"/>; <see cref="Generation.Output"/> holds the final canvas.</summary>
    public static (Generation Generation, VariableInfillOutput Detail) Infill(this DiffusionPipeline pipeline, string prefix, string suffix,
                                                                            int initialLength, DreamOnSampler sampler) =>
        pipeline.InfillBatch([new VariableInfillRequest(prefix, suffix, initialLength)], sampler)[0];

    /// <summary>
    /// Fills every request's gap, all decoded together as one ragged batch (<see cref="DreamOnSampler.InfillBatch"/>): each
    /// row's middle equals what <see cref="Infill"/> gives it alone, up to floating-point rounding, also when sampling
    /// (each row draws from its own generator, seeded by its <see cref="VariableInfillRequest.Seed"/> or the sampler's seed).
    /// One result per request, in order; each <see cref="Generation.Output"/> holds that row's final canvas [1, T′].
    /// </summary>
    public static IReadOnlyList<(Generation Generation, VariableInfillOutput Detail)> InfillBatch(this DiffusionPipeline pipeline,
        IReadOnlyList<VariableInfillRequest> requests, DreamOnSampler sampler)
    {
        if (requests.Count == 0) throw new ArgumentException("no infill requests", nameof(requests));
        int positions = pipeline.Model.MaxPositions;
        using var scope = NewDisposeScope();
        var tokenizer = pipeline.Tokenizer;
        var rows = new List<VariableInfillRow>(requests.Count);
        for (int i = 0; i < requests.Count; i++)
        {
            var request = requests[i];
            var p = tokenizer.Encode(request.Prefix).Select(t => (long)t).ToList();
            if (p.Count == 0) p.Add(tokenizer.Special.Eos);                   // shifted models need a leading token
            var s = tokenizer.Encode(request.Suffix).Select(t => (long)t).ToList();
            int longest = p.Count + sampler.Options.MaxMiddle + s.Count;
            if (longest > positions)
                throw new ArgumentException((requests.Count == 1 ? "" : $"request {i}: ")
                    + $"prefix ({p.Count}) + max middle ({sampler.Options.MaxMiddle}) + suffix ({s.Count}) = {longest} tokens exceed the model's {positions} positions");
            rows.Add(new VariableInfillRow(p, request.InitialLength, s, request.Seed));
        }
        var details = sampler.InfillBatch(pipeline.EditingDenoiser, rows, pipeline.Model.HeadWeight.device);
        return details.Select(detail =>
        {
            var row = detail.Output.Sequences[0].cpu().data<long>().ToArray();
            var middle = row.Skip(detail.MiddleStart).Take(detail.MiddleLength).TakeWhile(t => t != tokenizer.Special.Eos).ToArray();
            detail.Output.Sequences.MoveToOuterDisposeScope();
            return (new Generation(tokenizer.Decode(middle.Select(t => (int)t)), middle, detail.Output), detail);
        }).ToList();
    }
}
