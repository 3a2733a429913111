using System.CommandLine;
using System.Text.Json;
using OpenDllm.Attention;
using OpenDllm.Checkpoints;
using OpenDllm.Models;
using Spectre.Console;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm inspect MODEL_DIR [--input ids.json --attention causal|bidirectional --out logits.safetensors]`:
/// prints the config, parameter count and dtypes of a Hugging Face-format directory, and optionally writes the
/// logits (F32, [batch, seq, vocab]) for a JSON array of token-id arrays, so any implementation can be compared.
/// </summary>
public static class InspectCommand
{
    public static Command Create()
    {
        var modelDir = new Argument<string>("model-dir") { Description = "Hugging Face model directory (config.json + safetensors)." };
        var input = new Option<string?>("--input") { Description = "JSON file: an array of arrays of token ids (equal lengths)." };
        var attention = new Option<string>("--attention")
        {
            Description = "Attention for --input: causal or bidirectional.",
            DefaultValueFactory = _ => "causal",
        };
        attention.AcceptOnlyFromAmong("causal", "bidirectional");
        var output = new Option<string?>("--out") { Description = "Where to write the logits (safetensors, tensor \"logits\")." };
        var force = new Option<bool>("--force") { Description = "Allow --out to overwrite a file of the model directory or the input." };
        var model = new ModelOptions();
        var command = new Command("inspect", "Print a model directory's config, parameter count and dtypes; optionally write logits.")
        {
            modelDir, input, attention, output, force,
        };
        model.AddTo(command);
        command.SetAction(parse => CliErrors.Run(() => Run(parse.GetValue(modelDir)!, parse.GetValue(input),
                                                            parse.GetValue(attention)!, parse.GetValue(output), parse.GetValue(force),
                                                            model, parse)));
        return command;
    }

    static int Run(string directory, string? inputPath, string attention, string? outputPath, bool force, ModelOptions options, ParseResult parse)
    {
        if ((inputPath is null) != (outputPath is null))
            throw new ArgumentException("--input and --out go together");
        if (outputPath is not null) OpenDllm.IO.OutputGuard.EnsureSafe(outputPath, "--out", force, directory, inputPath);
        using var scope = NewDisposeScope();
        var device = options.ResolveDevice(parse);
        var model = Qwen2Model.FromPretrained(directory, device);
        if (options.ShiftedOverride(parse) is { } shifted) model.WithConfig(model.Config with { ShiftedLogits = shifted });
        var config = model.Config;
        var ids = inputPath is null ? null : ReadIds(inputPath, config.VocabSize);   // fail before printing anything

        var table = new Table().AddColumn("field").AddColumn("value");
        foreach (var (name, value) in new (string, object?)[]
                 {
                     ("model_type", config.ModelType), ("hidden_size", config.HiddenSize), ("intermediate_size", config.IntermediateSize),
                     ("num_hidden_layers", config.NumHiddenLayers), ("num_attention_heads", config.NumAttentionHeads),
                     ("num_key_value_heads", config.KeyValueHeads), ("head_dim", config.HeadDim), ("vocab_size", config.VocabSize),
                     ("rope_theta", config.RopeTheta), ("rms_norm_eps", config.RmsNormEps), ("tie_word_embeddings", config.TieWordEmbeddings),
                     ("torch_dtype", config.TorchDtype), ("shifted_logits", config.IsShifted ? "true" : "false"),
                     ("device", device.ToString()), ("parameters", $"{model.ParameterCount:N0}"),
                     ("checkpoint dtypes", CheckpointDtypes(directory)),
                     ("unknown config keys", config.UnknownKeys.Count == 0 ? "none" : string.Join(", ", config.UnknownKeys)),
                 })
            table.AddRow(Markup.Escape(name), Markup.Escape(value?.ToString() ?? "-"));
        AnsiConsole.Write(table);

        if (ids is null) return 0;
        var policy = attention == "bidirectional" ? AttentionPolicy.Bidirectional : AttentionPolicy.Causal;
        using var noGrad = no_grad();
        var logits = model.Logits(ids.to(device), policy).to(ScalarType.Float32).cpu();
        SafetensorsWriter.Save(outputPath!, [("logits", logits)], new Dictionary<string, string>
        {
            ["producer"] = "opendllm inspect", ["attention"] = attention, ["model_dir"] = Path.GetFullPath(directory),
        });
        Console.WriteLine($"wrote {outputPath}: logits [{string.Join(", ", logits.shape)}] float32, {attention} attention");
        return 0;
    }

    static string CheckpointDtypes(string directory)
    {
        using var checkpoint = SafetensorsCheckpoint.Open(directory);
        return string.Join(", ", checkpoint.Names.GroupBy(n => checkpoint.GetEntry(n).DType)
            .Select(g => $"{g.Key} × {g.Count()}"));
    }

    /// <summary>Reads a JSON array of equal-length arrays of token ids into [B, L] int64, checking every id.</summary>
    static Tensor ReadIds(string path, int vocabSize)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"{path}: input ids file not found", path);
        long[][]? rows;
        try { rows = JsonSerializer.Deserialize<long[][]>(File.ReadAllText(path)); }
        catch (JsonException e) { throw new InvalidDataException($"{path}: expected a JSON array of arrays of token ids ({e.Message})", e); }
        if (rows is null || rows.Length == 0 || rows[0].Length == 0)
            throw new InvalidDataException($"{path}: expected a non-empty JSON array of non-empty arrays of token ids");
        for (int r = 0; r < rows.Length; r++)
        {
            if (rows[r].Length != rows[0].Length)
                throw new InvalidDataException($"{path}: row {r} has {rows[r].Length} ids, row 0 has {rows[0].Length}; rows must have equal lengths");
            foreach (var id in rows[r])
                if (id < 0 || id >= vocabSize)
                    throw new InvalidDataException($"{path}: row {r} holds id {id} outside [0, {vocabSize})");
        }
        return tensor(rows.SelectMany(r => r).ToArray(), [rows.Length, rows[0].Length]);
    }
}
