using System.CommandLine;
using OpenDllm.Data;
using OpenDllm.Tokenization;
using Spectre.Console;

namespace OpenDllm.Cli.Commands;

/// <summary>
/// `opendllm prepare --source folder|jsonl|parquet|python-stdlib|python-docstrings|… --path P [--field F] [--column C] [--glob G]…
/// [--exclude G]… [--no-comments] [--tokenizer byte|DIR] [--out DIR] [--val-fraction F] [--seed S] [--shard-tokens N] [--max-documents N]`:
/// tokenizes a corpus into a token-shard folder (<see cref="CorpusPreparer"/>) with a progress bar (plain lines when
/// stdout is not a terminal), then prints what was written.
/// </summary>
public static class PrepareCommand
{
    public static Command Create()
    {
        var source = new Option<string>("--source") { Description = "Corpus kind.", DefaultValueFactory = _ => "python-stdlib" };
        source.AcceptOnlyFromAmong([.. Corpora.Kinds]);
        var path = new Option<string?>("--path") { Description = "Folder, .jsonl/.parquet file, or folder of them (python-stdlib, python-docstrings: the stdlib folder; default: asked from python3)." };
        var field = new Option<string>("--field") { Description = "JSONL text field.", DefaultValueFactory = _ => "text" };
        var column = new Option<string?>("--column") { Description = "Parquet text column (default: \"content\", else \"text\")." };
        var glob = new Option<string[]>("--glob") { Description = "Folder: include pattern (repeatable; default **/*).", AllowMultipleArgumentsPerToken = true };
        var exclude = new Option<string[]>("--exclude") { Description = "Folder: exclude pattern (repeatable).", AllowMultipleArgumentsPerToken = true };
        var minBytes = new Option<long?>("--min-bytes") { Description = "Folder: skip smaller files (default 1)." };
        var maxBytes = new Option<long?>("--max-bytes") { Description = "Folder: skip larger files (default 1048576)." };
        var noComments = new Option<bool>("--no-comments") { Description = "python-docstrings: docstrings only, without comment blocks." };
        var tokenizer = new Option<string>("--tokenizer") { Description = "\"byte\" or a tokenizer folder (tokenizer.json or a saved OpenDllm tokenizer).", DefaultValueFactory = _ => "byte" };
        var output = new Option<string?>("--out") { Description = $"Output folder (python-stdlib default: {DefaultCorpus.DefaultOutputDirectory}; python-docstrings: {PythonDocstringCorpus.DefaultOutputDirectory})." };
        var valFraction = new Option<double>("--val-fraction") { Description = "Fraction of documents for validation.", DefaultValueFactory = _ => 0.01 };
        var seed = new Option<long>("--seed") { Description = "Seed of the train/validation split." };
        var shardTokens = new Option<long>("--shard-tokens") { Description = "Tokens per shard (about).", DefaultValueFactory = _ => 1L << 26 };
        var maxDocuments = new Option<long?>("--max-documents") { Description = "Stop after this many documents." };
        var maxExampleTokens = new Option<int?>("--max-example-tokens")
        {
            Description = "Drop (and count) documents longer than this many tokens, EOS included; for --source sft give the training data.seq_len.",
        };
        var command = new Command("prepare", "Tokenize a corpus (folder, JSONL, Parquet, prompt/response JSONL, the Python stdlib or its docstrings and comments) into memory-mapped token shards.")
        {
            source, path, field, column, glob, exclude, minBytes, maxBytes, noComments, tokenizer, output, valFraction, seed, shardTokens, maxDocuments,
            maxExampleTokens,
        };
        command.SetAction(parse => CliErrors.Run(() =>
        {
            var folderOptions = new FolderCorpusOptions
            {
                Include = parse.GetValue(glob) is { Length: > 0 } g ? g : ["**/*"],
                Exclude = parse.GetValue(exclude) ?? [],
                MinBytes = parse.GetValue(minBytes) ?? 1,
                MaxBytes = parse.GetValue(maxBytes) ?? 1 << 20,
            };
            var kind = parse.GetValue(source)!;
            var docstrings = parse.GetValue(noComments) ? new PythonDocstringsOptions { IncludeComments = false } : null;
            if (docstrings is not null && kind != PythonDocstringCorpus.Kind)
                throw new ArgumentException($"--no-comments applies to --source {PythonDocstringCorpus.Kind} only, not {kind}");
            var corpus = CreateCorpus(kind, parse.GetValue(path), parse.GetValue(field)!, parse.GetValue(column), folderOptions, docstrings);
            var outDir = parse.GetValue(output) ?? (kind == "python-stdlib" ? DefaultCorpus.DefaultOutputDirectory
                : kind == PythonDocstringCorpus.Kind ? PythonDocstringCorpus.DefaultOutputDirectory
                : throw new ArgumentException("--out is required (the folder to write the token shards into)"));
            var options = new PrepareOptions
            {
                ValidationFraction = parse.GetValue(valFraction), Seed = parse.GetValue(seed),
                ShardTokens = parse.GetValue(shardTokens), MaxDocuments = parse.GetValue(maxDocuments),
                MaxExampleTokens = parse.GetValue(maxExampleTokens),
            };
            return Run(corpus, LoadTokenizer(parse.GetValue(tokenizer)!), outDir, options);
        }));
        return command;
    }

