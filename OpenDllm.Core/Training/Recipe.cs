using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.Config;
using OpenDllm.IO;
using OpenDllm.Objectives;
using OpenDllm.TimeSampling;

namespace OpenDllm.Training;

/// <summary>
/// A training recipe: <c>model</c>, <c>data</c> and <c>train</c> sections as in Open-dLLM's <c>configs/pretrain/*.yaml</c>.
/// Loaded strictly (an unknown key fails with the valid keys listed), with dotted command-line overrides
/// (<c>--train.micro_batch_size=16</c>), validated with the key named, and saved resolved beside every checkpoint.
/// </summary>
public sealed record Recipe
{
    public ModelSection Model { get; init; } = new();
    public DataSection Data { get; init; } = new();
    public TrainSection Train { get; init; } = new();

    /// <summary>Reads a YAML (or JSON) recipe and applies overrides such as <c>--train.lr=1e-3</c>.</summary>
    public static Recipe Load(string path, IEnumerable<string>? overrides = null)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: recipe not found", path);
        var text = File.ReadAllText(path);
        JsonNode? tree = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? JsonNode.Parse(text) : YamlJson.Parse(text, path);
        return StrictBinder.Bind<Recipe>(tree, path, overrides).Validate(path);
    }

    /// <summary>Parses recipe text (YAML) from memory; <paramref name="source"/> names it in errors.</summary>
    public static Recipe Parse(string yaml, string source = "recipe", IEnumerable<string>? overrides = null) =>
        StrictBinder.Bind<Recipe>(YamlJson.Parse(yaml, source), source, overrides).Validate(source);

    static string ConfigJsonName(MdlmWeighting w) => JsonSerializer.Serialize(w, ConfigJson.Strict).Trim('"');

    public string ToJson() => JsonSerializer.Serialize(this, ConfigJson.Strict);

    public void Save(string path) => AtomicFile.WriteAllText(path, ToJson());

    /// <summary>Checks ranges; throws <see cref="ArgumentOutOfRangeException"/> naming the dotted key.</summary>
    public Recipe Validate(string source = "recipe")
    {
        void Check(bool ok, string key, object? value, string rule)
        {
            if (!ok) throw new ArgumentOutOfRangeException(key, value, $"{source}: {key} = {value ?? "null"} is out of range: {rule}");
        }
        var t = Train;
        Check(t.MicroBatchSize >= 1, "train.micro_batch_size", t.MicroBatchSize, "≥ 1");
        Check(t.GlobalBatchSize >= t.MicroBatchSize && t.GlobalBatchSize % t.MicroBatchSize == 0, "train.global_batch_size",
              t.GlobalBatchSize, $"a multiple of train.micro_batch_size ({t.MicroBatchSize})");
        Check(t.Lr > 0, "train.lr", t.Lr, "> 0");
        Check(t.LrMin >= 0 && t.LrMin <= t.Lr, "train.lr_min", t.LrMin, $"in [0, train.lr = {t.Lr}]");
        Check(t.WarmupRatio is >= 0 and < 1, "train.warmup_ratio", t.WarmupRatio, "in [0, 1)");
        Check(t.WeightDecay >= 0, "train.weight_decay", t.WeightDecay, "≥ 0");
        Check(t.MaxGradNorm > 0, "train.max_grad_norm", t.MaxGradNorm, "> 0");
        Check(t.Beta1 is >= 0 and < 1, "train.beta1", t.Beta1, "in [0, 1)");
        Check(t.Beta2 is >= 0 and < 1, "train.beta2", t.Beta2, "in [0, 1)");
        Check(t.MaxSteps >= 1, "train.max_steps", t.MaxSteps, "≥ 1");
        Check(t.MaxMinutes is null or > 0, "train.max_minutes", t.MaxMinutes, "> 0");
        Check(t.EvalEvery >= 0, "train.eval_every", t.EvalEvery, "≥ 0 (0 = only at the end)");
        Check(t.EvalBatches >= 1, "train.eval_batches", t.EvalBatches, "≥ 1");
        Check(t.SaveEvery >= 0, "train.save_every", t.SaveEvery, "≥ 0 (0 = only at the end)");
        Check(t.KeepLast >= 1, "train.keep_last", t.KeepLast, "≥ 1");
        Check(t.LogEvery >= 1, "train.log_every", t.LogEvery, "≥ 1");
        Check(t.Dtype is null or "float32" or "bfloat16", "train.dtype", t.Dtype, "one of: float32, bfloat16 (superseded by train.precision)");
        Check(t.Precision is null || TrainingPrecisions.Names.Contains(t.Precision), "train.precision", t.Precision,
              $"one of: {string.Join(", ", TrainingPrecisions.Names)}");
        Check(t.Precision is null || t.Dtype is null || (t.Dtype == "float32") == (t.Precision == "fp32"), "train.dtype", t.Dtype,
              $"contradicts train.precision = {t.Precision}; remove train.dtype");
        Check(Schedules.MaskSchedules.Names.Contains(t.Schedule), "train.schedule", t.Schedule,
              $"one of: {string.Join(", ", Schedules.MaskSchedules.Names)}");
        Check(t.Threads is null or >= 1, "train.threads", t.Threads, "≥ 1");
        Check(TrainingMethods.Names.Contains(t.Objective), "train.objective", t.Objective, $"one of: {string.Join(", ", TrainingMethods.Names)}");
        Check(Enum.IsDefined(t.Loss), "train.loss", t.Loss, "a defined weighting");
        Check(Enum.IsDefined(t.Normalization), "train.normalization", t.Normalization, "a defined normalisation");
        Check(Enum.IsDefined(t.TimeSampling), "train.time_sampling", t.TimeSampling, "a defined time sampling");
        if (t.Lora is { } lora)
        {
            Check(lora.R >= 1, "train.lora.r", lora.R, "≥ 1");
            Check(lora.Alpha > 0 && double.IsFinite(lora.Alpha), "train.lora.alpha", lora.Alpha, "> 0");
            Check(lora.Dropout is >= 0 and < 1, "train.lora.dropout", lora.Dropout, "in [0, 1)");
            Check(lora.TargetModules.Split(',').All(p => p.Trim().Length > 0), "train.lora.target_modules", lora.TargetModules,
                  "a comma list of projection names such as q_proj,v_proj (or all-linear)");
        }
        Check(Data.SeqLen >= 2, "data.seq_len", Data.SeqLen, "≥ 2");
        Check(Enum.IsDefined(t.PathLoss), "train.path_loss", t.PathLoss, "none, inv_t or plain");
        Check(t.PathLoss == PathLoss.None || !MdlmLossOptions.ContainsPathTerm(t.Loss), "train.path_loss", t.PathLoss,
              $"train.loss = {ConfigJsonName(t.Loss)} already contains the path term, so it would count twice; use train.loss: mdlm or uniform with train.path_loss, or remove train.path_loss");
        Check(t.PathLoss == PathLoss.None || t.Objective is not (Methods.Bd3lm.Bd3lmMethod.MethodName or Methods.Ar.ArMethod.MethodName or Methods.ArFim.ArFimMethod.MethodName),
              "train.path_loss", t.PathLoss, $"not used by {t.Objective}; remove it");
        if (t.Objective == Methods.A2d.A2dMethod.MethodName) (t.A2d ?? new()).Validate(source);
        else Check(t.A2d is null, "train.a2d", "{…}", $"only read by train.objective: a2d (this recipe trains {t.Objective}); remove it");
        if (t.Objective == Methods.ArFim.ArFimMethod.MethodName)
        {
            (t.Fim ?? new()).Validate(source);
            Check(Data.Packing == "documents", "data.packing", Data.Packing, "ar_fim transforms each document of a packed row; use data.packing: documents");
        }
        else Check(t.Fim is null, "train.fim", "{…}", $"only read by train.objective: ar_fim (this recipe trains {t.Objective}); remove it");
        if (t.Objective == Methods.Ldlm.LdlmMethod.MethodName)
        {
            (t.Ldlm ?? new()).Validate(source);
            // LDLM trains its own modules on a frozen encoder with its own losses (SPEC §6.3): these keys would be ignored
            var mdlmDefaults = new TrainSection();
            Check(t.Loss == mdlmDefaults.Loss, "train.loss", t.Loss, "not used by ldlm (its losses are SPEC §6.3's L_diff, L_h, L_w); remove it");
            Check(t.Normalization == mdlmDefaults.Normalization, "train.normalization", t.Normalization, "not used by ldlm; remove it");
            Check(t.TimeSampling == mdlmDefaults.TimeSampling, "train.time_sampling", t.TimeSampling, "not used by ldlm; set train.ldlm.time_sampler");
            Check(t.Schedule == mdlmDefaults.Schedule, "train.schedule", t.Schedule, "not used by ldlm (its noise schedule is tan-d); set train.ldlm.schedule_d");
            Check(t.PathLoss == PathLoss.None, "train.path_loss", t.PathLoss, "not used by ldlm; remove it");
            Check(t.Lora is null, "train.lora", "{…}", "ldlm freezes the whole encoder and trains its own modules; remove train.lora");
            Check(t.FreezeLayers is null, "train.freeze_layers", t.FreezeLayers, "ldlm freezes the whole encoder already; remove it");
        }
        else Check(t.Ldlm is null, "train.ldlm", "{…}", $"only read by train.objective: ldlm (this recipe trains {t.Objective}); remove it");
        if (t.FreezeLayers is { } freeze)
        {
            Check(freeze.Split(',').All(p => p.Trim().Length > 0), "train.freeze_layers", freeze, "comma-separated name fragments such as lm_head,embed_tokens");
            Check(t.Lora is null, "train.freeze_layers", freeze, "train.lora already freezes every base weight; remove one of them");
        }
        if (t.Objective == Methods.Bd3lm.Bd3lmMethod.MethodName)
        {
            t.Bd3lm.Validate(Data.SeqLen, source);
            // BD3LM has its own loss (SPEC §4.2) and time sampling (train.bd3lm.time_sampling): the MDLM keys would be ignored
            var mdlmDefaults = new TrainSection();
            Check(t.Loss == mdlmDefaults.Loss, "train.loss", t.Loss, "not used by bd3lm (its loss is SPEC §4.2's w(t)·CE); remove it");
            Check(t.Normalization == mdlmDefaults.Normalization, "train.normalization", t.Normalization, "not used by bd3lm; remove it");
            Check(t.TimeSampling == mdlmDefaults.TimeSampling, "train.time_sampling", t.TimeSampling, "not used by bd3lm; set train.bd3lm.time_sampling");
        }
        if (t.Objective == Methods.DreamOn.DreamOnMethod.MethodName)
        {
            (t.DreamOn ?? new()).Validate(Data.SeqLen, source);
            // DreamOn's loss is the CE at the middle's masks with its own masking (SPEC §5.7): the MDLM keys would be ignored
            var mdlmDefaults = new TrainSection();
            Check(t.Loss == mdlmDefaults.Loss, "train.loss", t.Loss, "not used by dreamon (its loss is the CE at the middle's masks, SPEC §5.7); remove it");
            Check(t.Normalization == mdlmDefaults.Normalization, "train.normalization", t.Normalization, "not used by dreamon; remove it");
            Check(t.TimeSampling == mdlmDefaults.TimeSampling, "train.time_sampling", t.TimeSampling, "not used by dreamon (it draws a mask ratio per example); remove it");
            Check(t.Schedule == mdlmDefaults.Schedule, "train.schedule", t.Schedule, "not used by dreamon; remove it");
            Check(t.PathLoss == PathLoss.None, "train.path_loss", t.PathLoss, "not used by dreamon; remove it");
        }
        else Check(t.DreamOn is null, "train.dreamon", "{…}", $"only read by train.objective: dreamon (this recipe trains {t.Objective}); remove it");
        Check(Data.Packing is "documents" or "chunks" or "examples", "data.packing", Data.Packing, "one of: documents, chunks, examples");
        Check(Data.ValFraction is > 0 and < 1, "data.val_fraction", Data.ValFraction, "in (0, 1)");
        Check(Data.Shards is not null || OpenDllm.Data.Corpora.Kinds.Contains(Data.Source), "data.source", Data.Source,
              $"one of: {string.Join(", ", OpenDllm.Data.Corpora.Kinds)} (or give data.shards)");
        Check(Data.Shards is not null || Data.Source is not (OpenDllm.Data.SftCorpus.Kind or OpenDllm.Evaluation.BenchmarkSftCorpus.Kind) || Data.Packing == "examples",
              "data.packing", Data.Packing, $"prompt/response data (data.source: {Data.Source}) is read one example per row: use data.packing: examples");
        Check(Data.Shards is null || Data.Path is null && Data.PrepareDir is null, "data.shards", Data.Shards,
              "give either data.shards (a prepared folder, used as it is) or data.path / data.prepare_dir, not both");
        Check(Model.InitFrom is not null || Model.InitFromRecipe is not null || Model.Preset is not null || Model.Config is not null, "model", null,
              "give model.init_from (a Hugging Face directory), model.init_from_recipe, model.preset or model.config");
        Check(Model.InitFrom is null || Model.InitFromRecipe is null, "model.init_from_recipe", Model.InitFromRecipe,
              "give model.init_from or model.init_from_recipe, not both");
        if ((Model.InitFrom ?? Model.InitFromRecipe) is not null && Model.Config?.Select(kv => kv.Key).FirstOrDefault(k => k != "vocab_size") is { } fixedKey)
            Check(false, $"model.config.{fixedKey}", Model.Config[fixedKey]?.ToJsonString(),
                  "with model.init_from / init_from_recipe the checkpoint fixes the architecture; only model.config.vocab_size (to add token rows) is read");
        Check(!Model.RandomInit || Model.InitFrom is not null || Model.InitFromRecipe is not null, "model.random_init", Model.RandomInit,
              "random_init takes the architecture of model.init_from (or model.init_from_recipe); a preset is random already");
        return this;
    }
}

