using System.CommandLine;

namespace OpenDllm.Cli.Commands;

/// <summary><c>--adapter DIR</c>: a PEFT LoRA adapter folder applied on top of the checkpoint (sample, infill, eval, inspect).</summary>
public sealed class AdapterOption
{
    public readonly Option<string?> Adapter = new("--adapter")
    {
        Description = "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors) applied on top of the checkpoint.",
    };

    public void AddTo(Command command) => command.Add(Adapter);

    /// <summary>The folder given, or null.</summary>
    public string? Value(ParseResult parse) => parse.GetValue(Adapter);
}
