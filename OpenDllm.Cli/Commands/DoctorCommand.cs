using System.CommandLine;
using OpenDllm.Runtime;
using Spectre.Console;

namespace OpenDllm.Cli.Commands;

/// <summary>`opendllm doctor`: prints the runtime facts (TorchSharp/libtorch versions, device, threads, CUDA).</summary>
public static class DoctorCommand
{
    public static Command Create()
    {
        var command = new Command("doctor", "Print runtime facts: TorchSharp and libtorch versions, device, threads, CUDA.");
        command.SetAction(_ => CliErrors.Run(Run));
        return command;
    }

    static int Run()
    {
        var table = new Table().AddColumn("fact").AddColumn("value");
        foreach (var (name, value) in TorchRuntime.Facts())
            table.AddRow(Markup.Escape(name), Markup.Escape(value));
        AnsiConsole.Write(table);
        return 0;
    }
}
