// train-tiny: prepare a small corpus and train a tiny masked-diffusion (MDLM) coder on it, from C#.
//
//   dotnet run recipes/train-tiny.cs                              # 1000 steps, 48 stdlib files → runs/recipes/tiny
//   dotnet run recipes/train-tiny.cs -- runs/recipes/tiny --small  # CI size: 20 steps, 24 files (OPENDLLM_RECIPE_SMALL=1 does the same)
//   dotnet run recipes/train-tiny.cs -- OUT --steps 3000 --files 96 --threads 2
//
// What it does: copies a few dozen .py files of this machine's Python standard library (DefaultCorpus.LocateStdlib())
// into a temporary folder, turns them into byte-level token shards with CorpusPreparer.Prepare, parses a training recipe
// from the inline YAML below (a 2-layer, hidden-64 Qwen2 model, about 0.1M parameters), trains it with the MDLM objective
// and saves the checkpoint (a Hugging Face-format folder + tokenizer + trainer state) under OUT/checkpoint-NNNNNNNN.
// A re-run into the same OUT starts again from scratch.
//
// How long: the first run builds OpenDllm.Core (10–30 s); then small mode takes about 5 s in all (0.5 s of training),
// the default 1000 steps about 20 s, on one CPU thread (--threads N; 1 by default, see the recipe's train.threads).
//
// What you should see: the corpus size, the validation NELBO (bits per token) before training (about 8: a uniform guess
// over 262 byte tokens), a few loss lines, the NELBO after (lower: about 5.4 after 20 steps, 4.3 after 1000), and the
// checkpoint path, which recipes/sample.cs takes as its argument. It exits 1 if the NELBO did not go down.
#:project ../OpenDllm.Core/OpenDllm.Core.csproj
#:project ../OpenDllm.Interactive/OpenDllm.Interactive.csproj
#:property OpenDllmTorchNatives=true

using System.Diagnostics;
using System.Globalization;
using OpenDllm.Data;
using OpenDllm.Tokenization;
using OpenDllm.Training;

string[] valued = ["--steps", "--files", "--threads"];
var positional = args.Where((a, i) => !a.StartsWith("--") && (i == 0 || !valued.Contains(args[i - 1]))).ToList();
bool small = args.Contains("--small") || Environment.GetEnvironmentVariable("OPENDLLM_RECIPE_SMALL") is "1" or "true";
int steps = IntOption("--steps", small ? 20 : 1000);
int files = IntOption("--files", small ? 24 : 48);
int threads = IntOption("--threads", 1);
var output = Path.GetFullPath(positional.FirstOrDefault() ?? "runs/recipes/tiny");

