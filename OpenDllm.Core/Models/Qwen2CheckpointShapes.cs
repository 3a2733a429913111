using System.Globalization;
using OpenDllm.Checkpoints;
using OpenDllm.Config;

namespace OpenDllm.Models;

/// <summary>
/// What a <see cref="ModelConfig"/> implies about a Qwen2 checkpoint, checked against the safetensors headers alone,
/// before any tensor is allocated: a config that disagrees with the weights (say hidden_size 8192 against a 111 KB file)
/// fails here in microseconds, naming the field, instead of after allocating the model it describes.
/// </summary>
public static class Qwen2CheckpointShapes
{
    const string Embed = "model.embed_tokens.weight";
    const string Head = "lm_head.weight";

    /// <summary>
    /// The tensors (Hugging Face names, shapes) a <see cref="Qwen2Model"/> built from <paramref name="config"/> holds, in
    /// state-dict order; <c>lm_head.weight</c> only when the head is not tied. With D = hidden_size, I = intermediate_size,
    /// V = vocab_size, d = head_dim, H / H_kv = attention / key-value heads: embeddings [V, D]; per layer q [H·d, D] + bias,
    /// k and v [H_kv·d, D] + biases, o [D, H·d], gate and up [I, D], down [D, I], two norms [D]; final norm [D]; head [V, D].
    /// Lazy, so a huge <c>num_hidden_layers</c> costs nothing until enumerated.
    /// </summary>
    public static IEnumerable<(string Name, long[] Shape)> Expected(ModelConfig config)
    {
        long d = config.HiddenSize, inter = config.IntermediateSize, vocab = config.VocabSize;
        long q = (long)config.NumAttentionHeads * config.HeadDim, kv = (long)config.KeyValueHeads * config.HeadDim;
        yield return (Embed, [vocab, d]);
        for (int i = 0; i < config.NumHiddenLayers; i++)
        {
            var p = $"model.layers.{i}.";
            yield return (p + "input_layernorm.weight", [d]);
            yield return (p + "self_attn.q_proj.weight", [q, d]);
            yield return (p + "self_attn.q_proj.bias", [q]);
            yield return (p + "self_attn.k_proj.weight", [kv, d]);
            yield return (p + "self_attn.k_proj.bias", [kv]);
            yield return (p + "self_attn.v_proj.weight", [kv, d]);
            yield return (p + "self_attn.v_proj.bias", [kv]);
            yield return (p + "self_attn.o_proj.weight", [d, q]);
            yield return (p + "post_attention_layernorm.weight", [d]);
            yield return (p + "mlp.gate_proj.weight", [inter, d]);
            yield return (p + "mlp.up_proj.weight", [inter, d]);
            yield return (p + "mlp.down_proj.weight", [d, inter]);
        }
        yield return ("model.norm.weight", [d]);
        if (!config.TieWordEmbeddings) yield return (Head, [vocab, d]);
    }

    /// <summary>Number of parameters <paramref name="config"/> implies (as a double: absurd configs overflow a long).</summary>
    public static double ParameterCount(ModelConfig config)
    {
        double d = config.HiddenSize, inter = config.IntermediateSize, vocab = config.VocabSize;
        double q = (double)config.NumAttentionHeads * config.HeadDim, kv = (double)config.KeyValueHeads * config.HeadDim;
        double layer = 2 * d + (q * d + q) + 2 * (kv * d + kv) + d * q + 3 * inter * d;
        return vocab * d * (config.TieWordEmbeddings ? 1 : 2) + config.NumHiddenLayers * layer + d;
    }

