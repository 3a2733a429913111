using System.Text.Json.Nodes;
using OpenDllm.Training;

namespace OpenDllm.Tests.Training;

/// <summary>What <c>kill -9</c> at any moment can leave in a run folder, and how the next start deals with it.</summary>
public sealed class CheckpointRecoveryTests : IDisposable
{
    readonly TrainingFixture _f = new();

    public void Dispose() => _f.Dispose();

    static void Fill(string dir, string text) => File.WriteAllText(Path.Combine(dir, "model.safetensors"), text);

    /// <summary>Regression: temporary folders of unfinished saves (137 MB each for the quickstart) were never removed.</summary>
    [Fact]
    public void LeftoverTemporaryFoldersAreRemovedWhenATrainerStarts()
    {
        var output = Path.Combine(_f.Root, "leftovers");
        using (var trainer = Trainer.Create(_f.Recipe(output, steps: 1)))
            trainer.Run();
        var unfinished = Path.Combine(output, $".{CheckpointStore.NameOf(2)}.tmp-{Guid.NewGuid():N}");
        var deleting = Path.Combine(output, $".{CheckpointStore.NameOf(0)}.deleting-{Guid.NewGuid():N}");
        foreach (var dir in new[] { unfinished, deleting })
        {
            Directory.CreateDirectory(dir);
            Fill(dir, "partial");
        }
        var notes = new List<string>();
        using (var trainer = Trainer.Create(_f.Recipe(output, steps: 2), log: notes.Add))
            Assert.Equal(1, trainer.Step);                                     // resumed from the complete checkpoint
        Assert.False(Directory.Exists(unfinished));
        Assert.False(Directory.Exists(deleting));
        Assert.Equal(2, notes.Count(n => n.StartsWith("removed")));
    }

    /// <summary>
    /// Regression: a kill during keep_last cleanup left <c>checkpoint-00000001</c> half deleted (no weights) under its own
    /// name. Such folders are not listed, and removed on start; deletion now renames first, so it cannot happen again.
    /// </summary>
    [Fact]
    public void IncompleteCheckpointFoldersAreIgnoredAndHalfDeletedOnesRemoved()
    {
        var dir = Path.Combine(_f.Root, "store");
        var good = CheckpointStore.Save(dir, 1, keepLast: 5, d => Fill(d, "one"));
        CheckpointStore.Save(dir, 2, keepLast: 5, d => Fill(d, "two"));
        // an older OpenDllm's half-finished recursive delete: a folder named like a checkpoint, weights gone
        var halfDeleted = Path.Combine(dir, CheckpointStore.NameOf(3));
        Directory.CreateDirectory(halfDeleted);
        File.WriteAllText(Path.Combine(halfDeleted, "recipe.json"), "{}");
        // a checkpoint whose listed weights were truncated
        var truncated = Path.Combine(dir, CheckpointStore.NameOf(2), "model.safetensors");
        File.WriteAllText(truncated, "t");

        Assert.Equal([1L], CheckpointStore.List(dir).Select(c => c.Step));
        Assert.Equal(good, CheckpointStore.Latest(dir));
        var removed = CheckpointStore.CleanUp(dir);
        Assert.Equal([halfDeleted], removed);
        Assert.True(Directory.Exists(Path.Combine(dir, CheckpointStore.NameOf(2))));  // has weights: left for the user to inspect

        CheckpointStore.Save(dir, 4, keepLast: 1, d => Fill(d, "four"));
        Assert.Equal([4L], CheckpointStore.List(dir).Select(c => c.Step));
        Assert.Empty(Directory.EnumerateDirectories(dir, ".*"));                     // deletions leave nothing hidden behind
    }

    /// <summary>Regression: after a resume, metrics.jsonl repeated the step numbers trained after the last checkpoint.</summary>
    [Fact]
    public void ResumingCutsTheMetricsBackToTheCheckpointStep()
    {
        var output = Path.Combine(_f.Root, "metrics");
        using (var trainer = Trainer.Create(_f.Recipe(output, "mdlm", 4, "--train.save_every=2")))
            trainer.Run();
        // as if killed after step 4's metrics but before its checkpoint, in the middle of writing a line
        Directory.Delete(Path.Combine(output, CheckpointStore.NameOf(4)), recursive: true);
        var metricsPath = Path.Combine(output, MetricsLog.FileName);
        File.AppendAllText(metricsPath, "{\"step\": 5, \"lo");
        Assert.Equal(4, MetricsLog.Read(metricsPath).Max(m => (long)m["step"]!));   // the torn line is skipped

        using (var trainer = Trainer.Create(_f.Recipe(output, "mdlm", 4, "--train.save_every=2")))
        {
            Assert.Equal(2, trainer.Step);
            Assert.All(MetricsLog.Read(metricsPath), m => Assert.True((long)m["step"]! <= 2));
            trainer.Run();
        }
        var records = MetricsLog.Read(metricsPath);
        var steps = records.Where(m => m.ContainsKey("loss")).Select(m => (long)m["step"]!).ToList();
        Assert.Equal([1L, 2L, 3L, 4L], steps);
        Assert.Single(records, m => m.ContainsKey("val_nelbo_bits") && (long)m["step"]! == 4);
        Assert.DoesNotContain("\"lo", File.ReadAllText(metricsPath).Replace("\"loss\"", ""));
    }

    /// <summary>Running a finished run again (quickstart's "run it again") used to evaluate and save the same step once more.</summary>
    [Fact]
    public void RunningAFinishedRunAgainWritesNothing()
    {
        var output = Path.Combine(_f.Root, "finished");
        using (var trainer = Trainer.Create(_f.Recipe(output, steps: 2)))
            trainer.Run();
        var metrics = File.ReadAllText(Path.Combine(output, MetricsLog.FileName));
        var checkpoint = CheckpointStore.Latest(output)!;
        var written = Directory.GetLastWriteTimeUtc(checkpoint);
        using (var again = Trainer.Create(_f.Recipe(output, steps: 2)))
        {
            var summary = again.Run();
            Assert.Equal(2, summary.Steps);
            Assert.Equal(checkpoint, summary.Checkpoint);
        }
        Assert.Equal(metrics, File.ReadAllText(Path.Combine(output, MetricsLog.FileName)));
        Assert.Equal(written, Directory.GetLastWriteTimeUtc(checkpoint));
    }

    [Fact]
    public void ATornLastLineIsSkippedButDamageElsewhereIsAnError()
    {
        var path = Path.Combine(_f.Root, "m.jsonl");
        File.WriteAllText(path, "{\"step\": 1}\n{\"step\": 2}\n{\"st");
        Assert.Equal(2, MetricsLog.Read(path).Count);
        File.WriteAllText(path, "{\"step\": 1}\nnot json\n{\"step\": 2}\n");
        var e = Assert.Throws<InvalidDataException>(() => MetricsLog.Read(path));
        Assert.Contains($"{path}:2", e.Message);

        using (var log = new MetricsLog(path))
        {
            File.WriteAllText(path, "{\"step\": 1}\n{\"st");
            log.Write(new JsonObject { ["step"] = 2 });                        // the torn line is cut first
        }
        Assert.Equal("{\"step\": 1}\n{\"step\":2}\n", File.ReadAllText(path));
    }
}
