using Microsoft.ML.OnnxRuntime;
using DenseTensorOf = Microsoft.ML.OnnxRuntime.Tensors;
using Tensor = TorchSharp.torch.Tensor;
using OpenDllm.Attention;
using OpenDllm.Models;
using OpenDllm.Models.Bert;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Tests.Models.Bert;

/// <summary>
/// OpenDllm's BertModel on the converted real MiniLM weights against ONNX Runtime running the package's own model.onnx:
/// last_hidden_state within 1e-5 (max |Δ|), batched with padding and one sentence at a time.
/// </summary>
public sealed class BertOnnxParityTests(Xunit.Abstractions.ITestOutputHelper log)
{
    const double Tolerance = 1e-5;

    static readonly string[] Sentences =
    [
        "The quick brown fox jumps over the lazy dog.",
        "Diffusion language models denoise every masked position at once, instead of writing left to right.",
        "Hello!",
        "In 1905, Albert Einstein published four papers that changed physics: on the photoelectric effect, Brownian motion, "
        + "special relativity, and the equivalence of mass and energy.",
    ];

    static readonly Lazy<BertForMaskedLM> Model = new(() => BertForMaskedLM.FromPretrained(MiniLmFixture.HfDirectory));

    /// <summary>[CLS] ids [SEP], as the package's encoder feeds them.</summary>
    static long[] Ids(BertWordPieceTokenizer tokenizer, string text) =>
        [tokenizer.Special.Bos!.Value, .. tokenizer.Encode(text).Select(i => (long)i), tokenizer.Special.Eos];

    [Fact]
    public void LastHiddenStateMatchesOnnxRuntimeBatchedAndUnbatched()
    {
        var tokenizer = BertWordPieceTokenizer.FromVocab(MiniLmFixture.VocabPath);
        var rows = Sentences.Select(s => Ids(tokenizer, s)).ToArray();
        using var session = new InferenceSession(MiniLmFixture.OnnxPath);
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();

        // batched: right padding with [PAD], attention mask 0 there
        int b = rows.Length, l = rows.Max(r => r.Length);
        var ids = new long[b * l]; var mask = new long[b * l];
        for (int i = 0; i < b; i++)
            for (int j = 0; j < rows[i].Length; j++) { ids[i * l + j] = rows[i][j]; mask[i * l + j] = 1; }
        var expected = RunOnnx(session, ids, mask, b, l);                                      // [B, L, D]
        var actual = Model.Value.Bert.forward(new ModelInput(tensor(ids).view(b, l), AttentionPolicy.Bidirectional,
                                                             KeyPadding: tensor(mask).view(b, l).to(ScalarType.Bool))).LastHiddenState;
        var real = tensor(mask).view(b, l, 1).to(ScalarType.Bool);
        double batched = (actual - expected).abs().masked_fill(real.logical_not(), 0).max().item<float>();
        log.WriteLine($"batched [{b}, {l}]: max |Δ| = {batched:G3}");
        var perRow = (actual - expected).abs().masked_fill(real.logical_not(), 0).amax([1, 2]);
        Assert.True(batched <= Tolerance, $"batched: max |Δ| = {batched:G3} per row {string.Join(", ", perRow.data<float>().ToArray())}");

        // unbatched: each sentence alone, no mask
        foreach (var row in rows)
        {
            var one = RunOnnx(session, row, row.Select(_ => 1L).ToArray(), 1, row.Length);
            var mine = Model.Value.Bert.forward(new ModelInput(tensor(row).view(1, -1), AttentionPolicy.Bidirectional)).LastHiddenState;
            double diff = (mine - one).abs().max().item<float>();
            log.WriteLine($"unbatched [1, {row.Length}]: max |Δ| = {diff:G3}");
            Assert.True(diff <= Tolerance, $"unbatched ({row.Length} tokens): max |Δ| = {diff:G3}");
        }
    }

    [Fact]
    public void HiddenStatesAreEmbeddingsPlusEveryLayerAndEndWithTheLastHiddenState()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var tokens = tensor(new long[] { 101, 7592, 2088, 102 }).view(1, -1);
        var output = Model.Value.forward(new ModelInput(tokens, AttentionPolicy.Bidirectional, ReturnHiddenStates: true));
        Assert.Equal(Model.Value.Config.NumHiddenLayers + 1, output.HiddenStates!.Count);
        var last = Model.Value.Bert.forward(new ModelInput(tokens, AttentionPolicy.Bidirectional)).LastHiddenState;
        Assert.Equal(0f, (output.HiddenStates[^1] - last).abs().max().item<float>());
        Assert.Equal([1L, 4, Model.Value.VocabSize], output.Logits.shape);
    }

    static Tensor RunOnnx(InferenceSession session, long[] ids, long[] mask, int b, int l)
    {
        int[] shape = [b, l];
        var inputs = new List<NamedOnnxValue>
        {
            NamedOnnxValue.CreateFromTensor("input_ids", new DenseTensorOf.DenseTensor<long>(ids, shape)),
            NamedOnnxValue.CreateFromTensor("attention_mask", new DenseTensorOf.DenseTensor<long>(mask, shape)),
            NamedOnnxValue.CreateFromTensor("token_type_ids", new DenseTensorOf.DenseTensor<long>(new long[ids.Length], shape)),
        };
        using var results = session.Run(inputs, ["last_hidden_state"]);
        var hidden = results.First().AsTensor<float>();
        return tensor(hidden.ToArray()).view(b, l, -1);
    }
}
