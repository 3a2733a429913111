using System.Diagnostics;
using OpenDllm.Checkpoints;
using OpenDllm.Data;
using OpenDllm.Distributed;
using OpenDllm.Models;
using OpenDllm.Runtime;
using OpenDllm.Tokenization;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace OpenDllm.Training;

/// <summary>Progress after an optimizer step.</summary>
public sealed record TrainProgress(long Step, long TotalSteps, double Loss, double LearningRate, double GradNorm,
                                   double TokensPerSecond, TimeSpan Elapsed, TimeSpan? Remaining);

/// <summary>A validation estimate in bits per token: the MDLM NELBO (diffusion) or the AR NLL.</summary>
public sealed record EvalResult(long Step, string Metric, double BitsPerToken, long Tokens)
{
    /// <summary>
    /// The method's further validation metrics by name (without the <c>val_</c> prefix the trainer logs them under):
    /// Σ Sum / Σ Count of <see cref="BoundTerms.Extras"/>, then the entries of <see cref="IExtraValidation"/>; null when none.
    /// </summary>
    public IReadOnlyDictionary<string, double>? Extras { get; init; }
}

/// <summary>How a run ended.</summary>
public sealed record TrainSummary(long Steps, EvalResult? First, EvalResult? Last, string? Checkpoint, TimeSpan Elapsed, bool Interrupted);

/// <summary>The loss, or the weights about to be saved, became NaN or infinite; the run stopped without saving (the last good checkpoint is intact).</summary>
public sealed class TrainingDivergedException(string message) : InvalidOperationException(message);

/// <summary>
/// Trains a Qwen2-family model with any <see cref="ITrainingMethod"/> the recipe names (MDLM, AR, … see
/// <see cref="TrainingMethods"/>), or the modules of an <see cref="IModuleTrainingMethod"/> around that model, frozen (LDLM;
/// see <c>TrainerModules.cs</c>): AdamW over the parameters that require grad, warmup + cosine LR, gradient accumulation to
/// the global batch, clipping, one dispose scope per micro-batch, periodic validation (the method's bound in bits per
/// token), atomic checkpoints with everything an exact resume needs, and a time budget. Nothing in it depends on the method.
/// </summary>
public sealed partial class Trainer : IDisposable
{
    readonly ITrainingMethod _method;
    readonly AdamW _optimizer;
    readonly List<Parameter> _trainable;
    readonly TrainerLora? _lora;
    readonly PackedLoader _train;
    readonly PackedLoader _validation;
    readonly TokenShardSet _shards;
    readonly Generator _rng;
    readonly MetricsLog _metrics;
    readonly Stopwatch _clock = new();
    readonly DataParallel _parallel;
    double _elapsedBefore;

    Trainer(Recipe recipe, LanguageModel model, ITokenizer tokenizer, TokenShardSet shards, Device device, TrainerLora? lora, DataParallel parallel)
    {
        Recipe = recipe; Model = model; Tokenizer = tokenizer; _shards = shards; Device = device; _lora = lora; _parallel = parallel;
        var t = recipe.Train;
        _method = TrainingMethods.Create(new TrainingMethodContext(recipe, model, tokenizer));   // before freezing: a teacher copies every weight
        if (parallel.IsDistributed && _method is IStepAwareMethod)
        {
            (_method as IDisposable)?.Dispose();
            throw new NotSupportedException($"train.objective {recipe.Train.Objective}: the method keeps state it updates from its own micro-batches "
                + "(IStepAwareMethod, e.g. an adaptive time sampler); data-parallel training would let the ranks' states drift apart and is not supported for it; "
                + "train it in one process");
        }
        _modules = _method as IModuleTrainingMethod;
        if (_modules is not null)
        {
            try { _trainable = PrepareModules(_modules, recipe, model); }                        // refusals, then the LM frozen
            catch { (_method as IDisposable)?.Dispose(); throw; }
        }
        else
        {
            Frozen = t.FreezeLayers is { } patterns ? ParameterFreezing.Apply(model, patterns) : null;
            _trainable = model.parameters().Concat(lora?.Adapters.parameters() ?? []).Where(p => p.requires_grad).ToList();
        }
        _optimizer = new AdamW(_trainable, t.Lr, t.Beta1, t.Beta2, 1e-8, t.WeightDecay);   // Scalar-safe step (AdamW.cs)
        var mode = recipe.Data.PackingMode;
        _train = new PackedLoader(shards.Train, t.MicroBatchSize, recipe.Data.SeqLen, mode, t.Seed, device);
        _validation = new PackedLoader(shards.Validation, t.MicroBatchSize, recipe.Data.SeqLen, mode, t.Seed, device);
        (_method as IDataCalibratedMethod)?.Calibrate(_validation);            // before any step or evaluation, and before a resume
        _rng = new Generator((ulong)t.Seed);
        _metrics = new MetricsLog(Path.Combine(t.OutputDir, MetricsLog.FileName));
        TotalSteps = t.MaxSteps;
    }

