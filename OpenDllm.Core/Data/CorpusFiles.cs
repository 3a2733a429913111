namespace OpenDllm.Data;

/// <summary>Resolves a corpus path that is either one file or a folder of shards (e.g. a Hugging Face dataset's <c>*.parquet</c>).</summary>
internal static class CorpusFiles
{
    /// <summary>
    /// <paramref name="path"/> itself when it is a file; otherwise every file under it whose name ends with
    /// <paramref name="extension"/>, in ordinal path order. Throws when nothing is there.
    /// </summary>
    public static IReadOnlyList<string> Resolve(string path, string extension, string kind)
    {
        var full = Path.GetFullPath(path);
        if (File.Exists(full)) return [full];
        if (!Directory.Exists(full)) throw new FileNotFoundException($"{kind} corpus not found: {full}", full);
        var files = Directory.EnumerateFiles(full, "*" + extension, SearchOption.AllDirectories)
                             .Where(f => !Path.GetFileName(f).StartsWith('.'))
                             .OrderBy(f => f, StringComparer.Ordinal).ToList();
        return files.Count > 0 ? files
            : throw new InvalidDataException($"{full}: the corpus is empty: no *{extension} files in the folder");
    }

    /// <summary>A short, stable name for document ids: the path relative to the corpus folder, or the file name.</summary>
    public static string IdPrefix(string root, string file)
    {
        var full = Path.GetFullPath(root);
        return File.Exists(full) ? Path.GetFileName(file) : Path.GetRelativePath(full, file).Replace('\\', '/');
    }
}
