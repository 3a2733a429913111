using System.Text.Json.Nodes;
using OpenDllm.Cli;
using OpenDllm.Data;
using OpenDllm.Training;

namespace OpenDllm.Tests.Training;

/// <summary>
/// A recipe trains on the data it names: a prepared folder is reused only for the same source, a recipe without
/// <c>prepare_dir</c> gets a folder of its own, and the data folder never overlaps the run folder.
/// </summary>
public sealed class DataIdentityTests : IDisposable
{
    readonly string _root = Directory.CreateTempSubdirectory("opendllm-identity-").FullName;
    readonly List<string> _derived = [];

    public void Dispose()
    {
        foreach (var dir in _derived.Where(Directory.Exists)) Directory.Delete(dir, recursive: true);   // under the working folder
        Directory.Delete(_root, recursive: true);
    }

    string Corpus(string name, string body)
    {
        var dir = Path.Combine(_root, name);
        Directory.CreateDirectory(dir);
        for (int f = 0; f < 12; f++)
            File.WriteAllText(Path.Combine(dir, $"{name}{f}.py"), string.Concat(Enumerable.Repeat($"{body}_{f} = {f}\n", 8)));
        return dir;
    }

    string Yaml(string corpus, string output, string? prepareDir) => $"""
        model: {"{"} preset: tiny, config: {"{"} vocab_size: 262, hidden_size: 32, intermediate_size: 64 {"}"} {"}"}
        data:
          source: folder
          path: {corpus}
          tokenizer: byte
          {(prepareDir is null ? "" : $"prepare_dir: {prepareDir}")}
          val_fraction: 0.2
          seq_len: 32
        train: {"{"} micro_batch_size: 2, global_batch_size: 2, max_steps: 1, eval_every: 0, eval_batches: 1, save_every: 0, seed: 0, threads: 1, output_dir: {output} {"}"}
        """;

    Recipe Recipe(string corpus, string output, string? prepareDir = null, params string[] overrides) =>
        OpenDllm.Training.Recipe.Parse(Yaml(corpus, output, prepareDir), "identity-test", overrides);

    string RecipeFile(string corpus, string output, string? prepareDir = null)
    {
        var path = Path.Combine(_root, $"recipe-{Guid.NewGuid():N}.yaml");
        File.WriteAllText(path, Yaml(corpus, output, prepareDir));
        return path;
    }

    /// <summary>The decoded text of every training document (what the run really reads).</summary>
    static string TrainingText(Trainer trainer)
    {
        using var set = TokenShardSet.Open(trainer.DataDirectory, verify: false);
        return string.Concat(Enumerable.Range(0, (int)set.Train.DocumentCount)
            .Select(d => trainer.Tokenizer.Decode(set.Train.ReadDocument(d).Select(i => i).Where(i => i != trainer.Tokenizer.Special.Eos))));
    }

    /// <summary>Regression: the second source trained on the first one's prepared folder (the shared default prepare_dir).</summary>
    [Fact]
    public void ARecipeWithoutPrepareDirTrainsOnItsOwnSource()
    {
        var stdlib = Corpus("alpha", "alpha");
        var mine = Corpus("mycode", "mycode");
        string first, second;
        using (var trainer = Trainer.Create(Recipe(stdlib, Path.Combine(_root, "run-a"))))
        {
            first = trainer.DataDirectory;
            _derived.Add(first);
            Assert.Contains("alpha_", TrainingText(trainer));
        }
        using (var trainer = Trainer.Create(Recipe(mine, Path.Combine(_root, "run-b"))))
        {
            second = trainer.DataDirectory;
            _derived.Add(second);
            var text = TrainingText(trainer);
            Assert.Contains("mycode_", text);
            Assert.DoesNotContain("alpha_", text);
        }
        Assert.NotEqual(first, second);
        Assert.Matches(@"runs[/\\]data[/\\]folder-[0-9a-f]{12}$", second);
    }

    [Fact]
    public void ChangedFilesArePreparedAgainIntoTheDerivedFolder()
    {
        var corpus = Corpus("code", "before");
        string folder;
        using (var trainer = Trainer.Create(Recipe(corpus, Path.Combine(_root, "run-a"))))
        {
            folder = trainer.DataDirectory;
            _derived.Add(folder);
        }
        File.WriteAllText(Path.Combine(corpus, "added.py"), string.Concat(Enumerable.Repeat("after_added = 1\n", 40)));
        var notes = new List<string>();
        using (var trainer = Trainer.Create(Recipe(corpus, Path.Combine(_root, "run-b")), log: notes.Add))
        {
            Assert.Equal(folder, trainer.DataDirectory);
            var manifest = ShardManifest.Load(Path.Combine(folder, ShardManifest.FileName));
            Assert.Equal(13, manifest.Identity!.Files.Count);
            Assert.Equal(13, manifest.Corpus.Documents);
        }
        Assert.Contains(notes, n => n.Contains("preparing again") && n.Contains("files changed"));
    }

