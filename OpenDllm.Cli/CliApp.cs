using System.CommandLine;
using OpenDllm.Cli.Commands;

namespace OpenDllm.Cli;

/// <summary>The `opendllm` command tree; <see cref="Run"/> is the whole program (tests call it in-process).</summary>
public static class CliApp
{
    /// <summary>Accepted by every command: stack traces on errors.</summary>
    public static readonly Option<bool> VerboseOption = new("--verbose")
    {
        Description = "Print the full stack trace when a command fails.", Recursive = true,
    };

    public static RootCommand CreateRoot() => new("opendllm: diffusion language models on TorchSharp (train, sample, evaluate, inspect).")
    {
        VerboseOption,
        DoctorCommand.Create(),
        InspectCommand.Create(),
        SampleCommand.CreateSample(),
        SampleCommand.CreateInfill(),
        PrepareCommand.Create(),
        DataCommand.Create(),
        Commands.Bench.BenchCommand.Create(),
        TrainCommand.Create(),
        LaunchCommand.Create(),
        QuickstartCommand.Create(),
        EvalCommand.Create(),
        NotebookCommand.Create(),
        LoraCommand.Create(),
        CompareCommand.Create(),
        ReportCommand.Create(),
        ConvertCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code (<see cref="ExitCodes"/>).</summary>
    public static int Run(string[] args)
    {
        var previous = CliErrors.Verbose;
        try
        {
            return CliErrors.Run(() =>
            {
                var parse = CreateRoot().Parse(args);
                if (parse.GetValue(VerboseOption)) CliErrors.Verbose = true;
                return parse.Invoke();
            });
        }
        finally
        {
            CliErrors.Verbose = previous;
        }
    }
}
