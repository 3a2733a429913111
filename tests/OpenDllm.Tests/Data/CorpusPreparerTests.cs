using OpenDllm.Data;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Data;

public sealed class CorpusPreparerTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    string Out => _temp.Combine("out");

    static Dictionary<string, string> Snapshot(string directory) =>
        Directory.EnumerateFiles(directory).ToDictionary(f => Path.GetFileName(f), f => Convert.ToHexString(File.ReadAllBytes(f)));

    [Fact]
    public async Task AFailingPrepareLeavesTheExistingOutputIntact()
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(12), ByteTokenizer.Instance, Out);
        var before = Snapshot(Out);

        await Assert.ThrowsAsync<IOException>(() =>
            CorpusPreparer.PrepareAsync(ListCorpus.Numbered(50, failAfter: 30), ByteTokenizer.Instance, Out, new PrepareOptions { ShardTokens = 16 }));

        Assert.Equal(before, Snapshot(Out));
        Assert.Equal([Out], Directory.EnumerateFileSystemEntries(_temp.Path));   // no temporary folder left behind
        using var set = TokenShardSet.Open(Out);
        Assert.Equal(12, set.Train.DocumentCount + set.Validation.DocumentCount);
    }

    [Fact]
    public void ASuccessfulPrepareReplacesTheOutputAndRefusesForeignFolders()
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(12), ByteTokenizer.Instance, Out);
        CorpusPreparer.Prepare(ListCorpus.Numbered(20), ByteTokenizer.Instance, Out + "/", new PrepareOptions { MaxDocuments = 15 });
        Assert.Equal([Out], Directory.EnumerateFileSystemEntries(_temp.Path));   // the old output and the temporary folder are gone
        using (var set = TokenShardSet.Open(Out))
            Assert.Equal(15, set.Train.DocumentCount + set.Validation.DocumentCount);

        var foreign = _temp.Write("mine/notes.txt", "keep me");
        var e = Assert.Throws<IOException>(() => CorpusPreparer.Prepare(ListCorpus.Numbered(3), ByteTokenizer.Instance, _temp.Combine("mine")));
        Assert.Contains("refusing", e.Message);
        Assert.Equal("keep me", File.ReadAllText(foreign));
    }

    [Fact]
    public void SplitIsDeterministicAndDisjoint()
    {
        var ids = Enumerable.Range(0, 2000).Select(i => $"pkg/file{i}.py").ToList();
        var validation = ids.Where(id => DocumentSplit.IsValidation(id, 0, 0.1)).ToHashSet();
        Assert.Equal(validation, ids.Where(id => DocumentSplit.IsValidation(id, 0, 0.1)).ToHashSet());
        Assert.InRange(validation.Count, 150, 250);
        Assert.NotEqual(validation, ids.Where(id => DocumentSplit.IsValidation(id, 1, 0.1)).ToHashSet());
        Assert.Equal(0.5871921461638008, DocumentSplit.Unit("os.py", 0), 12);   // pinned (Python hashlib agrees): the split must not change

        var corpus = ListCorpus.Numbered(60);
        CorpusPreparer.Prepare(corpus, ByteTokenizer.Instance, Out, new PrepareOptions { ValidationFraction = 0.2, Seed = 5 });
        var texts = ((ICorpus)corpus).ReadAsync().ToBlockingEnumerable().ToDictionary(d => d.Text, d => d.Id);
        using var set = TokenShardSet.Open(Out);
        var train = Documents(set.Train).ToList();
        var val = Documents(set.Validation).ToList();
        Assert.Empty(train.Intersect(val));
        Assert.Equal(60, train.Count + val.Count);
        Assert.All(val, text => Assert.True(DocumentSplit.IsValidation(texts[text], 5, 0.2)));
        Assert.All(train, text => Assert.False(DocumentSplit.IsValidation(texts[text], 5, 0.2)));
    }

    [Fact]
    public void BothSplitsAreNonEmptyWhenPossible()
    {
        CorpusPreparer.Prepare(ListCorpus.Numbered(3), ByteTokenizer.Instance, Out, new PrepareOptions { ValidationFraction = 1e-9 });
        using (var set = TokenShardSet.Open(Out))
        {
            Assert.Equal(2, set.Train.DocumentCount);
            Assert.Equal(1, set.Validation.DocumentCount);
        }
        CorpusPreparer.Prepare(ListCorpus.Numbered(1), ByteTokenizer.Instance, Out, new PrepareOptions { ValidationFraction = 1e-9 });
        using (var set = TokenShardSet.Open(Out)) Assert.Equal(1, set.Train.DocumentCount);
    }

    [Fact]
    public async Task EmptyCorpusFailsAndProgressIsReported()
    {
        await Assert.ThrowsAsync<InvalidDataException>(() => CorpusPreparer.PrepareAsync(new ListCorpus([]), ByteTokenizer.Instance, Out));
        Assert.False(Directory.Exists(Out));

        var reports = new List<PrepareProgress>();
        CorpusPreparer.Prepare(ListCorpus.Numbered(10), ByteTokenizer.Instance, Out, progress: new SyncProgress(reports.Add));
        var last = reports[^1];
        Assert.True(last.Done);
        Assert.Equal(10, last.Documents);
        Assert.Equal(1.0, last.Fraction);
    }

    static IEnumerable<string> Documents(TokenSplit split) =>
        Enumerable.Range(0, (int)split.DocumentCount).Select(d => ByteTokenizer.Instance.Decode(split.ReadDocument(d)[..^1]));

    sealed class SyncProgress(Action<PrepareProgress> report) : IProgress<PrepareProgress>
    {
        public void Report(PrepareProgress value) => report(value);
    }
}
