using System.CommandLine;
using OpenDllm.Data;
using OpenDllm.Evaluation;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm data sft-from-benchmarks --out DIR [--data DIR] [--heldout-fraction F] [--seed S] [--force]`: writes the
/// HumanEval + MBPP prompt/response set (<see cref="BenchmarkSftSet"/>) as <c>train.jsonl</c> and <c>heldout.jsonl</c>.
/// `opendllm data docstrings [--path DIR] [--no-comments] [--samples N] [--seed S]`: reads the <c>python-docstrings</c>
/// corpus (<see cref="PythonDocstringCorpus"/>) and prints what it holds and a few documents drawn at random.
/// </summary>
public static class DataCommand
{
    public static Command Create() => new("data", "Build and inspect data sets.") { CreateSftFromBenchmarks(), CreateDocstrings() };

    static Command CreateDocstrings()
    {
        var path = new Option<string?>("--path") { Description = "Folder of Python files (default: the stdlib folder asked from python3)." };
        var noComments = new Option<bool>("--no-comments") { Description = "Docstrings only, without comment blocks." };
        var samples = new Option<int>("--samples") { Description = "How many documents to print, drawn at random.", DefaultValueFactory = _ => 3 };
        var seed = new Option<long>("--seed") { Description = "Seed of the draw.", DefaultValueFactory = _ => 0L };
        var command = new Command("docstrings",
            $"Show the {PythonDocstringCorpus.Kind} corpus (English docstrings and comments of Python files): counts and random samples.")
        {
            path, noComments, samples, seed,
        };
        command.SetAction(p => CliErrors.Run(() =>
        {
            int count = p.GetValue(samples);
            if (count < 0) throw new ArgumentException($"--samples = {count}: must be ≥ 0");
            var options = p.GetValue(noComments) ? new PythonDocstringsOptions { IncludeComments = false } : null;
            var corpus = (PythonDocstringCorpus)Corpora.Create(PythonDocstringCorpus.Kind, p.GetValue(path), pathName: "--path", docstringOptions: options);
            var random = new Random(unchecked((int)p.GetValue(seed) ^ (int)(p.GetValue(seed) >> 32)));
            var drawn = new List<Document>();
            long seen = 0;
            foreach (var doc in corpus.ReadAsync().ToBlockingEnumerable())
            {
                seen++;                                            // reservoir sampling: memory stays at --samples documents
                if (drawn.Count < count) drawn.Add(doc);
                else if (random.NextInt64(seen) is var k && k < count) drawn[(int)k] = doc;
            }
            Console.WriteLine(corpus.Description);
            Console.WriteLine($"prose: {corpus.Prose}");
            Console.WriteLine($"documents: {corpus.Stats}");
            foreach (var doc in drawn.OrderBy(d => d.Id, StringComparer.Ordinal))
                Console.WriteLine($"\n--- {doc.Id} ({doc.Text.Length} characters)\n{doc.Text}");
            return 0;
        }));
        return command;
    }

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
