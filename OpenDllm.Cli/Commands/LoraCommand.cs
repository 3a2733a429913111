using System.CommandLine;
using OpenDllm.IO;
using OpenDllm.Lora;
using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm lora merge BASE ADAPTER --out DIR [--dtype float32|bfloat16|float16]`: folds a PEFT LoRA adapter into the base
/// checkpoint's weights (W + (α/r)·B·A) and writes a plain Hugging Face folder (config, weights, the base's tokenizer).
/// </summary>
public static class LoraCommand
{
    public static Command Create() => new("lora", "LoRA adapters (PEFT layout).") { CreateMerge() };

    static Command CreateMerge()
    {
        var baseDir = new Argument<string>("base") { Description = "Base checkpoint folder (config.json, safetensors, tokenizer)." };
        var adapterDir = new Argument<string>("adapter") { Description = "PEFT adapter folder (adapter_config.json, adapter_model.safetensors)." };
        var output = new Option<string>("--out") { Description = "Folder for the merged checkpoint.", Required = true };
        var dtype = new Option<string?>("--dtype") { Description = "Stored dtype of the merged weights: float32, bfloat16 or float16 (default: the base's torch_dtype, else float32)." };
        dtype.AcceptOnlyFromAmong("float32", "bfloat16", "float16");
        var force = new Option<bool>("--force") { Description = "Allow --out to be, or overwrite files of, the base or adapter folder." };
        var command = new Command("merge", "Merge a LoRA adapter into its base model and save a Hugging Face checkpoint.") { baseDir, adapterDir, output, dtype, force };
        command.SetAction(p => CliErrors.Run(() =>
        {
            string b = p.GetValue(baseDir)!, a = p.GetValue(adapterDir)!, o = p.GetValue(output)!;
            OutputGuard.EnsureSafe(o, "--out", p.GetValue(force), b, a);
            PeftAdapterConfig.Load(a);                                           // config errors before libtorch loads
            var stored = p.GetValue(dtype) ?? OpenDllm.Config.ModelConfig.Load(b).StoredDtype ?? "float32";
            ScalarType target = stored switch
            {
                "bfloat16" => ScalarType.BFloat16,
                "float16" => ScalarType.Float16,
                "float32" => ScalarType.Float32,
                _ => throw new ArgumentException($"{b}: torch_dtype {stored} is not float32, bfloat16 or float16; pass --dtype"),
            };
            TorchRuntime.EnsureLoaded();
            long parameters = LoraMerge.Run(b, a, o, target);
            Console.WriteLine($"merged {a} into {b}: {parameters:N0} parameters, {stored}, written to {o}");
            return 0;
        }));
        return command;
    }
}
