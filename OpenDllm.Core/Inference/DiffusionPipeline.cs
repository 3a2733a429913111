using OpenDllm.Lora;
using OpenDllm.Models;
using OpenDllm.Sampling;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Inference;

/// <summary>Text in, text out: the decoded middle or continuation, the raw ids and the sampler's output.</summary>
public sealed record Generation(string Text, long[] Ids, SamplerOutput Output);

/// <summary>
/// A model, its tokenizer and a denoiser view of it, loaded from one checkpoint directory (config.json, safetensors,
/// tokenizer files). Completion and infilling with any <see cref="ISampler"/>; text is cut at the first EOS.
/// </summary>
public sealed class DiffusionPipeline
{
    public DiffusionPipeline(LanguageModel model, ITokenizer tokenizer)
    {
        Model = model;
        Tokenizer = tokenizer;
        long maskId = model.MaskTokenId ?? tokenizer.Special.Mask;
        if (maskId >= model.VocabSize)
            throw new ArgumentException($"mask id {maskId} does not fit the embedding (vocab_size {model.VocabSize})");
        Denoiser = new ModelDenoiser(model, maskId, model.ShiftedLogits);
    }

    /// <summary>The model (any architecture <see cref="PretrainedModels"/> loads).</summary>
    public LanguageModel Model { get; }
    public ITokenizer Tokenizer { get; }
    public IDenoiser Denoiser { get; }

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
            return new DiffusionPipeline(model, tokenizer) { Adapter = lora };
        }
        catch
        {
            model.Dispose();
            throw;
        }
    }

    /// <summary>Generates <paramref name="length"/> tokens after <paramref name="prompt"/>.</summary>
    public Generation Complete(string prompt, int length, ISampler sampler)
    {
        GenerationLimits.CheckCompletion(this, prompt, length, sampler);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var ids = Tokenizer.Encode(prompt).Select(i => (long)i).ToList();
        if (ids.Count == 0) ids.Add(Tokenizer.Special.Eos);                    // shifted models need a leading token
        var output = sampler.Sample(Denoiser, OnModelDevice(Canvas.ForCompletion([ids], length, Denoiser.MaskId, Tokenizer.Special.Pad)));
        return Decode(output, ids.Count, length);
    }

    /// <summary>Fills <paramref name="length"/> masks between <paramref name="prefix"/> and <paramref name="suffix"/> (SPEC §5.6).</summary>
    public Generation Infill(string prefix, string suffix, int length, ISampler sampler)
    {
        GenerationLimits.CheckInfill(this, prefix, suffix, length, sampler);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var p = Tokenizer.Encode(prefix).Select(i => (long)i).ToList();
        if (p.Count == 0) p.Add(Tokenizer.Special.Eos);
        var s = Tokenizer.Encode(suffix).Select(i => (long)i).ToList();
        var output = sampler.Sample(Denoiser, OnModelDevice(Canvas.ForInfill([(p, length, s)], Denoiser.MaskId, Tokenizer.Special.Pad)));
        return Decode(output, p.Count, length);
    }

    /// <summary>The canvas moved to the model's device (CUDA when the model is there).</summary>
    Canvas OnModelDevice(Canvas canvas)
    {
        var device = Model.HeadWeight.device;
        return canvas.Tokens.device == device ? canvas : new Canvas(canvas.Tokens.to(device), canvas.KeyPadding?.to(device));
    }

    /// <summary>Number of tokens <paramref name="text"/> encodes to (the oracle infill length of a known middle).</summary>
    public int TokenCount(string text) => Tokenizer.Encode(text).Count;

    Generation Decode(SamplerOutput output, int start, int length)
    {
        var row = output.Sequences[0].cpu().data<long>().ToArray();
        var middle = row.Skip(start).Take(length).TakeWhile(t => t != Tokenizer.Special.Eos).ToArray();
        output.Sequences.MoveToOuterDisposeScope();
        return new Generation(Tokenizer.Decode(middle.Select(t => (int)t)), middle, output);
    }
}
