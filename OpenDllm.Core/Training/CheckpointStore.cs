using System.Globalization;

namespace OpenDllm.Training;

/// <summary>
/// Checkpoint folders <c>checkpoint-00000120/</c> under a run's output directory. A checkpoint is written into a hidden
/// temporary folder and renamed into place only when complete, so a crash mid-save leaves the previous checkpoint usable;
/// only the newest <c>keepLast</c> are kept.
/// </summary>
public static class CheckpointStore
{
    public const string Prefix = "checkpoint-";

    /// <summary>The folder name of step <paramref name="step"/>.</summary>
    public static string NameOf(long step) => $"{Prefix}{step:D8}";

    /// <summary>Complete checkpoints of <paramref name="outputDir"/>, oldest first.</summary>
    public static IReadOnlyList<(long Step, string Path)> List(string outputDir)
    {
        if (!Directory.Exists(outputDir)) return [];
        RecoverInterruptedReplace(outputDir);
        return Directory.EnumerateDirectories(outputDir, Prefix + "*")
            .Select(p => (Path: p, Name: System.IO.Path.GetFileName(p)))
            .Where(d => long.TryParse(d.Name[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(d => (long.Parse(d.Name[Prefix.Length..], CultureInfo.InvariantCulture), d.Path))
            .OrderBy(d => d.Item1).ToList();
    }

    /// <summary>
    /// A re-save of an existing step moves the old folder to <c>.checkpoint-N.tmp-*.old</c> before renaming the new one into
    /// place; if a crash came between the two renames, put the old folder back so the step is not lost.
    /// </summary>
    static void RecoverInterruptedReplace(string outputDir)
    {
        foreach (var old in Directory.EnumerateDirectories(outputDir, $".{Prefix}*.old"))
        {
            var name = System.IO.Path.GetFileName(old)[1..];
            var final = System.IO.Path.Combine(outputDir, name[..name.IndexOf(".tmp-", StringComparison.Ordinal)]);
            if (!Directory.Exists(final)) Directory.Move(old, final);
        }
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public static string? Latest(string outputDir) => List(outputDir) is { Count: > 0 } all ? all[^1].Path : null;

    /// <summary>Writes a checkpoint atomically: <paramref name="write"/> fills a temporary folder that is then renamed.</summary>
    public static string Save(string outputDir, long step, int keepLast, Action<string> write)
    {
        Directory.CreateDirectory(outputDir);
        var final = System.IO.Path.Combine(outputDir, NameOf(step));
        var temp = System.IO.Path.Combine(outputDir, $".{NameOf(step)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            if (Directory.Exists(final))
            {
                var old = temp + ".old";
                Directory.Move(final, old);
                Directory.Move(temp, final);
                Directory.Delete(old, recursive: true);
            }
            else Directory.Move(temp, final);
        }
        catch
        {
            if (Directory.Exists(temp)) Directory.Delete(temp, recursive: true);
            throw;
        }
        foreach (var (_, path) in List(outputDir).SkipLast(keepLast))
            Directory.Delete(path, recursive: true);
        return final;
    }
}
