using FsCheck;
using FsCheck.Fluent;
using OpenDllm.Attention;
using OpenDllm.Config;
using OpenDllm.Data;
using OpenDllm.Masking;
using OpenDllm.Methods.Mdlm;
using OpenDllm.Models;
using OpenDllm.Objectives;
using OpenDllm.Schedules;
using OpenDllm.TimeSampling;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Sft;

/// <summary>
/// MDLM SFT (SPEC §2.7): the prompt is never masked and never scored; the response and its visible EOS padding are masked
/// with probability 1 − α(t), t per example, and scored with w(t)·CE; the bound is the NELBO over response tokens.
/// The method's loss and bound are compared with the formula computed here from the same random draws.
/// </summary>
public sealed class SftMethodTests
{
    const int Vocab = 262;
    static readonly int Eos = ByteTokenizer.Instance.Special.Eos;
    static readonly int Mask = ByteTokenizer.Instance.Special.Mask;

    /// <summary>One SFT batch: per row a prompt of <c>prompts[r]</c> tokens, a response, EOS, then EOS padding to L.</summary>
    public sealed record Layout(int Length, int[] Prompts, int[] Responses, ulong Seed)
    {
        public override string ToString() => $"L {Length}, prompts [{string.Join(", ", Prompts)}], responses [{string.Join(", ", Responses)}], seed {Seed}";
    }

    static Gen<Layout> Layouts() =>
        from length in Gen.Choose(3, 14)
        from rows in Gen.Choose(1, 3)
        from prompts in Gen.ArrayOf(Gen.Choose(0, length - 2), rows)
        from fractions in Gen.ArrayOf(Gen.Choose(0, 100), rows)
        from seed in Gen.Choose(0, 1_000_000)
        select new Layout(length, prompts, prompts.Select((p, r) => (length - 1 - p) * fractions[r] / 100).ToArray(), (ulong)seed);

    static readonly Lazy<Qwen2Model> TinyModel = new(() =>
    {
        var config = ModelConfig.Tiny with { VocabSize = Vocab, MaskTokenId = Mask, HiddenSize = 32, IntermediateSize = 64, NumHiddenLayers = 1 };
        var model = new Qwen2Model(config).InitializeWeights(5, 0.2);
        model.eval();
        return model;
    });

    static MdlmMethod Method(Qwen2Model model) => new(new TrainingMethodContext(new Recipe
    {
        Train = new TrainSection { Loss = MdlmWeighting.Scheduler, Normalization = LossNormalization.MaskableTokens, TimeSampling = TimeSamplingMode.PerSequence },
    }, model, ByteTokenizer.Instance));

    /// <summary>The batch the loader builds for <paramref name="layout"/> (tokens random outside EOS).</summary>
    internal static PackedBatch Batch(Layout layout)
    {
        int rows = layout.Prompts.Length, length = layout.Length;
        var random = new Random((int)layout.Seed);
        var tokens = new long[rows * length];
        var prompt = new bool[rows * length];
        for (int r = 0; r < rows; r++)
            for (int i = 0; i < length; i++)
            {
                int p = layout.Prompts[r], content = p + layout.Responses[r];
                tokens[r * length + i] = i < content ? random.Next(0, 256) : Eos;
                prompt[r * length + i] = i < p;
            }
        long[] shape = [rows, length];
        var cursor = new LoaderCursor(0, 0, 0, length, PackingMode.Examples, rows * length);
        return new PackedBatch(tensor(tokens, shape), arange(length, dtype: ScalarType.Int64).unsqueeze(0).expand(rows, length).contiguous(),
                               zeros(shape, ScalarType.Int64), ones(shape, ScalarType.Bool), 0, cursor, documentBoundaries: false, prompt: tensor(prompt, shape));
    }