    /// <summary>
    /// Compares <paramref name="config"/> with the checkpoint's headers and throws <see cref="CheckpointMismatchException"/>
    /// when they disagree. The first line of the message names the config fields at fault (the layer count, hidden_size,
    /// vocab_size, intermediate_size, heads × head_dim, tie_word_embeddings, the Qwen2 bias layout) with the shapes that
    /// contradict them; the tensor-level lists follow. A tied config accepts a stray <c>lm_head.weight</c>.
    /// </summary>
    public static void Check(ModelConfig config, SafetensorsCheckpoint checkpoint, string configSource = "config.json")
    {
        var problems = new List<string>();
        var layers = LayerIndices(checkpoint);

        // 1. the layer count first: a config with 2^31 layers must not enumerate them
        if (config.NumHiddenLayers != layers.Count)
            problems.Add($"num_hidden_layers = {config.NumHiddenLayers}, but the checkpoint holds {layers.Count} layer{(layers.Count == 1 ? "" : "s")}"
                         + (layers.Count > 0 ? $" (model.layers.{layers.Min()} … model.layers.{layers.Max()})" : ""));

        // 2. the sizes, read off the embedding and the first layer
        Compare(checkpoint, Embed, 1, config.HiddenSize, "hidden_size", problems);
        Compare(checkpoint, Embed, 0, config.VocabSize, "vocab_size", problems);
        var first = $"model.layers.{(layers.Count > 0 ? layers.Min() : 0)}.";
        Compare(checkpoint, first + "mlp.gate_proj.weight", 0, config.IntermediateSize, "intermediate_size", problems);
        Compare(checkpoint, first + "self_attn.q_proj.weight", 0, (long)config.NumAttentionHeads * config.HeadDim,
            $"num_attention_heads × head_dim = {config.NumAttentionHeads} × {config.HeadDim}", problems);
        Compare(checkpoint, first + "self_attn.k_proj.weight", 0, (long)config.KeyValueHeads * config.HeadDim,
            $"num_key_value_heads × head_dim = {config.KeyValueHeads} × {config.HeadDim}", problems);
        if (layers.Count > 0 && checkpoint.Contains(first + "self_attn.q_proj.weight") && !checkpoint.Contains(first + "self_attn.q_proj.bias"))
            problems.Add($"the checkpoint has no {first}self_attn.q_proj.bias, but Qwen2 attention has q/k/v biases (not a Qwen2 checkpoint?)");
        if (!config.TieWordEmbeddings && !checkpoint.Contains(Head))
            problems.Add($"tie_word_embeddings = false, but the checkpoint has no {Head}");

        if (config.NumHiddenLayers != layers.Count)
            throw new CheckpointMismatchException(checkpoint.Directory, [], [], [], WithSize(problems, config, checkpoint), configSource);

        // 3. every tensor, now that the count is bounded by the checkpoint's own
        var expected = new HashSet<string>(StringComparer.Ordinal);
        var missing = new List<string>();
        var shapes = new List<ShapeMismatch>();
        foreach (var (name, shape) in Expected(config))
        {
            expected.Add(name);
            if (!checkpoint.Contains(name)) missing.Add(name);
            else if (!checkpoint.GetEntry(name).Shape.AsSpan().SequenceEqual(shape)) shapes.Add(new ShapeMismatch(name, shape, checkpoint.GetEntry(name).Shape));
        }
        var unexpected = checkpoint.Names.Where(n => !expected.Contains(n) && !(config.TieWordEmbeddings && n == Head)).ToList();
        if (problems.Count == 0 && missing.Count == 0 && unexpected.Count == 0 && shapes.Count == 0) return;
        if (problems.Count == 0) problems.Add(Describe(missing, unexpected, shapes));
        throw new CheckpointMismatchException(checkpoint.Directory, missing, unexpected, shapes, WithSize(problems, config, checkpoint), configSource);
    }

    /// <summary>The distinct layer indices i of <c>model.layers.{i}.*</c> names.</summary>
    static SortedSet<long> LayerIndices(SafetensorsCheckpoint checkpoint)
    {
        const string Prefix = "model.layers.";
        var indices = new SortedSet<long>();
        foreach (var name in checkpoint.Names)
        {
            if (!name.StartsWith(Prefix, StringComparison.Ordinal)) continue;
            int dot = name.IndexOf('.', Prefix.Length);
            if (dot > Prefix.Length && long.TryParse(name.AsSpan(Prefix.Length, dot - Prefix.Length), NumberStyles.None, CultureInfo.InvariantCulture, out var i))
                indices.Add(i);
        }
        return indices;
    }

    static void Compare(SafetensorsCheckpoint checkpoint, string tensor, int axis, long expected, string field, List<string> problems)
    {
        if (!checkpoint.Contains(tensor)) return;
        var shape = checkpoint.GetEntry(tensor).Shape;
        if (shape.Length != 2 || shape[axis] == expected) return;
        problems.Add($"{field} = {expected} does not fit {tensor} {SafetensorsEntry.FormatShape(shape)}, which implies {shape[axis]}");
    }

    static string Describe(List<string> missing, List<string> unexpected, List<ShapeMismatch> shapes) =>
        shapes.Count > 0 ? $"{shapes[0]}"
        : missing.Count > 0 ? $"the checkpoint lacks {missing[0]}{(missing.Count > 1 ? $" and {missing.Count - 1} more" : "")}"
        : $"the checkpoint holds {unexpected[0]}{(unexpected.Count > 1 ? $" and {unexpected.Count - 1} more" : "")}, which a Qwen2 model of this config does not have";

    static List<string> WithSize(List<string> problems, ModelConfig config, SafetensorsCheckpoint checkpoint)
    {
        double implied = ParameterCount(config);
        double held = checkpoint.Names.Sum(n => (double)checkpoint.GetEntry(n).ElementCount);
        if (implied > held)
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"the config implies {implied:N0} parameters; the checkpoint holds {held:N0}"));
        return problems;
    }
}