    [Fact]
    public void ARunIsNotResumedOnOtherData()
    {
        var corpus = Corpus("code", "before");
        var output = Path.Combine(_root, "run");
        using (var trainer = Trainer.Create(Recipe(corpus, output)))
        {
            _derived.Add(trainer.DataDirectory);
            trainer.Run();
        }
        File.WriteAllText(Path.Combine(corpus, "added.py"), string.Concat(Enumerable.Repeat("after_added = 1\n", 40)));
        var e = Assert.Throws<InvalidDataException>(() => Trainer.Create(Recipe(corpus, output, null, "--train.max_steps=2")));
        Assert.Contains("other token shards", e.Message);
        Assert.Contains("model.init_from", e.Message);
    }

    [Fact]
    public void AnExplicitPrepareDirOfOtherDataIsAnErrorSayingWhatDiffers()
    {
        var first = Corpus("first", "first");
        var other = Corpus("other", "other");
        var shards = Path.Combine(_root, "shards");
        using (Trainer.Create(Recipe(first, Path.Combine(_root, "run-a"), shards))) { }
        var manifestBefore = File.ReadAllText(Path.Combine(shards, ShardManifest.FileName));

        var e = Assert.Throws<InvalidDataException>(() => Trainer.Create(Recipe(other, Path.Combine(_root, "run-b"), shards)));
        Assert.Contains("data.prepare_dir", e.Message);
        Assert.Contains($"path: prepared from {first}, asked for {other}", e.Message);
        Assert.Equal(manifestBefore, File.ReadAllText(Path.Combine(shards, ShardManifest.FileName)));

        Assert.Equal(1, CliApp.Run(["train", RecipeFile(other, Path.Combine(_root, "run-c"), shards)]));
        Assert.False(Directory.Exists(Path.Combine(_root, "run-c", CheckpointStore.NameOf(1))));
    }

    [Fact]
    public void AFolderPreparedBeforeIdentitiesWereRecordedIsNotReused()
    {
        var corpus = Corpus("code", "code");
        var shards = Path.Combine(_root, "shards");
        using (Trainer.Create(Recipe(corpus, Path.Combine(_root, "run-a"), shards))) { }
        var manifestPath = Path.Combine(shards, ShardManifest.FileName);
        var json = JsonNode.Parse(File.ReadAllText(manifestPath))!.AsObject();
        json.Remove("identity");                                                   // as an older OpenDllm wrote it
        File.WriteAllText(manifestPath, json.ToJsonString());

        var e = Assert.Throws<InvalidDataException>(() => Trainer.Create(Recipe(corpus, Path.Combine(_root, "run-b"), shards)));
        Assert.Contains("earlier OpenDllm", e.Message);
    }

    /// <summary>Regression: --data.path=/nonexistent trained on the existing prepared folder.</summary>
    [Fact]
    public void AMissingDataPathIsAnErrorEvenWhenAPreparedFolderExists()
    {
        var corpus = Corpus("code", "code");
        var shards = Path.Combine(_root, "shards");
        using (Trainer.Create(Recipe(corpus, Path.Combine(_root, "run-a"), shards))) { }
        var missing = Path.Combine(_root, "nonexistent");

        var e = Assert.Throws<ArgumentException>(() => Trainer.Create(Recipe(corpus, Path.Combine(_root, "run-b"), shards, $"--data.path={missing}")));
        Assert.Contains($"data.path = {missing}", e.Message);
        Assert.Equal(1, CliApp.Run(["train", RecipeFile(corpus, Path.Combine(_root, "run-c"), shards), $"--data.path={missing}"]));
        Assert.False(Directory.Exists(Path.Combine(_root, "run-c")));
    }

    /// <summary>Regression: a prepare_dir equal to (or around, or inside) the output folder lost the checkpoints on re-preparing.</summary>
    [Theory]
    [InlineData("same")]
    [InlineData("data-contains-output")]
    [InlineData("output-contains-data")]
    public void OverlappingDataAndOutputFoldersAreRefused(string layout)
    {
        var corpus = Corpus("code", "code");
        var (data, output) = layout switch
        {
            "same" => (Path.Combine(_root, "run"), Path.Combine(_root, "run")),
            "data-contains-output" => (Path.Combine(_root, "run"), Path.Combine(_root, "run", "out")),
            _ => (Path.Combine(_root, "run", "data"), Path.Combine(_root, "run")),
        };
        Directory.CreateDirectory(output);
        var keep = Path.Combine(output, "metrics.jsonl");
        File.WriteAllText(keep, "{\"step\": 1}\n");

        var e = Assert.Throws<ArgumentException>(() => Trainer.Create(Recipe(corpus, output, data)));
        Assert.Contains("overlap", e.Message);
        Assert.Equal(1, CliApp.Run(["train", RecipeFile(corpus, output, data)]));
        Assert.True(File.Exists(keep));
        Assert.False(File.Exists(Path.Combine(data, ShardManifest.FileName)));
    }
}