/// <summary>What to train: a Hugging Face directory to continue from, or a preset / inline config (HF field names).</summary>
public sealed record ModelSection
{
    /// <summary>Hugging Face model directory to initialise from (Open-dLLM continues from Qwen2.5-Coder).</summary>
    public string? InitFrom { get; init; }
    /// <summary>
    /// A recipe (path relative to the current folder) whose run this one continues from: its newest checkpoint in its
    /// <c>train.output_dir</c> becomes <see cref="InitFrom"/>. <c>opendllm train</c> first trains (or resumes) that run when it
    /// has no checkpoint yet, saying so; <see cref="Trainer.Create"/> alone requires the checkpoint (<see cref="BaseRun"/>).
    /// <see cref="ShiftedLogits"/> defaults to the base recipe's.
    /// </summary>
    public string? InitFromRecipe { get; init; }
    /// <summary>"tiny", "quickstart", "bench" or "qwen2.5-coder-0.5b"; <see cref="Config"/> overrides its fields.</summary>
    public string? Preset { get; init; }
    /// <summary>Qwen2 config.json fields (hidden_size, num_hidden_layers, …); vocab_size defaults to the tokenizer's.</summary>
    public JsonObject? Config { get; init; }
    /// <summary>Dream/Open-dCoder-style shifted logits (SPEC §2.3); default true for a causal-LM init_from (AR checkpoints),
    /// false for an encoder (BERT) and for presets.</summary>
    public bool? ShiftedLogits { get; init; }
    /// <summary>
    /// Take only the architecture of <see cref="InitFrom"/> and initialise its weights from <c>train.seed</c> (std
    /// <see cref="InitStd"/>): the from-scratch control of a pretrained run, same model, same everything else.
    /// </summary>
    public bool RandomInit { get; init; }
    /// <summary>Initialisation std for from-scratch weights.</summary>
    public double InitStd { get; init; } = 0.02;
}

