using OpenDllm.Cli;
using OpenDllm.Data;
using OpenDllm.Tokenization;

namespace OpenDllm.Tests.Data;

/// <summary>What a prepared folder records about its source, and when such a folder may be reused or replaced.</summary>
public sealed class CorpusIdentityTests : IDisposable
{
    readonly DataTemp _temp = new();

    public void Dispose() => _temp.Dispose();

    string Corpus(string name, int files = 5)
    {
        for (int i = 0; i < files; i++) _temp.Write($"{name}/m{i}.py", $"def f{i}():\n    return {i}\n");
        return _temp.Combine(name);
    }

    static readonly PrepareOptions Options = new() { ValidationFraction = 0.2 };

    [Fact]
    public void TheFingerprintFollowsTheFilesAndTheSelection()
    {
        var root = Corpus("code");
        var before = new FolderCorpus(root).Identity();
        Assert.Equal("folder", before.Kind);
        Assert.Equal(root, before.Path);
        Assert.Equal(5, before.Files.Count);
        Assert.Empty(before.Differences(new FolderCorpus(root).Identity()));       // the same files: nothing differs

        File.SetLastWriteTimeUtc(Path.Combine(root, "m2.py"), DateTime.UtcNow.AddMinutes(-5));
        var touched = new FolderCorpus(root).Identity();
        Assert.Contains(before.Differences(touched), d => d.Contains("files changed"));

        var narrower = new FolderCorpus(root, new FolderCorpusOptions { Exclude = ["m1.py"] }).Identity();
        Assert.Contains(touched.Differences(narrower), d => d.StartsWith("exclude"));
        Assert.Equal(4, narrower.Files.Count);

        var jsonl = _temp.Write("d.jsonl", "{\"text\": \"a\"}\n");
        Assert.Contains(new JsonlCorpus(jsonl, "text").Identity().Differences(new JsonlCorpus(jsonl, "body").Identity()),
                        d => d.StartsWith("field"));
        Assert.Contains(before.Differences(new JsonlCorpus(jsonl).Identity()), d => d.StartsWith("source"));
    }

    [Fact]
    public void PreparingRecordsTheIdentityAndTheFolderNameFollowsTheSource()
    {
        var a = Corpus("a");
        var b = Corpus("b");
        var manifest = CorpusPreparer.Prepare(new FolderCorpus(a), ByteTokenizer.Instance, _temp.Combine("shards"), Options);
        Assert.Equal(a, manifest.Identity!.Path);
        Assert.Equal(5, manifest.Identity.Files.Count);
        Assert.Empty(PreparedData.Differences(manifest, new FolderCorpus(a).Identity(), ByteTokenizer.Instance, Options));
        var otherSource = PreparedData.Differences(manifest, new FolderCorpus(b).Identity(), ByteTokenizer.Instance, Options);
        Assert.Contains(otherSource, d => d.StartsWith("path") && d.Contains(b));
        Assert.Contains(PreparedData.Differences(manifest, new FolderCorpus(a).Identity(), ByteTokenizer.Instance, Options with { Seed = 1 }),
                        d => d.StartsWith("split seed"));

        var folderA = PreparedData.DefaultFolder(new FolderCorpus(a).Identity(), ByteTokenizer.Instance, Options);
        Assert.Equal(folderA, PreparedData.DefaultFolder(new FolderCorpus(a).Identity(), ByteTokenizer.Instance, Options));
        Assert.NotEqual(folderA, PreparedData.DefaultFolder(new FolderCorpus(b).Identity(), ByteTokenizer.Instance, Options));
        Assert.NotEqual(folderA, PreparedData.DefaultFolder(new FolderCorpus(a).Identity(), ByteTokenizer.Instance, Options with { ValidationFraction = 0.3 }));
        Assert.Matches(@"^runs[/\\]data[/\\]folder-[0-9a-f]{12}$", folderA);
    }

    [Fact]
    public void AManifestWithoutIdentityIsNeverReused()
    {
        var a = Corpus("a");
        var manifest = CorpusPreparer.Prepare(new FolderCorpus(a), ByteTokenizer.Instance, _temp.Combine("shards"), Options);
        var why = PreparedData.Differences(manifest with { Identity = null }, new FolderCorpus(a).Identity(), ByteTokenizer.Instance, Options);
        Assert.Contains(why, d => d.Contains("earlier OpenDllm"));
    }

    /// <summary>Regression: a data folder that also held a run's checkpoints was replaced whole when it was prepared again.</summary>
    [Fact]
    public void PreparingNeverReplacesAFolderThatHoldsMoreThanShards()
    {
        var a = Corpus("a");
        var shared = _temp.Combine("shared");
        CorpusPreparer.Prepare(new FolderCorpus(a), ByteTokenizer.Instance, shared, Options);
        var checkpoint = _temp.Write("shared/checkpoint-00000010/model.safetensors", "weights");
        var metrics = _temp.Write("shared/metrics.jsonl", "{\"step\": 10}\n");

        var e = Assert.Throws<IOException>(() => CorpusPreparer.Prepare(new FolderCorpus(a), ByteTokenizer.Instance, shared, Options with { Seed = 5 }));

        Assert.Contains("checkpoint-00000010", e.Message);
        Assert.Contains("metrics.jsonl", e.Message);
        Assert.Equal("weights", File.ReadAllText(checkpoint));
        Assert.True(File.Exists(metrics));
        Assert.Equal(Options.Seed, ShardManifest.Load(Path.Combine(shared, ShardManifest.FileName)).Settings.Seed);   // not replaced
        Assert.Empty(PreparedData.ForeignEntries(_temp.Combine("shards-that-do-not-exist")));
    }

    [Fact]
    public void PrepareCommandRecordsTheSameIdentity()
    {
        var a = Corpus("a", files: 7);
        var output = _temp.Combine("prepared");
        Assert.Equal(0, CliApp.Run(["prepare", "--source", "folder", "--path", a, "--out", output, "--val-fraction", "0.2"]));
        var manifest = ShardManifest.Load(Path.Combine(output, ShardManifest.FileName));
        Assert.Equal("folder", manifest.Identity!.Kind);
        Assert.Equal(a, manifest.Identity.Path);
        Assert.Equal(new FolderCorpus(a).Identity().Files, manifest.Identity.Files);
        Assert.Equal(1, CliApp.Run(["prepare", "--source", "folder", "--path", _temp.Combine("missing"), "--out", _temp.Combine("x")]));
        Assert.False(Directory.Exists(_temp.Combine("x")));
    }
}
