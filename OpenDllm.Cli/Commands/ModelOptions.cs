using System.CommandLine;
using OpenDllm.Runtime;
using static TorchSharp.torch;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// The options every command that runs a model takes: <c>--device cpu|cuda|cuda:N</c> (default: CUDA when present) and
/// <c>--shifted true|false</c>, which overrides whether the model's logit at position i predicts token i + 1 (SPEC §2.3;
/// default: the checkpoint's <c>shifted_logits</c>, else true for a Hugging Face causal-LM checkpoint).
/// </summary>
public sealed class ModelOptions
{
    public readonly Option<string?> Device = new("--device")
    {
        Description = "cpu, cuda or cuda:N (default: CUDA when present, else the CPU).",
    };

    public readonly Option<string?> Shifted = new("--shifted")
    {
        Description = "true|false: the logit at position i predicts token i+1 (default: the checkpoint's shifted_logits; "
                      + "true for a Hugging Face causal-LM checkpoint without it).",
    };

    public ModelOptions() => Shifted.AcceptOnlyFromAmong("true", "false");

    public void AddTo(Command command)
    {
        command.Add(Device);
        command.Add(Shifted);
    }

    /// <summary>The device asked for (loads TorchSharp).</summary>
    public Device ResolveDevice(ParseResult parse) => TorchRuntime.ParseDevice(parse.GetValue(Device));

    /// <summary>For `train` and `quickstart`: the options as recipe overrides (<c>--train.device</c>, <c>--model.shifted_logits</c>).</summary>
    public IEnumerable<string> AsRecipeOverrides(ParseResult parse)
    {
        if (parse.GetValue(Device) is { Length: > 0 } device) yield return $"--train.device={device}";
        if (parse.GetValue(Shifted) is { } shifted) yield return $"--model.shifted_logits={shifted}";
    }

    /// <summary>The <c>--shifted</c> override, or null to keep the checkpoint's own value.</summary>
    public bool? ShiftedOverride(ParseResult parse) => parse.GetValue(Shifted) switch
    {
        "true" => true,
        "false" => false,
        _ => null,
    };
}