    public Recipe Recipe { get; }
    public LanguageModel Model { get; }
    /// <summary>The LoRA adapters being trained (<c>train.lora</c>), or null for full fine-tuning.</summary>
    public TrainerLora? Lora => _lora;
    /// <summary>What <c>train.freeze_layers</c> froze (left out of the optimizer), or null when the recipe freezes nothing.</summary>
    public FrozenParameters? Frozen { get; }
    /// <summary>The training method the recipe names.</summary>
    public ITrainingMethod Method => _method;
    public ITokenizer Tokenizer { get; }
    public Device Device { get; }
    /// <summary>The processes this run trains on (<see cref="DataParallel.Single"/> for one).</summary>
    public DataParallel Parallel => _parallel;
    /// <summary>Seconds the last step spent in all-reduces (gradients and step scalars); 0 in a single process.</summary>
    public double LastStepCommunicationSeconds { get; private set; }
    /// <summary>Optimizer steps taken.</summary>
    public long Step { get; private set; }
    /// <summary>Steps the learning-rate schedule is planned for.</summary>
    public long TotalSteps { get; private set; }
    public long TokensSeen { get; private set; }
    /// <summary>The checkpoint this run resumed from, if any.</summary>
    public string? ResumedFrom { get; private set; }
    public LearningRateSchedule LearningRates => LearningRateSchedule.FromRatio(Recipe.Train.Lr, Recipe.Train.LrMin, Recipe.Train.WarmupRatio, TotalSteps);
    public TimeSpan Elapsed => TimeSpan.FromSeconds(_elapsedBefore) + _clock.Elapsed;

    /// <summary>
    /// The method's metrics of the last step, averaged over its micro-batches (device scalars, read when logged), or null
    /// when the method logs none.
    /// </summary>
    Dictionary<string, Tensor>? _stepMetrics;

    /// <summary>One optimizer step over <c>global_batch_size / micro_batch_size</c> micro-batches; returns the mean loss.</summary>
    public (double Loss, double GradNorm) TrainStep()
    {
        _clock.Start();
        var t = Recipe.Train;
        int micro = t.GlobalBatchSize / t.MicroBatchSize;
        var (first, count) = _parallel.MicroBatches(t.GlobalBatchSize, t.MicroBatchSize);   // this rank's micro-batches of the step
        double lr = LearningRates.At(Step);
        foreach (var group in _optimizer.ParamGroups) group.LearningRate = lr;
        if (_modules is null) Model.train();
        else { _modules.Trained.train(); Model.eval(); }                          // the frozen LM never drops out
        _optimizer.zero_grad();
        DisposeStepMetrics();
        (_method as IStepAwareMethod)?.BeginStep(Step, TotalSteps);           // e.g. LDLM's γ(s) and its adaptive sampler's EMA
        using var total = zeros(1, dtype: ScalarType.Float32, device: Device);    // the step's mean loss, summed on the device
        long tokens = 0;
        DataParallel.Skip(_train, (long)first * t.MicroBatchSize);               // rows of the ranks before this one
        for (int m = first; m < first + count; m++)
        {
            using var scope = NewDisposeScope();
            // draws follow (seed, step, micro-batch): the same on any number of ranks and after a resume
            _rng.manual_seed(DataParallel.MicroBatchSeed(t.Seed, Step, m));
            _lora?.Adapters.Dropout.Reseed(DataParallel.MicroBatchSeed(Step, 0, m));   // adapter dropout masks likewise
            using var batch = _train.Next();
            var result = _method.Loss(batch, _rng);
            result.Loss.DivScalar(micro).backward();                              // ScalarOps: no finalizer-only Scalars per step
            total.AddScaled_(result.Loss.detach(), 1.0 / micro);
            AccumulateMetrics(result, micro);
            tokens += batch.Tokens.numel() - batch.PaddingTokens;
        }
        DataParallel.Skip(_train, (long)(micro - first - count) * t.MicroBatchSize);   // rows of the ranks after this one
        double value = _parallel.IsDistributed ? SumOverRanks(total, ref tokens) : total.item<float>();   // the step's one read of the loss
        TokensSeen += tokens;
        if (!double.IsFinite(value))
            throw new TrainingDivergedException($"step {Step + 1}: the loss is {value}; stopped without saving. "
                + $"Last good checkpoint: {CheckpointStore.Latest(t.OutputDir) ?? "none"}. Lower train.lr or check the data.");
        double norm = nn.utils.clip_grad_norm_(_trainable, t.MaxGradNorm);
        _optimizer.step();
        Step++;
        return (value, norm);
    }

