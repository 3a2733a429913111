using System.CommandLine;
using OpenDllm.Cli.Commands;

var root = new RootCommand("opendllm: diffusion language models on TorchSharp (train, sample, evaluate, inspect).")
{
    DoctorCommand.Create(),
    InspectCommand.Create(),
};
return CliErrors.Run(() => root.Parse(args).Invoke());
