using OpenDllm.Lora;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Inference;

/// <summary>Text in, text out: the decoded middle or continuation, the raw ids (cut at the first EOS) and the sampler's
/// output; <paramref name="Span"/> is every generated position, not cut (null when the producer does not record it).</summary>
public sealed record Generation(string Text, long[] Ids, SamplerOutput Output, long[]? Span = null);

/// <summary>
/// A model, its tokenizer and a denoiser view of it, loaded from one checkpoint directory (config.json, safetensors,
/// tokenizer files). Completion and infilling with any <see cref="ISampler"/>; text is cut at the first EOS.
/// </summary>
public sealed class DiffusionPipeline
{
    /// <param name="model">The model.</param>
    /// <param name="tokenizer">Its tokenizer.</param>
    /// <param name="editTokens">A DreamOn checkpoint's <c>&lt;expand&gt;</c>/<c>&lt;delete&gt;</c> ids (SPEC §5.7), or null:
    /// <see cref="Denoiser"/> then never proposes them, and only the variable-length sampler reads them
    /// (<see cref="EditingDenoiser"/>).</param>
    public DiffusionPipeline(LanguageModel model, ITokenizer tokenizer, EditTokenIds? editTokens = null)
    {
        Model = model;
        Tokenizer = tokenizer;
        long maskId = model.MaskTokenId ?? tokenizer.Special.Mask;
        if (maskId >= model.VocabSize)
            throw new ArgumentException($"mask id {maskId} does not fit the embedding (vocab_size {model.VocabSize})");
        EditingDenoiser = new ModelDenoiser(model, maskId, model.ShiftedLogits);
        EditTokens = editTokens;
        Denoiser = editTokens is null ? EditingDenoiser : new SuppressedTokensDenoiser(EditingDenoiser, [editTokens.Expand, editTokens.Delete]);
    }

    /// <summary>The model (any architecture <see cref="PretrainedModels"/> loads).</summary>
    public LanguageModel Model { get; }
    public ITokenizer Tokenizer { get; }
    /// <summary>The denoiser every fixed-length sampler uses: the model's, with a DreamOn checkpoint's edit tokens
    /// suppressed (<see cref="SuppressedTokensDenoiser"/>), so an oracle- or fixed-length middle keeps its length.</summary>
    public IDenoiser Denoiser { get; }

    /// <summary>The model's denoiser with nothing suppressed: what the variable-length sampler reads
    /// (<see cref="VariableInfill"/>). The same object as <see cref="Denoiser"/> when <see cref="EditTokens"/> is null.</summary>
    public IDenoiser EditingDenoiser { get; }

    /// <summary>The checkpoint's <c>&lt;expand&gt;</c>/<c>&lt;delete&gt;</c> ids when it was trained with
    /// <c>train.objective: dreamon</c> (read from its <c>recipe.json</c> by <see cref="Load"/>), otherwise null.</summary>
    public EditTokenIds? EditTokens { get; }

    /// <summary>The PEFT adapter applied on top of the checkpoint (<c>--adapter</c>), or null.</summary>
    public LoadedAdapter? Adapter { get; init; }

