using System.IO.Compression;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace OpenDllm.Evaluation;

/// <summary>
/// One row of the SantaCoder fill-in-the-middle task (hub data set <c>bigcode/santacoder-fim-task</c>, SPEC §7.4).
/// The model sees <see cref="Prefix"/> and <see cref="Suffix"/> and must produce <see cref="CanonicalSolution"/> (one line).
/// </summary>
/// <param name="TaskId">The row's 0-based index among the rows kept (Open-dLLM numbers the kept Python rows 0, 1, …).</param>
/// <param name="Name">The data set's <c>name</c> column (empty when the file has none).</param>
/// <param name="Language">The <c>language</c> column: <c>py</c>, <c>js</c> or <c>java</c>.</param>
/// <param name="Prompt">The <c>prompt</c> column: the code before the gap, without its final newline.</param>
/// <param name="Suffix">The <c>suffix</c> column: the code after the gap.</param>
/// <param name="CanonicalSolution">The <c>canonical_solution</c> column: the missing line.</param>
public sealed record SantaCoderFimProblem(int TaskId, string Name, string Language, string Prompt, string Suffix, string CanonicalSolution)
{
    /// <summary>The text before the gap as the anchors feed it: <c>prompt + "\n"</c> (SPEC §7.4).</summary>
    public string Prefix => Prompt + "\n";
}

/// <summary>
/// Reads the SantaCoder-FIM data exactly as the hub ships it, in any of the forms a download produces: the Parquet file(s)
/// of the data set (<c>*.parquet</c>), or JSON lines (<c>*.jsonl</c>, <c>*.jsonl.gz</c>) with the same columns
/// (<c>name</c>, <c>language</c>, <c>prompt</c>, <c>suffix</c>, <c>canonical_solution</c>). A folder is read file by
/// file in ordinal name order. Rows of other languages are dropped, as in Open-dLLM's and DreamOn's <c>eval_infill.py</c>
/// (1,043 Python rows in the released data). Where to get the data: <c>data-scripts/benchmarks.md</c>.
/// </summary>
public static class SantaCoderFim
{
    /// <summary>The hub data set's id.</summary>
    public const string HubDataset = "bigcode/santacoder-fim-task";

    /// <summary>Python rows in the released data set (a loader check reported by the CLI, not a requirement).</summary>
    public const int ExpectedPythonRows = 1043;

    static readonly string[] Columns = ["language", "prompt", "suffix", "canonical_solution"];

