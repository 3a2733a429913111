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
/// A checkpoint whose keys or shapes do not match a module's state dict. The message lists every missing key,
/// unexpected key and shape mismatch, and names the checkpoint folder.
/// </summary>
public sealed class CheckpointMismatchException : Exception
{
    /// <summary>Builds the exception and its message.</summary>
    public CheckpointMismatchException(string directory, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapeMismatches)
        : base(Describe(directory, missing, unexpected, shapeMismatches))
    {
        Directory = directory;
        Missing = missing;
        Unexpected = unexpected;
        ShapeMismatches = shapeMismatches;
    }

    /// <summary>The checkpoint folder.</summary>
    public string Directory { get; }

    /// <summary>Module keys the checkpoint lacks.</summary>
    public IReadOnlyList<string> Missing { get; }

    /// <summary>Checkpoint keys the module lacks.</summary>
    public IReadOnlyList<string> Unexpected { get; }

    /// <summary>Keys present in both with different shapes.</summary>
    public IReadOnlyList<ShapeMismatch> ShapeMismatches { get; }

    static string Describe(string directory, IReadOnlyList<string> missing, IReadOnlyList<string> unexpected,
        IReadOnlyList<ShapeMismatch> shapes)
    {
        var lines = new List<string> { $"Checkpoint {directory} does not match the module:" };
        if (missing.Count > 0) lines.Add($"  missing keys ({missing.Count}): {string.Join(", ", missing)}");
        if (unexpected.Count > 0) lines.Add($"  unexpected keys ({unexpected.Count}): {string.Join(", ", unexpected)}");
        if (shapes.Count > 0) lines.Add($"  shape mismatches ({shapes.Count}): {string.Join("; ", shapes)}");
        return string.Join(Environment.NewLine, lines);
    }
}
