using System.Diagnostics;
using System.Runtime.InteropServices;
using OpenDllm.Tokenization;

namespace OpenDllm.Data;

/// <summary>
/// Turns a corpus into a token-shard folder (SPEC §2.1): every document becomes <c>tokenize(text) + [EOS]</c> (no BOS),
/// goes to the train or validation split by its hashed id (<see cref="DocumentSplit"/>), and is appended to that split's
/// shards (<see cref="ShardManifest"/>). Reopen the result with <see cref="TokenShardSet.Open"/>.
/// A prompt/response example (<see cref="Document.Prompt"/> set, <see cref="SftCorpus"/>) becomes
/// <c>tokenize(prompt) + tokenize(response) + [EOS]</c> with its prompt length recorded beside the shard, goes to the split
/// it names (<see cref="Document.Split"/>) when it names one, and is dropped and counted when it is longer than
/// <see cref="PrepareOptions.MaxExampleTokens"/>.
/// </summary>
/// <remarks>
/// <para>Atomic: everything is written into a hidden sibling folder that replaces the output by rename only when complete,
/// so a failure or cancellation midway leaves an existing output untouched. An existing output folder is replaced only when it
/// holds nothing but a token-shard folder's manifest and shards (<see cref="PreparedData.ForeignEntries"/>): a folder with
/// checkpoints, metrics or anything else in it is never deleted.</para>
/// <para>The manifest records the corpus's <see cref="CorpusIdentity"/> taken before reading, so a file changed while
/// preparing makes the folder look stale (prepared again next time) rather than current.</para>
/// <para>Both splits non-empty when possible: with a fraction in (0, 1) and at least two documents, if the hash sends every
/// document to one split, the last document read moves to the other one (deterministic: it depends only on the corpus
/// order), unless some document names its split. Memory: one document per split is held back for this; everything else streams.</para>
/// </remarks>
public static class CorpusPreparer
{
    /// <summary>Prepares <paramref name="corpus"/> into <paramref name="outputDirectory"/> and returns the manifest written.</summary>
    /// <exception cref="InvalidDataException">The corpus is empty or malformed.</exception>
    /// <exception cref="IOException">The output exists and is not a token-shard folder, or holds other files besides one.</exception>
    /// <exception cref="FileNotFoundException">The corpus file or folder does not exist.</exception>
    public static async Task<ShardManifest> PrepareAsync(ICorpus corpus, ITokenizer tokenizer, string outputDirectory,
        PrepareOptions? options = null, IProgress<PrepareProgress>? progress = null, CancellationToken cancellationToken = default)
    {
        options ??= new PrepareOptions();
        options.Validate();
        var output = Path.TrimEndingDirectorySeparator(Path.GetFullPath(outputDirectory));
        EnsureReplaceable(output);
        var identity = corpus.Identity();                      // the files as they are now, before reading them
        var parent = Path.GetDirectoryName(output)!;
        Directory.CreateDirectory(parent);
        var temp = Path.Combine(parent, $".{Path.GetFileName(output)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            var clock = Stopwatch.StartNew();
            long? totalBytes = progress is null ? null : corpus.TotalBytes;
            var manifest = await WriteAsync(corpus, tokenizer, temp, options, progress, totalBytes, clock, cancellationToken).ConfigureAwait(false);
            manifest = manifest with { Identity = identity };
            manifest.Save(Path.Combine(temp, ShardManifest.FileName));
            EnsureReplaceable(output);                          // again: something may have been written there meanwhile
            Replace(temp, output);
            progress?.Report(Report(corpus, totalBytes, manifest.Splits.Values.Sum(s => s.Documents), manifest.Splits.Values.Sum(s => s.Tokens), clock, true));
            return manifest;
        }
        catch
        {
            TryDelete(temp);
            throw;
        }
    }

    /// <summary>Synchronous <see cref="PrepareAsync"/> (for scripts and notebooks).</summary>
    public static ShardManifest Prepare(ICorpus corpus, ITokenizer tokenizer, string outputDirectory,
        PrepareOptions? options = null, IProgress<PrepareProgress>? progress = null) =>
        PrepareAsync(corpus, tokenizer, outputDirectory, options, progress).GetAwaiter().GetResult();