/// <summary>Where the tokens come from.</summary>
public sealed record DataSection
{
    /// <summary>A prepared token-shard folder (opendllm prepare); when absent, <see cref="Source"/> is prepared into <see cref="PrepareDir"/>.</summary>
    public string? Shards { get; init; }
    /// <summary>python-stdlib (default), folder, jsonl, parquet, sft (prompt/response JSONL) or benchmark-sft (HumanEval + MBPP).</summary>
    public string Source { get; init; } = "python-stdlib";
    /// <summary>The corpus file or folder (python-stdlib: overrides the folder asked from python3); must exist.</summary>
    public string? Path { get; init; }
    /// <summary>JSONL field (default "text") or Parquet column (default "content", else "text") holding the text.</summary>
    public string? Field { get; init; }
    /// <summary>"byte" or a tokenizer directory / tokenizer.json.</summary>
    public string Tokenizer { get; init; } = "byte";
    /// <summary>
    /// Where <see cref="Source"/> is prepared. When given, a folder already there is reused only if it was prepared from
    /// the same source, tokenizer and split settings (<c>val_fraction</c>, <c>max_documents</c>, and <c>train.seed</c>, which
    /// also seeds the train/validation split), and is otherwise an error saying what differs; when null, a folder
    /// derived from the source (<c>runs/data/&lt;source&gt;-&lt;hash&gt;</c>, <see cref="OpenDllm.Data.PreparedData.DefaultFolder"/>)
    /// is used and prepared again whenever its files change. Must not overlap <c>train.output_dir</c>.
    /// </summary>
    public string? PrepareDir { get; init; }
    public double ValFraction { get; init; } = 0.02;
    public long? MaxDocuments { get; init; }
    public int SeqLen { get; init; } = 256;
    /// <summary>
    /// "documents" (Open-dLLM packing: positions restart, no attention across documents), "chunks", or "examples" (one
    /// example per row, right-padded with visible EOS, the prompt marked; for prompt/response data, <c>source: sft</c>;
    /// examples longer than <see cref="SeqLen"/> are dropped when preparing and counted in the manifest).
    /// </summary>
    public string Packing { get; init; } = "documents";

