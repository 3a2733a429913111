using System.Text.Json.Nodes;
using OpenDllm.Checkpoints;
using OpenDllm.Cli;
using OpenDllm.Training;

namespace OpenDllm.Tests.Sft;

/// <summary>
/// A tiny SFT run through the CLI: <c>model.init_from_recipe</c> trains the base run first (it has no checkpoint yet),
/// then fine-tunes it on prompt/response JSONL one example per row; the held-out NELBO over response tokens falls.
/// </summary>
public sealed class SftTrainingTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("opendllm-sft-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    string BaseRecipe()
    {
        var corpus = Path.Combine(_root, "corpus");
        Directory.CreateDirectory(corpus);
        for (int f = 0; f < 10; f++) File.WriteAllText(Path.Combine(corpus, $"m{f}.py"), $"def f{f}(x):\n    return x + {f}\n");
        var path = Path.Combine(_root, "base.yaml");
        File.WriteAllText(path, $"""
            model: {"{"} preset: tiny, config: {"{"} vocab_size: 262, hidden_size: 32, intermediate_size: 64 {"}"} {"}"}
            data: {"{"} source: folder, path: {corpus}, tokenizer: byte, prepare_dir: {Path.Combine(_root, "base-data")}, val_fraction: 0.2, seq_len: 32 {"}"}
            train: {"{"} micro_batch_size: 4, global_batch_size: 4, lr: 3.0e-3, max_steps: 2, eval_every: 0, eval_batches: 1, save_every: 0, seed: 1, threads: 1, output_dir: {Path.Combine(_root, "base-run")} {"}"}
            """);
        return path;
    }

    string SftRecipe(string basePath, long steps)
    {
        var data = Path.Combine(_root, "sft.jsonl");
        var random = new Random(3);
        File.WriteAllLines(data, Enumerable.Range(0, 60).Select(i =>
        {
            var word = new string(Enumerable.Range(0, 3).Select(_ => (char)('a' + random.Next(6))).ToArray());
            return new JsonObject { ["prompt"] = $"say {word}:", ["response"] = $" {word.ToUpperInvariant()}!" }.ToJsonString();
        }));
        var path = Path.Combine(_root, "sft.yaml");
        File.WriteAllText(path, $"""
            model: {"{"} init_from_recipe: {basePath}, shifted_logits: false {"}"}
            data: {"{"} source: sft, path: {data}, tokenizer: byte, val_fraction: 0.25, seq_len: 16, packing: examples, prepare_dir: {Path.Combine(_root, "sft-data")} {"}"}
            train: {"{"} loss: mdlm, normalization: maskable_tokens, time_sampling: per_sequence, micro_batch_size: 8, global_batch_size: 8, lr: 1.0e-2, lr_min: 1.0e-3, warmup_ratio: 0.1, max_steps: {steps}, eval_every: 0, eval_batches: 4, save_every: 0, seed: 2, threads: 1, output_dir: {Path.Combine(_root, "sft-run")} {"}"}
            """);
        return path;
    }

    [Fact]
    public void TrainingTheRecipeTrainsTheBaseRunFirstAndTheResponseBoundFalls()
    {
        var sft = SftRecipe(BaseRecipe(), steps: 40);
        Assert.Equal(0, CliApp.Run(["train", sft]));

        var baseCheckpoint = CheckpointStore.Latest(Path.Combine(_root, "base-run"));
        Assert.NotNull(baseCheckpoint);                                                       // the base run was trained first
        var run = Path.Combine(_root, "sft-run");
        var saved = Recipe.Load(Path.Combine(CheckpointStore.Latest(run)!, "recipe.json"));
        Assert.Equal(baseCheckpoint, saved.Model.InitFrom);                                  // and the SFT run started from it
        Assert.Null(saved.Model.InitFromRecipe);
        var bounds = File.ReadAllLines(Path.Combine(run, MetricsLog.FileName)).Select(l => JsonNode.Parse(l)!.AsObject())
            .Where(r => r.ContainsKey("val_nelbo_bits")).Select(r => ((long)r["step"]!, (double)r["val_nelbo_bits"]!)).ToList();
        Assert.Equal(0, bounds[0].Item1);
        Assert.Equal(40, bounds[^1].Item1);
        Assert.True(bounds[^1].Item2 < bounds[0].Item2 - 0.5, $"the response NELBO did not fall: {bounds[0].Item2:F3} → {bounds[^1].Item2:F3} bits/token");
    }

    [Fact]
    public void TheLibraryAloneNeedsTheBaseCheckpointAndTheRecipeChecksPacking()
    {
        var recipe = Recipe.Load(SftRecipe(BaseRecipe(), steps: 1));
        var e = Assert.Throws<InvalidOperationException>(() => Trainer.Create(recipe));
        Assert.Contains("model.init_from_recipe", e.Message);
        Assert.Contains("no checkpoint", e.Message);

        var packed = Assert.ThrowsAny<ArgumentException>(() => Recipe.Load(Path.Combine(_root, "sft.yaml"), ["--data.packing=documents"]));
        Assert.Contains("data.packing: examples", packed.Message);
        var both = Assert.ThrowsAny<ArgumentException>(() => Recipe.Load(Path.Combine(_root, "sft.yaml"), ["--model.init_from=x"]));
        Assert.Contains("not both", both.Message);
    }
}
