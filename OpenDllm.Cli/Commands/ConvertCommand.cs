using System.CommandLine;
using OpenDllm.IO;
using OpenDllm.Models.Bert.Onnx;
using OpenDllm.Runtime;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm convert minilm --output DIR` and `opendllm convert onnx-bert MODEL.onnx VOCAB.txt --output DIR [--heads H]`:
/// a BERT encoder exported to ONNX → a Hugging Face BERT folder (config.json, model.safetensors, vocab.txt,
/// tokenizer_config.json) that <c>BertForMaskedLM.FromPretrained</c> loads (<see cref="OnnxBertConverter"/>).
/// </summary>
public static class ConvertCommand
{
    public static Command Create() => new("convert", "Convert pretrained weights to a Hugging Face folder OpenDllm loads.") { CreateMiniLm(), CreateOnnxBert() };

    static Option<string> Output() => new("--output") { Description = "Folder for the Hugging Face BERT checkpoint.", Required = true };
    static Option<bool> Force() => new("--force") { Description = "Write into an existing non-empty folder (its files of the same names are replaced)." };

    static Command CreateMiniLm()
    {
        var output = Output();
        var force = Force();
        var command = new Command("minilm", $"all-MiniLM-L6-v2 from the {MiniLmPackage.PackageId} {MiniLmPackage.PackageVersion} package shipped with the CLI.") { output, force };
        command.SetAction(p => CliErrors.Run(() =>
        {
            string o = p.GetValue(output)!;
            var assembly = MiniLmPackage.LocateAssembly();
            EnsureWritable(o, p.GetValue(force), assembly);
            TorchRuntime.EnsureLoaded();
            return Report(MiniLmPackage.Convert(o, assembly), o);
        }));
        return command;
    }

    static Command CreateOnnxBert()
    {
        var model = new Argument<string>("model") { Description = "The BERT encoder as ONNX (weights inside the file)." };
        var vocab = new Argument<string>("vocab") { Description = "Its WordPiece vocab.txt." };
        var heads = new Option<int?>("--heads") { Description = "Attention heads, when the graph does not say (checked against it when it does)." };
        var output = Output();
        var force = Force();
        var command = new Command("onnx-bert", "Any BERT encoder exported to ONNX (BertModel layout: embeddings, post-norm layers, exact GELU).")
            { model, vocab, output, heads, force };
        command.SetAction(p => CliErrors.Run(() =>
        {
            string m = p.GetValue(model)!, v = p.GetValue(vocab)!, o = p.GetValue(output)!;
            EnsureWritable(o, p.GetValue(force), m, v);
            TorchRuntime.EnsureLoaded();
            return Report(OnnxBertConverter.Convert(m, v, o, p.GetValue(heads)), o);
        }));
        return command;
    }

    /// <summary>Refuses an existing non-empty output folder and any overlap with an input, unless --force.</summary>
    static void EnsureWritable(string output, bool force, params string[] inputs)
    {
        OutputGuard.EnsureSafe(output, "--output", force, inputs);
        if (File.Exists(output)) throw new IOException($"--output {output}: is a file, not a folder");
        if (!force && Directory.Exists(output) && Directory.EnumerateFileSystemEntries(output).Any())
            throw new IOException($"--output {output}: folder exists and is not empty (choose another, or pass --force)");
    }

    static int Report(OnnxBertConversion conversion, string output)
    {
        var c = conversion.Config;
        Console.WriteLine($"wrote {output}: BERT {c.NumHiddenLayers} layers, hidden {c.HiddenSize}, {c.NumAttentionHeads} heads, FFN {c.IntermediateSize}, "
                          + $"vocab {c.VocabSize}, {conversion.Tensors.Count} tensors ({conversion.Tensors.Count(t => t.Transposed)} transposed MatMul weights)");
        foreach (var note in conversion.Notes) Console.WriteLine($"  {note}");
        return 0;
    }
}
