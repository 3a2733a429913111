using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Config;
using OpenDllm.Models;
using Spectre.Console;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm inspect MODEL_DIR [--input ids.json --attention causal|bidirectional --out logits.safetensors]`:
/// prints the config, parameter count and dtypes of a Hugging Face-format directory (transformers 4.x or 5.x layout), and
/// optionally writes the logits (F32, [batch, seq, vocab]) for token-id rows given as <c>[[...], ...]</c> or
/// <c>{"input_ids": [[...], ...]}</c>, so any implementation can be compared. Weights are loaded into float32 on the
/// chosen device (bf16 files are upcast exactly, as <c>from_pretrained(torch_dtype=float32)</c>), and the forward runs
/// there in float32; bidirectional attention equals transformers with a zero 4-D additive mask.
/// </summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model-dir") { Description = "Hugging Face model directory (config.json + safetensors)." };
        var input = new Option<string?>("--input")
        {
            Description = "JSON file: token ids as [[...], ...] or {\"input_ids\": [[...], ...]} (rows of equal length).",
        };
        var attention = new Option<string>("--attention")
        {
            Description = "Attention for --input: causal or bidirectional.",
            DefaultValueFactory = _ => "causal",
        };
        attention.AcceptOnlyFromAmong("causal", "bidirectional");
        var output = new Option<string?>("--out") { Description = "Where to write the logits (safetensors, tensor \"logits\")." };
        var force = new Option<bool>("--force") { Description = "Allow --out to overwrite a file of the model directory or the input." };
        var model = new ModelOptions();
        var adapter = new AdapterOption();
        var command = new Command("inspect", "Print a model directory's config, parameter count and dtypes; optionally write logits.")
        {
            modelDir, input, attention, output, force,
        };
        model.AddTo(command);
        adapter.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(modelDir)!, parse.GetValue(input),
                                                            parse.GetValue(attention)!, parse.GetValue(output), parse.GetValue(force),
                                                            model, parse, adapter.Value(parse))));
        return command;
    }

    static int Run(string directory, string? inputPath, string attention, string? outputPath, bool force, ModelOptions options, ParseResult parse,
                   string? adapterDir)
    {
        if ((inputPath is null) != (outputPath is null))
            throw new ArgumentException("--input and --out go together");
        if (outputPath is not null) OpenDllm.IO.OutputGuard.EnsureSafe(outputPath, "--out", force, directory, inputPath, adapterDir);
        using var scope = NewDisposeScope();
        ModelConfig.Load(directory);                                                   // config errors before libtorch loads
        var device = options.ResolveDevice(parse);
        var model = Qwen2Model.FromPretrained(directory, device, ScalarType.Float32);
        if (options.ShiftedOverride(parse) is { } shifted) model.WithShiftedLogitsOverride(shifted);
        var adapter = adapterDir is null ? null : OpenDllm.Lora.LoadedAdapter.Apply(model, adapterDir);
        var config = model.Config;
        var ids = inputPath is null ? null : ReadIds(inputPath, config.VocabSize);   // fail before printing anything

        var table = new Table().AddColumn("field").AddColumn("value");
        foreach (var (name, value) in new (string, object?)[]
                 {
                     ("model_type", config.ModelType), ("hidden_size", config.HiddenSize), ("intermediate_size", config.IntermediateSize),
                     ("num_hidden_layers", config.NumHiddenLayers), ("num_attention_heads", config.NumAttentionHeads),
                     ("num_key_value_heads", config.KeyValueHeads), ("head_dim", config.HeadDim), ("vocab_size", config.VocabSize),
                     ("rope_theta", $"{config.RopeTheta.ToString("R", CultureInfo.InvariantCulture)} ({config.RopeThetaKey})"),
                     ("rms_norm_eps", config.RmsNormEps), ("tie_word_embeddings", config.TieWordEmbeddings),
                     ("stored dtype (config)", config.StoredDtype), ("shifted_logits", ShiftedText(config)),
                     ("device", device.ToString()), ("compute dtype", "float32"), ("parameters", $"{model.ParameterCount:N0}"),
                     ("checkpoint dtypes", CheckpointDtypes(directory)),
                     ("unknown config keys", config.UnknownKeys.Count == 0 ? "none" : string.Join(", ", config.UnknownKeys)),
                     ("adapter", adapter is null ? "none" : AdapterText(adapter)),
                 })
            table.AddRow(Markup.Escape(name), Markup.Escape(value?.ToString() ?? "-"));
        CliConsole.Current().Write(table);

        if (ids is null) return 0;
        var policy = attention == "bidirectional" ? AttentionPolicy.Bidirectional : AttentionPolicy.Causal;
        using var noGrad = no_grad();
        var logits = model.Logits(ids.to(device), policy).to(ScalarType.Float32).cpu();
        var metadata = new Dictionary<string, string>
        {
            ["producer"] = "opendllm inspect", ["attention"] = attention, ["model_dir"] = Path.GetFullPath(directory),
        };
        if (adapter is not null) { metadata["adapter"] = adapter.Directory; metadata["adapter_sha256"] = adapter.Sha256; }
        SafetensorsWriter.Save(outputPath!, [("logits", logits)], metadata);
        Console.WriteLine($"wrote {outputPath}: logits [{string.Join(", ", logits.shape)}] float32, {attention} attention");
        return 0;
    }

    /// <summary>E.g. <c>r 128, alpha 256, 196 projections, 1,234,567 parameters (sha256 0123abcd4567…)</c>.</summary>
    static string AdapterText(OpenDllm.Lora.LoadedAdapter adapter)
    {
        var o = adapter.Adapters.Options;
        return $"r {o.Rank}, alpha {o.Alpha.ToString(CultureInfo.InvariantCulture)}, {adapter.Adapters.Entries.Count} projections, "
               + $"{adapter.Adapters.TrainableParameterCount:N0} parameters (sha256 {adapter.Sha256[..12]}…)";
    }

    static string CheckpointDtypes(string directory)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        return string.Join(", ", checkpoint.Names.GroupBy(n => checkpoint.GetEntry(n).DType)
            .Select(g => $"{g.Key} × {g.Count()}"));
    }

    /// <summary>E.g. <c>true (inferred: Qwen2ForCausalLM without shifted_logits)</c> or <c>false (override: --shifted)</c>.</summary>
    static string ShiftedText(ModelConfig config) =>
        $"{(config.IsShifted ? "true" : "false")} ({(config.ShiftedSource == ShiftedLogitsSource.Override ? "override: --shifted" : config.ShiftedOrigin)})";

    /// <summary>
    /// Reads token-id rows, <c>[[...], ...]</c> or <c>{"input_ids": [[...], ...]}</c> (the layout hf_golden.py writes; other
    /// keys are ignored), into [B, L] int64, checking that rows have equal lengths and every id lies in [0, vocab).
    /// </summary>
    static Tensor ReadIds(string path, int vocabSize)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: input ids file not found", path);
        const string Expected = "expected [[ids...], ...] or {\"input_ids\": [[ids...], ...]}";
        JsonDocument document;
        try { document = JsonDocument.Parse(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: not valid JSON ({e.Message}); {Expected}", e); }
        using (document)
        {
            var root = document.RootElement;
            if (root.ValueKind == JsonValueKind.Object && !root.TryGetProperty("input_ids", out root))
                throw new InvalidDataException($"{path}: the object has no \"input_ids\"; {Expected}");
            if (root.ValueKind != JsonValueKind.Array || root.GetArrayLength() == 0)
                throw new InvalidDataException($"{path}: {Expected}, with at least one row");
            var rows = new List<long[]>();
            foreach (var row in root.EnumerateArray())
            {
                int r = rows.Count;
                if (row.ValueKind != JsonValueKind.Array || row.GetArrayLength() == 0)
                    throw new InvalidDataException($"{path}: row {r} is not a non-empty array of token ids; {Expected}");
                var ids = new long[row.GetArrayLength()];
                int j = 0;
                foreach (var item in row.EnumerateArray())
                {
                    if (item.ValueKind != JsonValueKind.Number || !item.TryGetInt64(out var id))
                        throw new InvalidDataException($"{path}: row {r}, position {j}: {item.GetRawText()} is not an integer token id");
                    if (id < 0 || id >= vocabSize)
                        throw new InvalidDataException($"{path}: row {r} holds id {id} outside [0, {vocabSize})");
                    ids[j++] = id;
                }
                if (r > 0 && ids.Length != rows[0].Length)
                    throw new InvalidDataException($"{path}: row {r} has {ids.Length} ids, row 0 has {rows[0].Length}; rows must have equal lengths");
                rows.Add(ids);
            }
            return tensor(rows.SelectMany(r => r).ToArray(), [rows.Count, rows[0].Length]);
        }
    }
}