    /// <summary><see cref="Packing"/> as the loader's enum.</summary>
    [System.Text.Json.Serialization.JsonIgnore]
    public OpenDllm.Data.PackingMode PackingMode => Packing switch
    {
        "documents" => OpenDllm.Data.PackingMode.Documents,
        "chunks" => OpenDllm.Data.PackingMode.Chunks,
        "examples" => OpenDllm.Data.PackingMode.Examples,
        _ => throw new ArgumentOutOfRangeException("data.packing", Packing, "one of: documents, chunks, examples"),
    };
}

/// <summary>
/// The method and the optimisation: which training method (<see cref="TrainingMethods"/>), the diffusion options the MDLM
/// family shares, batch, AdamW, warmup + cosine schedule, clipping, evaluation and checkpoints.
/// </summary>
public sealed record TrainSection
{
    /// <summary>The training method by name: mdlm, ar, or any registered with <see cref="TrainingMethods.Register"/>.</summary>
    public string Objective { get; init; } = "mdlm";
    /// <summary>Diffusion methods: the per-token weighting of the masked CE (SPEC §2.4).</summary>
    public MdlmWeighting Loss { get; init; } = MdlmWeighting.OpenDllmV1;
    /// <summary>Diffusion methods: what the summed loss is divided by (SPEC §2.4, §2.7).</summary>
    public LossNormalization Normalization { get; init; } = LossNormalization.MaskedTokens;
    /// <summary>Diffusion methods: the mask schedule α(t) (<see cref="Schedules.MaskSchedules.Names"/>, SPEC §1.1).</summary>
    public string Schedule { get; init; } = "linear";
    /// <summary>Diffusion methods: how training times are drawn (SPEC §1.5, §2.2).</summary>
    public TimeSamplingMode TimeSampling { get; init; } = TimeSamplingMode.PerDocument;
    /// <summary>Diffusion methods (mdlm, a2d): Open-dLLM's path term sg(e^{−CE})·CE added to <see cref="Loss"/> (none, inv_t, plain;
    /// SPEC §2.4, <see cref="Objectives.PathLoss"/>); only with loss mdlm or uniform (the opendllm_* weightings contain it).</summary>
    public PathLoss PathLoss { get; init; } = PathLoss.None;
    /// <summary>AR → diffusion adaptation's options (align_weight, teacher_dtype; SPEC §3), only with <see cref="Objective"/> a2d.</summary>
    public Methods.A2d.A2dOptions? A2d { get; init; }
    /// <summary>AR+FIM's options (the FIM rate; Bavarian et al. 2022), only with <see cref="Objective"/> ar_fim.</summary>
    public Methods.ArFim.FimOptions? Fim { get; init; }
    /// <summary>Latent diffusion's options (encoder layer, module shapes, σ_dec, γ warmup, time sampler; SPEC §6), only with
    /// <see cref="Objective"/> ldlm.</summary>
    public Methods.Ldlm.LdlmOptions? Ldlm { get; init; }
    /// <summary>
    /// Comma-separated, case-insensitive fragments of parameter names to freeze (any method; <see cref="ParameterFreezing"/>):
    /// e.g. <c>lm_head,embed_tokens</c> (the representation-alignment paper) or <c>mlp</c>. Null = train every weight.
    /// </summary>
    public string? FreezeLayers { get; init; }
    /// <summary>BD3LM's options (block size, time sampling, noise interval, EOS block padding; SPEC §4), used when <see cref="Objective"/> is bd3lm.</summary>
    public Methods.Bd3lm.Bd3lmOptions Bd3lm { get; init; } = new();
    /// <summary>DreamOn variable-length infilling's options (merge_prob, merge_schedule, max_delete, middle size, token ids;
    /// SPEC §5.7), only with <see cref="Objective"/> dreamon.</summary>
    [System.Text.Json.Serialization.JsonPropertyName("dreamon")]
    public Methods.DreamOn.DreamOnOptions? DreamOn { get; init; }
    public int MicroBatchSize { get; init; } = 8;
    public int GlobalBatchSize { get; init; } = 8;
    public double Lr { get; init; } = 3e-4;
    public double LrMin { get; init; } = 3e-6;
    public double WarmupRatio { get; init; } = 0.001;
    public double WeightDecay { get; init; } = 0.01;
    public double MaxGradNorm { get; init; } = 1.0;
    public double Beta1 { get; init; } = 0.9;
    public double Beta2 { get; init; } = 0.95;
    public long MaxSteps { get; init; } = 1000;
    public double? MaxMinutes { get; init; }
    /// <summary>With <see cref="MaxMinutes"/>: after a few steps, plan the cosine schedule for as many steps as fit the time.</summary>
    public bool FitStepsToTime { get; init; }
    public long EvalEvery { get; init; } = 200;
    public int EvalBatches { get; init; } = 8;
    public long SaveEvery { get; init; } = 500;
    public int KeepLast { get; init; } = 2;
    public long LogEvery { get; init; } = 10;
    public long Seed { get; init; }
    public int? Threads { get; init; }
    public string OutputDir { get; init; } = "runs/train";
    /// <summary>fp32, bf16_mixed or bf16 (<see cref="TrainingPrecision"/>); null = from <see cref="Dtype"/>, else fp32.</summary>
    public string? Precision { get; init; }
    /// <summary>The older key: float32 = fp32; bfloat16 must now be spelled as a precision (<see cref="TrainingPrecisions.Resolve"/>).</summary>
    public string? Dtype { get; init; }
    /// <summary>cpu, cuda or cuda:N; null = CUDA when present, else the CPU (`opendllm train --device` sets it).</summary>
    public string? Device { get; init; }
    /// <summary>Train LoRA adapters on the frozen model instead of every weight (<see cref="LoraSection"/>); null = full fine-tuning.</summary>
    public LoraSection? Lora { get; init; }
}

