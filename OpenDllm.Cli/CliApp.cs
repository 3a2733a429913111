using System.CommandLine;
using OpenDllm.Cli.Commands;

namespace OpenDllm.Cli;

/// <summary>The `opendllm` command tree; <see cref="Run"/> is the whole program (tests call it in-process).</summary>
public static class CliApp
{
    public static RootCommand CreateRoot() => new("opendllm: diffusion language models on TorchSharp (train, sample, evaluate, inspect).")
    {
        DoctorCommand.Create(),
        InspectCommand.Create(),
        SampleCommand.CreateSample(),
        SampleCommand.CreateInfill(),
        PrepareCommand.Create(),
        Commands.Bench.BenchCommand.Create(),
        TrainCommand.Create(),
        QuickstartCommand.Create(),
        EvalCommand.Create(),
        NotebookCommand.Create(),
    };

    /// <summary>Parses and runs <paramref name="args"/>; returns the exit code (0 ok, 1 bad input, 2 usage).</summary>
    public static int Run(string[] args) => CliErrors.Run(() => CreateRoot().Parse(args).Invoke());
}
