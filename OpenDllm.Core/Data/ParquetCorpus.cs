using System.Runtime.CompilerServices;
using Parquet;
using Parquet.Schema;

namespace OpenDllm.Data;

/// <summary>
/// Parquet: one string column holds the document text. <see cref="Path"/> is one <c>.parquet</c> file or a folder of
/// shards (the layout of Hugging Face datasets such as FineCode, e.g. <c>data/train-00000-of-00042.parquet</c>),
/// read in ordinal path order, one row group of one column at a time, so memory stays at one row group's text.
/// Null and empty cells are skipped and counted. Document id: <c>file:row</c> (row index within the file).
/// </summary>
public sealed class ParquetCorpus : ICorpus
{
    /// <summary>Column names tried, in order, when no column is given.</summary>
    public static readonly IReadOnlyList<string> DefaultColumns = ["content", "text"];

    /// <summary>A Parquet corpus at <paramref name="path"/> reading <paramref name="column"/> (null: the first of
    /// <see cref="DefaultColumns"/> the file has).</summary>
    public ParquetCorpus(string path, string? column = null)
    {
        Path = System.IO.Path.GetFullPath(path);
        Column = string.IsNullOrWhiteSpace(column) ? null : column;
    }

    /// <summary>The file or folder (absolute).</summary>
    public string Path { get; }

    /// <summary>The text column, or null for the first of <see cref="DefaultColumns"/> present.</summary>
    public string? Column { get; }

    /// <inheritdoc/>
    public CorpusStats Stats { get; } = new();

    /// <inheritdoc/>
    public string Description => $"parquet {Path} (column {(Column is null ? string.Join(" or ", DefaultColumns.Select(c => $"\"{c}\"")) : $"\"{Column}\"")})";

    /// <inheritdoc/>
    public CorpusIdentity Identity() => new()
    {
        Kind = "parquet", Path = Path, Field = Column,
        Files = FileListFingerprint.Of(CorpusFiles.Resolve(Path, ".parquet", "Parquet").Select(f => (CorpusFiles.IdPrefix(Path, f), new FileInfo(f)))),
    };

    /// <inheritdoc/>
    public long? TotalBytes => CorpusFiles.Resolve(Path, ".parquet", "Parquet").Sum(f => new FileInfo(f).Length);

    /// <inheritdoc/>
    public async IAsyncEnumerable<Document> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken = default)
    {
        Stats.Reset();
        foreach (var file in CorpusFiles.Resolve(Path, ".parquet", "Parquet"))
        {
            var prefix = CorpusFiles.IdPrefix(Path, file);
            long fileBytes = new FileInfo(file).Length;
            await using var stream = File.OpenRead(file);
            ParquetReader reader;
            try { reader = await ParquetReader.CreateAsync(stream, cancellationToken: cancellationToken).ConfigureAwait(false); }
            catch (Exception e) when (IsDamage(e))
            {
                throw Damaged(file, "not a readable Parquet file (footer or schema)", e);
            }
            await using var _ = reader;
            DataField field;
            int groups;
            try { (field, groups) = (FindColumn(file, reader.Schema), reader.RowGroupCount); }
            catch (Exception e) when (IsDamage(e) && e is not InvalidDataException)
            {
                throw Damaged(file, "damaged footer (schema)", e);
            }
            long row = 0;
            for (int g = 0; g < groups; g++)
            {
                var texts = await ReadRowGroupAsync(file, reader, g, field, cancellationToken).ConfigureAwait(false);
                Stats.BytesRead += fileBytes / groups + (g == groups - 1 ? fileBytes % groups : 0);
                foreach (var text in texts)
                {
                    long index = row++;
                    if (string.IsNullOrEmpty(text)) { Stats.SkippedEmpty++; continue; }
                    Stats.Documents++;
                    yield return new Document($"{prefix}:{index}", text);
                }
            }
            if (groups == 0) Stats.BytesRead += fileBytes;
        }
        if (Stats.Documents == 0) throw Stats.Empty(Description);
    }

    static async Task<string?[]> ReadRowGroupAsync(string file, ParquetReader reader, int group, DataField field, CancellationToken ct)
    {
        try
        {
            using var rowGroup = reader.OpenRowGroupReader(group);
            var texts = new string?[rowGroup.RowCount];
            await rowGroup.ReadAsync(field, texts.AsMemory()!, null, ct).ConfigureAwait(false);
            return texts;
        }
        catch (Exception e) when (IsDamage(e))
        {
            throw Damaged(file, $"row group {group}: cannot read column \"{field.Name}\"", e);
        }
    }

    /// <summary>
    /// Any failure of the Parquet library on a file is damage to report (a damaged page or footer surfaces as index,
    /// overflow, null-reference, Thrift, decompression or allocation errors); cancellation is not.
    /// </summary>
    static bool IsDamage(Exception e) => e is not OperationCanceledException;

    /// <summary>One line: the file, where, and the library's first message line with its exception type.</summary>
    static InvalidDataException Damaged(string file, string where, Exception e)
    {
        var first = e.Message.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).FirstOrDefault() ?? "";
        return new InvalidDataException($"{file}: {where} ({e.GetType().Name}: {first}); the file is damaged or not Parquet", e);
    }

    DataField FindColumn(string file, ParquetSchema schema)
    {
        var fields = schema.DataFields;
        var wanted = Column is null ? DefaultColumns : [Column];
        var field = wanted.Select(w => fields.FirstOrDefault(f => f.Name == w)).FirstOrDefault(f => f is not null);
        var columns = string.Join(", ", fields.Select(f => $"{f.Name} ({Type(f)})"));
        if (field is null)
            throw new InvalidDataException(
                $"{file}: no column {string.Join(" or ", wanted.Select(w => $"\"{w}\""))}; the file's columns are: {columns}");
        if (field.IsArray || Type(field) != "string")
            throw new InvalidDataException($"{file}: column \"{field.Name}\" is {Type(field)}{(field.IsArray ? " (a list)" : "")}, expected strings; columns: {columns}");
        return field;
    }

    static string Type(DataField f) =>
        f.ClrType == typeof(string) || f.ClrType == typeof(ReadOnlyMemory<char>) ? "string" : f.ClrType.Name;
}
