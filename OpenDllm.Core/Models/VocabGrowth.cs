using static TorchSharp.torch;

namespace OpenDllm.Models;

/// <summary>
/// Adds rows to a trained model's vocabulary (new special tokens such as DreamOn's <c>&lt;expand&gt;</c> and
/// <c>&lt;delete&gt;</c>, SPEC §5.7) without touching what it already knows: every existing parameter is copied, and each
/// new row of the input embedding (and of an untied LM head) is
/// <code>e_new = mean_v(E[v]) + ε,   ε ~ N(0, std²) drawn from a seed</code>
/// The mean keeps a new token's logit h·e_new at the average logit of the old tokens, so it neither dominates nor vanishes
/// from the softmax before training (Hewitt 2021, "Initializing New Word Embeddings for Pretrained Language Models"; torchtune's
/// resize uses the mean, LlamaFactory's default adds N(0, 1/d) noise to it); the seeded noise (std = the
/// recipe's <c>model.init_std</c>, the σ <see cref="LanguageModel.InitializeWeights"/> uses) makes the new rows distinct
/// from each other so they can be told apart. Logits over the old ids are unchanged.
/// </summary>
public static class VocabGrowth
{
    /// <summary>
    /// A new model equal to <paramref name="model"/> with <paramref name="vocabSize"/> rows (≥ the current
    /// <see cref="LanguageModel.VocabSize"/>; equal returns the same model). The caller owns both models. Qwen2 only: another
    /// architecture is an error naming it.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="vocabSize"/> is smaller than the model's.</exception>
    /// <exception cref="NotSupportedException">The model is not a <see cref="Qwen2Model"/>.</exception>
    public static LanguageModel Grow(LanguageModel model, int vocabSize, long seed, double std)
    {
        if (vocabSize < model.VocabSize)
            throw new ArgumentOutOfRangeException(nameof(vocabSize), vocabSize,
                $"vocab_size {vocabSize} is smaller than the checkpoint's {model.VocabSize}; a vocabulary can only grow");
        if (vocabSize == model.VocabSize) return model;
        if (model is not Qwen2Model qwen)
            throw new NotSupportedException($"growing the vocabulary of a {model.ModelType} model is not implemented (qwen2 only)");

        var first = qwen.parameters().First();
        var grown = new Qwen2Model(qwen.Config with { VocabSize = vocabSize }, first.device, first.dtype);
        try
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            using var generator = Sampling.SeededDraws.ForSeed(seed);
            var source = qwen.state_dict();
            foreach (var (name, target) in grown.state_dict())
            {
                var old = source[name];
                if (old.shape.SequenceEqual(target.shape)) { target.copy_(old); continue; }
                // the embedding [V, D] and an untied head [V, D]: old rows as they are, new rows = mean + seeded noise
                long oldRows = old.shape[0];
                target.narrow(0, 0, oldRows).copy_(old);
                var added = target.narrow(0, oldRows, vocabSize - oldRows);
                Sampling.SeededDraws.FillNormal(added, 0, std, generator);
                added.add_(old.mean([0], keepdim: true));
            }
            grown.train(qwen.training);
            return grown;
        }
        catch
        {
            grown.Dispose();
            throw;
        }
    }
}
