using System.CommandLine;
using OpenDllm.Evaluation;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm data sft-from-benchmarks --out DIR [--data DIR] [--heldout-fraction F] [--seed S] [--force]`: writes the
/// HumanEval + MBPP prompt/response set (<see cref="BenchmarkSftSet"/>) as <c>train.jsonl</c> and <c>heldout.jsonl</c>.
/// </summary>
public static class DataCommand
{
    public static Command Create() => new("data", "Build data sets.") { CreateSftFromBenchmarks() };

    static Command CreateSftFromBenchmarks()
    {
        var output = new Option<string>("--out") { Description = "Folder to write train.jsonl and heldout.jsonl into.", Required = true };
        var data = new Option<string?>("--data") { Description = $"Benchmarks folder (default: ${BenchmarkData.EnvironmentVariable}, else ../shared/data/benchmarks)." };
        var fraction = new Option<double>("--heldout-fraction") { Description = "Fraction of problems held out (split by hashed id).", DefaultValueFactory = _ => 0.2 };
        var seed = new Option<long>("--seed") { Description = "Seed of the held-out split.", DefaultValueFactory = _ => 0L };
        var force = new Option<bool>("--force") { Description = "Allow --out to overwrite files of the benchmarks folder." };
        var command = new Command("sft-from-benchmarks",
            "Write a prompt/response fine-tuning set from HumanEval (signature + docstring -> body) and MBPP (eval prompt -> code), with a held-out split.")
        {
            output, data, fraction, seed, force,
        };
        command.SetAction(p => CliErrors.Run(() =>
        {
            var benchmarks = BenchmarkData.ResolveDirectory(p.GetValue(data));
            var examples = BenchmarkSftSet.Build(benchmarks, p.GetValue(fraction), p.GetValue(seed));
            var dir = p.GetValue(output)!;
            var (train, heldOut) = BenchmarkSftSet.Write(examples, dir, benchmarks, p.GetValue(force));
            foreach (var group in examples.GroupBy(e => e.Benchmark))
                Console.WriteLine($"{group.Key}: {group.Count(e => !e.HeldOut)} train, {group.Count(e => e.HeldOut)} held out");
            Console.WriteLine($"wrote {Path.Combine(dir, BenchmarkSftSet.TrainFile)} ({train} examples) and {Path.Combine(dir, BenchmarkSftSet.HeldOutFile)} ({heldOut} examples)");
            Console.WriteLine($"score the held-out problems with: opendllm eval humaneval|mbpp --checkpoint CKPT --tasks {Path.Combine(dir, BenchmarkSftSet.HeldOutFile)}");
            return 0;
        }));
        return command;
    }
}
