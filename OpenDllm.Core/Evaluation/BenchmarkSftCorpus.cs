using System.Runtime.CompilerServices;
using OpenDllm.Data;

namespace OpenDllm.Evaluation;

/// <summary>
/// The HumanEval + MBPP prompt/response set of <see cref="BenchmarkSftSet"/> read straight from the benchmarks folder, so a
/// recipe can fine-tune on it without a generated file (<c>data.source: benchmark-sft</c>). Examples carry no split of
/// their own: the preparer's hashed split with <c>data.val_fraction</c> and <c>train.seed</c> is then exactly
/// <see cref="BenchmarkSftSet.Build"/>'s held-out split with the same fraction and seed, which
/// <c>opendllm data sft-from-benchmarks --heldout-fraction F --seed S</c> writes out for scoring.
/// </summary>
public sealed class BenchmarkSftCorpus : ICorpus
{
    /// <summary>The corpus kind in recipes and <c>opendllm prepare --source</c>.</summary>
    public const string Kind = "benchmark-sft";

    /// <summary>The set from <paramref name="dataDirectory"/> (null: <see cref="BenchmarkData.ResolveDirectory"/>'s default).</summary>
    public BenchmarkSftCorpus(string? dataDirectory = null)
    {
        Directory = BenchmarkData.ResolveDirectory(dataDirectory);
    }

    /// <summary>The benchmarks folder (absolute).</summary>
    public string Directory { get; }

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <inheritdoc/>
    public string Description => $"{Kind} {Directory} (HumanEval prompt -> canonical body, MBPP eval prompt -> code)";

    IEnumerable<string> Files => [BenchmarkData.FileFor(BenchmarkTask.HumanEval, Directory), BenchmarkData.FileFor(BenchmarkTask.Mbpp, Directory)];

    /// <inheritdoc/>
    public long? TotalBytes => Files.Sum(f => new FileInfo(f).Length);

    /// <inheritdoc/>
    public CorpusIdentity Identity() => new()
    {
        Kind = Kind, Path = Directory,
        Files = FileListFingerprint.Of(Files.Select(f => (Path.GetRelativePath(Directory, f), new FileInfo(f)))),
    };

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        await Task.Yield();
        // the split flag is ignored here (fraction 0.5, seed 0 are arbitrary): the preparer splits by the same hashed id
        foreach (var example in BenchmarkSftSet.Build(Directory, 0.5, 0))
        {
            cancellationToken.ThrowIfCancellationRequested();
            Stats.Documents++;
            Stats.BytesRead += System.Text.Encoding.UTF8.GetByteCount(example.Prompt) + System.Text.Encoding.UTF8.GetByteCount(example.Response);
            yield return new Document(example.Id, example.Response, example.Prompt);
        }
    }
}
