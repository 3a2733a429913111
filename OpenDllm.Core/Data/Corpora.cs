namespace OpenDllm.Data;

/// <summary>The corpus for a source kind and path (shared by recipes' <c>data</c> section and <c>opendllm prepare</c>).</summary>
public static class Corpora
{
    /// <summary>The source kinds <see cref="Create"/> knows.</summary>
    public static readonly IReadOnlyList<string> Kinds = ["python-stdlib", PythonDocstringCorpus.Kind, "folder", "jsonl", "parquet", SftCorpus.Kind, Evaluation.BenchmarkSftCorpus.Kind];

    /// <summary>
    /// A <paramref name="kind"/> corpus at <paramref name="path"/>: a folder's files, a JSONL file or folder (text in
    /// <paramref name="field"/>, default <c>text</c>), a Parquet file or folder (text in column <paramref name="field"/>,
    /// default <c>content</c> or <c>text</c>), prompt/response examples for fine-tuning (<c>sft</c>: JSONL, <see cref="SftCorpus"/>),
    /// the HumanEval + MBPP prompt/response set (<c>benchmark-sft</c>; <paramref name="path"/> is the benchmarks folder, by
    /// default the usual one), the Python standard library, or its English prose (<c>python-docstrings</c>:
    /// <see cref="PythonDocstringCorpus"/>, settings <paramref name="docstringOptions"/>); for these two <paramref name="path"/>
    /// overrides the stdlib folder.
    /// </summary>
    /// <param name="pathName">How errors name the path (<c>data.path</c>, <c>--path</c>).</param>
    /// <param name="fieldName">How errors name the field (<c>data.field</c>, <c>--field</c>).</param>
    /// <exception cref="ArgumentException">Unknown kind, a missing path, a path that does not exist, a field the kind cannot use,
    /// or docstring settings for another kind.</exception>
    public static ICorpus Create(string kind, string? path, string? field = null, FolderCorpusOptions? folderOptions = null,
                                 string pathName = "path", string fieldName = "field", PythonDocstringsOptions? docstringOptions = null)
    {
        if (!Kinds.Contains(kind)) throw new ArgumentException($"unknown source '{kind}'; use one of: {string.Join(", ", Kinds)}");
        if (field is not null && kind is "folder" or "python-stdlib" or PythonDocstringCorpus.Kind or SftCorpus.Kind or Evaluation.BenchmarkSftCorpus.Kind)
            throw new ArgumentException($"{fieldName} = {field} applies to jsonl and parquet sources only, not {kind}");
        if (docstringOptions is not null && kind != PythonDocstringCorpus.Kind)
            throw new ArgumentException($"docstring extraction settings apply to source {PythonDocstringCorpus.Kind} only, not {kind}");
        if (path is null && kind is not ("python-stdlib" or PythonDocstringCorpus.Kind or Evaluation.BenchmarkSftCorpus.Kind)) throw new ArgumentException($"{pathName} is required for source {kind}");
        if (path is not null)
        {
            var full = Path.GetFullPath(path);
            bool isFolder = Directory.Exists(full), isFile = File.Exists(full);
            if (!isFolder && !isFile) throw new ArgumentException($"{pathName} = {path}: no such file or folder ({full})");
            if (!isFolder && kind is "folder" or "python-stdlib" or PythonDocstringCorpus.Kind or Evaluation.BenchmarkSftCorpus.Kind) throw new ArgumentException($"{pathName} = {path}: a {kind} source needs a folder, this is a file");
        }
        return kind switch
        {
            "folder" => new FolderCorpus(path!, folderOptions ?? new FolderCorpusOptions()),
            "jsonl" => new JsonlCorpus(path!, field ?? "text"),
            "parquet" => new ParquetCorpus(path!, field),
            SftCorpus.Kind => new SftCorpus(path!),
            PythonDocstringCorpus.Kind => new PythonDocstringCorpus(path, docstringOptions),
            Evaluation.BenchmarkSftCorpus.Kind => new Evaluation.BenchmarkSftCorpus(path),
            _ => DefaultCorpus.Create(path),
        };
    }
}
