using OpenDllm.Training;

namespace OpenDllm.Tests.Training;

/// <summary>A small code-like corpus in a temporary folder and a tiny recipe over it.</summary>
public sealed class TrainingFixture : IDisposable
{
    public TrainingFixture()
    {
        Root = Directory.CreateTempSubdirectory("opendllm-train-").FullName;
        Corpus = Path.Combine(Root, "corpus");
        Directory.CreateDirectory(Corpus);
        var rng = new Random(4);
        for (int f = 0; f < 40; f++)
        {
            var lines = Enumerable.Range(0, 6 + rng.Next(10)).Select(i =>
                $"def f{f}_{i}(x):\n    return x * {rng.Next(100)} + {rng.Next(10)}\n");
            File.WriteAllText(Path.Combine(Corpus, $"m{f}.py"), string.Concat(lines));
        }
    }

    public string Root { get; }
    public string Corpus { get; }

    public string Yaml(string output, string objective = "mdlm", long steps = 4) => $"""
        model:
          preset: tiny
          config:
            vocab_size: 262
            hidden_size: 32
            intermediate_size: 64
        data:
          source: folder
          path: {Corpus}
          tokenizer: byte
          prepare_dir: {Path.Combine(Root, "shards")}
          val_fraction: 0.2
          seq_len: 32
        train:
          objective: {objective}
          micro_batch_size: 2
          global_batch_size: 4
          lr: 3.0e-3
          lr_min: 3.0e-4
          warmup_ratio: 0.25
          max_steps: {steps}
          eval_every: 0
          eval_batches: 2
          save_every: 0
          keep_last: 3
          log_every: 1
          seed: 7
          threads: 1
          output_dir: {output}
        """;

    public Recipe Recipe(string output, string objective = "mdlm", long steps = 4, params string[] overrides) =>
        OpenDllm.Training.Recipe.Parse(Yaml(output, objective, steps), "test-recipe", overrides);

    public void Dispose() => Directory.Delete(Root, recursive: true);
}