    /// <summary>
    /// Loads the rows of <paramref name="language"/> (default <c>py</c>) from a file or a folder of data files.
    /// A missing path, a file without the required columns, or no rows of the language is an
    /// <see cref="InvalidDataException"/> naming the file (and line or row).
    /// </summary>
    public static IReadOnlyList<SantaCoderFimProblem> Load(string path, string language = "py")
    {
        var files = DataFiles(path);
        var problems = new List<SantaCoderFimProblem>();
        foreach (var file in files)
            foreach (var row in file.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase) ? ReadParquet(file) : ReadJsonLines(file))
                if (row.Language == language)
                    problems.Add(row with { TaskId = problems.Count });
        if (problems.Count == 0)
            throw new InvalidDataException($"{path}: no rows with language '{language}' in {string.Join(", ", files.Select(Path.GetFileName))}");
        return problems;
    }

    static IReadOnlyList<string> DataFiles(string path)
    {
        static bool IsData(string f) => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)
                                        || f.EndsWith(".jsonl", StringComparison.OrdinalIgnoreCase)
                                        || f.EndsWith(".jsonl.gz", StringComparison.OrdinalIgnoreCase);
        if (File.Exists(path))
            return IsData(path) ? [path] : throw new InvalidDataException($"{path}: expected a .parquet, .jsonl or .jsonl.gz file");
        if (!Directory.Exists(path)) throw new InvalidDataException($"{path}: SantaCoder-FIM data not found (data-scripts/benchmarks.md says where to get it)");
        var files = Directory.EnumerateFiles(path, "*", SearchOption.AllDirectories).Where(IsData)
            .Where(f => !Path.GetRelativePath(path, f).Split(Path.DirectorySeparatorChar).Any(part => part.StartsWith('.')))   // skip .cache/ of hub downloads
            .OrderBy(f => f, StringComparer.Ordinal).ToList();
        return files.Count > 0 ? files : throw new InvalidDataException($"{path}: no .parquet, .jsonl or .jsonl.gz file in the folder");
    }

    static IEnumerable<SantaCoderFimProblem> ReadJsonLines(string file)
    {
        var rows = new List<SantaCoderFimProblem>();
        try
        {
            using var stream = File.OpenRead(file);
            using Stream input = file.EndsWith(".gz", StringComparison.OrdinalIgnoreCase) ? new GZipStream(stream, CompressionMode.Decompress) : stream;
            using var reader = new StreamReader(input, new UTF8Encoding(false, throwOnInvalidBytes: true));
            int line = 0;
            for (string? text; (text = reader.ReadLine()) is not null;)
            {
                line++;
                if (string.IsNullOrWhiteSpace(text)) continue;
                try
                {
                    using var doc = JsonDocument.Parse(text);
                    var e = doc.RootElement;
                    if (e.ValueKind != JsonValueKind.Object) throw new FormatException("expected a JSON object per row");
                    string Field(string name) => e.TryGetProperty(name, out var v) && v.ValueKind == JsonValueKind.String ? v.GetString()!
                        : throw new FormatException($"missing or non-string field '{name}'");
                    var name = e.TryGetProperty("name", out var n) && n.ValueKind == JsonValueKind.String ? n.GetString()! : "";
                    rows.Add(new SantaCoderFimProblem(0, name, Field("language"), Field("prompt"), Field("suffix"), Field("canonical_solution")));
                }
                catch (Exception ex) when (ex is JsonException or FormatException)
                {
                    throw new InvalidDataException($"{file}:{line}: {ex.Message}", ex);
                }
            }
        }
        catch (Exception ex) when (ex is DecoderFallbackException or IOException and not FileNotFoundException)
        {
            throw new InvalidDataException($"{file}: unreadable ({ex.Message})", ex);
        }
        return rows;
    }

    static IEnumerable<SantaCoderFimProblem> ReadParquet(string file) => ReadParquetAsync(file).GetAwaiter().GetResult();

    static async Task<List<SantaCoderFimProblem>> ReadParquetAsync(string file)
    {
        var rows = new List<SantaCoderFimProblem>();
        try
        {
            await using var stream = File.OpenRead(file);
            await using var reader = await ParquetReader.CreateAsync(stream).ConfigureAwait(false);
            var fields = reader.Schema.DataFields;
            DataField? Find(string name) => fields.FirstOrDefault(f => f.Name == name && !f.IsArray
                                                                        && (f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>)));
            var missing = Columns.Where(c => Find(c) is null).ToList();
            if (missing.Count > 0)
                throw new InvalidDataException($"{file}: missing string column(s) {string.Join(", ", missing)}; the file's columns are: "
                                               + string.Join(", ", fields.Select(f => f.Name)));
            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var group = reader.OpenRowGroupReader(g);
                async Task<string?[]> Column(DataField? f)
                {
                    var values = new string?[group.RowCount];
                    if (f is not null) await group.ReadAsync(f, values.AsMemory()!, null, default).ConfigureAwait(false);
                    return values;
                }
                var language = await Column(Find("language"));
                var prompt = await Column(Find("prompt"));
                var suffix = await Column(Find("suffix"));
                var solution = await Column(Find("canonical_solution"));
                var name = await Column(Find("name"));
                for (int i = 0; i < language.Length; i++)
                {
                    if (language[i] is null || prompt[i] is null || suffix[i] is null || solution[i] is null)
                        throw new InvalidDataException($"{file}: row group {g}, row {i}: null in a required column");
                    rows.Add(new SantaCoderFimProblem(0, name[i] ?? "", language[i]!, prompt[i]!, suffix[i]!, solution[i]!));
                }
            }
        }
        catch (Exception ex) when (ex is not InvalidDataException)
        {
            throw new InvalidDataException($"{file}: not a readable Parquet file ({ex.GetType().Name}: {ex.Message})", ex);
        }
        return rows;
    }
}