/// <summary>
/// <c>train.lora</c>: LoRA adapters (<see cref="OpenDllm.Lora.LoraOptions"/>) applied after the model is built and its
/// <c>model.init_from</c> weights are loaded; only the adapters train, with any method. Checkpoints hold the merged model
/// (a plain Hugging Face directory that sample and eval load directly) and the adapter in PEFT's layout under
/// <c>adapter/</c>; a resume rebuilds the frozen base from the recipe and loads the adapter.
/// </summary>
public sealed record LoraSection
{
    /// <summary>Rank r (dLLM: 128).</summary>
    public int R { get; init; } = 128;
    /// <summary>α; the update is scaled by α/r (dLLM: 256).</summary>
    public double Alpha { get; init; } = 256;
    /// <summary>Dropout on the adapter input, training only.</summary>
    public double Dropout { get; init; } = 0.05;
    /// <summary>Comma list of projections (last name or dotted suffix, <see cref="OpenDllm.Lora.LoraTargets"/>), or all-linear.</summary>
    public string TargetModules { get; init; } = string.Join(",", OpenDllm.Lora.LoraOptions.AllProjections);
    /// <summary>Seeds A's initialisation and the dropout masks; null = <c>train.seed</c>.</summary>
    public long? Seed { get; init; }

    /// <summary>The adapter settings, with the seed resolved against <paramref name="trainSeed"/>.</summary>
    public OpenDllm.Lora.LoraOptions ToOptions(long trainSeed) =>
        new(R, Alpha, Dropout, OpenDllm.Lora.LoraOptions.ParseTargets(TargetModules), Seed ?? trainSeed);
}
