using System.CommandLine;

namespace OpenDllm.Cli.Commands;

/// <summary><c>opendllm eval presets</c> (and <c>--preset list</c>): every preset with its tasks, settings, source and notes.</summary>
public static class EvalPresetListing
{
    public static Command Create()
    {
        var command = new Command("presets", "List the named evaluation presets (the anchors' published settings) for --preset.");
        command.SetAction(_ => CliErrors.Run(() =>
        {
            Print(Console.Out);
            return 0;
        }));
        return command;
    }

    /// <summary>Writes the listing.</summary>
    public static void Print(TextWriter output)
    {
        foreach (var preset in OpenDllm.Evaluation.EvalPresets.All)
        {
            output.WriteLine($"{preset.Name}  (tasks: {string.Join(", ", preset.Tasks)})");
            output.WriteLine($"  {string.Join(" ", preset.Knobs.Given().Select(g => $"{g.Flag} {g.Value}"))}");
            output.WriteLine($"  source: {preset.Source}");
            output.WriteLine($"  notes: {preset.Notes}");
        }
        output.WriteLine("Use: opendllm eval TASK --checkpoint DIR --preset NAME [flags that override it]");
    }
}
