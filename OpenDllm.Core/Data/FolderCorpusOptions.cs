namespace OpenDllm.Data;

/// <summary>Which files of a folder <see cref="FolderCorpus"/> reads.</summary>
public sealed record FolderCorpusOptions
{
    /// <summary>Patterns a file must match (any of them); see <see cref="Glob"/>. Default: every file.</summary>
    public IReadOnlyList<string> Include { get; init; } = ["**/*"];

    /// <summary>Patterns that drop a file (any of them), e.g. <c>**/test/**</c>. Default: none.</summary>
    public IReadOnlyList<string> Exclude { get; init; } = [];

    /// <summary>Files smaller than this many bytes are skipped (counted as too small). Default 1: empty files are skipped.</summary>
    public long MinBytes { get; init; } = 1;

    /// <summary>Files larger than this many bytes are skipped (counted as too large). Default 1 MiB.</summary>
    public long MaxBytes { get; init; } = 1 << 20;

    /// <summary>Also walk hidden files and folders (names starting with '.', e.g. <c>.git</c>). Default false.</summary>
    public bool IncludeHidden { get; init; }
}