    static async Task<ShardManifest> WriteAsync(ICorpus corpus, ITokenizer tokenizer, string directory, PrepareOptions options,
        IProgress<PrepareProgress>? progress, long? totalBytes, Stopwatch clock, CancellationToken ct)
    {
        var dtype = ShardManifest.DTypeFor(tokenizer.VocabSize);
        using var train = new ShardSplitWriter(directory, DocumentSplit.Train, dtype, options.ShardTokens, tokenizer.VocabSize);
        using var validation = new ShardSplitWriter(directory, DocumentSplit.Validation, dtype, options.ShardTokens, tokenizer.VocabSize);
        (int[] Ids, int? Prompt)? pendingTrain = null, pendingValidation = null;
        long documents = 0, tokens = 0;
        bool named = false;                                    // some document named its split: never move one
        var lastReport = TimeSpan.Zero;
        await foreach (var doc in corpus.ReadAsync(ct).ConfigureAwait(false))
        {
            var (ids, promptLength) = Encode(tokenizer, doc);
            if (ids.Length > options.MaxExampleTokens)
            {
                corpus.Stats.SkippedTooLong++;
                if (++documents == options.MaxDocuments) break;
                continue;
            }
            named |= doc.Split is not null;
            if (doc.Split is { } split ? split == DocumentSplit.Validation : DocumentSplit.IsValidation(doc.Id, options.Seed, options.ValidationFraction))
            {
                if (pendingValidation is { } v) validation.Add(v.Ids, v.Prompt);
                pendingValidation = (ids, promptLength);
            }
            else
            {
                if (pendingTrain is { } t) train.Add(t.Ids, t.Prompt);
                pendingTrain = (ids, promptLength);
            }
            documents++;
            tokens += ids.Length;
            if (progress is not null && clock.Elapsed - lastReport >= TimeSpan.FromMilliseconds(100))
            {
                lastReport = clock.Elapsed;
                progress.Report(Report(corpus, totalBytes, documents, tokens, clock, false));
            }
            if (documents == options.MaxDocuments) break;
        }
        if (train.Documents + validation.Documents + (pendingTrain is null ? 0 : 1) + (pendingValidation is null ? 0 : 1) == 0)
            throw documents == 0 ? corpus.Stats.Empty(corpus.Description)
                : new InvalidDataException($"{corpus.Description}: all {documents} examples are longer than {options.MaxExampleTokens} tokens; raise the sequence length");

        long trainCount = train.Documents + (pendingTrain is null ? 0 : 1);
        long validationCount = validation.Documents + (pendingValidation is null ? 0 : 1);
        if (!named && options.ValidationFraction > 0 && validationCount == 0 && trainCount >= 2)
            (pendingValidation, pendingTrain) = (pendingTrain, null);
        else if (!named && options.ValidationFraction > 0 && trainCount == 0 && validationCount >= 2)
            (pendingTrain, pendingValidation) = (pendingValidation, null);
        if (pendingTrain is { } lastTrain) train.Add(lastTrain.Ids, lastTrain.Prompt);
        if (pendingValidation is { } lastValidation) validation.Add(lastValidation.Ids, lastValidation.Prompt);

        var splits = new Dictionary<string, SplitManifest>
        {
            [DocumentSplit.Train] = train.Complete(),
            [DocumentSplit.Validation] = validation.Complete(),
        };
        return new ShardManifest
        {
            Format = ShardManifest.FormatName, Version = ShardManifest.CurrentVersion,
            Tokenizer = new ShardTokenizer(tokenizer.Name, tokenizer.VocabSize, tokenizer.Special.Eos),
            Dtype = dtype, Source = corpus.Description, Settings = options,
            Corpus = CorpusCounts.From(corpus.Stats), Splits = splits, CreatedUtc = DateTimeOffset.UtcNow,
        };
    }

    /// <summary><c>tokenize(prompt) + tokenize(text) + [EOS]</c> and the prompt's length (null without a prompt).</summary>
    static (int[] Ids, int? PromptLength) Encode(ITokenizer tokenizer, Document doc)
    {
        var prompt = doc.Prompt is null ? [] : tokenizer.Encode(doc.Prompt);
        var encoded = tokenizer.Encode(doc.Text);
        var ids = new int[prompt.Count + encoded.Count + 1];
        Copy(prompt, ids.AsSpan(0, prompt.Count));
        Copy(encoded, ids.AsSpan(prompt.Count, encoded.Count));
        ids[^1] = tokenizer.Special.Eos;
        return (ids, doc.Prompt is null ? null : prompt.Count);
    }

    static void Copy(IReadOnlyList<int> source, Span<int> destination)
    {
        if (source is List<int> list) CollectionsMarshal.AsSpan(list).CopyTo(destination);
        else for (int i = 0; i < source.Count; i++) destination[i] = source[i];
    }

    static PrepareProgress Report(ICorpus corpus, long? totalBytes, long documents, long tokens, Stopwatch clock, bool done) =>
        new(documents, tokens, corpus.Stats.BytesRead, totalBytes, corpus.Stats.Skipped, clock.Elapsed, done);

    /// <summary>
    /// Throws unless <paramref name="output"/> is missing, empty, or a token-shard folder holding nothing else: a folder with
    /// checkpoints, metrics or any other file is never replaced.
    /// </summary>
    static void EnsureReplaceable(string output)
    {
        var foreign = PreparedData.ForeignEntries(output);
        if (foreign.Count == 0) return;
        var hasManifest = File.Exists(Path.Combine(output, ShardManifest.FileName));
        var listed = string.Join(", ", foreign.Take(5)) + (foreign.Count > 5 ? $", … ({foreign.Count} in all)" : "");
        throw new IOException(hasManifest
            ? $"{output}: refusing to replace this token-shard folder: it also holds {listed}, which preparing would delete; choose another output folder"
            : $"{output}: refusing to replace a folder that is not a token-shard folder (no {ShardManifest.FileName}; it holds {listed}); choose another output folder");
    }

    /// <summary>Moves the complete <paramref name="temp"/> folder to <paramref name="output"/>, replacing an old output.</summary>
    static void Replace(string temp, string output)
    {
        if (!Directory.Exists(output))
        {
            Directory.Move(temp, output);
            return;
        }
        var old = Path.Combine(Path.GetDirectoryName(output)!, $".{Path.GetFileName(output)}.old-{Guid.NewGuid():N}");
        Directory.Move(output, old);
        try { Directory.Move(temp, output); }
        catch
        {
            Directory.Move(old, output);
            throw;
        }
        TryDelete(old);
    }

    static void TryDelete(string directory)
    {
        try { if (Directory.Exists(directory)) Directory.Delete(directory, recursive: true); }
        catch (IOException) { }
        catch (UnauthorizedAccessException) { }
    }
}
