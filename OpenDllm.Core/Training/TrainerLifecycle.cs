using System.Diagnostics;
using System.Text.Json.Nodes;
using OpenDllm.Checkpoints;
using OpenDllm.Data;
using OpenDllm.Distributed;
using OpenDllm.Models;
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
    /// and resumes from the newest complete checkpoint in <c>train.output_dir</c> when there is one (it must match the
    /// recipe). Before anything large is allocated it checks <c>data.seq_len</c> against the model's
    /// <c>max_position_embeddings</c> and a memory lower bound (<see cref="MemoryEstimate"/>) against the memory available;
    /// it removes what an interrupted run left in the output folder (<see cref="CheckpointStore.CleanUp"/>) and cuts
    /// <c>metrics.jsonl</c> back to the step it resumes from.
    /// </summary>
    /// <param name="cancel">Stops data preparation (<see cref="OperationCanceledException"/>); nothing is written then.</param>
    /// <param name="log">Receives one-line notes: a data folder prepared again and why, leftovers removed.</param>
    /// <param name="parallel">The processes of a data-parallel job (<see cref="DataParallel"/>; default one process). Rank 0
    /// prepares the data and cleans the output folder first; every rank then checks that all ranks run the same recipe and
    /// data, and starts from rank 0's weights.</param>
    public static Trainer Create(Recipe recipe, IProgress<PrepareProgress>? prepareProgress = null, CancellationToken cancel = default,
                                 Action<string>? log = null, DataParallel? parallel = null)
    {
        parallel ??= DataParallel.Single;
        TorchRuntime.EnsureLoaded();
        recipe = BaseRun.Resolve(recipe, trainBase: null, log);       // model.init_from_recipe → its newest checkpoint
        var precision = TrainingPrecisions.Resolve(recipe.Train);   // before anything is written: a bad value fails first
        recipe = recipe with { Train = recipe.Train with { Precision = precision.Name(), Dtype = null } };   // saved resolved
        var t = recipe.Train;
        // ranks sharing a node share its cores
        torch.set_num_threads(t.Threads ?? Math.Max(1, Environment.ProcessorCount / parallel.RanksOnThisNode));
        var device = TorchRuntime.ParseDevice(t.Device, "train.device");
        if (parallel.IsDistributed) device = Collectives.LocalDevice(device);      // cuda → this rank's cuda:LOCAL_RANK
        var tokenizer = recipe.Data.Tokenizer == "byte" ? (ITokenizer)ByteTokenizer.Instance
            : Tokenizers.Load(recipe.Data.Tokenizer, recipe.Model.InitFrom is { } init ? PretrainedModels.VocabSize(init) : null);
        EnsureFits(recipe, tokenizer, device, precision);
        parallel.EnsureSameRun((recipe with { Train = recipe.Train with { Device = null, Threads = null } }).ToJson(), "");   // per-rank settings aside
        TokenShardSet? shards = null;
        // rank 0 prepares the data (when needed) and removes an interrupted run's leftovers; the others then open the data
        parallel.RootFirst("preparing the data", () =>
        {
            shards = OpenShards(recipe, tokenizer, prepareProgress, cancel, log);
            foreach (var removed in CheckpointStore.CleanUp(t.OutputDir))
                log?.Invoke($"removed {removed} (left by an interrupted run)");
        }, parallel.Group.Timeout < TimeSpan.FromHours(1) ? TimeSpan.FromHours(1) : null);
        shards ??= OpenShards(recipe, tokenizer, prepareProgress, cancel, log);
        Trainer? trainer = null;
        try
        {
            var model = TrainingPrecisions.Apply(ModelPresets.Build(recipe.Model, tokenizer, device, t.Seed), precision);
            foreach (var note in model.LoadNotes) log?.Invoke($"{recipe.Model.InitFrom}: {note}");
            var lora = t.Lora is { } l ? TrainerLora.Attach(model, l.ToOptions(t.Seed)) : null;   // after init_from weights and precision
            trainer = new Trainer(recipe, model, tokenizer, shards, device, lora, parallel);
            parallel.EnsureSameRun("", trainer.DataSha256);
            if (trainer.Frozen is { } frozen) log?.Invoke(frozen.Describe());
            if (trainer.TrainsOwnModules) log?.Invoke(trainer.ModulesNote());
            if (CheckpointStore.Latest(t.OutputDir) is { } latest)
            {
                if (!trainer.TrainsOwnModules) TrainingPrecisions.EnsureResumable(latest, precision);   // module runs are fp32 only
                trainer.Resume(latest);
            }
            // records of steps after the checkpoint (all of them when starting from scratch) were never saved: drop them
            if (parallel.IsRoot)
            {
                int dropped = trainer._metrics.TruncateAfter(trainer.ResumedFrom is null ? -1 : trainer.Step);
                if (dropped > 0) log?.Invoke($"{trainer._metrics.FilePath}: dropped {dropped} records of steps not in any checkpoint");
            }
            parallel.BroadcastFromRoot(trainer._trainable);    // every rank starts from rank 0's weights
            return trainer;
        }
        catch
        {
            if (trainer is not null) trainer.Dispose();
            else shards.Dispose();
            throw;
        }
    }

    /// <summary>The prepared token-shard folder this trainer reads.</summary>
    public string DataDirectory => _shards.Directory;

    /// <summary>
    /// <c>data.seq_len</c> within the model's positions, and the training memory lower bound within what the device has
    /// (<see cref="MemoryEstimate.ForTraining"/>).
    /// </summary>
    /// <remarks>The memory bound counts Qwen2 shapes (<see cref="MemoryEstimate"/>); another architecture
    /// (<c>model.init_from</c> a BERT folder) gets the position check only.</remarks>
    static void EnsureFits(Recipe recipe, ITokenizer tokenizer, Device device, TrainingPrecision precision)
    {
        if (recipe.Model.InitFrom is { } dir && PretrainedModels.ModelType(dir) != "qwen2")
        {
            if (PretrainedModels.MaxPositions(dir) is { } max)
                OpenDllm.Inference.GenerationLimits.EnsureWithinPositions(max, recipe.Data.SeqLen, "data.seq_len");
            return;
        }
        var config = ModelPresets.Config(recipe.Model, tokenizer);
        OpenDllm.Inference.GenerationLimits.EnsureWithinPositions(config, recipe.Data.SeqLen, "data.seq_len");
        var estimate = MemoryEstimate.ForTraining(config, recipe.Train.MicroBatchSize, recipe.Data.SeqLen,
            precision == TrainingPrecision.Bf16 ? 2 : 4, documentMask: recipe.Data.PackingMode == PackingMode.Documents);   // examples: no mask
        estimate.EnsureFits(device, "lower train.micro_batch_size (train.global_batch_size keeps the batch by accumulation) or data.seq_len");
    }

    static TokenShardSet OpenShards(Recipe recipe, ITokenizer tokenizer, IProgress<PrepareProgress>? progress, CancellationToken cancel,
                                    Action<string>? log)
    {
        var data = recipe.Data;
        if (data.Shards is { } dir)
        {
            var set = TokenShardSet.Open(dir);
            try { set.EnsureTokenizer(tokenizer); }
            catch { set.Dispose(); throw; }
            return set;
        }
        var corpus = Corpora.Create(data.Source, data.Path, data.Field, pathName: "data.path", fieldName: "data.field");
        var identity = corpus.Identity();
        var options = new PrepareOptions
        {
            ValidationFraction = data.ValFraction, Seed = recipe.Train.Seed, MaxDocuments = data.MaxDocuments,
            MaxExampleTokens = data.PackingMode == PackingMode.Examples ? data.SeqLen : null,   // one example per row must fit a row
        };
        var output = data.PrepareDir ?? PreparedData.DefaultFolder(identity, tokenizer, options);
        EnsureSeparate(output, recipe.Train.OutputDir);
        var manifestPath = Path.Combine(output, ShardManifest.FileName);
        if (File.Exists(manifestPath))
        {
            IReadOnlyList<string> why;
            try { why = PreparedData.Differences(ShardManifest.Load(manifestPath), identity, tokenizer, options); }
            catch (InvalidDataException e) when (data.PrepareDir is null) { why = [e.Message]; }
            if (why.Count == 0) return Opened(output, log);
            if (data.PrepareDir is not null)
                throw new InvalidDataException($"data.prepare_dir = {data.PrepareDir} holds other data than this recipe asks for: {string.Join("; ", why)}. "
                    + "Remove data.prepare_dir (or override it with --data.prepare_dir=null) to use a folder named after the source, "
                    + "name another folder, or delete this one to prepare it again");
            log?.Invoke($"{output}: preparing again ({string.Join("; ", why)})");
        }
        CorpusPreparer.PrepareAsync(corpus, tokenizer, output, options, progress, cancel).GetAwaiter().GetResult();
        return Opened(output, log);
    }

    /// <summary>Opens a prepared folder, noting the examples it left out for not fitting one row (SFT data).</summary>
    static TokenShardSet Opened(string output, Action<string>? log)
    {
        var set = TokenShardSet.Open(output, verify: false);
        var m = set.Manifest;
        if (m.Corpus.SkippedTooLong > 0)
            log?.Invoke($"data: {m.Corpus.SkippedTooLong:N0} of {m.Corpus.Documents:N0} examples are longer than {m.Settings.MaxExampleTokens} tokens " +
                        "(data.seq_len) and were left out (manifest: corpus.skipped_too_long)");
        return set;
    }

    /// <summary>
    /// Refuses a data folder that is, contains or lies inside the output folder: preparing replaces the data folder, which
    /// would delete the checkpoints and metrics in it.
    /// </summary>
    static void EnsureSeparate(string prepareDir, string outputDir)
    {
        static string Full(string p) => Path.TrimEndingDirectorySeparator(Path.GetFullPath(p)) + Path.DirectorySeparatorChar;
        string data = Full(prepareDir), output = Full(outputDir);
        if (data.StartsWith(output, StringComparison.Ordinal) || output.StartsWith(data, StringComparison.Ordinal))
            throw new ArgumentException($"data.prepare_dir ({prepareDir}) and train.output_dir ({outputDir}) overlap: "
                + "preparing the data replaces its folder, which would delete checkpoints and metrics; use two separate folders");
    }

    /// <summary>Restores weights, optimizer moments, step, schedule plan, data cursor and RNG from a checkpoint.</summary>
    void Resume(string checkpoint)
    {
        var state = TrainerState.Load(checkpoint);
        if (state.Tokenizer != Tokenizer.Name || state.Objective != Recipe.Train.Objective)
            throw new InvalidDataException($"{checkpoint}: incompatible checkpoint in train.output_dir (tokenizer {state.Tokenizer}, objective "
                + $"{state.Objective}; the recipe has {Tokenizer.Name}, {Recipe.Train.Objective}); choose another --train.output_dir");
        if ((state.FreezeLayers ?? "") != (Recipe.Train.FreezeLayers ?? ""))
            throw new InvalidDataException($"{checkpoint}: this run froze '{state.FreezeLayers ?? ""}' (train.freeze_layers), the recipe freezes "
                + $"'{Recipe.Train.FreezeLayers ?? ""}': the optimizer state covers other parameters; use the same train.freeze_layers or another train.output_dir");
        if (state.DataSha256 is { } trained && trained != DataSha256)
            throw new InvalidDataException($"{checkpoint}: this run was trained on other token shards than {_shards.Directory} holds now "
                + "(an exact resume needs the same data); choose another train.output_dir, or start from these weights with "
                + $"model.init_from={checkpoint} in a new one");
        if (_modules is not null)
            _modules.Load(checkpoint);                          // the frozen LM is the recipe's; only the method's modules and state
        else if (_lora is not null || state.LoraBaseSha256 is not null)
            TrainerLora.Resume(_lora, state, checkpoint);       // the frozen base is the recipe's; only the adapter is loaded
        else
            StateDictIO.Load(Model, checkpoint);                // strict: a different architecture lists the mismatched keys
        _optimizer.load_state_dict(Path.Combine(checkpoint, OptimizerFile));
        _rng.set_state(tensor(Convert.FromBase64String(state.MaskingRng)));
        _train.Cursor = state.Cursor;
        (Step, TokensSeen, _elapsedBefore) = (state.Step, state.TokensSeen, state.ElapsedSeconds);
        // the plan made from the time budget is part of the state; otherwise the recipe's max_steps (it may have been raised)
        TotalSteps = Recipe.Train.FitStepsToTime ? state.TotalSteps : Recipe.Train.MaxSteps;
        ResumedFrom = checkpoint;
    }

    /// <summary>SHA-256 over the SHA-256 of every shard file, split by split: which tokens this run reads.</summary>
    string DataSha256 => Convert.ToHexStringLower(System.Security.Cryptography.SHA256.HashData(System.Text.Encoding.UTF8.GetBytes(
        string.Join("\n", _shards.Manifest.Splits.OrderBy(s => s.Key, StringComparer.Ordinal)
            .SelectMany(s => s.Value.Shards.Select(e => $"{s.Key}:{e.TokensSha256}:{e.OffsetsSha256}"))))));

    /// <summary>
    /// Writes a checkpoint atomically: HF model directory + tokenizer + optimizer + trainer state + resolved recipe.
    /// Weights that are broken are never saved: every parameter must be finite, and so must the log-probabilities of one
    /// short probe forward pass (weights that are finite but so large that the next step overflows fail it).
    /// An <see cref="IModuleTrainingMethod"/> writes its own files (<see cref="IModuleTrainingMethod.Save"/>) instead of the
    /// model directory, and its health is the trained weights being finite plus <see cref="IModuleTrainingMethod.CheckHealth"/>.
    /// </summary>
    /// <exception cref="TrainingDivergedException">The weights are broken; nothing was written.</exception>
    /// <remarks>Data-parallel: every rank checks the weights (they are equal), rank 0 writes while the others wait, and
    /// every rank fails when rank 0 could not write.</remarks>
    public string SaveCheckpoint(double? lastLoss = null)
    {
        EnsureHealthyWeights();
        string saved = Path.Combine(Recipe.Train.OutputDir, CheckpointStore.NameOf(Step));
        _parallel.RootFirst($"writing checkpoint {saved}", () => saved = WriteCheckpoint(lastLoss));
        return saved;
    }

    string WriteCheckpoint(double? lastLoss)
    {
        return CheckpointStore.Save(Recipe.Train.OutputDir, Step, Recipe.Train.KeepLast, dir =>
        {
            if (_modules is not null) _modules.Save(dir);
            else if (_lora is null) Model.SavePretrained(dir);
            else _lora.Save(Model, dir, Recipe.Model.InitFrom);
            Tokenizer.Save(dir);
            _optimizer.save_state_dict(Path.Combine(dir, OptimizerFile));
            using var rng = _rng.get_state();
            new TrainerState
            {
                Step = Step, TotalSteps = TotalSteps, TokensSeen = TokensSeen, ElapsedSeconds = Elapsed.TotalSeconds,
                Cursor = _train.Cursor, MaskingRng = Convert.ToBase64String(rng.data<byte>().ToArray()),
                Tokenizer = Tokenizer.Name, Objective = Recipe.Train.Objective, LastLoss = lastLoss, DataSha256 = DataSha256,
                LoraBaseSha256 = _lora?.BaseSha256, FreezeLayers = Recipe.Train.FreezeLayers,
            }.Save(dir);
            Recipe.Save(Path.Combine(dir, RecipeFile));
        });
    }

    /// <summary>Throws <see cref="TrainingDivergedException"/> unless the weights are finite and give finite log-probabilities.</summary>
    void EnsureHealthyWeights()
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        if (_modules is not null)
        {
            if (ModulesHealth(_modules) is { } wrong)
                throw new TrainingDivergedException($"step {Step}: {wrong}; not saved. "
                    + $"Last good checkpoint: {CheckpointStore.Latest(Recipe.Train.OutputDir) ?? "none"}. Lower train.lr or check the data.");
            return;
        }
        // 1. every parameter finite: one flag per tensor on its device, one transfer
        var weights = Model.parameters().Concat(_lora?.Adapters.parameters() ?? []);
        var finite = stack(weights.Select(p => p.isfinite().all()).ToArray()).all().item<bool>();
        string? problem = finite ? null : "a weight is NaN or infinite";
        if (finite)
        {
            // 2. a probe forward pass under the training attention: tokens 0..L-1 (L ≤ 16)   [1, L] → [1, L, V]
            long length = Math.Min(16, Math.Min(Model.MaxPositions, Recipe.Data.SeqLen));
            var probe = (arange(length, dtype: ScalarType.Int64, device: Device) % Model.VocabSize).unsqueeze(0);
            var logProbs = Model.Logits(probe, _method.Attention).to(ScalarType.Float32).log_softmax(-1);
            if (!logProbs.isfinite().all().item<bool>()) problem = "the weights are finite but a forward pass gives non-finite log-probabilities";
        }
        if (problem is not null)
            throw new TrainingDivergedException($"step {Step}: {problem}; not saved. "
                + $"Last good checkpoint: {CheckpointStore.Latest(Recipe.Train.OutputDir) ?? "none"}. Lower train.lr or check the data.");
    }

    /// <summary>
    /// Trains until <c>max_steps</c>, the time budget or cancellation, evaluating and saving on schedule; ends with an
    /// evaluation and a checkpoint. Metrics go to <c>metrics.jsonl</c> in the output folder.
    /// </summary>
    /// <param name="cancel">Stop after the step in progress (a step is never cut short), evaluate, save.</param>
    /// <param name="abort">Stop sooner: after the step in progress, without any further evaluation, and save (a supervisor's
    /// SIGTERM, a second Ctrl-C). The checkpoint is written either way, so the run resumes exactly.</param>
    public TrainSummary Run(CancellationToken cancel = default, IProgress<TrainProgress>? progress = null, Action<EvalResult>? onEval = null,
                            CancellationToken abort = default)
    {
        var t = Recipe.Train;
        Directory.CreateDirectory(t.OutputDir);
        var budget = t.MaxMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : (TimeSpan?)null;
        EvalResult Eval()
        {
            var e = Evaluate();
            var record = new JsonObject { ["step"] = e.Step, [e.Metric] = e.BitsPerToken, ["eval_tokens"] = e.Tokens };
            // extras beside the bound; a non-finite value (e.g. a score of no samples) is written as null, not a broken line
            foreach (var (name, value) in e.Extras ?? new Dictionary<string, double>())
                record["val_" + name] = double.IsFinite(value) ? value : null;
            if (_parallel.IsRoot) _metrics.Write(record);
            onEval?.Invoke(e);
            return e;
        }
        // data-parallel: every rank takes the same decisions (a signal reaches the ranks at different moments; the time
        // budget is read from rank 0's clock), one tiny all-reduce each
        bool Stopping() => _parallel.Any(cancel.IsCancellationRequested || abort.IsCancellationRequested);
        long startStep = Step;
        var first = ResumedFrom is null && !_parallel.Any(abort.IsCancellationRequested) ? Eval() : null;
        EvalResult? last = first;
        double loss = double.NaN;
        var window = Stopwatch.StartNew();
        long windowTokens = 0, fitAfter = Step + 5;
        bool interrupted = false;
        while (Step < TotalSteps)
        {
            if (Stopping()) { interrupted = true; break; }
            if (_parallel.Any(false, rootDecides: budget is { } b && Elapsed >= b)) break;
            long before = TokensSeen;
            (loss, double norm) = TrainStep();
            windowTokens += TokensSeen - before;
            if (t.FitStepsToTime && budget is { } limit && Step == fitAfter)
            {
                double perStep = Elapsed.TotalSeconds / Step;
                TotalSteps = _parallel.FromRoot(Math.Clamp(Step + (long)((limit - Elapsed).TotalSeconds / perStep), Step + 1, t.MaxSteps));
            }
            double tps = windowTokens / Math.Max(1e-9, window.Elapsed.TotalSeconds);
            if (Step % t.LogEvery == 0 || Step == TotalSteps)
            {
                var record = new JsonObject
                {
                    ["step"] = Step, ["loss"] = loss, ["lr"] = LearningRates.At(Step - 1), ["grad_norm"] = norm,
                    ["tokens"] = TokensSeen, ["tokens_per_s"] = tps, ["elapsed_s"] = Elapsed.TotalSeconds,
                };
                foreach (var (name, value) in ReadStepMetrics()) record[name] = value;
                if (_parallel.IsDistributed) record["comm_s"] = LastStepCommunicationSeconds;
                if (_parallel.IsRoot) _metrics.Write(record);
                window.Restart(); windowTokens = 0;
            }
            var remaining = TimeSpan.FromSeconds(Elapsed.TotalSeconds / Step * (TotalSteps - Step));
            progress?.Report(new TrainProgress(Step, TotalSteps, loss, LearningRates.At(Step - 1), norm, tps, Elapsed, remaining));
            bool stopping = Stopping();
            if (t.EvalEvery > 0 && Step % t.EvalEvery == 0 && Step < TotalSteps && !stopping) last = Eval();
            if (t.SaveEvery > 0 && Step % t.SaveEvery == 0 && Step < TotalSteps && !stopping) SaveCheckpoint(loss);
        }
        if (Step < TotalSteps && Stopping()) interrupted = true;
        _clock.Stop();
        // resumed and nothing trained (the run was complete, or stopped at once): its checkpoint and metrics already hold this step
        if (Step == startStep && ResumedFrom is not null) return new TrainSummary(Step, first, last, ResumedFrom, Elapsed, interrupted);
        if (!_parallel.Any(abort.IsCancellationRequested) && last?.Step != Step) last = Eval();
        var checkpoint = SaveCheckpoint(double.IsNaN(loss) ? null : loss);
        return new TrainSummary(Step, first, last, checkpoint, Elapsed, interrupted);
    }
}
