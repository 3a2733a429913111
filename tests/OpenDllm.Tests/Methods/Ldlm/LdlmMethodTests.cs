using OpenDllm.Config;
using OpenDllm.Methods.Ldlm;
using OpenDllm.Models;
using OpenDllm.Sampling.Latent;
using OpenDllm.Schedules;
using OpenDllm.Tests.Training;
using OpenDllm.Tokenization;
using OpenDllm.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Methods.Ldlm;

/// <summary>The LDLM training step (SPEC §6.3–6.6): gradients, self-conditioning, γ placement, recipe checks.</summary>
public sealed class LdlmMethodTests
{
    static Qwen2Model TinyEncoder() => new Qwen2Model(ModelConfig.Tiny with { VocabSize = 256, MaskTokenId = 255 }).InitializeWeights(seed: 3);

    static LdlmOptions SmallOptions(GammaPlacement placement = GammaPlacement.EncoderGradient) => new()
    {
        EncoderLayer = -2, GammaPlacement = placement, SigmaDec = 0.5,
        Modules = new LdlmArchitecture
        {
            Latents = 4, LatentDim = 16, PerceiverHeads = 4, EncoderLayers = 1, DecoderLayers = 1, FfnMultiplier = 2,
            TokenDecoderLayers = 1, TokenDecoderHeads = 4, DitLayers = 1, DitWidth = 32, DitHeads = 4,
        },
    };

    static LdlmMethod Method(Qwen2Model encoder, LdlmOptions options) => new(new TrainingMethodContext(
        new Recipe { Data = new DataSection { SeqLen = 16 }, Train = new TrainSection { Objective = LdlmMethod.MethodName, Ldlm = options, Seed = 7 } },
        encoder, ByteTokenizer.Instance));

    /// <summary>One step's loss reaches every trained module and never the frozen encoder.</summary>
    [Fact]
    public void TheLossTrainsEveryModuleAndNeverTheEncoder()
    {
        using var scope = NewDisposeScope();
        using var encoder = TinyEncoder();
        using var method = Method(encoder, SmallOptions());
        using var batch = ValidationNelboTests.Batch(rows: 3, length: 16, documentLength: 8, vocab: 255, seed: 4);
        method.BeginStep(90, 100);                                                   // γ ≈ 0.73: the encoder gets a gradient
        var result = method.Loss(batch, new Generator(5));
        result.Loss.backward();
        Assert.All(encoder.parameters(), p => Assert.False(p.requires_grad));
        Assert.All(encoder.parameters(), p => Assert.True(p.grad is null || p.grad.abs().sum().item<float>() == 0));
        foreach (var (name, p) in method.Modules.named_parameters())
        {
            Assert.True(p.grad is not null, $"{name} got no gradient");
            // adaLN-Zero: the DiT's output layer starts at zero, so at step 0 only it gets a gradient inside the DiT
            if (!name.StartsWith("denoiser.", StringComparison.Ordinal) || name.Contains("output_proj"))
                Assert.True(p.grad!.abs().sum().item<float>() > 0, $"{name} has a zero gradient");
        }
        foreach (var key in new[] { "l_h", "l_w", "l_diff", "gamma", "recon_acc" }) Assert.True(result.Metrics!.ContainsKey(key), key);
        double total = result.Loss.item<float>();
        double parts = result.Metrics!["l_h"].item<float>() + result.Metrics["l_w"].item<float>() + result.Metrics["l_diff"].item<float>();
        Assert.Equal(parts, total, 4);                                             // encoder_gradient: L = L_diff + L_h + L_w
    }

    /// <summary>whole_term scales L_diff by γ(s) in the total; encoder_gradient leaves the value alone and scales only the
    /// encoder's gradient (z_in = γ·z + (1 − γ)·sg(z)).</summary>
    [Fact]
    public void GammaPlacementsChangeTheTotalOrOnlyTheGradient()
    {
        using var scope = NewDisposeScope();
        using var encoder = TinyEncoder();
        using var batch = ValidationNelboTests.Batch(rows: 2, length: 16, documentLength: 16, vocab: 255, seed: 4);
        using var whole = Method(encoder, SmallOptions(GammaPlacement.WholeTerm));
        whole.BeginStep(50, 100);
        var r = whole.Loss(batch, new Generator(5));
        double gamma = OpenDllm.Objectives.DiffusionWarmup.Gamma(50, 100);
        Assert.Equal(gamma, r.Metrics!["gamma"].item<double>(), 12);
        double expected = gamma * r.Metrics["l_diff"].item<float>() + r.Metrics["l_h"].item<float>() + r.Metrics["l_w"].item<float>();
        Assert.Equal(expected, r.Loss.item<float>(), 4);
        using var none = Method(encoder, SmallOptions(GammaPlacement.None));
        none.BeginStep(0, 100);
        Assert.Equal(1.0, none.Loss(batch, new Generator(5)).Metrics!["gamma"].item<double>());
    }

