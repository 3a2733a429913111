using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.Checkpoints;
using OpenDllm.Data;
using OpenDllm.Runtime;
using OpenDllm.Tokenization;
using TorchSharp;
using static TorchSharp.torch;

namespace OpenDllm.Training;

public sealed partial class Trainer
{
    const string OptimizerFile = "optimizer.bin";
    const string RecipeFile = "recipe.json";

    /// <summary>
    /// Builds tokenizer, data (preparing <c>data.source</c> when no shards are given), model and optimizer from a recipe,
    /// and resumes from the newest checkpoint in <c>train.output_dir</c> when there is one (it must match the recipe).
    /// </summary>
    public static Trainer Create(Recipe recipe, IProgress<PrepareProgress>? prepareProgress = null)
    {
        TorchRuntime.EnsureLoaded();
        var precision = TrainingPrecisions.Resolve(recipe.Train);   // before anything is written: a bad value fails first
        recipe = recipe with { Train = recipe.Train with { Precision = precision.Name(), Dtype = null } };   // saved resolved
        var t = recipe.Train;
        torch.set_num_threads(t.Threads ?? Environment.ProcessorCount);
        var device = TorchRuntime.ParseDevice(t.Device, "train.device");
        var tokenizer = recipe.Data.Tokenizer == "byte" ? (ITokenizer)ByteTokenizer.Instance
            : Tokenizers.Load(recipe.Data.Tokenizer, recipe.Model.InitFrom is { } init ? OpenDllm.Config.ModelConfig.Load(init).VocabSize : null);
        var shards = OpenShards(recipe.Data, tokenizer, t.Seed, prepareProgress);
        var model = ModelPresets.Build(recipe.Model, tokenizer, device, t.Seed);
        TrainingPrecisions.Apply(model, precision);
        var trainer = new Trainer(recipe, model, tokenizer, shards, device);
        if (CheckpointStore.Latest(t.OutputDir) is { } latest)
        {
            TrainingPrecisions.EnsureResumable(latest, precision);
            trainer.Resume(latest);
        }
        return trainer;
    }

    static TokenShardSet OpenShards(DataSection data, ITokenizer tokenizer, long seed, IProgress<PrepareProgress>? progress)
    {
        if (data.Shards is { } dir)
        {
            var set = TokenShardSet.Open(dir);
            set.EnsureTokenizer(tokenizer);
            return set;
        }
        var output = data.PrepareDir;
        if (File.Exists(Path.Combine(output, ShardManifest.FileName)))
        {
            var existing = TokenShardSet.Open(output, verify: false);
            if (existing.Manifest.Tokenizer.Name == tokenizer.Name && existing.Manifest.Settings.ValidationFraction == data.ValFraction
                && existing.Manifest.Settings.MaxDocuments == data.MaxDocuments)
                return existing;
            existing.Dispose();
        }
        ICorpus corpus = data.Source switch
        {
            "python-stdlib" => DefaultCorpus.Create(data.Path),
            "folder" => new FolderCorpus(data.Path ?? throw new ArgumentException("data.path is required for data.source = folder"), new FolderCorpusOptions()),
            "jsonl" => new JsonlCorpus(data.Path ?? throw new ArgumentException("data.path is required for data.source = jsonl"), data.Field ?? "text"),
            _ => new ParquetCorpus(data.Path ?? throw new ArgumentException("data.path is required for data.source = parquet"), data.Field),
        };
        CorpusPreparer.Prepare(corpus, tokenizer, output,
            new PrepareOptions { ValidationFraction = data.ValFraction, Seed = seed, MaxDocuments = data.MaxDocuments }, progress);
        return TokenShardSet.Open(output, verify: false);
    }

    /// <summary>Restores weights, optimizer moments, step, schedule plan, data cursor and RNG from a checkpoint.</summary>
    void Resume(string checkpoint)
    {
        var state = TrainerState.Load(checkpoint);
        if (state.Tokenizer != Tokenizer.Name || state.Objective != Recipe.Train.Objective)
            throw new InvalidDataException($"{checkpoint}: incompatible checkpoint in train.output_dir (tokenizer {state.Tokenizer}, objective "
                + $"{state.Objective}; the recipe has {Tokenizer.Name}, {Recipe.Train.Objective}); choose another --train.output_dir");
        StateDictIO.Load(Model, checkpoint);                    // strict: a different architecture lists the mismatched keys
        _optimizer.load_state_dict(Path.Combine(checkpoint, OptimizerFile));
        _rng.set_state(tensor(Convert.FromBase64String(state.MaskingRng)));
        _train.Cursor = state.Cursor;
        (Step, TokensSeen, _elapsedBefore) = (state.Step, state.TokensSeen, state.ElapsedSeconds);
        // the plan made from the time budget is part of the state; otherwise the recipe's max_steps (it may have been raised)
        TotalSteps = Recipe.Train.FitStepsToTime ? state.TotalSteps : Recipe.Train.MaxSteps;
        ResumedFrom = checkpoint;
    }

