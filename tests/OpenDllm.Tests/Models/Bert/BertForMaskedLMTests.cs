using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Models;
using OpenDllm.Models.Bert;
using OpenDllm.Objectives;
using OpenDllm.Sampling;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models.Bert;

/// <summary>The tiny BERT: HF names, save/load, BertModel checkpoints into the MLM, the head bias in the chunked loss, a sampler.</summary>
public sealed class BertForMaskedLMTests : IDisposable
{
    readonly string _dir = Directory.CreateTempSubdirectory("opendllm-bert-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    static BertForMaskedLM Tiny(long seed = 1) => new BertForMaskedLM(BertConfig.Tiny).InitializeWeights(seed, std: 0.2);

    [Fact]
    public void ParameterNamesAreTheHuggingFaceOnes()
    {
        using var model = Tiny();
        var names = model.state_dict().Keys.ToHashSet();
        foreach (var name in new[]
                 {
                     "bert.embeddings.word_embeddings.weight", "bert.embeddings.position_embeddings.weight",
                     "bert.embeddings.token_type_embeddings.weight", "bert.embeddings.LayerNorm.weight", "bert.embeddings.LayerNorm.bias",
                     "bert.encoder.layer.1.attention.self.query.weight", "bert.encoder.layer.1.attention.self.key.bias",
                     "bert.encoder.layer.1.attention.self.value.weight", "bert.encoder.layer.1.attention.output.dense.weight",
                     "bert.encoder.layer.1.attention.output.LayerNorm.bias", "bert.encoder.layer.1.intermediate.dense.weight",
                     "bert.encoder.layer.1.output.dense.bias", "bert.encoder.layer.1.output.LayerNorm.weight",
                     "cls.predictions.transform.dense.weight", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.bias",
                 })
            Assert.Contains(name, names);
        Assert.Equal(5 + 2 * 16 + 5, names.Count);
        Assert.DoesNotContain(names, n => n.Contains("decoder"));
    }

    [Fact]
    public void SavePretrainedLoadsBackBitExactly()
    {
        using var model = Tiny();
        model.SavePretrained(_dir);
        using var loaded = BertForMaskedLM.FromPretrained(_dir);
        Assert.Empty(loaded.LoadReport!.Initialized);
        foreach (var (name, tensor) in model.state_dict())
            Assert.True(Fixture.Same(tensor, loaded.state_dict()[name]), name);
        using var scope = NewDisposeScope();
        model.eval();
        var tokens = tensor(new long[] { 5, 6, 4, 7 }).view(1, -1);
        Assert.True(Fixture.Same(model.Logits(tokens, AttentionPolicy.Bidirectional), loaded.Logits(tokens, AttentionPolicy.Bidirectional)));
    }

    [Fact]
    public void APlainBertModelCheckpointLoadsWithAFreshSeededMlmHead()
    {
        using var source = Tiny(3);
        // a sentence-transformers layout: no "bert." prefix, a pooler, no cls.*
        using (var scope = NewDisposeScope())
        {
            var tensors = source.state_dict().Where(kv => kv.Key.StartsWith("bert.")).Select(kv => (kv.Key["bert.".Length..], kv.Value)).ToList();
            tensors.Add(("pooler.dense.weight", zeros(32, 32)));
            tensors.Add(("pooler.dense.bias", zeros(32)));
            SafetensorsWriter.Save(Path.Combine(_dir, "model.safetensors"), tensors);
        }
        (BertConfig.Tiny with { Architectures = ["BertModel"] }).Save(_dir);

        using var a = BertForMaskedLM.FromPretrained(_dir, initSeed: 7);
        using var b = BertForMaskedLM.FromPretrained(_dir, initSeed: 7);
        using var c = BertForMaskedLM.FromPretrained(_dir, initSeed: 8);
        var report = a.LoadReport!;
        Assert.Equal(["cls.predictions.bias", "cls.predictions.transform.LayerNorm.bias", "cls.predictions.transform.LayerNorm.weight",
                      "cls.predictions.transform.dense.bias", "cls.predictions.transform.dense.weight"], report.Initialized.Order(StringComparer.Ordinal));
        Assert.Equal(["pooler.dense.bias", "pooler.dense.weight"], report.Ignored.Select(i => i.Key).Order());
        Assert.Contains(report.Notes(7), n => n.StartsWith("initialised from seed 7"));
        var w = "cls.predictions.transform.dense.weight";
        Assert.True(Fixture.Same(a.state_dict()[w], b.state_dict()[w]));
        Assert.False(Fixture.Same(a.state_dict()[w], c.state_dict()[w]));
        Assert.True(Fixture.Same(source.state_dict()["bert.encoder.layer.0.attention.self.query.weight"],
                                 a.state_dict()["bert.encoder.layer.0.attention.self.query.weight"]));
    }

    [Fact]
    public void AMissingEncoderTensorIsRefusedNamingIt()
    {
        using var source = Tiny();
        using (var scope = NewDisposeScope())
            SafetensorsWriter.Save(Path.Combine(_dir, "model.safetensors"),
                source.state_dict().Where(kv => kv.Key != "bert.encoder.layer.1.output.dense.bias").Select(kv => (kv.Key, kv.Value)));
        BertConfig.Tiny.Save(_dir);
        var error = Assert.Throws<CheckpointMismatchException>(() => BertForMaskedLM.FromPretrained(_dir));
        Assert.Contains("bert.encoder.layer.1.output.dense.bias", error.Message);
    }

    [Theory]
    [InlineData("hidden_act", "\"gelu_new\"")]
    [InlineData("position_embedding_type", "\"relative_key\"")]
    [InlineData("is_decoder", "true")]
    [InlineData("tie_word_embeddings", "false")]
    public void SettingsThatChangeTheNumbersAreRefusedNamingFileAndKey(string key, string value)
    {
        var json = BertConfig.Tiny.ToJson().TrimEnd().TrimEnd('}') + $",\n  \"{key}\": {value}\n}}";
        var file = Path.Combine(_dir, "config.json");
        File.WriteAllText(file, json.Replace($"\"{key}\": \"gelu\",", "").Replace($"\"{key}\": \"absolute\",", ""));
        var error = Assert.ThrowsAny<ArgumentException>(() => BertConfig.Load(_dir));
        Assert.Contains(file, error.Message);
        Assert.Contains(key, error.Message);
    }

    [Fact]
    public void ACacheIsRefused()
    {
        using var model = Tiny();
        using var scope = NewDisposeScope();
        var input = new ModelInput(tensor(new long[] { 5, 6 }).view(1, -1), AttentionPolicy.Causal, ReturnCache: true);
        Assert.Throws<NotSupportedException>(() => model.forward(input));
    }

    [Fact]
    public void ChunkedLossWithTheHeadBiasEqualsTheDenseLossValueAndGradient()
    {
        using var model = Tiny();
        model.eval();
        using var scope = NewDisposeScope();
        using (no_grad()) model.HeadBias.copy_(linspace(-2, 2, model.VocabSize));   // a bias that matters
        var tokens = tensor(new long[] { 5, 6, 7, 8, 9, 10 }).view(2, 3);
        var target = tensor(new long[] { 11, 12, 13, 14, 15, 16 });
        var input = new ModelInput(tokens, AttentionPolicy.Bidirectional);

        var dense = nn.functional.cross_entropy(model.forward(input).Logits.view(6, -1), target, reduction: nn.Reduction.Sum);
        dense.backward();
        var denseGrad = model.HeadBias.grad!.clone();
        model.zero_grad();

        var head = model.ForwardToHead(input) with { ChunkRows = 4 };
        Assert.NotNull(head.Bias);
        var chunked = ChunkedCrossEntropy.Compute(head.Hidden.view(6, -1), head.Weight, target, chunkRows: head.ChunkRows, bias: head.Bias).sum();
        chunked.backward();
        Fixture.AssertClose(dense, chunked, 1e-4, "loss");
        Fixture.AssertClose(denseGrad, model.HeadBias.grad!, 1e-5, "bias gradient");
        // without the bias the loss differs: the bias is really applied
        var unbiased = ChunkedCrossEntropy.Compute(head.Hidden.view(6, -1).detach(), head.Weight.detach(), target).sum();
        Assert.True(Math.Abs(unbiased.item<float>() - chunked.item<float>()) > 1e-2);
    }

    [Fact]
    public void TheMaskedDiffusionSamplerDecodesEveryMaskWithBert()
    {
        using var model = Tiny();
        model.eval();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var denoiser = new ModelDenoiser(model);
        Assert.False(denoiser.ShiftedLogits);
        var canvas = Canvas.ForCompletion([[5L, 6, 7], [8L, 9]], 10, denoiser.MaskId, BertConfig.Tiny.PadTokenId);
        var output = new MaskedDiffusionSampler(new() { Steps = 5 }).Sample(denoiser, canvas);
        Assert.Equal(0L, output.Sequences.eq(denoiser.MaskId).sum().item<long>());
        Assert.Equal([2L, 13], output.Sequences.shape);   // longest prompt + 10 new positions
    }
}
