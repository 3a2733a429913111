using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using OpenDllm.IO;

namespace OpenDllm.Training;

/// <summary>
/// Checkpoint folders <c>checkpoint-00000120/</c> under a run's output directory. Every change is a rename, so a crash
/// (even <c>kill -9</c>) at any moment leaves only complete checkpoints under checkpoint names:
/// <list type="bullet">
/// <item>a checkpoint is written into a hidden temporary folder <c>.checkpoint-N.tmp-*</c>, which gets a
/// <see cref="CompleteFile"/> listing its files and sizes last, and is renamed into place only then;</item>
/// <item>an old checkpoint (beyond <c>keepLast</c>) is first renamed to a hidden <c>.checkpoint-N.deleting-*</c> name and
/// only then deleted;</item>
/// <item><see cref="List"/> returns only complete folders (the listed files present with their sizes), and
/// <see cref="CleanUp"/>, run when a trainer starts, removes what a crash left behind.</item>
/// </list>
/// </summary>
public static class CheckpointStore
{
    public const string Prefix = "checkpoint-";

    /// <summary>Written last into every checkpoint: its files (relative paths) and their sizes in bytes.</summary>
    public const string CompleteFile = "checkpoint_files.json";

    /// <summary>The folder name of step <paramref name="step"/>.</summary>
    public static string NameOf(long step) => $"{Prefix}{step:D8}";

    /// <summary>Complete checkpoints of <paramref name="outputDir"/>, oldest first (incomplete folders are left out).</summary>
    public static IReadOnlyList<(long Step, string Path)> List(string outputDir)
    {
        if (!Directory.Exists(outputDir)) return [];
        RecoverInterruptedReplace(outputDir);
        return Named(outputDir).Where(c => IsComplete(c.Path)).ToList();
    }

    /// <summary>The newest complete checkpoint, or null.</summary>
    public static string? Latest(string outputDir) => List(outputDir) is { Count: > 0 } all ? all[^1].Path : null;

    /// <summary>
    /// True when <paramref name="directory"/> holds every file its <see cref="CompleteFile"/> lists, at the listed size.
    /// A folder written before that file existed counts as complete when it holds a trainer's files (config, weights,
    /// optimizer, trainer state, recipe).
    /// </summary>
    public static bool IsComplete(string directory)
    {
        var marker = Path.Combine(directory, CompleteFile);
        if (!File.Exists(marker))
            return new[] { "config.json", "optimizer.bin", TrainerState.FileName, "recipe.json" }.All(f => File.Exists(Path.Combine(directory, f)))
                   && HasWeights(directory);
        try
        {
            var files = JsonNode.Parse(File.ReadAllText(marker))?["files"]?.AsObject();
            if (files is null) return false;
            foreach (var (name, size) in files)
            {
                var file = new FileInfo(Path.Combine(directory, name));
                if (!file.Exists || size is null || file.Length != size.GetValue<long>()) return false;
            }
            return true;
        }
        catch (Exception e) when (e is JsonException or InvalidOperationException or FormatException or IOException) { return false; }
    }

    /// <summary>
    /// Removes what an interrupted run left in <paramref name="outputDir"/>: temporary folders of unfinished saves and
    /// deletions, and checkpoint-named folders that hold no weights (half-deleted by an older OpenDllm). A re-save
    /// interrupted between its two renames is first put back. Returns the removed paths. Call it only when no other
    /// process writes checkpoints there.
    /// </summary>
    public static IReadOnlyList<string> CleanUp(string outputDir)
    {
        if (!Directory.Exists(outputDir)) return [];
        RecoverInterruptedReplace(outputDir);
        var removed = new List<string>();
        foreach (var hidden in Directory.EnumerateDirectories(outputDir, $".{Prefix}*"))
        {
            var name = Path.GetFileName(hidden);
            if (!name.Contains(".tmp-", StringComparison.Ordinal) && !name.Contains(".deleting-", StringComparison.Ordinal)) continue;
            Directory.Delete(hidden, recursive: true);
            removed.Add(hidden);
        }
        foreach (var (_, path) in Named(outputDir))
            if (!IsComplete(path) && !HasWeights(path))
            {
                Delete(path);
                removed.Add(path);
            }
        return removed;
    }

    /// <summary>Writes a checkpoint atomically: <paramref name="write"/> fills a temporary folder that is then renamed.</summary>
    public static string Save(string outputDir, long step, int keepLast, Action<string> write)
    {
        Directory.CreateDirectory(outputDir);
        var final = Path.Combine(outputDir, NameOf(step));
        var temp = Path.Combine(outputDir, $".{NameOf(step)}.tmp-{Guid.NewGuid():N}");
        Directory.CreateDirectory(temp);
        try
        {
            write(temp);
            WriteCompleteFile(temp);
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
            Delete(path);
        return final;
    }

    /// <summary>Deletes a checkpoint by renaming it to a hidden name first, so it never exists half-deleted under its own name.</summary>
    static void Delete(string path)
    {
        var hidden = Path.Combine(Path.GetDirectoryName(path)!, $".{Path.GetFileName(path)}.deleting-{Guid.NewGuid():N}");
        Directory.Move(path, hidden);
        Directory.Delete(hidden, recursive: true);
    }

    static void WriteCompleteFile(string directory)
    {
        var files = new JsonObject();
        foreach (var file in Directory.EnumerateFiles(directory, "*", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
            files[Path.GetRelativePath(directory, file).Replace('\\', '/')] = new FileInfo(file).Length;
        AtomicFile.WriteAllText(Path.Combine(directory, CompleteFile), new JsonObject { ["files"] = files }.ToJsonString());
    }

    static bool HasWeights(string directory) =>
        File.Exists(Path.Combine(directory, "model.safetensors")) || File.Exists(Path.Combine(directory, "model.safetensors.index.json"));

    /// <summary>Folders named <c>checkpoint-N</c>, complete or not, oldest first.</summary>
    static List<(long Step, string Path)> Named(string outputDir) =>
        Directory.EnumerateDirectories(outputDir, Prefix + "*")
            .Select(p => (Path: p, Name: Path.GetFileName(p)))
            .Where(d => long.TryParse(d.Name[Prefix.Length..], NumberStyles.None, CultureInfo.InvariantCulture, out _))
            .Select(d => (long.Parse(d.Name[Prefix.Length..], CultureInfo.InvariantCulture), d.Path))
            .OrderBy(d => d.Item1).ToList();

    /// <summary>
    /// A re-save of an existing step moves the old folder to <c>.checkpoint-N.tmp-*.old</c> before renaming the new one into
    /// place; if a crash came between the two renames, put the old folder back so the step is not lost.
    /// </summary>
    static void RecoverInterruptedReplace(string outputDir)
    {
        foreach (var old in Directory.EnumerateDirectories(outputDir, $".{Prefix}*.old"))
        {
            var name = Path.GetFileName(old)[1..];
            int cut = name.IndexOf(".tmp-", StringComparison.Ordinal);
            if (cut < 0) continue;
            var final = Path.Combine(outputDir, name[..cut]);
            if (!Directory.Exists(final)) Directory.Move(old, final);
        }
    }
}