    /// <summary>
    /// Property over random prompt lengths, response lengths and seeds (so random t): with the method's own draws
    /// replayed, (1) no prompt position is ever masked, (2) the loss is Σ_{masked response} CE_i / t_i over the response and
    /// padding positions, so no prompt position enters it, (3) the bound covers exactly the response and padding tokens.
    /// </summary>
    [Fact]
    public void ThePromptIsNeverMaskedAndNeverInTheLoss()
    {
        var model = TinyModel.Value;
        var method = Method(model);
        Prop.ForAll(Layouts().ToArbitrary(), layout =>
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var batch = Batch(layout);
            var prompt = batch.Prompt!;
            float loss = method.Loss(batch, new Generator(layout.Seed)).Loss.item<float>();

            // the same draws, in the method's order: t, then the masks over the maskable (non-prompt) positions
            var replay = new Generator(layout.Seed);
            var t = method.TrainingTimes(batch, replay);                                               // [B, L]
            var maskable = MdlmMethod.Maskable(batch);
            var noisy = ForwardMasking.Apply(batch.Tokens, t, new LinearSchedule(), Mask, maskable, replay);
            if ((noisy.Masked & prompt).any().item<bool>()) return false.Label("a prompt position was masked");
            if (!maskable.Equals(prompt.logical_not())) return false.Label("maskable is not exactly the non-prompt positions");

            var logits = model.Logits(noisy.Tokens, AttentionPolicy.Bidirectional);                      // [B, L, V]
            var ce = MdlmLoss.CrossEntropy(OpenDllm.Models.LogitMasks.SuppressToken(logits, Mask), batch.Tokens);          // [B, L]
            var terms = where(noisy.Masked, ce / t.to(ScalarType.Float32), 0f);
            float expected = terms.sum().item<float>() / Math.Max(1, maskable.sum().item<long>());
            if (Math.Abs(loss - expected) > 1e-4f * Math.Max(1, Math.Abs(expected)))
                return false.Label($"loss {loss} != Σ CE/t over the masked response / response tokens = {expected}");

            var bound = method.Bound(batch, new Generator(layout.Seed + 1));
            long responseTokens = layout.Prompts.Sum(p => layout.Length - p);
            return (bound.Tokens.item<long>() == responseTokens).Label($"bound covers {bound.Tokens.item<long>()} tokens, not the {responseTokens} response tokens");
        }).QuickCheckThrowOnFailure();
    }

    /// <summary>The EOS padding after a response is visible (no key padding, no attention mask), labelled EOS and maskable.</summary>
    [Fact]
    public void EosPaddingIsVisibleLabelledEosAndMaskable()
    {
        using var batch = Batch(new Layout(10, [3, 2], [2, 0], 1));
        var tokens = batch.Tokens.data<long>().ToArray();
        Assert.All(tokens.Skip(5).Take(5).Concat(tokens.Skip(12)), t => Assert.Equal(Eos, t));    // row 0: EOS from 5; row 1: from 2
        Assert.Null(batch.ToModelInput(AttentionPolicy.Bidirectional).KeyPadding);
        var maskable = MdlmMethod.Maskable(batch).data<bool>().ToArray();
        Assert.Equal([false, false, false, true, true, true, true, true, true, true], maskable.Take(10));
        Assert.Equal([false, false, true, true, true, true, true, true, true, true], maskable.Skip(10));
        // at t → 1 every response and padding position is masked, so every EOS pad is a target labelled EOS
        var noisy = ForwardMasking.Apply(batch.Tokens, full(new long[] { 2, 10 }, 1.0), new LinearSchedule(), Mask, MdlmMethod.Maskable(batch), new Generator(0));
        Assert.True(noisy.Masked.Equals(MdlmMethod.Maskable(batch)));
    }

    /// <summary>AR on prompt/response data scores response tokens only.</summary>
    [Fact]
    public void TheArMethodSkipsPromptTargetsToo()
    {
        var method = new OpenDllm.Methods.Ar.ArMethod(new TrainingMethodContext(new Recipe(), TinyModel.Value, ByteTokenizer.Instance));
        using var batch = Batch(new Layout(10, [3, 6], [2, 1], 2));
        using var noGrad = no_grad();
        Assert.Equal((10 - 3) + (10 - 6), method.Bound(batch, new Generator(0)).Tokens.item<long>());
    }
}