    /// <summary>
    /// Data-parallel: the gradients, the step's loss, token count and method metrics summed over the ranks (every rank
    /// then clips and steps the same gradients); returns the step's mean loss. Times the all-reduces.
    /// </summary>
    double SumOverRanks(Tensor total, ref long tokens)
    {
        _parallel.TakeCommunicationSeconds();
        _parallel.SumGradients(_trainable);
        var keys = _stepMetrics?.Keys.Order(StringComparer.Ordinal).ToList() ?? [];
        using (var scope = NewDisposeScope())
        {
            // [loss, tokens, metric count, metrics…] in float64, one all-reduce
            var parts = new List<Tensor> { total.to(ScalarType.Float64).reshape(1), tensor(new[] { (double)tokens, keys.Count }, device: Device) };
            parts.AddRange(keys.Select(k => _stepMetrics![k].reshape(1).to(ScalarType.Float64)));
            var sums = cat(parts.ToArray());
            _parallel.Sum(sums);
            var host = sums.cpu().data<double>().ToArray();
            if (host[2] != (double)keys.Count * _parallel.WorldSize)
                throw new InvalidOperationException($"rank {_parallel.Rank}: method {_method.Name} reported different metrics on different ranks this step; "
                    + "their sums would mix them up");
            for (int i = 0; i < keys.Count; i++) _stepMetrics![keys[i]].fill_(host[3 + i]);
            tokens = (long)Math.Round(host[1]);
            LastStepCommunicationSeconds = _parallel.TakeCommunicationSeconds();
            return host[0];
        }
    }

    /// <summary>
    /// The method's validation bound in bits per token (see <see cref="HeldOutEvaluation"/>): NELBO for MDLM, NLL for AR;
    /// with the method's <see cref="BoundTerms.Extras"/> and, for an <see cref="IExtraValidation"/> method, its host-computed
    /// metrics in <see cref="EvalResult.Extras"/>.
    /// </summary>
    /// <exception cref="InvalidOperationException">A validation metric is reported twice, or would be logged under the bound's name.</exception>
    public EvalResult Evaluate()
    {
        long seed = HeldOutEvaluation.SeedFor(Recipe);
        var result = HeldOutEvaluation.Evaluate(_method, _validation, Recipe.Train.EvalBatches, seed, Step);
        if (_method is not IExtraValidation extra) return CheckExtraNames(result);
        IReadOnlyDictionary<string, double> host;
        using (EvalMode.Enter(_method))
        using (no_grad())
        using (NewDisposeScope())
            host = extra.Validate(_validation, Recipe.Train.EvalBatches, seed, Step);
        var merged = new Dictionary<string, double>(result.Extras ?? new Dictionary<string, double>(), StringComparer.Ordinal);
        foreach (var (name, value) in host)
            if (!merged.TryAdd(name, value))
                throw new InvalidOperationException($"method {_method.Name}: validation metric '{name}' is reported twice (BoundTerms.Extras and IExtraValidation)");
        return CheckExtraNames(result with { Extras = merged.Count > 0 ? merged : null });
    }

    /// <summary>The extras are logged as <c>val_NAME</c> beside the bound: a name that would collide with a record key is an error.</summary>
    EvalResult CheckExtraNames(EvalResult result)
    {
        foreach (var name in result.Extras?.Keys ?? [])
            if ("val_" + name == result.Metric || name.Length == 0)
                throw new InvalidOperationException($"method {_method.Name}: validation metric '{name}' would be logged as '{result.Metric}', "
                    + "the bound's name; rename it");
        return result;
    }

    void AccumulateMetrics(MethodLoss result, int micro)
    {
        if (result.Metrics is not { } metrics) return;
        _stepMetrics ??= new(StringComparer.Ordinal);
        foreach (var (name, value) in metrics)
        {
            // a weighted metric sums w·value here and w under "name\0w"; a plain one sums value / micro
            var weight = result.MetricWeights?.GetValueOrDefault(name)?.detach().to(ScalarType.Float64);
            var share = weight is null ? value.detach().to(ScalarType.Float64).DivScalar(micro) : value.detach().to(ScalarType.Float64) * weight;
            Add(name, share);
            if (weight is not null) Add(name + WeightSuffix, weight);
        }

        void Add(string key, Tensor share)
        {
            if (_stepMetrics.TryGetValue(key, out var sum)) sum.AddScaled_(share);
            else _stepMetrics[key] = share.DetachFromDisposeScope();   // kept past the micro-batch's scope
        }
    }

    const string WeightSuffix = "\0weight";

    /// <summary>The last step's method metrics as numbers (one read each; only when a step is logged). A weighted metric
    /// is Σ w·value / Σ w, left out when no micro-batch weighed it.</summary>
    IEnumerable<KeyValuePair<string, double>> ReadStepMetrics()
    {
        if (_stepMetrics is null) return [];
        var read = new List<KeyValuePair<string, double>>();
        foreach (var (name, value) in _stepMetrics)
        {
            if (name.EndsWith(WeightSuffix, StringComparison.Ordinal)) continue;
            double v = value.item<double>();
            if (_stepMetrics.TryGetValue(name + WeightSuffix, out var w))
            {
                double total = w.item<double>();
                if (total <= 0) continue;
                v /= total;
            }
            read.Add(KeyValuePair.Create(name, v));
        }
        return read;
    }

    void DisposeStepMetrics()
    {
        if (_stepMetrics is null) return;
        foreach (var value in _stepMetrics.Values) value.Dispose();
        _stepMetrics = null;
    }

    public void Dispose()
    {
        DisposeStepMetrics();
        (_method as IDisposable)?.Dispose();
        _optimizer.Dispose();
        _shards.Dispose();
        _metrics.Dispose();
    }
}
