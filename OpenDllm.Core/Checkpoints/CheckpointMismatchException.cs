namespace OpenDllm.Checkpoints;

/// <summary>A tensor whose shape in the checkpoint differs from the module's.</summary>
/// <param name="Name">The state-dict key.</param>
/// <param name="Expected">Shape in the module.</param>
/// <param name="Found">Shape in the checkpoint.</param>
public sealed record ShapeMismatch(string Name, long[] Expected, long[] Found)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{Name}: expected {SafetensorsEntry.FormatShape(Expected)}, found {SafetensorsEntry.FormatShape(Found)}";
}

/// <summary>
/// A checkpoint whose keys or shapes do not match a module's state dict (or what a config implies). The message names
/// the checkpoint folder; its first line says what is wrong in a few words (the config fields at fault when a config was
/// checked, else counts and the first problem), and the following lines list every missing key, unexpected key and
/// shape mismatch.
/// </summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>Builds the exception and its message.</summary>
    /// <param name="directory">The checkpoint folder.</param>
    /// <param name="missing">Expected keys the checkpoint lacks.</param>
    /// <param name="unexpected">Checkpoint keys nothing expects.</param>
    /// <param name="shapeMismatches">Keys present in both with different shapes.</param>
    /// <param name="configProblems">Config fields that disagree with the checkpoint, one sentence each (may be empty).</param>
    /// <param name="configSource">The config file the fields come from, for the message.</param>
    public CheckpointMismatchException(string directory, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapeMismatches, IReadOnlyList<string>? configProblems = null, string? configSource = null)
        : base(Describe(directory, missing, unexpected, shapeMismatches, configProblems ?? [], configSource))
    {
        Directory = directory;
        Missing = missing;
        Unexpected = unexpected;
        ShapeMismatches = shapeMismatches;
        ConfigProblems = configProblems ?? [];
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>Module keys the checkpoint lacks.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Checkpoint keys the module lacks.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Keys present in both with different shapes.</summary>
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    /// <summary>Config fields that disagree with the checkpoint, one sentence each.</summary>
    public IReadOnlyList<string> ConfigProblems { get; }

    /// <summary>At most this many keys are named per list; the rest are counted.</summary>
    public const int ListedKeys = 40;

    static string Describe(string directory, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapes, IReadOnlyList<string> configProblems, string? configSource)
    {
        var first = configProblems.Count > 0
            ? $"{configSource ?? "config"} does not match the checkpoint {directory}: {string.Join("; ", configProblems)}"
            : $"Checkpoint {directory} does not match the module: {Summary(missing, unexpected, shapes)}";
        var lines = new List<string> { first };
        if (missing.Count > 0) lines.Add($"  missing keys ({missing.Count}): {List(missing)}");
        if (unexpected.Count > 0) lines.Add($"  unexpected keys ({unexpected.Count}): {List(unexpected)}");
        if (shapes.Count > 0) lines.Add($"  shape mismatches ({shapes.Count}): {List(shapes.Select(s => s.ToString()).ToList(), "; ")}");
        return string.Join(Environment.NewLine, lines);
    }

    static string Summary(IReadOnlyList<string> missing, IReadOnlyList<string> unexpected, IReadOnlyList<ShapeMismatch> shapes)
    {
        var parts = new List<string>();
        if (shapes.Count > 0) parts.Add($"{shapes.Count} shape mismatch{(shapes.Count == 1 ? "" : "es")} (first: {shapes[0]})");
        if (missing.Count > 0) parts.Add($"{missing.Count} missing key{(missing.Count == 1 ? "" : "s")} (first: {missing[0]})");
        if (unexpected.Count > 0) parts.Add($"{unexpected.Count} unexpected key{(unexpected.Count == 1 ? "" : "s")} (first: {unexpected[0]})");
        return string.Join(", ", parts);
    }

    static string List(IReadOnlyList<string> items, string separator = ", ") =>
        items.Count <= ListedKeys ? string.Join(separator, items)
            : string.Join(separator, items.Take(ListedKeys)) + $"{separator}… and {items.Count - ListedKeys} more";
}
