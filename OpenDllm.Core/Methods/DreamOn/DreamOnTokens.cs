using OpenDllm.Tokenization;
using OpenDllm.Training;

namespace OpenDllm.Methods.DreamOn;

/// <summary>
/// The two special ids of DreamOn (SPEC §5.7): a masked position labelled <see cref="Expand"/> stands for two tokens, one
/// labelled <see cref="Delete"/> for none. They are embedding rows of their own, never text: by default the first two rows
/// after the tokenizer's vocabulary (tokenizers decode such ids to nothing), so the byte tokenizer's 262 ids give 262 and
/// 263 and the model needs <c>vocab_size</c> ≥ 264. (DreamOn itself reuses EOS as its delete token; a separate id keeps
/// a real end of text apart from "this position goes away".) A checkpoint records them through its <c>recipe.json</c>
/// (<c>train.objective: dreamon</c>, <c>train.dreamon.*</c>) and its tokenizer, so <see cref="FromCheckpoint"/> finds
/// the same ids the training used.
/// </summary>
public sealed record DreamOnTokens(long Expand, long Delete)
{
    /// <summary>The ids as the sampler reads them (<see cref="Sampling.DreamOnSampler"/> does not depend on training code).</summary>
    public static implicit operator Sampling.EditTokenIds(DreamOnTokens tokens) => new(tokens.Expand, tokens.Delete);

    /// <summary>The name DreamOn gives the expand token (as text in logs and docs).</summary>
    public const string ExpandName = Sampling.EditTokenIds.ExpandName;

    /// <summary>The name of the delete token.</summary>
    public const string DeleteName = Sampling.EditTokenIds.DeleteName;

    /// <summary>
    /// The ids <paramref name="options"/> names, or the defaults (tokenizer vocabulary size and the one after). Refuses ids
    /// that do not fit <paramref name="modelVocab"/> or collide with the tokenizer's special tokens, naming the key.
    /// </summary>
    public static DreamOnTokens Resolve(DreamOnOptions options, ITokenizer tokenizer, int modelVocab, string key = "train.dreamon")
    {
        long expand = options.ExpandTokenId ?? tokenizer.VocabSize;
        long delete = options.DeleteTokenId ?? (options.ExpandTokenId is null ? tokenizer.VocabSize + 1 : Math.Max(expand, tokenizer.VocabSize) + 1);
        foreach (var (name, id) in new[] { ("expand_token_id", expand), ("delete_token_id", delete) })
        {
            if (id >= modelVocab)
                throw new ArgumentOutOfRangeException($"{key}.{name}", id,
                    $"{key}.{name} = {id} does not fit the model's vocab_size {modelVocab}: DreamOn needs two embedding rows after the tokenizer's " +
                    $"{tokenizer.VocabSize} ids; set model.config.vocab_size: {Math.Max(expand, delete) + 1} (or larger)");
            foreach (var (special, sid) in tokenizer.Special.All())
                if (sid == id)
                    throw new ArgumentOutOfRangeException($"{key}.{name}", id, $"{key}.{name} = {id} is the tokenizer's {special} token; pick a free embedding row");
        }
        if (expand == delete)
            throw new ArgumentOutOfRangeException($"{key}.delete_token_id", delete, $"{key}.delete_token_id = {delete} equals {key}.expand_token_id");
        return new DreamOnTokens(expand, delete);
    }

    /// <summary>
    /// The ids of <paramref name="directory"/> when its <c>recipe.json</c> says <c>train.objective: dreamon</c>, otherwise
    /// null (no recipe.json, as in a Hugging Face folder, or another objective). A DreamOn recipe whose ids are invalid is
    /// an error, as in <see cref="FromCheckpoint"/>.
    /// </summary>
    public static DreamOnTokens? TryFromCheckpoint(string directory, ITokenizer tokenizer, int modelVocab)
    {
        var path = Path.Combine(directory, "recipe.json");
        if (!File.Exists(path)) return null;
        string? objective;
        try { objective = System.Text.Json.Nodes.JsonNode.Parse(File.ReadAllText(path))?["train"]?["objective"]?.GetValue<string>(); }
        catch (Exception e) when (e is System.Text.Json.JsonException or InvalidOperationException)
        {
            throw new InvalidDataException($"{path}: cannot read train.objective ({e.Message})", e);
        }
        return objective == DreamOnMethod.MethodName ? FromCheckpoint(directory, tokenizer, modelVocab) : null;
    }

    /// <summary>
    /// The ids a DreamOn checkpoint was trained with: its <c>recipe.json</c> must say <c>train.objective: dreamon</c>.
    /// Anything else is a one-line error saying that variable-length infilling needs a DreamOn-trained checkpoint.
    /// </summary>
    public static DreamOnTokens FromCheckpoint(string directory, ITokenizer tokenizer, int modelVocab)
    {
        var path = Path.Combine(directory, "recipe.json");
        if (!File.Exists(path))
            throw new InvalidOperationException($"{directory}: no recipe.json, so no {ExpandName}/{DeleteName} tokens are known; variable-length infilling " +
                "needs a checkpoint trained with train.objective: dreamon (e.g. recipes/dreamon-tiny.yaml); use --length-mode oracle or fixed");
        var recipe = Recipe.Load(path);
        if (recipe.Train.Objective != DreamOnMethod.MethodName)
            throw new InvalidOperationException($"{directory}: trained with train.objective: {recipe.Train.Objective}, which has no {ExpandName}/{DeleteName} " +
                "tokens; variable-length infilling needs a checkpoint trained with train.objective: dreamon (e.g. recipes/dreamon-tiny.yaml); use --length-mode oracle or fixed");
        return Resolve(recipe.Train.DreamOn ?? new DreamOnOptions(), tokenizer, modelVocab, $"{path}: train.dreamon");
    }
}