    /// <summary>The corpus for <c>--source</c> (<see cref="Corpora.Create"/>: a missing --path is an error naming it).</summary>
    public static ICorpus CreateCorpus(string kind, string? path, string field, string? column, FolderCorpusOptions folderOptions,
                                       PythonDocstringsOptions? docstrings = null) =>
        Corpora.Create(kind, path, kind == "jsonl" ? field : kind == "parquet" ? column : null, folderOptions,
                       pathName: "--path", fieldName: kind == "parquet" ? "--column" : "--field", docstringOptions: docstrings);

    static ITokenizer LoadTokenizer(string spec) => spec == "byte" ? ByteTokenizer.Instance : Tokenizers.Load(spec);

    static int Run(ICorpus corpus, ITokenizer tokenizer, string outDir, PrepareOptions options)
    {
        Console.WriteLine($"preparing {corpus.Description}");
        Console.WriteLine($"tokenizer {tokenizer.Name} (vocab {tokenizer.VocabSize}) -> {Path.GetFullPath(outDir)}");
        ShardManifest manifest;
        PrepareProgress? last = null;
        if (AnsiConsole.Profile.Capabilities.Interactive && !Console.IsOutputRedirected)
        {
            manifest = AnsiConsole.Progress()
                .Columns(new TaskDescriptionColumn(), new ProgressBarColumn(), new PercentageColumn(), new ElapsedTimeColumn())
                .Start(ctx =>
                {
                    var task = ctx.AddTask("reading", maxValue: 1.0);
                    var result = CorpusPreparer.Prepare(corpus, tokenizer, outDir, options, new Callback(p =>
                    {
                        last = p;
                        if (p.Fraction is double f) task.Value = f; else task.IsIndeterminate = true;
                        task.Description = Markup.Escape($"{p.Documents:N0} docs, {p.Tokens:N0} tokens, {p.TokensPerSecond / 1e6:F2} M tok/s");
                    }));
                    task.Value = 1.0;
                    return result;
                });
        }
        else
        {
            double nextPrint = 5;
            manifest = CorpusPreparer.Prepare(corpus, tokenizer, outDir, options, new Callback(p =>
            {
                last = p;
                if (p.Done || p.Elapsed.TotalSeconds < nextPrint) return;
                nextPrint = p.Elapsed.TotalSeconds + 5;
                Console.WriteLine($"  {p.Documents:N0} docs, {p.Tokens:N0} tokens{(p.Fraction is double f ? $", {f:P0}" : "")}, {p.Elapsed.TotalSeconds:F0} s");
            }));
        }
        var train = manifest.Splits[DocumentSplit.Train];
        var validation = manifest.Splits[DocumentSplit.Validation];
        var seconds = last?.Elapsed.TotalSeconds ?? 0;
        Console.WriteLine($"corpus: {corpus.Stats}");
        if (corpus is PythonDocstringCorpus prose) Console.WriteLine($"prose: {prose.Prose}");
        if (corpus.Stats.SkippedTooLong > 0)
            Console.WriteLine($"dropped {corpus.Stats.SkippedTooLong:N0} examples longer than {options.MaxExampleTokens} tokens (recorded in the manifest as skipped_too_long)");
        if (manifest.Identity is { } identity) Console.WriteLine($"source: {identity.Kind} {identity.Path}, {identity.Files} (recorded in the manifest)");
        Console.WriteLine($"train: {train.Documents:N0} documents, {train.Tokens:N0} tokens, {train.Shards.Count} shard(s); " +
                          $"validation: {validation.Documents:N0} documents, {validation.Tokens:N0} tokens; dtype {manifest.Dtype.ToString().ToLowerInvariant()}");
        Console.WriteLine($"wrote {Path.GetFullPath(outDir)} in {seconds:F1} s ({(train.Tokens + validation.Tokens) / Math.Max(seconds, 1e-9) / 1e6:F2} M tokens/s)");
        return 0;
    }

    sealed class Callback(Action<PrepareProgress> report) : IProgress<PrepareProgress>
    {
        public void Report(PrepareProgress value) => report(value);
    }
}