// 1. a small corpus: the first N library files of the machine's Python, copied into a temporary folder
var stdlib = DefaultCorpus.LocateStdlib();
var source = DefaultCorpus.Create(stdlib);
var corpusDir = Directory.CreateTempSubdirectory("opendllm-tiny-corpus-").FullName;
try
{
    var picked = source.MatchingFiles()
        .Where(f => f.File.Length is >= 1024 and <= 64 * 1024)         // skip stubs and the few huge modules
        .Take(files).ToList();
    foreach (var (relative, file) in picked)
        file.CopyTo(Path.Combine(corpusDir, relative.Replace('/', '_')));
    Console.WriteLine($"corpus: {picked.Count} files ({picked.Sum(f => f.File.Length) / 1024} KiB) from {stdlib}");

    // 2. corpus → token shards (train + validation split), byte-level tokens
    if (Directory.Exists(output))
    {
        // start fresh, but only delete what this recipe wrote
        bool ours = CheckpointStore.List(output).Count > 0 || File.Exists(Path.Combine(output, MetricsLog.FileName))
                    || Directory.EnumerateFileSystemEntries(output).All(e => Path.GetFileName(e) == "data");
        if (!ours)
            throw new IOException($"{output} exists and is not a training run folder; choose another output path");
        Directory.Delete(output, recursive: true);
    }
    var shards = Path.Combine(output, "data");
    var watch = Stopwatch.StartNew();
    CorpusPreparer.Prepare(new FolderCorpus(corpusDir, new FolderCorpusOptions { Include = ["*.py"] }),
        ByteTokenizer.Instance, shards, new PrepareOptions { ValidationFraction = 0.15, Seed = 0 });
    using (var set = TokenShardSet.Open(shards))
        Console.WriteLine($"shards: {set.Train.DocumentCount} train / {set.Validation.DocumentCount} validation documents, "
                          + $"{set.Train.TokenCount + set.Validation.TokenCount:N0} tokens in {watch.Elapsed.TotalSeconds:F1} s → {shards}");

    // 3. the recipe: the same YAML keys as recipes/quickstart.yaml, with tiny sizes
    var yaml = $"""
        model:
          preset: tiny            # Qwen2 architecture; the sizes below override it
          config:
            hidden_size: 64
            intermediate_size: 176
            num_hidden_layers: 2
            num_attention_heads: 4
            num_key_value_heads: 2
            vocab_size: ~         # taken from the tokenizer (262 byte-level tokens incl. specials)
          shifted_logits: false
        data:
          shards: {shards}
          seq_len: 128
          packing: documents
        train:
          objective: mdlm
          loss: opendllm_v1
          schedule: linear
          time_sampling: per_document
          micro_batch_size: 8
          global_batch_size: 8
          lr: 3.0e-3
          lr_min: 3.0e-4
          warmup_ratio: 0.05
          max_steps: {steps}
          eval_every: 0           # evaluate at the start and the end only
          eval_batches: 4
          save_every: 0
          log_every: 10
          seed: 0
          threads: {threads}      # 1 by default: on a shared 2-core machine, 2 contending threads are several times slower
          output_dir: {output}
        """;
    var recipe = Recipe.Parse(yaml, "train-tiny.cs");

    // 4. train
    using var trainer = Trainer.Create(recipe);
    Console.WriteLine($"model: {trainer.Model.ParameterCount:N0} parameters, device {trainer.Device}, {steps} steps");
    var summary = trainer.Run(progress: new Reporter<TrainProgress>(p =>
    {
        if (p.Step % Math.Max(1, steps / 5) == 0 || p.Step == p.TotalSteps)
            Console.WriteLine($"  step {p.Step,5}/{p.TotalSteps}  loss {p.Loss:F4}  {p.TokensPerSecond:N0} tok/s");
    }));
    Console.WriteLine($"validation NELBO: {summary.First!.BitsPerToken:F3} → {summary.Last!.BitsPerToken:F3} bits/token "
                      + $"(step {summary.First.Step} → {summary.Last.Step}, {summary.Elapsed.TotalSeconds:F1} s)");
    Console.WriteLine($"checkpoint: {summary.Checkpoint}");
    var curves = Path.Combine(output, "training.html");             // loss / NELBO / learning-rate curves, offline page
    OpenDllm.Interactive.TrainingCurves.Load(output).SavePage(curves);
    Console.WriteLine($"curves: {curves}");
    Console.WriteLine($"next: dotnet run recipes/sample.cs -- {Path.GetRelativePath(Environment.CurrentDirectory, summary.Checkpoint!)}");
    if (!(summary.Last.BitsPerToken < summary.First.BitsPerToken))
    {
        Console.Error.WriteLine("train-tiny: the validation NELBO did not go down");
        return 1;
    }
    return 0;
}
finally
{
    Directory.Delete(corpusDir, recursive: true);
}

int IntOption(string name, int fallback)
{
    int i = Array.IndexOf(args, name);
    return i >= 0 && i + 1 < args.Length ? int.Parse(args[i + 1], CultureInfo.InvariantCulture) : fallback;
}

/// <summary>Reports on the training thread (Progress&lt;T&gt; would post to the thread pool).</summary>
sealed class Reporter<T>(Action<T> report) : IProgress<T>
{
    public void Report(T value) => report(value);
}