    /// <summary>
    /// Loads <c>config.json</c> + weights with <see cref="PretrainedModels.Load"/> (the architecture its <c>model_type</c> names) onto <paramref name="device"/> (default
    /// CPU) and the tokenizer beside them. <paramref name="shifted"/> overrides the checkpoint's logit alignment (SPEC §2.3).
    /// <paramref name="adapter"/> names a PEFT LoRA adapter folder applied after the weights are loaded (not merged: the
    /// projections compute W·x + (α/r)·B·A·x, exactly as PEFT's unmerged model does).
    /// </summary>
    public static DiffusionPipeline Load(string directory, Device? device = null, bool? shifted = null, string? adapter = null)
    {
        var model = PretrainedModels.Load(directory, device);
        try
        {
            if (shifted is { } s) model.WithShiftedLogitsOverride(s);
            var tokenizer = Tokenizers.Load(directory, model.VocabSize);
            var lora = adapter is null ? null : LoadedAdapter.Apply(model, adapter);
            model.eval();
            var dreamOn = Methods.DreamOn.DreamOnTokens.TryFromCheckpoint(directory, tokenizer, model.VocabSize);
            EditTokenIds? edit = dreamOn is null ? null : new EditTokenIds(dreamOn.Expand, dreamOn.Delete);
            return new DiffusionPipeline(model, tokenizer, edit) { Adapter = lora };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Generates <paramref name="length"/> tokens after <paramref name="prompt"/>.</summary>
    public Generation Complete(string prompt, int length, ISampler sampler) => CompleteBatch([prompt], length, sampler)[0];

    /// <summary>
    /// Generates <paramref name="length"/> tokens after each prompt, all prompts decoded together as one ragged batch:
    /// shorter prompts are left-padded (<see cref="Canvas.ForCompletion"/>), padding keys are masked out of every attention
    /// (KV caches included) and rotary positions skip the padding, so every row sees exactly what it would see alone.
    /// Under greedy decoding each row's tokens equal <see cref="Complete"/> of that prompt, up to floating-point rounding
    /// (a padded batch runs other kernel shapes; a near-tie between two confidences can then resolve differently). Random
    /// draws (temperature &gt; 0, origin, llada-random) are taken over the whole batch, so sampled rows differ from
    /// batch-1 runs with the same seed. One entry per prompt, in order; every entry shares the batch's sampler output.
    /// </summary>
    public IReadOnlyList<Generation> CompleteBatch(IReadOnlyList<string> prompts, int length, ISampler sampler)
    {
        if (prompts.Count == 0) throw new ArgumentException("no prompts to complete");
        GenerationLimits.CheckCompletionBatch(this, prompts, length, sampler);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var rows = prompts.Select(prompt =>
        {
            var ids = Tokenizer.Encode(prompt).Select(i => (long)i).ToList();
            if (ids.Count == 0) ids.Add(Tokenizer.Special.Eos);                // shifted models need a leading token
            return (IReadOnlyList<long>)ids;
        }).ToList();
        var output = sampler.Sample(Denoiser, OnModelDevice(Canvas.ForCompletion(rows, length, Denoiser.MaskId, Tokenizer.Special.Pad)));
        int start = rows.Max(r => r.Count);                                     // generation starts at the same column in every row
        var sequences = output.Sequences.cpu();
        var generations = Enumerable.Range(0, rows.Count).Select(r => Decode(sequences[r], output, start, length)).ToList();
        output.Sequences.MoveToOuterDisposeScope();
        return generations;
    }

    /// <summary>Fills <paramref name="length"/> masks between <paramref name="prefix"/> and <paramref name="suffix"/> (SPEC §5.6).</summary>
    public Generation Infill(string prefix, string suffix, int length, ISampler sampler) => InfillBatch([(prefix, suffix, length)], sampler)[0];

    /// <summary>
    /// Fills every row's middle (its own prefix, suffix and number of masks), all rows decoded together as one ragged batch
    /// (<see cref="Canvas.ForInfill"/>: rows aligned at the middle, padding masked out of every attention and skipped by
    /// positions). Under greedy decoding each row's tokens equal <see cref="Infill"/> of that row with every sampler that
    /// takes infill canvases, up to floating-point rounding (a padded batch runs other kernel shapes); random draws are
    /// taken over the whole batch, so sampled rows differ from batch-1 runs with the same seed. One entry per row, in order.
    /// </summary>
    public IReadOnlyList<Generation> InfillBatch(IReadOnlyList<(string Prefix, string Suffix, int Length)> rows, ISampler sampler)
    {
        if (rows.Count == 0) throw new ArgumentException("no infill rows");
        GenerationLimits.CheckInfillBatch(this, rows, sampler);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var canvasRows = rows.Select(row =>
        {
            var p = Tokenizer.Encode(row.Prefix).Select(i => (long)i).ToList();
            if (p.Count == 0) p.Add(Tokenizer.Special.Eos);                    // shifted models need a leading token
            var s = Tokenizer.Encode(row.Suffix).Select(i => (long)i).ToList();
            return ((IReadOnlyList<long>)p, row.Length, (IReadOnlyList<long>)s);
        }).ToList();
        var output = sampler.Sample(Denoiser, OnModelDevice(Canvas.ForInfill(canvasRows, Denoiser.MaskId, Tokenizer.Special.Pad)));
        int start = Canvas.InfillMiddleColumn(canvasRows);                      // every row's middle starts at this column
        var sequences = output.Sequences.cpu();
        var generations = rows.Select((row, r) => Decode(sequences[r], output, start, row.Length)).ToList();
        output.Sequences.MoveToOuterDisposeScope();
        return generations;
    }

    /// <summary>The canvas moved to the model's device (CUDA when the model is there).</summary>
    Canvas OnModelDevice(Canvas canvas)
    {
        var device = Model.HeadWeight.device;
        return canvas.Tokens.device == device ? canvas : new Canvas(canvas.Tokens.to(device), canvas.KeyPadding?.to(device));
    }

    /// <summary>Number of tokens <paramref name="text"/> encodes to (the oracle infill length of a known middle).</summary>
    public int TokenCount(string text) => Tokenizer.Encode(text).Count;

    /// <summary>The <paramref name="length"/> tokens of <paramref name="row"/> (on the host) from <paramref name="start"/>, cut at
    /// the first EOS (the uncut span kept as <see cref="Generation.Span"/>).</summary>
    Generation Decode(Tensor row, SamplerOutput output, int start, int length)
    {
        var span = row.data<long>().ToArray().Skip(start).Take(length).ToArray();
        var middle = span.TakeWhile(t => t != Tokenizer.Special.Eos).ToArray();
        return new Generation(Tokenizer.Decode(middle.Select(t => (int)t)), middle, output, span);
    }
}