    /// <summary>SPEC §6.6: the self-conditioning pass runs without grad and its output reaches the scored pass detached.</summary>
    [Fact]
    public void TheSelfConditioningPassIsDetached()
    {
        using var scope = NewDisposeScope();
        var spy = new SpyDenoiser();
        var z = randn([2, 3, 4], generator: new Generator(1)).requires_grad_(true);
        var t = tensor(new float[] { 0.3f, 0.7f });
        var loss = SelfConditionedX0Loss.PerSample(spy, new TanDSchedule(), z, t, randn([2, 3, 4], generator: new Generator(2)), selfCondition: true);
        Assert.Equal(2, spy.Calls.Count);
        Assert.False(spy.Calls[0].GradEnabled);                                   // first pass: no graph
        Assert.Equal(0f, spy.Calls[0].ConditionAbsSum);                           // … conditioned on zeros
        Assert.True(spy.Calls[1].GradEnabled);
        Assert.False(spy.Calls[1].ConditionRequiresGrad);                         // second pass: the first's output, detached
        Assert.True(spy.Calls[1].ConditionAbsSum > 0);
        loss.sum().backward();
        Assert.NotNull(z.grad);

        spy.Calls.Clear();
        SelfConditionedX0Loss.PerSample(spy, new TanDSchedule(), z, t, zeros([2, 3, 4]), selfCondition: false);
        Assert.Single(spy.Calls);
        Assert.Equal(0f, spy.Calls[0].ConditionAbsSum);
    }

    /// <summary>A denoiser that records how it was called and returns 2·z_t + 1 (so a self-condition is never zero).</summary>
    sealed class SpyDenoiser : ILatentDenoiser
    {
        public readonly List<(bool GradEnabled, bool ConditionRequiresGrad, float ConditionAbsSum)> Calls = [];
        public long Latents => 3;
        public long LatentDim => 4;
        public Tensor PredictX0(Tensor noisy, Tensor time, Tensor selfCondition)
        {
            Calls.Add((is_grad_enabled(), selfCondition.requires_grad, selfCondition.abs().sum().item<float>()));
            return noisy * 2 + 1 + selfCondition * 0.5;
        }
    }

    [Theory]
    [InlineData("train: { objective: ldlm, loss: mdlm }", "train.loss")]
    [InlineData("train: { objective: ldlm, schedule: cosine }", "train.schedule")]
    [InlineData("train: { objective: ldlm, freeze_layers: mlp }", "train.freeze_layers")]
    [InlineData("train: { objective: ldlm, ldlm: { sigma_dec: -1 } }", "train.ldlm.sigma_dec")]
    [InlineData("train: { objective: ldlm, ldlm: { modules: { vocab_size: 5 } } }", "train.ldlm.modules.vocab_size")]
    [InlineData("train: { objective: ldlm, ldlm: { gamma_placement: sideways } }", "gamma_placement")]
    [InlineData("train: { objective: mdlm, ldlm: { sigma_dec: 1 } }", "train.ldlm")]
    public void RecipesRefuseKeysLdlmWouldIgnore(string train, string key)
    {
        var e = Record.Exception(() => Recipe.Parse($"model: {{ preset: tiny }}\ndata: {{ source: python-stdlib, tokenizer: byte }}\n{train}", "r.yaml"));
        Assert.NotNull(e);
        Assert.Contains(key, e!.Message);
    }

    /// <summary>The encoder layer must exist; the error names the key and the valid range.</summary>
    [Fact]
    public void AnEncoderLayerOutOfRangeIsRefused()
    {
        using var encoder = TinyEncoder();                                          // 2 layers: 3 hidden states
        var e = Assert.Throws<ArgumentOutOfRangeException>(() => Method(encoder, SmallOptions() with { EncoderLayer = 3 }));
        Assert.Contains("train.ldlm.encoder_layer", e.Message);
        Assert.Contains("-3 … 2", e.Message);
    }
}