    /// <summary>Writes a checkpoint atomically: HF model directory + tokenizer + optimizer + trainer state + resolved recipe.</summary>
    public string SaveCheckpoint(double? lastLoss = null) =>
        CheckpointStore.Save(Recipe.Train.OutputDir, Step, Recipe.Train.KeepLast, dir =>
        {
            Model.SavePretrained(dir);
            Tokenizer.Save(dir);
            _optimizer.save_state_dict(Path.Combine(dir, OptimizerFile));
            using var rng = _rng.get_state();
            new TrainerState
            {
                Step = Step, TotalSteps = TotalSteps, TokensSeen = TokensSeen, ElapsedSeconds = Elapsed.TotalSeconds,
                Cursor = _train.Cursor, MaskingRng = Convert.ToBase64String(rng.data<byte>().ToArray()),
                Tokenizer = Tokenizer.Name, Objective = Recipe.Train.Objective, LastLoss = lastLoss,
            }.Save(dir);
            Recipe.Save(Path.Combine(dir, RecipeFile));
        });

    /// <summary>
    /// Trains until <c>max_steps</c>, the time budget or cancellation (Ctrl-C), evaluating and saving on schedule; always
    /// ends with an evaluation and a checkpoint. Metrics go to <c>metrics.jsonl</c> in the output folder.
    /// </summary>
    public TrainSummary Run(CancellationToken cancel = default, IProgress<TrainProgress>? progress = null, Action<EvalResult>? onEval = null)
    {
        var t = Recipe.Train;
        Directory.CreateDirectory(t.OutputDir);
        var budget = t.MaxMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : (TimeSpan?)null;
        EvalResult Eval()
        {
            var e = Evaluate();
            _metrics.Write(new JsonObject { ["step"] = e.Step, [e.Metric] = e.BitsPerToken, ["eval_tokens"] = e.Tokens });
            onEval?.Invoke(e);
            return e;
        }
        var first = ResumedFrom is null ? Eval() : null;
        EvalResult? last = first;
        double loss = double.NaN;
        var window = Stopwatch.StartNew();
        long windowTokens = 0, fitAfter = Step + 5;
        bool interrupted = false;
        while (Step < TotalSteps)
        {
            if (cancel.IsCancellationRequested) { interrupted = true; break; }
            if (budget is { } b && Elapsed >= b) break;
            long before = TokensSeen;
            (loss, double norm) = TrainStep();
            windowTokens += TokensSeen - before;
            if (t.FitStepsToTime && budget is { } limit && Step == fitAfter)
            {
                double perStep = Elapsed.TotalSeconds / Step;
                TotalSteps = Math.Clamp(Step + (long)((limit - Elapsed).TotalSeconds / perStep), Step + 1, t.MaxSteps);
            }
            double tps = windowTokens / Math.Max(1e-9, window.Elapsed.TotalSeconds);
            if (Step % t.LogEvery == 0 || Step == TotalSteps)
            {
                _metrics.Write(new JsonObject
                {
                    ["step"] = Step, ["loss"] = loss, ["lr"] = LearningRates.At(Step - 1), ["grad_norm"] = norm,
                    ["tokens"] = TokensSeen, ["tokens_per_s"] = tps, ["elapsed_s"] = Elapsed.TotalSeconds,
                });
                window.Restart(); windowTokens = 0;
            }
            var remaining = TimeSpan.FromSeconds(Elapsed.TotalSeconds / Step * (TotalSteps - Step));
            progress?.Report(new TrainProgress(Step, TotalSteps, loss, LearningRates.At(Step - 1), norm, tps, Elapsed, remaining));
            if (t.EvalEvery > 0 && Step % t.EvalEvery == 0 && Step < TotalSteps) last = Eval();
            if (t.SaveEvery > 0 && Step % t.SaveEvery == 0 && Step < TotalSteps) SaveCheckpoint(loss);
        }
        _clock.Stop();
        last = Eval();
        var checkpoint = SaveCheckpoint(double.IsNaN(loss) ? null : loss);
        return new TrainSummary(Step, first, last, checkpoint, Elapsed, interrupted);
    }
}
